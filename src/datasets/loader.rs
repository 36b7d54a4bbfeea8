//! Batches of augmented samples: seeded shuffling, parallel augmentation, prefetching.
//!
//! The pieces:
//! - [`Dataset`]: a sample count and the sample + label at an index (MNIST, OpenBHB, …).
//! - a [`Transform`] from the dataset's sample to something [`Collate`] can stack: an
//!   [`Image<f32>`], a feature vector, a tensor, or the [`Views`] of a [`MultiViews`](super::transforms::MultiViews).
//! - [`Loader`]: splits an epoch's sample order into batches and yields [`Batch`]es, whose
//!   `views` tensor stacks the views view-major (`[n_views·B, …]`: view 1 of every sample, then
//!   view 2, …) — the layout a SimCLR step slices into `z1`, `z2`.
//! - [`BatchSource`]: a loader of `f32` batches behind a trait object, what the trainer and the
//!   probing callbacks read; [`Take`]: the first `n` samples of a dataset.
//!
//! **Determinism.** The sample order of epoch `e` is a permutation drawn from `(seed, e)`; the
//! augmentation of sample `i` in epoch `e` draws from its own RNG stream [`sample_rng`]`(seed, e,
//! i)`. Nothing depends on which thread runs what, so batches are bit-identical for any number of
//! rayon threads, with or without prefetching, and the same sample gets the same views in an
//! epoch whatever the batch size.
//!
//! **Work.** The samples of a batch are transformed in parallel with rayon. With `limit_batches`
//! set, the batches past the limit are never built. With `prefetch` on (the default), a
//! background thread builds batch `b + 1` while the caller works on batch `b` (a rendezvous
//! channel, so at most one batch waits ready and one is being built); its parallel work runs on
//! rayon's global pool. Called from inside a custom pool (`ThreadPool::install`), the loader
//! builds batches on the calling thread instead, so they run on that pool.
//!
//! ```
//! use nidl::datasets::loader::{Dataset, Loader};
//! use nidl::datasets::transforms::{mnist_contrast_transforms, Image, MultiViews};
//! use std::sync::{Arc, Mutex};
//!
//! /// Ten black 28×28 digits labelled 0..10.
//! struct Blank;
//! impl Dataset for Blank {
//!     type Sample = Image<u8>;
//!     type Label = u8;
//!     fn len(&self) -> usize { 10 }
//!     fn get(&self, i: usize) -> nidl::Result<(Image<u8>, u8)> {
//!         Ok((Image::gray(28, 28, vec![0; 784])?, i as u8))
//!     }
//! }
//!
//! # fn main() -> nidl::Result<()> {
//! let views = MultiViews::new(mnist_contrast_transforms()?, 2)?;
//! let loader = Loader::new(Arc::new(Blank), views, 4)?.shuffle(true).seed(42);
//! assert_eq!(loader.num_batches(), 3); // 4 + 4 + 2
//! for batch in loader.epoch(0) {
//!     let batch = batch?;
//!     assert_eq!(batch.views.shape()[1..], [1, 28, 28]);
//!     assert_eq!(batch.views.shape()[0], 2 * batch.len());
//!     assert_eq!(batch.labels.shape(), [batch.len()]);
//! }
//! # Ok(())
//! # }
//! ```

use super::transforms::{Image, Transform, Views};
use crate::error::{Error, Result};
use crate::tensor::{Element, Tensor};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rayon::prelude::*;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A collection of labelled samples addressed by index.
pub trait Dataset: Send + Sync {
    /// One sample (an image, a feature vector, …).
    type Sample: Send;
    /// Its label (a class, an age, several targets, …).
    type Label: Label + Send;

    /// Number of samples.
    fn len(&self) -> usize;

    /// True when there is no sample.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The sample and label at `index` (errors when `index ≥ len()`).
    fn get(&self, index: usize) -> Result<(Self::Sample, Self::Label)>;
}

/// The first `n` samples of a data set (for small probing subsets).
pub struct Take<D> {
    inner: Arc<D>,
    n: usize,
}

impl<D: Dataset> Take<D> {
    /// The first `min(n, len)` samples of `inner`.
    pub fn new(inner: Arc<D>, n: usize) -> Self {
        let n = n.min(inner.len());
        Take { inner, n }
    }
}

