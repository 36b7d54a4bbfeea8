//! The checks [`Trainer::fit`](super::Trainer::fit) makes on a run's inputs before it creates
//! its log folder or takes a step, so that a run that cannot work fails at once, with an
//! [`Error::RunInput`] naming the set and what is wrong, and leaves nothing behind:
//!
//! - every set it will read (training, validation, the probing callbacks' sets) has a sample;
//! - the training batches are no larger than the training set;
//! - the encoder takes the samples of every set (it runs once on the first sample of each);
//! - a training step fits in the machine's memory: [`step_memory`] extrapolates what the
//!   forward pass keeps for the backward pass from passes on 2, 3 and 4 samples, and a step
//!   that needs more than [`memory_total`] is refused (CPU only: a GPU's own limits are
//!   checked by the device).

use super::estimator::Estimator;
use crate::autograd::Graph;
use crate::datasets::loader::{Batch, BatchSource};
use crate::error::{Error, Result, RunInput};
use crate::tensor::{Device, Tensor};

/// `what` (e.g. `the training set`) followed by the source's [`name`](BatchSource::name) in
/// parentheses, when it has one.
pub fn describe(what: &str, src: &dyn BatchSource) -> String {
    match src.name() {
        Some(name) => format!("{what} ({name})"),
        None => what.to_string(),
    }
}

/// Fails with an [`Error::RunInput`] about the data unless `src` (described by `what`, e.g.
/// `the validation set`) has a sample.
pub fn non_empty(what: &str, src: &dyn BatchSource) -> Result<()> {
    if src.is_empty() {
        return Err(Error::run_input(
            RunInput::Data,
            format!("{} has no sample", describe(what, src)),
        ));
    }
    Ok(())
}

/// The first batch of `src` in `epoch`, after running `est`'s encoder on its first sample (on
/// an inference graph): a sample the encoder does not take is an [`Error::RunInput`] naming the
/// set (`what`), the samples' shape and the encoder's complaint (which names what it takes).
pub fn first_batch(
    est: &dyn Estimator,
    what: &str,
    src: &dyn BatchSource,
    epoch: usize,
) -> Result<Batch<f32>> {
    non_empty(what, src)?;
    let batch = src.batch(epoch, 0)?;
    let mut g = Graph::inference();
    let x = g.input(batch.views.slice(0, 0, 1)?);
    if let Err(e) = est.embed(&mut g, x) {
        return Err(Error::run_input(
            RunInput::Data,
            format!(
                "{} has samples shaped {:?}, which the encoder does not take: {e}",
                describe(what, src),
                &batch.views.shape()[1..]
            ),
        ));
    }
    Ok(batch)
}

/// What [`Trainer::fit`](super::Trainer::fit) checks of its data before it starts (see the
/// module docs): `val` is the validation set when it will be used, `epoch` the first epoch to
/// train. (The trainer then has each callback check its own inputs, `Callback::check`.)
pub(crate) fn check_run(
    est: &mut dyn Estimator,
    train: &dyn BatchSource,
    val: Option<&dyn BatchSource>,
    epoch: usize,
) -> Result<()> {
    const TRAIN: &str = "the training set";
    non_empty(TRAIN, train)?;
    let (bs, n) = (train.batch_size(), train.len());
    if bs > n {
        return Err(Error::run_input(
            RunInput::BatchSize,
            format!(
                "batches of {bs} samples, but {} has only {n}: use batches of at most {n}",
                describe(TRAIN, train)
            ),
        ));
    }
    let first = first_batch(est, TRAIN, train, epoch)?;
    if let (Some(need), Some(total)) = (step_memory(est, &first)?, memory_total()) {
        if need.bytes > total {
            let largest = match &need.largest_shape {
                Some(shape) => format!("{shape:?} f32"),
                None => "tensor".to_string(),
            };
            return Err(Error::run_input(
                RunInput::BatchSize,
                format!(
                    "a training step on batches of {bs} samples needs at least {} of memory \
                     (what its forward pass keeps for the backward pass; the largest, {largest}, \
                     takes {}), more than this machine has ({}, MemTotal in /proc/meminfo): use \
                     smaller batches",
                    gigabytes(need.bytes),
                    gigabytes(need.largest),
                    gigabytes(total)
                ),
            ));
        }
    }
    if let Some(val) = val {
        first_batch(est, "the validation set", val, epoch)?;
    }
    Ok(())
}

/// `bytes` in decimal gigabytes, one decimal (`57.6 GB`).
fn gigabytes(bytes: u64) -> String {
    format!("{:.1} GB", bytes as f64 / 1e9)
}

