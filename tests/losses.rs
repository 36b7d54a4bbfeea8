//! Self-supervised losses (InfoNCE, y-Aware, Barlow Twins): golden values from nidl (PyTorch), finite-difference gradient checks,
//! hand-worked cases and bad-input errors.

mod common;

use common::{assert_close, golden};
use nidl::autograd::gradcheck::check_gradients;
use nidl::autograd::{Graph, ParamId, Var};
use nidl::loss::{Bandwidth, BarlowTwinsLoss, InfoNce, Kernel, Normalization, YAwareInfoNce};
use nidl::{Element, Error, Result, Tensor};
use rand::rngs::StdRng;
use rand::SeedableRng;

const GRAD_TOL: f64 = 1e-6;
const H: f64 = 1e-6;

fn randn(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::rand_normal(shape, 0.0, 1.0, &mut StdRng::seed_from_u64(seed))
}

fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(data.to_vec(), shape).unwrap()
}

fn to_f64<T: Element>(x: &Tensor<T>) -> Vec<f64> {
    x.data().unwrap().iter().map(|v| v.to_f64()).collect()
}

fn check(name: &str, inputs: &[Tensor<f64>], f: impl Fn(&mut Graph<f64>, &[Var]) -> Result<Var>) {
    let r = check_gradients(inputs, H, f).unwrap();
    eprintln!("{name}: max relative error {:.2e}", r.max_rel_error);
    assert!(
        r.max_rel_error <= GRAD_TOL,
        "{name}: max relative error {:.3e} at {:?} (analytic, numeric) = {:?}",
        r.max_rel_error,
        r.worst,
        r.worst_values
    );
}

/// Loss value and gradients of both views, in precision `T`, from f64 inputs.
fn loss_and_grads<T: Element>(
    z1: &Tensor<f64>,
    z2: &Tensor<f64>,
    f: impl Fn(&mut Graph<T>, Var, Var) -> Result<Var>,
) -> (f64, Vec<f64>, Vec<f64>) {
    let mut g = Graph::<T>::new();
    let (p1, p2) = (ParamId::fresh(), ParamId::fresh());
    let v1 = g.param(p1, &z1.cast::<T>().unwrap());
    let v2 = g.param(p2, &z2.cast::<T>().unwrap());
    let loss = f(&mut g, v1, v2).unwrap();
    let value = g.value(loss).item().unwrap().to_f64();
    let grads = g.backward(loss).unwrap();
    (
        value,
        to_f64(grads.get(v1).unwrap()),
        to_f64(grads.get(v2).unwrap()),
    )
}

/// Largest `|a − b| / max(|b|, floor)` (the error figure reported in the messages).
fn max_rel(a: &[f64], b: &[f64], floor: f64) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / y.abs().max(floor))
        .fold(0.0, f64::max)
}

// ---------------------------------------------------------------------------------------------
// Golden values (nidl / PyTorch, f64)
// ---------------------------------------------------------------------------------------------

/// Compares the loss `f` builds on the golden views `z1`, `z2` of `case`, and its gradients,
/// with the golden `loss`, `grad_z1` and `grad_z2`, in precision `T`.
fn check_golden_loss<T: Element>(
    case: &str,
    rtol: f64,
    atol: f64,
    f: impl Fn(&mut Graph<T>, Var, Var) -> Result<Var>,
) {
    let (z1, z2) = (golden(case, "z1"), golden(case, "z2"));
    let (value, g1, g2) = loss_and_grads::<T>(&z1, &z2, f);
    let (e_loss, e1, e2) = (
        golden(case, "loss"),
        golden(case, "grad_z1"),
        golden(case, "grad_z2"),
    );
    eprintln!(
        "{case} {}: loss rel err {:.2e}, grad_z1 {:.2e}, grad_z2 {:.2e}",
        T::NAME,
        max_rel(&[value], e_loss.data().unwrap(), 1e-300),
        max_rel(&g1, e1.data().unwrap(), 1e-300),
        max_rel(&g2, e2.data().unwrap(), 1e-300)
    );
    let name = |what: &str| format!("{case} {what} {}", T::NAME);
    assert_close(&name("loss"), &[value], e_loss.data().unwrap(), rtol, atol);
    assert_close(&name("grad_z1"), &g1, e1.data().unwrap(), rtol, atol);
    assert_close(&name("grad_z2"), &g2, e2.data().unwrap(), rtol, atol);
}