impl<D: Dataset> Dataset for Take<D> {
    type Sample = D::Sample;
    type Label = D::Label;
    fn len(&self) -> usize {
        self.n
    }
    fn get(&self, index: usize) -> Result<(D::Sample, D::Label)> {
        if index >= self.n {
            return Err(Error::invalid(
                "Take::get",
                format!("index {index} out of range for {} samples", self.n),
            ));
        }
        self.inner.get(index)
    }
}

/// A label the loader can stack into the `f64` labels tensor of a batch.
pub trait Label {
    /// Shape of one label: `[]` for a scalar, `[k]` for `k` targets.
    fn shape(&self) -> Vec<usize>;
    /// Appends the label's values to `out`.
    fn push_values(&self, out: &mut Vec<f64>);
}

macro_rules! scalar_label {
    ($($t:ty),*) => {$(
        impl Label for $t {
            fn shape(&self) -> Vec<usize> {
                Vec::new()
            }
            fn push_values(&self, out: &mut Vec<f64>) {
                out.push(*self as f64);
            }
        }
    )*};
}
scalar_label!(u8, u16, u32, u64, usize, i32, i64, f32, f64);

impl Label for bool {
    fn shape(&self) -> Vec<usize> {
        Vec::new()
    }
    fn push_values(&self, out: &mut Vec<f64>) {
        out.push(if *self { 1.0 } else { 0.0 });
    }
}

impl<L: Label> Label for Vec<L> {
    fn shape(&self) -> Vec<usize> {
        let mut s = vec![self.len()];
        if let Some(first) = self.first() {
            s.extend(first.shape());
        }
        s
    }
    fn push_values(&self, out: &mut Vec<f64>) {
        for l in self {
            l.push_values(out);
        }
    }
}

impl<L: Label, const N: usize> Label for [L; N] {
    fn shape(&self) -> Vec<usize> {
        let mut s = vec![N];
        if let Some(first) = self.first() {
            s.extend(first.shape());
        }
        s
    }
    fn push_values(&self, out: &mut Vec<f64>) {
        for l in self {
            l.push_values(out);
        }
    }
}

/// One item the loader can stack into a batch tensor: its shape and its elements in row-major
/// order.
pub trait Stack {
    /// The element type of the batch tensor.
    type Elem: Element;
    /// Shape of the item (the batch tensor is `[B, ..shape]`).
    fn shape(&self) -> Vec<usize>;
    /// The elements in row-major order (`shape.iter().product()` of them); an error for
    /// elements that are not in host memory.
    fn values(&self) -> Result<&[Self::Elem]>;
}

impl Stack for Image<f32> {
    type Elem = f32;
    fn shape(&self) -> Vec<usize> {
        Image::shape(self).to_vec()
    }
    fn values(&self) -> Result<&[f32]> {
        Ok(self.data())
    }
}

impl<T: Element> Stack for Vec<T> {
    type Elem = T;
    fn shape(&self) -> Vec<usize> {
        vec![self.len()]
    }
    fn values(&self) -> Result<&[T]> {
        Ok(self)
    }
}

impl<T: Element> Stack for Tensor<T> {
    type Elem = T;
    fn shape(&self) -> Vec<usize> {
        Tensor::shape(self).to_vec()
    }
    fn values(&self) -> Result<&[T]> {
        self.data()
    }
}

/// A transform's output as a list of views to stack: a single item is one view, [`Views`] are
/// several.
pub trait Collate: Send + Sync {
    /// The type of one view.
    type Item: Stack;
    /// The views, in order.
    fn views(&self) -> &[Self::Item];
}

impl<S: Stack + Send + Sync> Collate for Views<S> {
    type Item = S;
    fn views(&self) -> &[S] {
        &self.0
    }
}

impl Collate for Image<f32> {
    type Item = Self;
    fn views(&self) -> &[Self] {
        std::slice::from_ref(self)
    }
}

impl<T: Element> Collate for Vec<T> {
    type Item = Self;
    fn views(&self) -> &[Self] {
        std::slice::from_ref(self)
    }
}

impl<T: Element> Collate for Tensor<T> {
    type Item = Self;
    fn views(&self) -> &[Self] {
        std::slice::from_ref(self)
    }
}

/// The element type of the batches a transform's output collates into.
pub type ElemOf<C> = <<C as Collate>::Item as Stack>::Elem;

