//! Probes on embedding-sized data: LogisticRegression (60 000 × 32 f32, 10 classes,
//! max_iter 200), Ridge (3 227 × 32, OpenBHB's training size) and k-NN (10 000 queries against
//! 60 000 × 32, k = 5) and the MLP probe (60 000 × 32, 10 classes: one objective evaluation,
//! and a fit). Throughput is reported in samples (training rows, or queries for k-NN)
//! per second.
//!
//! Data: Gaussian class clusters with overlap, like SimCLR embeddings of MNIST — 10 class means
//! drawn from N(0, 0.7²·I) in 32-D, each sample its class mean plus N(0, I) noise, so about 3 %
//! of samples sit closer to another class's mean (scikit-learn needs ~40 L-BFGS iterations on
//! such data). The `logreg_anisotropic` case also mixes the features by a random matrix with
//! per-feature scales from 0.2 to 5 and an offset of 3, an ill-conditioned design like real
//! embeddings, on which L-BFGS runs to `max_iter` (scikit-learn: 141–200 iterations on real
//! SimCLR MNIST embeddings). Ridge targets are a noisy linear function of the features.
//!
//! With `NIDL_PROBE_REFERENCE_DIR=DIR` (set by `scripts/speed_vs_reference.sh`), the
//! `logreg_reference` case also fits `DIR/X.npy` and `DIR/y.npy` — the data scikit-learn fits on
//! the other side of the comparison — and writes its iteration count to `DIR/n_iter_nidl.txt` and
//! its predictions on `X` to `DIR/pred_nidl.npy`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nidl::datasets::npy::{read_npy, write_npy, NpyArray, NpyData};
use nidl::probe::mlp::Targets;
use nidl::probe::{
    Classifier, KNeighborsClassifier, LogisticObjective, LogisticRegression, MlpClassifier,
    MlpObjective, Probe, Ridge,
};
use nidl::Tensor;
use rand::{rngs::StdRng, SeedableRng};
use rand_distr::{Distribution, Normal};
use std::path::Path;

const D: usize = 32;
const CLASSES: usize = 10;

/// `n` samples of the clustered embedding model above, with their labels; `anisotropic` adds
/// the mixing, scaling and offset.
fn clusters(n: usize, seed: u64, anisotropic: bool) -> (Tensor<f32>, Vec<i64>) {
    let mut rng = StdRng::seed_from_u64(42);
    let means: Vec<f64> = {
        let centre = Normal::new(0.0, 0.7).expect("valid normal");
        (0..CLASSES * D).map(|_| centre.sample(&mut rng)).collect()
    };
    let unit = Normal::new(0.0, 1.0).expect("valid normal");
    let mix: Vec<f64> = (0..D * D)
        .map(|_| unit.sample(&mut rng) / (D as f64).sqrt())
        .collect();
    let scales: Vec<f64> = (0..D)
        .map(|j| 5f64.powf(2.0 * j as f64 / (D - 1) as f64 - 1.0))
        .collect();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut x = Vec::with_capacity(n * D);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % CLASSES;
        y.push(c as i64);
        let z: Vec<f64> = (0..D)
            .map(|j| means[c * D + j] + unit.sample(&mut rng))
            .collect();
        if anisotropic {
            x.extend((0..D).map(|r| {
                let m: f64 = (0..D).map(|j| mix[r * D + j] * z[j]).sum();
                (scales[r] * m + 3.0) as f32
            }));
        } else {
            x.extend(z.iter().map(|&v| v as f32));
        }
    }
    (Tensor::from_vec(x, &[n, D]).expect("shape"), y)
}

/// `DIR/X.npy` and `DIR/y.npy` (see the module docs).
fn reference_data(dir: &Path) -> (Tensor<f32>, Vec<i64>) {
    let x = read_npy(dir.join("X.npy"))
        .and_then(|a| a.to_tensor::<f32>())
        .expect("X.npy");
    let y = read_npy(dir.join("y.npy"))
        .and_then(|a| a.to_i64())
        .expect("y.npy");
    (x, y)
}