fn golden_info_nce<T: Element>(rtol: f64, atol: f64) {
    let loss = InfoNce::new(0.1);
    check_golden_loss::<T>("info_nce", rtol, atol, |g, a, b| loss.forward(g, a, b));
}

#[test]
fn info_nce_matches_nidl_f64() {
    golden_info_nce::<f64>(1e-9, 1e-12);
}

#[test]
fn info_nce_matches_nidl_f32() {
    golden_info_nce::<f32>(1e-4, 1e-6);
}

/// The golden case's loss: Gaussian kernel, `H = σ² = 16`, `τ = 0.1`.
fn golden_yaware() -> YAwareInfoNce {
    YAwareInfoNce::new(Kernel::Gaussian, Bandwidth::Scalar(16.0), 0.1)
}

#[test]
fn yaware_weights_match_nidl() {
    let case = "yaware_info_nce";
    let y = golden(case, "y");
    let w = golden_yaware().weights(&y).unwrap();
    let expected = golden(case, "w");
    assert_eq!(w.shape(), expected.shape());
    eprintln!(
        "yaware weights f64: rel err {:.2e}",
        max_rel(w.data().unwrap(), expected.data().unwrap(), 1e-300)
    );
    assert_close(
        "yaware weights",
        w.data().unwrap(),
        expected.data().unwrap(),
        1e-12,
        1e-15,
    );
    // nidl's normalisation divides column j by row sum j: columns (not rows) sum to 1.
    let n = 12;
    for j in 0..n {
        let col: f64 = (0..n).map(|i| w.data().unwrap()[i * n + j]).sum();
        assert!((col - 1.0).abs() < 1e-12, "column {j} sums to {col}");
    }
}

fn golden_yaware_loss<T: Element>(rtol: f64, atol: f64) {
    let case = "yaware_info_nce";
    let loss = golden_yaware();
    let y = golden(case, "y").cast::<T>().unwrap();
    check_golden_loss::<T>(case, rtol, atol, |g, a, b| loss.forward(g, a, b, Some(&y)));
}

#[test]
fn yaware_matches_nidl_f64() {
    golden_yaware_loss::<f64>(1e-9, 1e-12);
}

#[test]
fn yaware_matches_nidl_f32() {
    golden_yaware_loss::<f32>(1e-4, 1e-6);
}

// ---------------------------------------------------------------------------------------------
// Hand-worked cases
// ---------------------------------------------------------------------------------------------

/// B = 2, d = 2, z1 = z2 = [e1, e2], τ = 1/2. The stacked z = [e1, e2, e1, e2] has cosine
/// similarities 1 between equal vectors and 0 between orthogonal ones, so every row i sees
/// (diagonal masked) one positive with logit 1/τ = 2 and two negatives with logit 0:
///
///   nll_i = −2 + ln(e² + e⁰ + e⁰) = ln(2 + e²) − 2 ≈ 0.126928,
///
/// the same for all four rows, so ℓ = ln(2 + e²) − 2.
#[test]
fn info_nce_hand_worked_b2() {
    let z = t(&[1.0, 0.0, 0.0, 1.0], &[2, 2]);
    let mut g = Graph::<f64>::new();
    let (a, b) = (g.input(z.clone()), g.input(z));
    let l = InfoNce::new(0.5).forward(&mut g, a, b).unwrap();
    let expected = (2.0 + 2f64.exp()).ln() - 2.0;
    let got = g.value(l).item().unwrap();
    assert!(
        (got - expected).abs() < 1e-14,
        "got {got}, expected {expected}"
    );
}

/// B = 1: each row's only unmasked entry is its positive, so
/// ℓ = −s/τ + ln(e^{s/τ}) = 0 whatever the embeddings, and so is the gradient.
#[test]
fn info_nce_hand_worked_b1_is_zero() {
    let (z1, z2) = (t(&[3.0, -1.0], &[1, 2]), t(&[0.5, 2.0], &[1, 2]));
    let (value, g1, g2) =
        loss_and_grads::<f64>(&z1, &z2, |g, a, b| InfoNce::new(0.1).forward(g, a, b));
    assert!(value.abs() < 1e-12, "loss {value}");
    assert!(
        g1.iter().chain(&g2).all(|v| v.abs() < 1e-12),
        "grads {g1:?} {g2:?}"
    );
}