/// One batch: the stacked views, the labels, and which samples they are.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch<T: Element> {
    /// `[n_views·B, ..item shape]`, view-major: rows `v·B..(v+1)·B` are view `v` of the batch.
    pub views: Tensor<T>,
    /// Number of views per sample.
    pub n_views: usize,
    /// `[B, ..label shape]`.
    pub labels: Tensor<f64>,
    /// The dataset index of each sample, in batch order.
    pub indices: Vec<usize>,
}

impl<T: Element> Batch<T> {
    /// Label columns per sample: 1 for a scalar label, `k` for `[k]` targets (the product of the
    /// label's axes).
    pub fn label_columns(&self) -> usize {
        self.labels.shape()[1..].iter().product()
    }

    /// Number of samples `B`.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// True for a batch without samples.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// View `v` of every sample, `[B, ..item shape]` (a copy).
    pub fn view(&self, v: usize) -> Result<Tensor<T>> {
        if v >= self.n_views {
            return Err(Error::invalid(
                "Batch::view",
                format!("view {v} out of range for {} views", self.n_views),
            ));
        }
        self.views.slice(0, v * self.len(), (v + 1) * self.len())
    }
}

/// Domain tags keeping the per-sample and shuffle streams apart.
const TAG_SAMPLE: u64 = 0x5341_4d50_4c45_0001; // "SAMPLE"
const TAG_SHUFFLE: u64 = 0x5348_5546_464c_0002; // "SHUFFL"

/// The ChaCha key `(a, b, c, tag)`: distinct inputs give unrelated streams.
pub(crate) fn keyed_rng(a: u64, b: u64, c: u64, tag: u64) -> StdRng {
    let mut key = [0u8; 32];
    for (chunk, w) in key.chunks_exact_mut(8).zip([a, b, c, tag]) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    StdRng::from_seed(key)
}

/// The RNG stream sample `index` draws its augmentation from in `epoch` of a run seeded `seed`.
pub fn sample_rng(seed: u64, epoch: u64, index: u64) -> StdRng {
    keyed_rng(seed, epoch, index, TAG_SAMPLE)
}

/// The sample order of `epoch`: `0..n` when not shuffling, else a permutation drawn from
/// `(seed, epoch)`.
pub fn epoch_order(n: usize, shuffle: bool, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    if shuffle {
        order.shuffle(&mut keyed_rng(seed, epoch, 0, TAG_SHUFFLE));
    }
    order
}

/// The dataset and transform, shared with the prefetch thread.
struct Shared<D, Tf> {
    dataset: Arc<D>,
    transform: Tf,
}

/// Settings of a loader (see the builder methods of [`Loader`]).
#[derive(Clone, Copy, Debug)]
struct Settings {
    batch_size: usize,
    shuffle: bool,
    drop_last: bool,
    limit_batches: Option<usize>,
    /// `None`: not given; the trainer then seeds it with the run's seed ([`BatchSource::seed`]).
    seed: Option<u64>,
    prefetch: bool,
}

impl Settings {
    /// The seed the streams are drawn from: the one given, else 0.
    fn stream_seed(&self) -> u64 {
        self.seed.unwrap_or(0)
    }
}

/// Batches of transformed samples of a [`Dataset`], epoch after epoch (PyTorch's `DataLoader`
/// with a seeded sampler, and Lightning's `limit_train_batches`).
pub struct Loader<D, Tf> {
    shared: Arc<Shared<D, Tf>>,
    settings: Settings,
    /// What the data is, for messages ([`Loader::named`]).
    name: Option<Arc<str>>,
    /// The last order drawn, keyed by (epoch, shuffle, seed): [`Loader::batch`] calls in the
    /// same epoch reuse it instead of reshuffling.
    order_cache: Mutex<Option<CachedOrder>>,
}

/// An epoch's order and the `(epoch, shuffle, seed)` it was drawn for.
type CachedOrder = ((usize, bool, u64), Arc<Vec<usize>>);

impl<D, Tf> Clone for Loader<D, Tf> {
    fn clone(&self) -> Self {
        Loader {
            shared: Arc::clone(&self.shared),
            settings: self.settings,
            name: self.name.clone(),
            order_cache: Mutex::new(None),
        }
    }
}

