//! `nidl make-openbhb`: writes a synthetic OpenBHB — simulated subjects in the published layout,
//! labelled as synthetic by a `README.txt` in its root — for the commands that train on OpenBHB.
//! The simulation lives in `nidl::datasets::openbhb::synthetic`.

use super::stdout::outln;
use super::values::whole;
use nidl::datasets::openbhb::synthetic::{generate, SyntheticConfig};
use std::path::PathBuf;
use std::time::Instant;

/// The options of `nidl make-openbhb`.
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// The folder to write; it must not exist or be empty
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Seed of every random draw
    #[arg(long, value_name = "N", value_parser = whole(0u64), default_value_t = SyntheticConfig::default().seed)]
    seed: u64,
    /// Participants of the train split
    #[arg(long, value_name = "N", value_parser = whole(1usize), default_value_t = SyntheticConfig::default().n_train)]
    train: usize,
    /// Participants of the internal_test split
    #[arg(long, value_name = "N", value_parser = whole(0usize), default_value_t = SyntheticConfig::default().n_internal)]
    internal: usize,
    /// Participants of the external_test split
    #[arg(long, value_name = "N", value_parser = whole(0usize), default_value_t = SyntheticConfig::default().n_external)]
    external: usize,
}

/// Runs `nidl make-openbhb` with its options; `Err` is the one-line cause.
pub fn run(args: Args) -> Result<(), String> {
    let out = args.out;
    let config = SyntheticConfig {
        seed: args.seed,
        n_train: args.train,
        n_internal: args.internal,
        n_external: args.external,
    };
    let start = Instant::now();
    generate(&out, &config).map_err(|e| e.to_string())?;
    outln!(
        "wrote a SYNTHETIC OpenBHB (seed {}: {} train, {} internal_test, {} external_test) to {} \
         in {:.1} s; see README.txt there",
        config.seed,
        config.n_train,
        config.n_internal,
        config.n_external,
        out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