/// B = 2, d = 2, z1 = z2 = [e1, e2], labels y = [0, 1], Gaussian kernel, H = 1, τ = 1.
///
/// Stacked labels [0, 1, 0, 1]: K = 1 between equal labels (the other view), K = e^{−1/2} =: a
/// between different ones, K_ii = 0. Every row of K is a permutation of [0, a, 1, a], so every
/// row (and column) sums to S = 1 + 2a and both normalisations give w = K / S.
///
/// Logits S_ij = cos/τ: row 0 is [1 − 1e8, 0, 1, 0] (z = [e1, e2, e1, e2]), so with
/// L = ln(e⁰ + e¹ + e⁰) = ln(2 + e):  log_softmax row 0 = [≈ −1e8, −L, 1 − L, −L], and
///
///   Σ_j w_0j log p_0j = (a·(−L) + 1·(1 − L) + a·(−L)) / S = 1/S − L.
///
/// All four rows are alike, so ℓ = −(1/B)·4·(1/S − L) = 2(L − 1/S) ≈ 1.425.
/// Without labels, ℓ = −(1/2B) Σ_i (1 − L) = L − 1 (the plain InfoNCE, τ = 1).
#[test]
fn yaware_hand_worked() {
    let z = t(&[1.0, 0.0, 0.0, 1.0], &[2, 2]);
    let y = t(&[0.0, 1.0], &[2]);
    let a = (-0.5f64).exp();
    let (s, l) = (1.0 + 2.0 * a, (2.0 + 1f64.exp()).ln());
    for norm in [Normalization::NidlColumns, Normalization::Rows] {
        let loss = YAwareInfoNce::new(Kernel::Gaussian, Bandwidth::Scalar(1.0), 1.0)
            .with_normalization(norm);
        let w = loss.weights(&y).unwrap();
        let expected_w = [
            0.0, a, 1.0, a, a, 0.0, a, 1.0, 1.0, a, 0.0, a, a, 1.0, a, 0.0,
        ]
        .map(|k| k / s);
        assert_close(
            "hand-worked weights",
            w.data().unwrap(),
            &expected_w,
            1e-15,
            1e-15,
        );
        let mut g = Graph::<f64>::new();
        let (v1, v2) = (g.input(z.clone()), g.input(z.clone()));
        let out = loss.forward(&mut g, v1, v2, Some(&y)).unwrap();
        let got = g.value(out).item().unwrap();
        let expected = 2.0 * (l - 1.0 / s);
        assert!(
            (got - expected).abs() < 1e-14,
            "{norm:?}: got {got}, expected {expected}"
        );
        let out = loss.forward(&mut g, v1, v2, None).unwrap();
        let got = g.value(out).item().unwrap();
        assert!(
            (got - (l - 1.0)).abs() < 1e-14,
            "unlabelled: got {got}, expected {}",
            l - 1.0
        );
    }
}