impl<D, Tf> Loader<D, Tf>
where
    D: Dataset + 'static,
    Tf: Transform<D::Sample> + 'static,
    Tf::Output: Collate,
{
    /// A loader of `batch_size ≥ 1` samples per batch, in dataset order, keeping the last
    /// partial batch, no batch limit, no seed (the trainer, `nidl::train::Trainer`, gives it the
    /// run's; used alone it draws from seed 0), prefetching on.
    pub fn new(dataset: Arc<D>, transform: Tf, batch_size: usize) -> Result<Self> {
        if batch_size == 0 {
            return Err(Error::invalid(
                "Loader::new",
                "batch_size must be at least 1",
            ));
        }
        Ok(Loader {
            shared: Arc::new(Shared { dataset, transform }),
            settings: Settings {
                batch_size,
                shuffle: false,
                drop_last: false,
                limit_batches: None,
                seed: None,
                prefetch: true,
            },
            name: None,
            order_cache: Mutex::new(None),
        })
    }

    /// Draw a new permutation of the samples every epoch.
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.settings.shuffle = shuffle;
        self
    }

    /// Drop the last batch when it has fewer than `batch_size` samples.
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.settings.drop_last = drop_last;
        self
    }

    /// Yield at most `limit` batches per epoch (`None`: all); the others are never built.
    pub fn limit_batches(mut self, limit: Option<usize>) -> Self {
        self.settings.limit_batches = limit;
        self
    }

    /// The seed of the shuffling and augmentation streams. Without one, the trainer seeds the
    /// loader with its run's seed (`nidl::train::TrainerConfig::seed`),
    /// and a loader used alone draws from seed 0.
    pub fn seed(mut self, seed: u64) -> Self {
        self.settings.seed = Some(seed);
        self
    }

    /// Build the next batch on a background thread while the caller uses the current one.
    pub fn prefetch(mut self, prefetch: bool) -> Self {
        self.settings.prefetch = prefetch;
        self
    }

    /// Says what the data is (e.g. `MNIST train-* files in data/mnist`): the trainer's checks
    /// name the set with it ([`BatchSource::name`]).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(Arc::from(name.into()));
        self
    }

    /// The dataset.
    pub fn dataset(&self) -> &D {
        &self.shared.dataset
    }

    /// The transform.
    pub fn transform(&self) -> &Tf {
        &self.shared.transform
    }

    /// Samples per batch.
    pub fn batch_size(&self) -> usize {
        self.settings.batch_size
    }

    /// Batches per epoch, after `drop_last` and the batch limit.
    pub fn num_batches(&self) -> usize {
        let (n, bs) = (self.shared.dataset.len(), self.settings.batch_size);
        let all = if self.settings.drop_last {
            n / bs
        } else {
            n.div_ceil(bs)
        };
        self.settings.limit_batches.map_or(all, |l| all.min(l))
    }

    /// The sample order of `epoch` (what the batches of that epoch slice).
    pub fn order(&self, epoch: usize) -> Vec<usize> {
        self.shared_order(epoch).to_vec()
    }

    /// The order of `epoch`, drawn once and cached.
    fn shared_order(&self, epoch: usize) -> Arc<Vec<usize>> {
        let s = &self.settings;
        let key = (epoch, s.shuffle, s.stream_seed());
        let mut cache = self.order_cache.lock().unwrap_or_else(|e| e.into_inner());
        match &*cache {
            Some((k, order)) if *k == key && order.len() == self.shared.dataset.len() => {
                Arc::clone(order)
            }
            _ => {
                let n = self.shared.dataset.len();
                let order = Arc::new(epoch_order(n, s.shuffle, s.stream_seed(), epoch as u64));
                *cache = Some((key, Arc::clone(&order)));
                order
            }
        }
    }

    /// Batch `index` of `epoch`, built on the calling thread (plus rayon), without prefetching.
    /// The epoch's order is drawn on the first call for that epoch and reused.
    pub fn batch(&self, epoch: usize, index: usize) -> Result<Batch<ElemOf<Tf::Output>>> {
        if index >= self.num_batches() {
            return Err(Error::invalid(
                "Loader::batch",
                format!(
                    "batch {index} out of range: an epoch has {} batches",
                    self.num_batches()
                ),
            ));
        }
        build_batch(
            &self.shared,
            &self.settings,
            &self.shared_order(epoch),
            epoch,
            index,
        )
    }

    /// The batches of `epoch`, in order.
    pub fn epoch(&self, epoch: usize) -> EpochIter<ElemOf<Tf::Output>> {
        let n = self.num_batches();
        let order = self.shared_order(epoch);
        // On a rayon worker (inside `ThreadPool::install`) the batches are built on the calling
        // thread, so they use that pool: a prefetch thread would use the global one.
        let on_worker = rayon::current_thread_index().is_some();
        if self.settings.prefetch && n > 1 && !on_worker {
            let (tx, rx) = sync_channel(0);
            let shared = Arc::clone(&self.shared);
            let settings = self.settings;
            let order = Arc::clone(&order);
            let handle = std::thread::Builder::new()
                .name("nidl-prefetch".into())
                .spawn(move || {
                    for b in 0..n {
                        let batch = build_batch(&shared, &settings, &order, epoch, b);
                        let failed = batch.is_err();
                        if tx.send(batch).is_err() || failed {
                            break;
                        }
                    }
                });
            if let Ok(handle) = handle {
                return EpochIter {
                    source: Source::Prefetch {
                        rx: Some(rx),
                        handle: Some(handle),
                    },
                    remaining: n,
                };
            }
            // No thread available: build batches on the caller's thread instead.
        }
        let shared = Arc::clone(&self.shared);
        let settings = self.settings;
        let mut next = 0;
        EpochIter {
            source: Source::Direct(Box::new(move || {
                let b = next;
                next += 1;
                build_batch(&shared, &settings, &order, epoch, b)
            })),
            remaining: n,
        }
    }
}

