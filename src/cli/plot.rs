//! `nidl plot`: several runs (versions of a sweep, seeds, methods) overlaid per tag in one
//! figure, written as a PNG and an SVG beside it. The data model is `nidl::log::compare`, the
//! drawing `nidl::log::plot` (the same as each run's `metrics.png`).

use super::stdout::outln;
use super::values::probability;
use nidl::log::compare::{comparison, Run};
use nidl::log::plot::write_figure;
use nidl::log::smoothing::DEFAULT_SMOOTHING;
use std::path::PathBuf;

/// The options of `nidl plot`.
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// Run directories (<log-dir>/version_<N>/, as any nidl command writes them)
    #[arg(value_name = "RUN_DIR", required = true)]
    runs: Vec<PathBuf>,
    /// Tags to draw: globs over tag names (`*` any text, `?` one character), comma-separated,
    /// e.g. 'task0/*' or 'task0/R2,loss/*'; default: every tag but epoch
    #[arg(long, value_name = "GLOB")]
    tags: Option<String>,
    /// The PNG to write; the SVG goes beside it (same name, .svg)
    #[arg(long, value_name = "FILE", default_value = "plot.png")]
    out: PathBuf,
    /// TensorBoard smoothing weight in [0, 1] of loss/train (0: none)
    #[arg(long, value_name = "S", value_parser = probability, default_value_t = DEFAULT_SMOOTHING)]
    smoothing: f64,
}

/// Runs `nidl plot` with its options; `Err` is the one-line cause.
pub fn run(args: Args) -> Result<(), String> {
    let png = args.out.extension().and_then(|e| e.to_str());
    if !png.is_some_and(|e| e.eq_ignore_ascii_case("png")) {
        return Err(format!(
            "--out {}: the file must end in .png (the SVG is written beside it)",
            args.out.display()
        ));
    }
    let folder = args.out.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(folder) = folder.filter(|f| !f.is_dir()) {
        return Err(format!(
            "--out {}: the folder {} does not exist",
            args.out.display(),
            folder.display()
        ));
    }
    let runs = args
        .runs
        .iter()
        .map(|d| Run::read(d))
        .collect::<nidl::Result<Vec<_>>>()
        .map_err(|e| e.to_string())?;
    let fig = comparison(&runs, args.tags.as_deref(), args.smoothing).map_err(|e| e.to_string())?;
    let svg = write_figure(&args.out, &fig).map_err(|e| e.to_string())?;
    let titles: Vec<&str> = fig.panels.iter().map(|p| p.title.as_str()).collect();
    outln!(
        "{} runs, {} panels ({}): wrote {} and {}",
        runs.len(),
        titles.len(),
        titles.join(", "),
        args.out.display(),
        svg.display()
    );
    Ok(())
}