/// Kernel values at a few distances, from their closed forms.
#[test]
fn kernel_definitions() {
    use std::f64::consts::PI;
    for r in [0.0, 0.3, 0.99, 1.0, 1.7] {
        let inside = r < 1.0;
        assert_eq!(Kernel::Gaussian.eval(r), (-r * r / 2.0).exp());
        assert_eq!(Kernel::Exponential.eval(r), (-r).exp());
        assert_eq!(
            Kernel::Epanechnikov.eval(r),
            if inside { 1.0 - r * r } else { 0.0 }
        );
        assert_eq!(Kernel::Linear.eval(r), if inside { 1.0 - r } else { 0.0 });
        assert_eq!(
            Kernel::Cosine.eval(r),
            if inside { (PI * r / 2.0).cos() } else { 0.0 }
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Weights: normalisations and bandwidth forms
// ---------------------------------------------------------------------------------------------

/// Unnormalised weights K (diagonal 0) for 1-D labels, from the definition, for comparisons.
fn kernel_matrix(y: &[f64], kernel: Kernel, dist: impl Fn(usize, usize) -> f64) -> Vec<f64> {
    let n = 2 * y.len();
    let mut k = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            if i != j {
                k[i * n + j] = kernel.eval(dist(i % y.len(), j % y.len()));
            }
        }
    }
    k
}

#[test]
fn rows_normalisation_rows_sum_to_one() {
    let y = t(&[20.0, 23.5, 31.0, 40.0, 41.0], &[5]);
    for kernel in [
        Kernel::Gaussian,
        Kernel::Epanechnikov,
        Kernel::Exponential,
        Kernel::Linear,
        Kernel::Cosine,
    ] {
        let loss = YAwareInfoNce::new(kernel, Bandwidth::Scalar(25.0), 0.1);
        let rows = loss
            .clone()
            .with_normalization(Normalization::Rows)
            .weights(&y)
            .unwrap();
        let cols = loss.weights(&y).unwrap();
        let n = 10;
        let k = kernel_matrix(y.data().unwrap(), kernel, |i, j| {
            (y.data().unwrap()[i] - y.data().unwrap()[j]).abs() / 5.0
        });
        for i in 0..n {
            let rs: f64 = rows.data().unwrap()[i * n..(i + 1) * n].iter().sum();
            let cs: f64 = (0..n).map(|r| cols.data().unwrap()[r * n + i]).sum();
            assert!(
                (rs - 1.0).abs() < 1e-12,
                "{kernel:?}: Rows row {i} sums to {rs}"
            );
            assert!(
                (cs - 1.0).abs() < 1e-12,
                "{kernel:?}: NidlColumns column {i} sums to {cs}"
            );
            assert_eq!(rows.data().unwrap()[i * n + i], 0.0);
            let row_sum: f64 = k[i * n..(i + 1) * n].iter().sum();
            for j in 0..n {
                let expected = k[i * n + j] / row_sum;
                assert!((rows.data().unwrap()[i * n + j] - expected).abs() < 1e-14);
                // NidlColumns: column j divided by row sum j (= column sum j, K symmetric).
                let col_sum: f64 = k[j * n..(j + 1) * n].iter().sum();
                assert!((cols.data().unwrap()[i * n + j] - k[i * n + j] / col_sum).abs() < 1e-14);
            }
        }
    }
}

#[test]
fn bandwidth_forms_agree() {
    // 1-D labels: Scalar(σ²) on [B] = Diagonal([σ²]) on [B, 1] = Full([σ²]) on [B, 1].
    let y = t(&[1.0, 2.5, -0.5, 3.0], &[4]);
    let y2 = t(y.data().unwrap(), &[4, 1]);
    let w = |bw: Bandwidth, y: &Tensor<f64>| {
        YAwareInfoNce::new(Kernel::Gaussian, bw, 0.1)
            .weights(y)
            .unwrap()
    };
    let base = w(Bandwidth::Scalar(2.0), &y);
    assert_close(
        "diag vs scalar",
        w(Bandwidth::Diagonal(vec![2.0]), &y2).data().unwrap(),
        base.data().unwrap(),
        1e-14,
        1e-15,
    );
    assert_close(
        "full vs scalar",
        w(Bandwidth::Full(vec![2.0]), &y2).data().unwrap(),
        base.data().unwrap(),
        1e-14,
        1e-15,
    );

    // 2-D labels with a full SPD bandwidth: K = exp(−uᵀH⁻¹u/2) from the explicit 2×2 inverse.
    let y = t(&[0.0, 1.0, 1.0, -1.0, 2.0, 0.5], &[3, 2]);
    let h = [2.0, 0.6, 0.6, 1.0];
    let det = h[0] * h[3] - h[1] * h[2];
    let hinv = [h[3] / det, -h[1] / det, -h[2] / det, h[0] / det];
    let loss = YAwareInfoNce::new(Kernel::Gaussian, Bandwidth::Full(h.to_vec()), 0.1)
        .with_normalization(Normalization::Rows);
    let got = loss.weights(&y).unwrap();
    let n = 6;
    let mut k = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            if i != j {
                let (a, b) = (i % 3, j % 3);
                let u = [
                    y.data().unwrap()[2 * a] - y.data().unwrap()[2 * b],
                    y.data().unwrap()[2 * a + 1] - y.data().unwrap()[2 * b + 1],
                ];
                let q = u[0] * (hinv[0] * u[0] + hinv[1] * u[1])
                    + u[1] * (hinv[2] * u[0] + hinv[3] * u[1]);
                k[i * n + j] = (-q / 2.0).exp();
            }
        }
    }
    for i in 0..n {
        let s: f64 = k[i * n..(i + 1) * n].iter().sum();
        for j in 0..n {
            let e = k[i * n + j] / s;
            assert!(
                (got.data().unwrap()[i * n + j] - e).abs() < 1e-14,
                "full H weight ({i},{j}): {} vs {e}",
                got.data().unwrap()[i * n + j]
            );
        }
    }

    // A diagonal Full equals Diagonal.
    let d = YAwareInfoNce::new(Kernel::Linear, Bandwidth::Diagonal(vec![4.0, 9.0]), 0.1)
        .weights(&y)
        .unwrap();
    let f = YAwareInfoNce::new(
        Kernel::Linear,
        Bandwidth::Full(vec![4.0, 0.0, 0.0, 9.0]),
        0.1,
    )
    .weights(&y)
    .unwrap();
    assert_close(
        "diagonal full vs diagonal",
        f.data().unwrap(),
        d.data().unwrap(),
        1e-14,
        1e-15,
    );
}