/// Builds batch `b` of `order`: transforms its samples in parallel, then stacks them.
fn build_batch<D, Tf>(
    shared: &Shared<D, Tf>,
    s: &Settings,
    order: &[usize],
    epoch: usize,
    b: usize,
) -> Result<Batch<ElemOf<Tf::Output>>>
where
    D: Dataset,
    Tf: Transform<D::Sample>,
    Tf::Output: Collate,
{
    let start = (b * s.batch_size).min(order.len());
    let end = (start + s.batch_size).min(order.len());
    let indices = &order[start..end];
    let samples: Vec<(Tf::Output, D::Label)> = indices
        .par_iter()
        .map(|&i| {
            let (x, y) = shared.dataset.get(i)?;
            let mut rng = sample_rng(s.stream_seed(), epoch as u64, i as u64);
            Ok((shared.transform.apply(x, &mut rng)?, y))
        })
        .collect::<Result<_>>()?;
    stack(samples, indices.to_vec())
}

/// Stacks transformed samples (all with the same number of views and shapes) view-major.
fn stack<C: Collate, L: Label>(
    samples: Vec<(C, L)>,
    indices: Vec<usize>,
) -> Result<Batch<ElemOf<C>>> {
    const OP: &str = "Loader: stacking a batch";
    let bsz = samples.len();
    let Some((first, first_label)) = samples.first() else {
        return Err(Error::invalid(OP, "a batch needs at least one sample"));
    };
    let n_views = first.views().len();
    let item_shape = first
        .views()
        .first()
        .map(|v| v.shape())
        .ok_or_else(|| Error::invalid(OP, "a transform produced no view"))?;
    let item_len: usize = item_shape.iter().product();
    let label_shape = first_label.shape();
    for (k, (c, _)) in samples.iter().enumerate() {
        if c.views().len() != n_views {
            return Err(Error::invalid(
                OP,
                format!(
                    "sample {} has {} views, sample {} has {n_views}",
                    indices[k],
                    c.views().len(),
                    indices[0]
                ),
            ));
        }
        for v in c.views() {
            let shape = v.shape();
            if shape != item_shape || v.values()?.len() != item_len {
                return Err(Error::shape(
                    OP,
                    format!("every view shaped like sample {}'s", indices[0]),
                    &[&item_shape, &shape],
                ));
            }
        }
    }
    let (outputs, labels_in): (Vec<C>, Vec<L>) = samples.into_iter().unzip();
    // Batch row k = v·bsz + i holds view v of sample i.
    let sources = (0..n_views * bsz)
        .map(|k| outputs[k % bsz].views()[k / bsz].values())
        .collect::<Result<Vec<_>>>()?;
    let mut data = vec![<ElemOf<C> as Element>::ZERO; n_views * bsz * item_len];
    if item_len > 0 {
        data.par_chunks_mut(item_len)
            .zip(sources.par_iter())
            .for_each(|(chunk, src)| chunk.copy_from_slice(src));
    }
    let mut shape = vec![n_views * bsz];
    shape.extend_from_slice(&item_shape);
    let views = Tensor::from_vec(data, &shape)?;

    let mut labels = Vec::with_capacity(bsz * label_shape.iter().product::<usize>());
    for (k, l) in labels_in.iter().enumerate() {
        if l.shape() != label_shape {
            return Err(Error::shape(
                OP,
                format!(
                    "sample {}'s label shaped like sample {}'s",
                    indices[k], indices[0]
                ),
                &[&label_shape, &l.shape()],
            ));
        }
        l.push_values(&mut labels);
    }
    let mut lshape = vec![bsz];
    lshape.extend_from_slice(&label_shape);
    let labels = Tensor::from_vec(labels, &lshape)?;
    Ok(Batch {
        views,
        n_views,
        labels,
        indices,
    })
}

