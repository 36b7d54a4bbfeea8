//! The loader: batching, seeded shuffling, drop_last, batch limits, per-sample RNG streams,
//! bit-identical batches for any thread count, prefetching, errors.

mod common;

use common::with_threads;
use nidl::datasets::loader::{sample_rng, Batch, Dataset, Loader};
use nidl::datasets::mnist::{default_dir, Mnist, MnistSplit};
use nidl::datasets::transforms::{
    from_fn, mnist_contrast_transforms, GaussianNoise, MultiViews, RandomMask, Transform,
    TransformExt,
};
use nidl::{Error, Result};
use rand::RngCore;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// `n` feature vectors `[i, i, i]` with two targets `[i, i mod 2]`; counts `get` calls and fails
/// on `fail_at`.
struct Table {
    n: usize,
    gets: AtomicUsize,
    fail_at: Option<usize>,
}

impl Table {
    fn new(n: usize) -> Arc<Self> {
        Arc::new(Table {
            n,
            gets: AtomicUsize::new(0),
            fail_at: None,
        })
    }
}

impl Dataset for Table {
    type Sample = Vec<f64>;
    type Label = Vec<f64>;
    fn len(&self) -> usize {
        self.n
    }
    fn get(&self, i: usize) -> Result<(Vec<f64>, Vec<f64>)> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        if Some(i) == self.fail_at {
            return Err(Error::format(
                "table.csv",
                format!("line {}: bad value", i + 2),
            ));
        }
        Ok((vec![i as f64; 3], vec![i as f64, (i % 2) as f64]))
    }
}

fn bits(b: &Batch<f32>) -> (Vec<u32>, Vec<u64>, Vec<usize>) {
    (
        b.views
            .data()
            .unwrap()
            .iter()
            .map(|v| v.to_bits())
            .collect(),
        b.labels
            .data()
            .unwrap()
            .iter()
            .map(|v| v.to_bits())
            .collect(),
        b.indices.clone(),
    )
}

fn mnist_test() -> Arc<Mnist> {
    Arc::new(Mnist::load(default_dir(), MnistSplit::Test).unwrap())
}

#[test]
fn seed_views_are_bit_identical_for_1_and_2_threads_and_with_prefetch() {
    let views = MultiViews::new(mnist_contrast_transforms().unwrap(), 2).unwrap();
    let loader = Loader::new(mnist_test(), views, 128)
        .unwrap()
        .shuffle(true)
        .seed(42)
        .limit_batches(Some(4));
    let run = |threads: usize| {
        with_threads(threads, || {
            loader
                .epoch(3)
                .map(|b| bits(&b.unwrap()))
                .collect::<Vec<_>>()
        })
    };
    let one = run(1);
    let two = run(2);
    assert_eq!(one.len(), 4);
    assert!(one == two, "batches differ between 1 and 2 threads");
    // From the main thread: prefetching on the global pool, and without prefetching.
    let pre: Vec<_> = loader.epoch(3).map(|b| bits(&b.unwrap())).collect();
    let direct: Vec<_> = loader
        .clone()
        .prefetch(false)
        .epoch(3)
        .map(|b| bits(&b.unwrap()))
        .collect();
    assert!(
        pre == one && direct == one,
        "prefetching changed the batches"
    );
    // The batch looks like the seed's: [256, 1, 28, 28] in [-1, 1], labels [128] in 0..10.
    let b = loader.batch(3, 0).unwrap();
    assert_eq!(b.views.shape(), &[256, 1, 28, 28]);
    assert_eq!(b.labels.shape(), &[128]);
    assert!(b
        .views
        .data()
        .unwrap()
        .iter()
        .all(|v| (-1.0..=1.0).contains(v)));
    assert!(b
        .labels
        .data()
        .unwrap()
        .iter()
        .all(|&l| l == l.trunc() && (0.0..10.0).contains(&l)));
    assert_eq!(
        b.view(1).unwrap().data().unwrap(),
        &b.views.data().unwrap()[128 * 784..]
    );
    assert!(b.view(2).is_err());
    // Two views of the same digit differ; another epoch gives other views.
    assert_ne!(b.view(0).unwrap(), b.view(1).unwrap());
    assert_ne!(loader.batch(4, 0).unwrap().views, b.views);
}