/// Scott and Silverman as nidl: `H^{1/2} = factor · diag(σ_j)` over the 2B stacked labels.
/// Labels [0, 1, 2] stack to [0, 1, 2, 0, 1, 2]: mean 1, unbiased variance (4·1)/5 = 0.8;
/// n = 6, k = 1: Scott factor 6^{−1/5}, Silverman (6·3/4)^{−1/5}.
#[test]
fn scott_and_silverman_bandwidths() {
    let y = t(&[0.0, 1.0, 2.0], &[3]);
    for (bw, factor) in [
        (Bandwidth::Scott, 6f64.powf(-0.2)),
        (Bandwidth::Silverman, 4.5f64.powf(-0.2)),
    ] {
        let loss = YAwareInfoNce::new(Kernel::Gaussian, bw.clone(), 0.1);
        let fitted = loss.fit_bandwidth(&y).unwrap();
        let Bandwidth::Diagonal(h) = &fitted else {
            panic!("{bw:?} fitted to {fitted:?}")
        };
        let expected_h = factor * factor * 0.8;
        assert!(
            (h[0] - expected_h).abs() < 1e-14,
            "{bw:?}: H = {h:?}, expected {expected_h}"
        );
        let sigma = factor * 0.8f64.sqrt();
        let k = kernel_matrix(y.data().unwrap(), Kernel::Gaussian, |i, j| {
            (y.data().unwrap()[i] - y.data().unwrap()[j]).abs() / sigma
        });
        let got = loss.weights(&y).unwrap();
        let frozen = YAwareInfoNce::new(Kernel::Gaussian, fitted, 0.1)
            .weights(&y)
            .unwrap();
        assert_close(
            "fitted bandwidth",
            frozen.data().unwrap(),
            got.data().unwrap(),
            1e-13,
            1e-15,
        );
        for i in 0..6 {
            for j in 0..6 {
                let col_sum: f64 = k[j * 6..(j + 1) * 6].iter().sum();
                assert!((got.data().unwrap()[i * 6 + j] - k[i * 6 + j] / col_sum).abs() < 1e-14);
            }
        }
    }
    // A zero-variance dimension is ignored (nidl's zero inverse scale): with identical labels
    // every off-diagonal weight is K(0) = 1 before normalisation.
    let same = t(&[5.0, 5.0, 5.0], &[3]);
    let w = YAwareInfoNce::new(Kernel::Gaussian, Bandwidth::Scott, 0.1)
        .weights(&same)
        .unwrap();
    for i in 0..6 {
        for j in 0..6 {
            let e = if i == j { 0.0 } else { 0.2 };
            assert!((w.data().unwrap()[i * 6 + j] - e).abs() < 1e-15);
        }
    }
    assert!(YAwareInfoNce::new(Kernel::Gaussian, Bandwidth::Scott, 0.1)
        .fit_bandwidth(&same)
        .is_err());
}