/// Where an epoch's batches come from.
enum Source<T: Element> {
    /// Built on demand on the caller's thread.
    Direct(Box<dyn FnMut() -> Result<Batch<T>> + Send>),
    /// Built one ahead by a background thread.
    Prefetch {
        rx: Option<Receiver<Result<Batch<T>>>>,
        handle: Option<JoinHandle<()>>,
    },
}

/// The batches of one epoch, from [`Loader::epoch`]. Stops after the first error. Dropping it
/// early stops the prefetch thread (after the batch it is building, at most).
pub struct EpochIter<T: Element> {
    source: Source<T>,
    remaining: usize,
}

impl<T: Element> EpochIter<T> {
    /// Waits for the prefetch thread to end; re-raises its panic, if it panicked.
    fn join(&mut self) {
        if let Source::Prefetch { rx, handle } = &mut self.source {
            rx.take();
            if let Some(h) = handle.take() {
                if let Err(panic) = h.join() {
                    std::panic::resume_unwind(panic);
                }
            }
        }
    }
}

impl<T: Element> Iterator for EpochIter<T> {
    type Item = Result<Batch<T>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let item = match &mut self.source {
            Source::Direct(build) => build(),
            Source::Prefetch { rx, .. } => match rx.as_ref().map(|r| r.recv()) {
                Some(Ok(item)) => item,
                _ => {
                    // The producer ended without sending: it panicked (re-raised here).
                    self.remaining = 0;
                    self.join();
                    return None;
                }
            },
        };
        self.remaining = if item.is_err() { 0 } else { self.remaining - 1 };
        if self.remaining == 0 {
            self.join();
        }
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<T: Element> Drop for EpochIter<T> {
    fn drop(&mut self) {
        if let Source::Prefetch { rx, handle } = &mut self.source {
            rx.take();
            if let Some(h) = handle.take() {
                // A panic was not observed by the consumer; do not panic inside drop.
                let _ = h.join();
            }
        }
    }
}

/// A source of f32 batches (a [`Loader`] with its transform): what the trainer and the probing
/// callbacks read.
pub trait BatchSource: Send + Sync {
    /// Batches per epoch (after the loader's limit).
    fn num_batches(&self) -> usize;
    /// Samples per (full) batch.
    fn batch_size(&self) -> usize;
    /// Samples per epoch, i.e. rows of all batches together.
    fn len(&self) -> usize;
    /// True without samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The batches of `epoch`, in order.
    fn epoch_batches(&self, epoch: usize) -> EpochIter<f32>;
    /// Batch `index` of `epoch`, built on the calling thread (plus rayon).
    fn batch(&self, epoch: usize, index: usize) -> Result<Batch<f32>>;
    /// What the data is, when said (e.g. `MNIST train-* files in data/mnist`), for messages.
    fn name(&self) -> Option<&str> {
        None
    }
    /// The seed it was given ([`Loader::seed`]), if any.
    fn seed(&self) -> Option<u64>;
    /// The same source drawing from `seed` instead: what the trainer reads when a source was
    /// given no seed of its own.
    fn with_seed(&self, seed: u64) -> Box<dyn BatchSource>;
}

/// `src` as the trainer reads it: itself when it has a seed, else a copy seeded with `seed`
/// (kept in `slot`).
pub fn seeded_or<'a>(
    src: &'a dyn BatchSource,
    seed: u64,
    slot: &'a mut Option<Box<dyn BatchSource>>,
) -> &'a dyn BatchSource {
    if src.seed().is_some() {
        return src;
    }
    &**slot.insert(src.with_seed(seed))
}