#[test]
fn each_sample_draws_from_its_own_stream() {
    // The views of sample i depend on (seed, epoch, i) only: not on batch size or position.
    let mnist = mnist_test();
    let views = MultiViews::new(mnist_contrast_transforms().unwrap(), 2).unwrap();
    let a = Loader::new(Arc::clone(&mnist), views.clone(), 7)
        .unwrap()
        .shuffle(true)
        .seed(1);
    let b = Loader::new(Arc::clone(&mnist), views.clone(), 32)
        .unwrap()
        .seed(1);
    let ba = a.batch(0, 0).unwrap();
    let i = ba.indices[3];
    let bb = b.batch(0, i / 32).unwrap();
    let k = bb.indices.iter().position(|&j| j == i).unwrap();
    for v in 0..2 {
        assert_eq!(
            ba.view(v).unwrap().slice(0, 3, 4).unwrap(),
            bb.view(v).unwrap().slice(0, k, k + 1).unwrap()
        );
    }
    // And equals applying the transform with sample_rng directly.
    let (img, _) = mnist.get(i).unwrap();
    let direct = views.apply(img, &mut sample_rng(1, 0, i as u64)).unwrap();
    assert_eq!(
        direct.0[1].data(),
        ba.view(1).unwrap().slice(0, 3, 4).unwrap().data().unwrap()
    );
}

#[test]
fn shuffle_draws_a_new_permutation_each_epoch() {
    let l = Loader::new(
        Table::new(50),
        from_fn(|x: Vec<f64>, _: &mut dyn RngCore| Ok(x)),
        8,
    )
    .unwrap()
    .shuffle(true)
    .seed(9);
    let (o0, o1) = (l.order(0), l.order(1));
    for o in [&o0, &o1] {
        let mut s = o.clone();
        s.sort();
        assert_eq!(s, (0..50).collect::<Vec<_>>());
    }
    assert_ne!(o0, o1);
    assert_eq!(o0, l.order(0));
    assert_ne!(o0, l.clone().seed(10).order(0));
    assert_eq!(
        l.clone().shuffle(false).order(3),
        (0..50).collect::<Vec<_>>()
    );
    // The batches follow the order.
    let idx: Vec<usize> = l.epoch(1).flat_map(|b| b.unwrap().indices).collect();
    assert_eq!(idx, o1);
}

#[test]
fn drop_last_and_batch_sizes() {
    let id = || from_fn(|x: Vec<f64>, _: &mut dyn RngCore| Ok(x));
    let keep = Loader::new(Table::new(10), id(), 4).unwrap();
    let sizes: Vec<usize> = keep.epoch(0).map(|b| b.unwrap().len()).collect();
    assert_eq!(sizes, vec![4, 4, 2]);
    let drop = keep.clone().drop_last(true);
    let sizes: Vec<usize> = drop.epoch(0).map(|b| b.unwrap().len()).collect();
    assert_eq!(sizes, vec![4, 4]);
    assert_eq!(drop.num_batches(), 2);
    assert!(drop.batch(0, 2).is_err());
    // One tensor per batch: features [B, 3] (f64 stays f64), labels [B, 2].
    let b = keep.batch(0, 2).unwrap();
    assert_eq!(b.views.shape(), &[2, 3]);
    assert_eq!(b.labels.shape(), &[2, 2]);
    assert_eq!(b.labels.data().unwrap(), &[8.0, 0.0, 9.0, 1.0]);
    assert!(Loader::new(Table::new(3), id(), 0).is_err());
    // An empty data set has no batch.
    assert_eq!(
        Loader::new(Table::new(0), id(), 4)
            .unwrap()
            .epoch(0)
            .count(),
        0
    );
}