/// Without labels the loss is nidl's two-sided InfoNCE, equal to [`InfoNce`] to rounding.
#[test]
fn yaware_unlabelled_equals_info_nce() {
    let (z1, z2) = (randn(&[7, 5], 1), randn(&[7, 5], 2));
    let (a, ga1, ga2) = loss_and_grads::<f64>(&z1, &z2, |g, x, y| {
        YAwareInfoNce::default().forward(g, x, y, None)
    });
    let (b, gb1, gb2) =
        loss_and_grads::<f64>(&z1, &z2, |g, x, y| InfoNce::new(0.1).forward(g, x, y));
    assert!((a - b).abs() <= 1e-12 * b.abs(), "{a} vs {b}");
    assert_close("unlabelled grad_z1", &ga1, &gb1, 1e-10, 1e-8);
    assert_close("unlabelled grad_z2", &ga2, &gb2, 1e-10, 1e-8);
}

// ---------------------------------------------------------------------------------------------
// Finite-difference gradient checks (f64)
// ---------------------------------------------------------------------------------------------

#[test]
fn gradcheck_info_nce() {
    for (b, d, tau) in [(4, 3, 0.1), (3, 5, 0.5), (1, 2, 0.2)] {
        let loss = InfoNce::new(tau);
        check(
            &format!("info_nce B{b} d{d} τ{tau}"),
            &[randn(&[b, d], 3), randn(&[b, d], 4)],
            |g, v| loss.forward(g, v[0], v[1]),
        );
    }
}

#[test]
fn gradcheck_yaware_every_kernel_and_bandwidth() {
    let (b, d) = (4, 3);
    let (z1, z2) = (randn(&[b, d], 5), randn(&[b, d], 6));
    // 2-D labels in two tight pairs, so that under every bandwidth (Scott's and Silverman's are
    // narrow at n = 8) the compact kernels keep some pairs besides the positives non-zero.
    let y = t(&[0.0, 0.0, 0.1, 0.2, 2.0, 1.0, 2.2, 1.1], &[b, 2]);
    let bandwidths = [
        Bandwidth::Scalar(2.0),
        Bandwidth::Diagonal(vec![1.5, 3.0]),
        Bandwidth::Full(vec![2.0, 0.7, 0.7, 1.5]),
        Bandwidth::Scott,
        Bandwidth::Silverman,
    ];
    for kernel in [
        Kernel::Gaussian,
        Kernel::Epanechnikov,
        Kernel::Exponential,
        Kernel::Linear,
        Kernel::Cosine,
    ] {
        for bw in &bandwidths {
            for norm in [Normalization::NidlColumns, Normalization::Rows] {
                let loss = YAwareInfoNce::new(kernel, bw.clone(), 0.2).with_normalization(norm);
                // Some weight beyond the positive pairs, so the kernel actually matters.
                let w = loss.weights(&y).unwrap();
                let n = 2 * b;
                let others = (0..n * n).filter(|&e| {
                    e / n != e % n && (e / n + b) % n != e % n && w.data().unwrap()[e] > 0.0
                });
                assert!(
                    others.count() > 0,
                    "{kernel:?} {bw:?}: only positive pairs weighted"
                );
                check(
                    &format!("yaware {kernel:?} {bw:?} {norm:?}"),
                    &[z1.clone(), z2.clone()],
                    |g, v| loss.forward(g, v[0], v[1], Some(&y)),
                );
            }
        }
    }
    // 1-D labels.
    let y1 = randn(&[b], 8);
    let loss = YAwareInfoNce::new(Kernel::Gaussian, Bandwidth::Scalar(0.5), 0.1);
    check("yaware 1-D labels", &[z1.clone(), z2.clone()], |g, v| {
        loss.forward(g, v[0], v[1], Some(&y1))
    });
}