/// The memory of this machine in bytes: `MemTotal` of `/proc/meminfo` on Linux; `None`
/// elsewhere or when it cannot be read.
pub fn memory_total() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let text = std::fs::read_to_string("/proc/meminfo").ok()?;
        let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        kib.checked_mul(1024)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// What a training step keeps in memory at least, from [`step_memory`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepMemory {
    /// Bytes of every value the forward pass puts on the tape (kept for the backward pass,
    /// which adds the gradients).
    pub bytes: u64,
    /// Bytes of the largest of them.
    pub largest: u64,
    /// Its shape, when every dimension grows linearly with the batch (e.g. `[2B, 2B]` for the
    /// similarity matrix of a contrastive loss).
    pub largest_shape: Option<Vec<usize>>,
}

/// The memory the forward pass of a training step on a batch like `batch` keeps on its tape,
/// extrapolated from inference passes of `est.loss` on its first 2, 3 and 4 samples: every value
/// on the tape holds a number of elements that is a polynomial of degree at most 2 in the batch
/// size (activations grow linearly, a similarity matrix quadratically, parameters not at all),
/// so three sizes give it exactly.
///
/// `None` when there is nothing to extrapolate (batches of at most 4 samples), when the model
/// is not on the CPU, or when the small passes fail or record different tapes (the training
/// step then reports what is wrong itself).
pub fn step_memory(est: &mut dyn Estimator, batch: &Batch<f32>) -> Result<Option<StepMemory>> {
    const SIZES: [usize; 3] = [2, 3, 4];
    let b = batch.len();
    if b <= SIZES[2] {
        return Ok(None);
    }
    let mut tapes = Vec::with_capacity(SIZES.len());
    for k in SIZES {
        let part = first_samples(batch, k)?;
        let mut g = Graph::inference();
        let Ok(loss) = est.loss(&mut g, &part) else {
            return Ok(None);
        };
        if g.value(loss).device() != Device::Cpu {
            return Ok(None);
        }
        tapes.push(g.values().map(|t| t.shape().to_vec()).collect::<Vec<_>>());
    }
    let n = tapes[0].len();
    if tapes.iter().any(|t| t.len() != n) {
        return Ok(None);
    }
    let element = std::mem::size_of::<f32>() as f64;
    let x = b as f64;
    let mut bytes = 0.0f64;
    // The largest value's bytes and its shapes at the three sizes.
    let mut largest: Option<(f64, [&Vec<usize>; 3])> = None;
    for ((s2, s3), s4) in tapes[0].iter().zip(&tapes[1]).zip(&tapes[2]) {
        let shapes = [s2, s3, s4];
        let [n2, n3, n4] = shapes.map(|s| s.iter().product::<usize>() as f64);
        // The quadratic through (2, n2), (3, n3), (4, n4), at b.
        let q = (n4 - 2.0 * n3 + n2) / 2.0;
        let c = n3 - n2 - 5.0 * q;
        let a = n2 - 2.0 * c - 4.0 * q;
        let node = (a + c * x + q * x * x).max(0.0) * element;
        bytes += node;
        if largest.is_none_or(|(l, _)| node > l) {
            largest = Some((node, shapes));
        }
    }
    let Some((largest, shapes)) = largest else {
        return Ok(None);
    };
    // Each dimension at b, when all three sizes lie on a line.
    let largest_shape = (0..shapes[0].len())
        .map(|axis| {
            let [d2, d3, d4] = shapes.map(|s| s.get(axis).copied());
            let (d2, d3, d4) = (d2?, d3?, d4?);
            let step = d3.checked_sub(d2)?;
            (d4.checked_sub(d3)? == step).then(|| d2 + step * (b - 2))
        })
        .collect::<Option<Vec<usize>>>()
        .filter(|_| shapes.iter().all(|s| s.len() == shapes[0].len()));
    Ok(Some(StepMemory {
        bytes: bytes as u64,
        largest: largest as u64,
        largest_shape,
    }))
}

/// The first `k` samples of `batch` (every view of each), as a batch.
fn first_samples(batch: &Batch<f32>, k: usize) -> Result<Batch<f32>> {
    let b = batch.len();
    let views = (0..batch.n_views)
        .map(|v| batch.views.slice(0, v * b, v * b + k))
        .collect::<Result<Vec<_>>>()?;
    let refs: Vec<&Tensor<f32>> = views.iter().collect();
    Ok(Batch {
        views: Tensor::concat(&refs, 0)?,
        n_views: batch.n_views,
        labels: batch.labels.slice(0, 0, k)?,
        indices: batch.indices[..k].to_vec(),
    })
}