fn logistic(c: &mut Criterion) {
    let mut g = c.benchmark_group("probe");
    g.sample_size(10);
    let reference = std::env::var_os("NIDL_PROBE_REFERENCE_DIR").map(std::path::PathBuf::from);
    let mut cases = vec![
        ("logreg_60000x32_10cls_max_iter200", false),
        ("logreg_anisotropic_60000x32_10cls_max_iter200", true),
    ];
    if reference.is_some() {
        cases.push(("logreg_reference_60000x32_10cls_max_iter200", false));
    }
    for (name, anisotropic) in cases {
        let (x, y) = match &reference {
            Some(dir) if name.starts_with("logreg_reference") => reference_data(dir),
            _ => clusters(60_000, 1, anisotropic),
        };
        let n = y.len();
        g.throughput(Throughput::Elements(n as u64));
        let mut probe = LogisticRegression::new().max_iter(200);
        probe.fit(&x, &y).expect("fit");
        let acc = probe
            .predict(&x)
            .expect("predict")
            .iter()
            .zip(&y)
            .filter(|(a, b)| a == b)
            .count() as f64
            / n as f64;
        assert_eq!(probe.classes().len(), CLASSES);
        eprintln!(
            "{name}: n_iter {:?}, converged {:?}, train accuracy {acc:.4}",
            probe.n_iter(),
            probe.converged()
        );
        if let (Some(dir), true) = (&reference, name.starts_with("logreg_reference")) {
            let n_iter = probe.n_iter().expect("fitted");
            std::fs::write(dir.join("n_iter_nidl.txt"), format!("{n_iter}\n")).expect("n_iter");
            let pred = NpyArray {
                shape: vec![n],
                data: NpyData::I64(probe.predict(&x).expect("predict")),
            };
            write_npy(dir.join("pred_nidl.npy"), &pred).expect("pred_nidl.npy");
        }
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut p = LogisticRegression::new().max_iter(200);
                p.fit(&x, &y).expect("fit");
                p
            })
        });
    }
    // One evaluation of the objective and its gradient (the fit's unit of work, one pass over
    // X): samples/s here; 2·n·d·K multiply-adds (logits and gradient), 38.4 M at this size.
    let (x, y) = clusters(60_000, 1, false);
    let codes: Vec<usize> = y.iter().map(|&c| c as usize).collect();
    let mut obj = LogisticObjective::new(
        x.data().expect("host"),
        y.len(),
        D,
        &codes,
        CLASSES,
        1.0,
        true,
    )
    .expect("objective");
    let params: Vec<f64> = (0..obj.n_params())
        .map(|i| ((i * 37 % 101) as f64 - 50.0) / 300.0)
        .collect();
    let mut grad = vec![0.0; params.len()];
    g.throughput(Throughput::Elements(y.len() as u64));
    g.bench_function("logreg_eval_60000x32_10cls", |b| {
        b.iter(|| obj.value_grad(&params, &mut grad))
    });
    g.finish();
}

fn ridge(c: &mut Criterion) {
    let n = 3227;
    let (x, _) = clusters(n, 2, false);
    let w: Vec<f64> = (0..D).map(|j| (j as f64 * 0.7).sin()).collect();
    let mut rng = StdRng::seed_from_u64(3);
    let noise = Normal::new(0.0, 0.5).expect("valid normal");
    let y: Vec<f64> = x
        .data()
        .unwrap()
        .chunks(D)
        .map(|r| {
            r.iter()
                .zip(&w)
                .map(|(a, b)| f64::from(*a) * b)
                .sum::<f64>()
                + 40.0
                + noise.sample(&mut rng)
        })
        .collect();
    let y = Tensor::from_vec(y, &[n]).expect("shape");
    let mut g = c.benchmark_group("probe");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("ridge_3227x32", |b| {
        b.iter(|| {
            let mut p = Ridge::new();
            p.fit(&x, &y).expect("fit");
            p
        })
    });
    g.finish();
}

fn knn(c: &mut Criterion) {
    let (x, y) = clusters(60_000, 4, false);
    let (q, yq) = clusters(10_000, 5, false);
    let mut probe = KNeighborsClassifier::new(5);
    probe.fit(&x, &y).expect("fit");
    let acc = probe
        .predict(&q)
        .expect("predict")
        .iter()
        .zip(&yq)
        .filter(|(a, b)| a == b)
        .count() as f64
        / yq.len() as f64;
    eprintln!("knn 10000 queries vs 60000x32, k=5: test accuracy {acc:.4}");
    let mut g = c.benchmark_group("probe");
    g.sample_size(10);
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("knn_10000q_vs_60000x32_k5", |b| {
        b.iter(|| {
            let mut p = KNeighborsClassifier::new(5);
            p.fit(&x, &y).expect("fit");
            p.predict(&q).expect("predict")
        })
    });
    g.finish();
}

/// The MLP probe on the clustered 60 000 × 32 embeddings, 10 classes: one evaluation of the
/// objective and its gradient (forward + backward over every row) for one hidden layer of 100
/// units (scikit-learn's default) and of 32 (the CLI's), and a fit of 50 L-BFGS iterations with
/// 32 units. Throughput: training rows per second (per evaluation, or per fit).
fn mlp(c: &mut Criterion) {
    let mut g = c.benchmark_group("probe");
    g.sample_size(10);
    let (x, y) = clusters(60_000, 1, false);
    let n = y.len();
    g.throughput(Throughput::Elements(n as u64));
    let x64: Vec<f64> = x
        .data()
        .expect("host")
        .iter()
        .map(|&v| f64::from(v))
        .collect();
    let codes: Vec<usize> = y.iter().map(|&c| c as usize).collect();
    for hidden in [100, 32] {
        let units = [D, hidden, CLASSES];
        let mut obj =
            MlpObjective::new(&x64, n, &units, Targets::Softmax(&codes), 1e-4).expect("objective");
        let params: Vec<f64> = (0..obj.n_params())
            .map(|i| ((i * 37 % 101) as f64 - 50.0) / 500.0)
            .collect();
        let mut grad = vec![0.0; params.len()];
        g.bench_function(format!("mlp_eval_60000x32_h{hidden}_10cls"), |b| {
            b.iter(|| obj.value_grad(&params, &mut grad))
        });
    }
    g.bench_function("mlp_fit_60000x32_h32_10cls_max_iter50", |b| {
        b.iter(|| {
            let mut p = MlpClassifier::new().hidden(&[32]).max_iter(50);
            p.fit(&x, &y).expect("fit");
            p
        })
    });
    g.finish();
}

criterion_group!(benches, logistic, ridge, knn, mlp);
criterion_main!(benches);