#[test]
fn gradcheck_yaware_unlabelled() {
    for (b, tau) in [(4, 0.1), (2, 0.7)] {
        let loss = YAwareInfoNce {
            temperature: tau,
            ..Default::default()
        };
        check(
            &format!("yaware unlabelled B{b}"),
            &[randn(&[b, 3], 9), randn(&[b, 3], 10)],
            |g, v| loss.forward(g, v[0], v[1], None),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------------

fn views(g: &mut Graph<f64>, s1: &[usize], s2: &[usize]) -> (Var, Var) {
    (g.input(randn(s1, 11)), g.input(randn(s2, 12)))
}

#[test]
fn info_nce_bad_input() {
    let mut g = Graph::<f64>::new();
    for (s1, s2) in [
        (&[4, 3][..], &[4, 2][..]),
        (&[4, 3], &[3, 3]),
        (&[4, 3, 1], &[4, 3, 1]),
        (&[0, 3], &[0, 3]),
    ] {
        let (a, b) = views(&mut g, s1, s2);
        let e = InfoNce::new(0.1).forward(&mut g, a, b).unwrap_err();
        assert!(
            matches!(e, Error::Shape { op: "info_nce", .. }),
            "{s1:?} {s2:?}: {e}"
        );
        assert!(e.to_string().contains(&format!("{s1:?}")), "{e}");
    }
    let (a, b) = views(&mut g, &[4, 3], &[4, 3]);
    for tau in [0.0, -0.1, f64::NAN, f64::INFINITY] {
        let e = InfoNce::new(tau).forward(&mut g, a, b).unwrap_err();
        assert!(
            matches!(e, Error::InvalidArgument { op: "info_nce", .. }),
            "τ = {tau}: {e}"
        );
        assert!(e.to_string().contains("temperature"), "{e}");
    }
}

#[test]
fn yaware_bad_input() {
    let mut g = Graph::<f64>::new();
    let loss = YAwareInfoNce::default();
    let (a, b) = views(&mut g, &[4, 3], &[5, 3]);
    let e = loss.forward(&mut g, a, b, None).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Shape {
                op: "yaware_info_nce",
                ..
            }
        ),
        "{e}"
    );

    let (a, b) = views(&mut g, &[4, 3], &[4, 3]);
    // Label count ≠ B.
    for y in [t(&[1.0, 2.0, 3.0], &[3]), t(&[0.0; 10], &[5, 2])] {
        let e = loss.forward(&mut g, a, b, Some(&y)).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Shape {
                    op: "yaware_info_nce",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("B = 4"), "{e}");
    }
    // Labels of rank 3, non-finite labels.
    assert!(loss
        .forward(&mut g, a, b, Some(&t(&[0.0; 8], &[4, 2, 1])))
        .is_err());
    let e = loss
        .forward(&mut g, a, b, Some(&t(&[0.0, f64::NAN, 1.0, 2.0], &[4])))
        .unwrap_err();
    assert!(matches!(e, Error::NonFinite { .. }), "{e}");
    // Temperature ≤ 0.
    for tau in [0.0, -1.0] {
        let bad = YAwareInfoNce {
            temperature: tau,
            ..Default::default()
        };
        let e = bad.forward(&mut g, a, b, None).unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidArgument {
                    op: "yaware_info_nce",
                    ..
                }
            ),
            "{e}"
        );
    }
    // Bandwidths: non-SPD, non-symmetric, wrong sizes, non-positive.
    let y2 = randn(&[4, 2], 13);
    let bad_bandwidths = [
        (
            Bandwidth::Full(vec![1.0, 2.0, 2.0, 1.0]),
            "not positive definite",
        ),
        (Bandwidth::Full(vec![1.0, 0.1, 0.2, 1.0]), "not symmetric"),
        (Bandwidth::Full(vec![1.0, 0.0, 0.0]), "2×2"),
        (
            Bandwidth::Diagonal(vec![1.0]),
            "one entry per label dimension",
        ),
        (Bandwidth::Diagonal(vec![1.0, -2.0]), "positive"),
        (Bandwidth::Scalar(0.0), "positive"),
    ];
    for (bw, text) in bad_bandwidths {
        let bad = YAwareInfoNce::new(Kernel::Gaussian, bw.clone(), 0.1);
        let e = bad.forward(&mut g, a, b, Some(&y2)).unwrap_err();
        assert!(e.to_string().contains(text), "{bw:?}: {e}");
        assert!(bad.weights(&y2).is_err());
        assert!(bad.fit_bandwidth(&y2).is_err());
    }
}

// ---------------------------------------------------------------------------------------------
// Barlow Twins
// ---------------------------------------------------------------------------------------------

fn golden_barlow<T: Element>(rtol: f64, atol: f64) {
    let loss = BarlowTwinsLoss::default();
    assert_eq!(loss.lambda, 5e-3, "nidl's default λ");
    check_golden_loss::<T>("barlow_twins", rtol, atol, |g, a, b| loss.forward(g, a, b));
}

#[test]
fn barlow_twins_matches_nidl_f64() {
    golden_barlow::<f64>(1e-10, 1e-12);
}

