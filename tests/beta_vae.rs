//! The β-VAE's loss and ops: golden values from nidl 0.0.2 (`scripts/beta_vae_golden.py`,
//! `tests/data/beta_vae/`), finite-difference gradient checks in f64 (loss, sigmoid, nearest
//! upsampling, the conv decoder), hand-worked cases and bad-input errors.

mod common;

use common::{assert_close, golden};
use nidl::autograd::gradcheck::check_gradients;
use nidl::autograd::{Graph, ParamId, Var};
use nidl::loss::{BetaVaeLoss, ReconstructionDistribution};
use nidl::nn::{ConvDecoder, Module};
use nidl::{Element, Error, Result, Tensor};
use rand::rngs::StdRng;
use rand::SeedableRng;

const GRAD_TOL: f64 = 1e-6;
const H: f64 = 1e-6;

fn randn(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::rand_normal(shape, 0.0, 1.0, &mut StdRng::seed_from_u64(seed))
}

fn uniform(shape: &[usize], lo: f64, hi: f64, seed: u64) -> Tensor<f64> {
    Tensor::rand_uniform(shape, lo, hi, &mut StdRng::seed_from_u64(seed))
}

fn to_f64<T: Element>(x: &Tensor<T>) -> Vec<f64> {
    x.to_vec().unwrap().iter().map(|v| v.to_f64()).collect()
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

/// Sums a non-scalar output with fixed random weights.
fn weighted_sum(g: &mut Graph<f64>, y: Var, seed: u64) -> Result<Var> {
    let w = g.input(randn(g.value(y).shape(), seed));
    let p = g.mul(y, w)?;
    g.sum(p)
}

/// The six golden cases: each distribution with β = 4 and 0.5.
fn cases() -> Vec<(String, ReconstructionDistribution)> {
    let mut out = Vec::new();
    for dist in ReconstructionDistribution::ALL {
        for beta in ["4.0", "0.5"] {
            out.push((format!("beta_vae/{dist}_beta{beta}"), dist));
        }
    }
    out
}

fn golden_case<T: Element>(rtol: f64, atol: f64) {
    for (case, dist) in cases() {
        let beta = golden(&case, "beta").item().unwrap();
        let loss = BetaVaeLoss::new(beta, dist);
        let mut g = Graph::<T>::new();
        let x = g.input(golden(&case, "x").cast::<T>().unwrap());
        let leaf = |g: &mut Graph<T>, name: &str| {
            g.param(ParamId::fresh(), &golden(&case, name).cast::<T>().unwrap())
        };
        let (p, mu, logvar) = (
            leaf(&mut g, "p"),
            leaf(&mut g, "mu"),
            leaf(&mut g, "logvar"),
        );
        let terms = loss.forward(&mut g, x, p, mu, logvar).unwrap();
        let grads = g.backward(terms.loss).unwrap();
        let name = |what: &str| format!("{case} {what} {}", T::NAME);
        for (what, v) in [
            ("loss", terms.loss),
            ("rec_loss", terms.rec_loss),
            ("kl_loss", terms.kl_loss),
        ] {
            let got = g.value(v).item().unwrap().to_f64();
            let want = golden(&case, what).to_vec().unwrap();
            assert_close(&name(what), &[got], &want, rtol, atol);
        }
        for (what, v) in [("grad_p", p), ("grad_mu", mu), ("grad_logvar", logvar)] {
            let got = to_f64(grads.get(v).unwrap());
            let want = golden(&case, what).to_vec().unwrap();
            assert_close(&name(what), &got, &want, rtol, atol);
        }
    }
}

#[test]
fn beta_vae_loss_matches_nidl_f64() {
    golden_case::<f64>(1e-9, 1e-12);
}

#[test]
fn beta_vae_loss_matches_nidl_f32() {
    golden_case::<f32>(1e-4, 1e-4);
}

#[test]
fn beta_vae_loss_gradients_f64() {
    for dist in ReconstructionDistribution::ALL {
        let loss = BetaVaeLoss::new(2.5, dist);
        // Pixels in [0, 1]; reconstructions in (0.05, 0.95) (probabilities for the bernoulli,
        // a continuous draw that never ties a pixel for the laplace).
        let x = uniform(&[3, 2, 2, 2], 0.0, 1.0, 1);
        let p = uniform(&[3, 2, 2, 2], 0.05, 0.95, 2);
        let (mu, logvar) = (randn(&[3, 4], 3), randn(&[3, 4], 4));
        check(&format!("beta_vae {dist}"), &[p, mu, logvar], |g, v| {
            let x = g.input(x.clone());
            Ok(loss.forward(g, x, v[0], v[1], v[2])?.loss)
        });
    }
}

#[test]
fn beta_vae_hand_worked() {
    // One sample, one pixel x = 0.5, reconstruction p = 0.25, one latent μ = 1, log σ² = 0:
    // normal rec = (0.25 − 0.5)² = 0.0625; laplace rec = 0.25; bernoulli rec =
    // −(0.5 ln 0.25 + 0.5 ln 0.75) = 0.5 (ln 4 + ln 4/3); KL = ½ (e⁰ + 1 − 1 − 0) = 0.5.
    let want_rec = [0.0625, 0.25, 0.5 * (4.0f64.ln() + (4.0f64 / 3.0).ln())];
    for (dist, rec) in ReconstructionDistribution::ALL.into_iter().zip(want_rec) {
        let mut g = Graph::<f64>::inference();
        let x = g.input(Tensor::from_vec(vec![0.5], &[1, 1]).unwrap());
        let p = g.input(Tensor::from_vec(vec![0.25], &[1, 1]).unwrap());
        let mu = g.input(Tensor::from_vec(vec![1.0], &[1, 1]).unwrap());
        let lv = g.input(Tensor::from_vec(vec![0.0], &[1, 1]).unwrap());
        let t = BetaVaeLoss::new(2.0, dist)
            .forward(&mut g, x, p, mu, lv)
            .unwrap();
        let value = |v| g.value(v).item().unwrap();
        assert!((value(t.rec_loss) - rec).abs() < 1e-15, "{dist}");
        assert_eq!(value(t.kl_loss), 0.5);
        assert!((value(t.loss) - (rec + 2.0 * 0.5)).abs() < 1e-15, "{dist}");
    }
    // A batch of two: sums over each sample's elements, means over the batch (nidl divides by
    // len(data)): two samples of error 1 and 3 in one of two pixels → (1 + 9) / 2 = 5.
    let mut g = Graph::<f64>::inference();
    let x = g.input(Tensor::zeros(&[2, 2]));
    let p = g.input(Tensor::from_vec(vec![1.0, 0.0, 0.0, 3.0], &[2, 2]).unwrap());
    let z = g.input(Tensor::zeros(&[2, 1]));
    let t = BetaVaeLoss::default().forward(&mut g, x, p, z, z).unwrap();
    assert_eq!(g.value(t.rec_loss).item().unwrap(), 5.0);
    assert_eq!(g.value(t.kl_loss).item().unwrap(), 0.0);
}

#[test]
fn bernoulli_clamps_the_logarithms_as_pytorch() {
    // p = 0 with x = 1: PyTorch's BCE clamps ln 0 to −100, so the term is 100 (not infinite);
    // p = 1 with x = 1 costs nothing.
    let mut g = Graph::<f64>::inference();
    let x = g.input(Tensor::from_vec(vec![1.0, 1.0], &[1, 2]).unwrap());
    let p = g.input(Tensor::from_vec(vec![0.0, 1.0], &[1, 2]).unwrap());
    let z = g.input(Tensor::zeros(&[1, 1]));
    let loss = BetaVaeLoss::new(1.0, ReconstructionDistribution::Bernoulli);
    let t = loss.forward(&mut g, x, p, z, z).unwrap();
    assert_eq!(g.value(t.rec_loss).item().unwrap(), 100.0);
}

#[test]
fn beta_vae_bad_inputs_are_typed_errors() {
    let mut g = Graph::<f64>::inference();
    let x = g.input(Tensor::zeros(&[2, 3]));
    let p = g.input(Tensor::full(&[2, 3], 0.5));
    let p_bad = g.input(Tensor::full(&[2, 3], 1.5));
    let p_short = g.input(Tensor::zeros(&[2, 2]));
    let mu = g.input(Tensor::zeros(&[2, 4]));
    let mu_other_batch = g.input(Tensor::zeros(&[3, 4]));
    let normal = BetaVaeLoss::new(1.0, ReconstructionDistribution::Normal);
    let bern = BetaVaeLoss::new(1.0, ReconstructionDistribution::Bernoulli);
    match bern.forward(&mut g, x, p_bad, mu, mu) {
        Err(Error::InvalidArgument { op, message }) => {
            assert_eq!(op, "beta_vae");
            assert!(
                message.contains("[0, 1]") && message.contains("1.5"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        normal.forward(&mut g, x, p_short, mu, mu),
        Err(Error::Shape { op: "beta_vae", .. })
    ));
    assert!(matches!(
        normal.forward(&mut g, x, p, mu_other_batch, mu_other_batch),
        Err(Error::Shape { op: "beta_vae", .. })
    ));
    for beta in [-1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            BetaVaeLoss::new(beta, ReconstructionDistribution::Normal)
                .forward(&mut g, x, p, mu, mu),
            Err(Error::InvalidArgument { .. })
        ));
    }
    // nidl's three names parse; anything else is refused naming them.
    for d in ReconstructionDistribution::ALL {
        assert_eq!(d.name().parse::<ReconstructionDistribution>().unwrap(), d);
    }
    let e = "gaussian"
        .parse::<ReconstructionDistribution>()
        .unwrap_err();
    assert!(
        e.to_string().contains("'normal', 'laplace' or 'bernoulli'"),
        "{e}"
    );
}

#[test]
fn sigmoid_values_and_gradient_f64() {
    // σ(0) = ½, σ(ln 3) = 3/4, σ(−ln 3) = 1/4; far tails saturate without NaN.
    let x = Tensor::from_vec(vec![0.0, 3.0f64.ln(), -(3.0f64.ln()), 800.0, -800.0], &[5]).unwrap();
    let mut g = Graph::<f64>::inference();
    let v = g.input(x);
    let y = g.sigmoid(v).unwrap();
    let got = g.value(y).to_vec().unwrap();
    for (a, b) in got.iter().zip([0.5, 0.75, 0.25, 1.0, 0.0]) {
        assert!((a - b).abs() < 1e-15, "{got:?}");
    }
    check(
        "sigmoid",
        &[randn(&[4, 5], 11).mul_scalar(3.0).unwrap()],
        |g, v| {
            let y = g.sigmoid(v[0])?;
            weighted_sum(g, y, 12)
        },
    );
}

#[test]
fn upsample_nearest2d_gradient_f64() {
    for k in [1, 2, 3] {
        check(
            &format!("upsample_nearest2d k={k}"),
            &[randn(&[2, 3, 3, 2], 13)],
            |g, v| {
                let y = g.upsample_nearest2d(v[0], k)?;
                weighted_sum(g, y, 14)
            },
        );
    }
}

#[test]
fn conv_decoder_gradient_f64() {
    // The whole decoder (linear, relu, reshape, upsample, conv) in f64: gradients of its input.
    let mut rng = StdRng::seed_from_u64(15);
    let d = ConvDecoder::<f64>::new(3, [2, 8, 4], &mut rng).unwrap();
    check("conv_decoder", &[randn(&[2, 3], 16)], |g, v| {
        let y = d.forward(g, v[0])?;
        weighted_sum(g, y, 17)
    });
}
