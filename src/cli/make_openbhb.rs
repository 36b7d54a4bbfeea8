//! `nidl make-openbhb`: writes a synthetic OpenBHB — simulated subjects in the published layout,
//! labelled as synthetic by a `README.txt` in its root — for the commands that train on OpenBHB.
//! The simulation lives in `nidl::datasets::openbhb::synthetic`.

use super::args::Args;
use nidl::datasets::openbhb::synthetic::{generate, SyntheticConfig};
use std::path::PathBuf;
use std::time::Instant;

/// Usage of this subcommand.
pub const USAGE: &str = "usage: nidl make-openbhb --out DIR [--seed 42] [--train 3227] \
[--internal 362] [--external 395]\n\n\
Writes a SYNTHETIC data set in OpenBHB's layout (participants.tsv and the vbm_roi, desikan and\n\
destrieux ROI tables of train/ and val/) to DIR, which must not exist or be empty. The same seed\n\
and sizes give byte-identical files; the folder appears complete or not at all.";

/// Runs `nidl make-openbhb` with its options; `Err` is the one-line cause.
pub fn run(mut args: Args) -> Result<(), String> {
    if args.flag("help")? {
        println!("{USAGE}");
        return Ok(());
    }
    let out: PathBuf = args.require("out")?;
    let d = SyntheticConfig::default();
    let config = SyntheticConfig {
        seed: args.get_or("seed", d.seed)?,
        n_train: args.get_or("train", d.n_train)?,
        n_internal: args.get_or("internal", d.n_internal)?,
        n_external: args.get_or("external", d.n_external)?,
    };
    args.finish()?;
    let start = Instant::now();
    generate(&out, &config).map_err(|e| e.to_string())?;
    println!(
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