#[test]
fn barlow_twins_matches_nidl_f32() {
    golden_barlow::<f32>(1e-4, 1e-6);
}

/// N = 2, D = 2, λ = 0.01. z1 = [[1, 0], [3, 2]]: both columns centre to [−1, 1] with unbiased
/// std √2, so ẑ1 = [[−a, −a], [a, a]] with a = 1/√2. z2 = [[0, 5], [4, 1]]: columns centre to
/// [−2, 2] and [2, −2] with std 2√2, so ẑ2 = [[−a, a], [a, −a]]. With N − 1 = 1,
///
///   c = ẑ1ᵀ ẑ2 = [[2a², −2a²], [2a², −2a²]] = [[1, −1], [1, −1]],
///
/// so ℓ = (1 − c00)² + (1 − c11)² + λ(c01² + c10²) = 0 + 4 + 0.01·2 = 4.02.
#[test]
fn barlow_twins_hand_worked() {
    let (z1, z2) = (
        t(&[1.0, 0.0, 3.0, 2.0], &[2, 2]),
        t(&[0.0, 5.0, 4.0, 1.0], &[2, 2]),
    );
    let mut g = Graph::<f64>::new();
    let (a, b) = (g.input(z1), g.input(z2));
    let l = BarlowTwinsLoss::new(0.01).forward(&mut g, a, b).unwrap();
    let got = g.value(l).item().unwrap();
    assert!((got - 4.02).abs() < 1e-13, "got {got}, expected 4.02");
}

/// N = 1: the unbiased std is 0/0, so nidl only centres the views (ẑ = 0) and does not divide
/// c by N − 1 = 0: c = 0, ℓ = Σ_i (1 − 0)² = D, and the gradient is zero — not NaN.
#[test]
fn barlow_twins_batch_of_one_is_d_with_zero_gradient() {
    let (z1, z2) = (t(&[3.0, -1.0, 0.5], &[1, 3]), t(&[0.5, 2.0, -4.0], &[1, 3]));
    for lambda in [5e-3, 1.0] {
        let loss = BarlowTwinsLoss::new(lambda);
        let (value, g1, g2) = loss_and_grads::<f64>(&z1, &z2, |g, a, b| loss.forward(g, a, b));
        assert_eq!(value, 3.0, "λ = {lambda}");
        assert!(
            g1.iter().chain(&g2).all(|v| *v == 0.0),
            "grads {g1:?} {g2:?}"
        );
        let (v32, ..) = loss_and_grads::<f32>(&z1, &z2, |g, a, b| loss.forward(g, a, b));
        assert_eq!(v32, 3.0);
    }
}

#[test]
fn gradcheck_barlow_twins() {
    for (n, d, lambda) in [(6, 4, 5e-3), (3, 5, 0.5), (2, 3, 1.0), (1, 2, 5e-3)] {
        let loss = BarlowTwinsLoss::new(lambda);
        check(
            &format!("barlow_twins N{n} D{d} λ{lambda}"),
            &[randn(&[n, d], 13), randn(&[n, d], 14)],
            |g, v| loss.forward(g, v[0], v[1]),
        );
    }
}

#[test]
fn barlow_twins_bad_input() {
    let mut g = Graph::<f64>::new();
    for (s1, s2) in [
        (&[4, 3][..], &[4, 2][..]),
        (&[4, 3], &[3, 3]),
        (&[4, 3, 1], &[4, 3, 1]),
        (&[0, 3], &[0, 3]),
    ] {
        let (a, b) = views(&mut g, s1, s2);
        let e = BarlowTwinsLoss::default()
            .forward(&mut g, a, b)
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::Shape {
                    op: "barlow_twins",
                    ..
                }
            ),
            "{s1:?} {s2:?}: {e}"
        );
        assert!(e.to_string().contains(&format!("{s1:?}")), "{e}");
    }
    let (a, b) = views(&mut g, &[4, 3], &[4, 3]);
    for lambda in [-0.1, f64::NAN, f64::INFINITY] {
        let e = BarlowTwinsLoss::new(lambda)
            .forward(&mut g, a, b)
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidArgument {
                    op: "barlow_twins",
                    ..
                }
            ),
            "λ = {lambda}: {e}"
        );
        assert!(e.to_string().contains("lambda"), "{e}");
    }
}
