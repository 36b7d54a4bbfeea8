//! What the training subcommands share beyond option parsing and progress: the `--resume` check,
//! the probing loaders, and the fit call that prints the final line.

use nidl::datasets::loader::{Collate, Dataset, Loader, Stack};
use nidl::datasets::transforms::Transform;
use nidl::train::{BatchSource, Estimator, Head, Trainer};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Batch size of the probing loaders.
const PROBE_BATCH: usize = 512;

/// Fails with an `option --resume` message when `resume` names no file.
pub fn check_resume(resume: Option<&Path>) -> Result<(), String> {
    if let Some(r) = resume {
        if !r.is_file() {
            return Err(format!(
                "option --resume: no checkpoint file at {}",
                r.display()
            ));
        }
    }
    Ok(())
}

/// A probing callback's train and test sources.
pub type ProbeSources = (Box<dyn BatchSource>, Box<dyn BatchSource>);

/// The probing callbacks' train and test sources: the first `train_limit` / `test_limit` samples
/// (all when `None`) of each set, in order, without prefetching, each with its own `transform()`.
pub fn probe_sources<D, Tf>(
    train: Arc<D>,
    test: Arc<D>,
    train_limit: Option<usize>,
    test_limit: Option<usize>,
    transform: impl Fn() -> nidl::Result<Tf>,
) -> Result<ProbeSources, String>
where
    D: Dataset + 'static,
    Tf: Transform<D::Sample> + 'static,
    Tf::Output: Collate,
    <Tf::Output as Collate>::Item: Stack<Elem = f32>,
{
    let err = |e: nidl::Error| e.to_string();
    let ptrain = Head::new(train, train_limit.unwrap_or(usize::MAX));
    let ptest = Head::new(test, test_limit.unwrap_or(usize::MAX));
    let ptrain = Loader::new(Arc::new(ptrain), transform().map_err(err)?, PROBE_BATCH)
        .map_err(err)?
        .prefetch(false);
    let ptest = Loader::new(Arc::new(ptest), transform().map_err(err)?, PROBE_BATCH)
        .map_err(err)?
        .prefetch(false);
    Ok((Box::new(ptrain), Box::new(ptest)))
}

/// Trains `model` (resuming from `resume` when given, an error naming that file becoming an
/// `option --resume` one) and prints the final line: epochs, steps, time since `start`, and the
/// log folder `version`.
pub fn fit_and_report(
    trainer: &mut Trainer,
    model: &mut dyn Estimator,
    train: &dyn BatchSource,
    val: &dyn BatchSource,
    resume: Option<&Path>,
    start: Instant,
    version: &Path,
) -> Result<(), String> {
    if let Some(r) = resume {
        println!("resuming from {}", r.display());
    }
    let report = trainer
        .fit(model, train, Some(val))
        .map_err(|e| match resume {
            Some(r) if e.to_string().contains(&r.display().to_string()) => {
                format!("option --resume: {e}")
            }
            _ => e.to_string(),
        })?;
    println!(
        "done: {} epochs, {} steps in {:.1} s; logs in {}",
        report.epochs.len(),
        report.global_step,
        start.elapsed().as_secs_f64(),
        version.display()
    );
    Ok(())
}