impl<D, Tf> BatchSource for Loader<D, Tf>
where
    D: Dataset + 'static,
    Tf: Transform<D::Sample> + 'static,
    Tf::Output: Collate,
    <Tf::Output as Collate>::Item: Stack<Elem = f32>,
{
    fn num_batches(&self) -> usize {
        Loader::num_batches(self)
    }
    fn batch_size(&self) -> usize {
        Loader::batch_size(self)
    }
    fn len(&self) -> usize {
        let n = self.dataset().len();
        let nb = Loader::num_batches(self);
        n.min(nb * Loader::batch_size(self))
    }
    fn epoch_batches(&self, epoch: usize) -> EpochIter<f32> {
        self.epoch(epoch)
    }
    fn batch(&self, epoch: usize, index: usize) -> Result<Batch<f32>> {
        Loader::batch(self, epoch, index)
    }
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    fn seed(&self) -> Option<u64> {
        self.settings.seed
    }
    fn with_seed(&self, seed: u64) -> Box<dyn BatchSource> {
        Box::new(self.clone().seed(seed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::transforms::{from_fn, MultiViews};
    use rand::{Rng, RngCore};

    struct Count(usize);
    impl Dataset for Count {
        type Sample = Vec<f32>;
        type Label = f64;
        fn len(&self) -> usize {
            self.0
        }
        fn get(&self, i: usize) -> Result<(Vec<f32>, f64)> {
            Ok((vec![i as f32; 3], i as f64))
        }
    }

    fn noisy() -> impl Transform<Vec<f32>, Output = Views<Vec<f32>>> {
        MultiViews::new(
            from_fn(|x: Vec<f32>, rng: &mut dyn RngCore| {
                Ok(x.into_iter()
                    .map(|v| v + rng.gen::<f32>())
                    .collect::<Vec<f32>>())
            }),
            2,
        )
        .unwrap()
    }

    #[test]
    fn batches_cover_every_sample_once() {
        let l = Loader::new(Arc::new(Count(10)), noisy(), 4)
            .unwrap()
            .shuffle(true)
            .seed(7);
        assert_eq!(l.num_batches(), 3);
        let mut seen: Vec<usize> = l.epoch(0).flat_map(|b| b.unwrap().indices).collect();
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        assert_ne!(l.order(0), l.order(1));
        assert_eq!(l.clone().drop_last(true).num_batches(), 2);
        assert_eq!(l.clone().limit_batches(Some(1)).epoch(0).count(), 1);
    }

    #[test]
    fn prefetch_does_not_change_batches() {
        let l = Loader::new(Arc::new(Count(9)), noisy(), 2)
            .unwrap()
            .shuffle(true)
            .seed(3);
        let a: Vec<_> = l.epoch(2).map(|b| b.unwrap()).collect();
        let b: Vec<_> = l
            .clone()
            .prefetch(false)
            .epoch(2)
            .map(|b| b.unwrap())
            .collect();
        assert_eq!(a, b);
        assert_eq!(a[1], l.batch(2, 1).unwrap());
        // Views are view-major and each row belongs to its sample.
        let batch = &a[0];
        for (k, &i) in batch.indices.iter().enumerate() {
            for v in 0..2 {
                let row = &batch.views.data().unwrap()[(v * 2 + k) * 3..(v * 2 + k + 1) * 3];
                assert!(row.iter().all(|&x| x >= i as f32 && x < i as f32 + 1.0));
            }
            assert_eq!(batch.labels.data().unwrap()[k], i as f64);
        }
    }

    #[test]
    fn early_drop_stops_the_producer() {
        let l = Loader::new(Arc::new(Count(100)), noisy(), 3).unwrap();
        let mut it = l.epoch(0);
        assert!(it.next().unwrap().is_ok());
        drop(it);
    }
}