#[test]
fn batch_limit_does_no_work_for_batches_it_does_not_yield() {
    for prefetch in [false, true] {
        let table = Table::new(1000);
        let l = Loader::new(Arc::clone(&table), RandomMask::new(0.5).unwrap(), 16)
            .unwrap()
            .limit_batches(Some(3))
            .prefetch(prefetch);
        assert_eq!(l.num_batches(), 3);
        let n = l.epoch(0).map(|b| b.unwrap().len()).sum::<usize>();
        assert_eq!(n, 48);
        assert_eq!(table.gets.load(Ordering::SeqCst), 48, "prefetch {prefetch}");
    }
    // A limit above the epoch's length changes nothing.
    let l = Loader::new(Table::new(10), RandomMask::new(0.5).unwrap(), 4)
        .unwrap()
        .limit_batches(Some(99));
    assert_eq!(l.num_batches(), 3);
}

#[test]
fn tabular_views_as_the_seeds_openbhb_scenario() {
    let views = MultiViews::new(
        RandomMask::new(0.8)
            .unwrap()
            .then(GaussianNoise::new(0.5).unwrap()),
        2,
    )
    .unwrap();
    let l = Loader::new(Table::new(20), views, 8)
        .unwrap()
        .shuffle(true)
        .seed(4);
    let b = l.batch(0, 0).unwrap();
    assert_eq!(b.n_views, 2);
    assert_eq!(b.views.shape(), &[16, 3]);
    assert_eq!(b.labels.shape(), &[8, 2]);
    assert_ne!(b.view(0).unwrap(), b.view(1).unwrap());
}

#[test]
fn errors_end_the_epoch_and_name_their_cause() {
    for prefetch in [false, true] {
        let table = Arc::new(Table {
            n: 40,
            gets: AtomicUsize::new(0),
            fail_at: Some(21),
        });
        let l = Loader::new(table, RandomMask::new(0.1).unwrap(), 10)
            .unwrap()
            .prefetch(prefetch);
        let results: Vec<_> = l.epoch(0).collect();
        assert_eq!(results.len(), 3, "prefetch {prefetch}");
        assert!(results[0].is_ok() && results[1].is_ok());
        let msg = results[2].as_ref().unwrap_err().to_string();
        assert!(
            msg.contains("table.csv") && msg.contains("line 23"),
            "{msg}"
        );
    }
    // Views of different shapes cannot be stacked.
    let ragged =
        from_fn(|x: Vec<f64>, _: &mut dyn RngCore| Ok(vec![0.0f64; 1 + x[0] as usize % 2]));
    let err = Loader::new(Table::new(4), ragged, 4)
        .unwrap()
        .batch(0, 0)
        .unwrap_err();
    assert!(err.to_string().contains("stacking"), "{err}");
}

#[test]
#[should_panic(expected = "transform bug")]
fn a_panic_in_the_prefetch_thread_reaches_the_caller() {
    let buggy = from_fn(|x: Vec<f64>, _: &mut dyn RngCore| -> Result<Vec<f64>> {
        assert!(x[0] < 30.0, "transform bug");
        Ok(x)
    });
    let l = Loader::new(Table::new(40), buggy, 10)
        .unwrap()
        .prefetch(true);
    for b in l.epoch(0) {
        b.unwrap();
    }
}

#[test]
fn dropping_an_epoch_early_stops_the_prefetch_thread() {
    let table = Table::new(10_000);
    let l = Loader::new(Arc::clone(&table), RandomMask::new(0.5).unwrap(), 10).unwrap();
    let mut it = l.epoch(0);
    it.next().unwrap().unwrap();
    drop(it);
    // At most the yielded batch, the one waiting and the one being built.
    assert!(table.gets.load(Ordering::SeqCst) <= 30);
}
