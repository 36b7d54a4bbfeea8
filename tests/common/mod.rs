//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "cli")]
pub mod parity;

/// Path of a golden file: tests/data/<case>/<name>.npy
pub fn golden_path(case: &str, name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
        .join(case)
        .join(format!("{name}.npy"))
}

/// A golden array as Tensor<f64>.
pub fn golden(case: &str, name: &str) -> nidl::Tensor<f64> {
    let path = golden_path(case, name);
    nidl::datasets::npy::read_tensor(&path).unwrap_or_else(|e| panic!("golden {case}/{name}: {e}"))
}

/// Asserts max |a-b| / (|b| + atol_floor) <= rtol elementwise, printing the worst index, value and expected, with a `what` label.
///
/// `atol` is the floor added to `|b|`, so near-zero expected values are compared absolutely
/// (to `rtol * atol`). A NaN or infinity on either side fails unless both sides are identical.
pub fn assert_close(what: &str, actual: &[f64], expected: &[f64], rtol: f64, atol: f64) {
    assert_eq!(
        actual.len(),
        expected.len(),
        "{what}: {} values, expected {}",
        actual.len(),
        expected.len()
    );
    let mut worst: Option<(usize, f64)> = None;
    for (i, (&a, &b)) in actual.iter().zip(expected).enumerate() {
        let err = if a == b {
            0.0
        } else if a.is_finite() && b.is_finite() {
            (a - b).abs() / (b.abs() + atol)
        } else {
            f64::INFINITY
        };
        if worst.is_none_or(|(_, w)| err > w) {
            worst = Some((i, err));
        }
    }
    if let Some((i, err)) = worst {
        assert!(
            err <= rtol,
            "{what}: relative error {err:e} > rtol {rtol:e} (atol floor {atol:e}) at index {i} of \
             {}: got {}, expected {}",
            actual.len(),
            actual[i],
            expected[i]
        );
    }
}
pub mod simclr;

/// The rows `(step, epoch, tag, value)` of a run's `metrics.csv` text (header skipped).
pub fn metrics_rows(text: &str) -> Vec<(u64, usize, String, f64)> {
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].to_string(),
                f[3].parse().unwrap(),
            )
        })
        .collect()
}

/// The id of a process that has exited (a `true` that was waited for): what a temporary left by
/// a killed nidl carries.
pub fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

/// A scratch folder under the system's temporary folder, removed on drop.
///
/// Named `nidl-test-<test binary>-<name>-<process id>`, so it is unique per test binary and name.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// A fresh, empty folder (anything left from an earlier run is removed first).
    pub fn new(name: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!(
            "nidl-test-{}-{name}-{}",
            env!("CARGO_CRATE_NAME"),
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.0.join(rel)
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A 64-bit linear congruential generator (Knuth's MMIX constants): enough to fuzz with.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    /// Uniform-ish in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Runs `f` inside a fresh rayon pool of `threads` threads.
pub fn with_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

/// Finite-difference check (f64) of `module`'s gradient with respect to its input (shape
/// `input`, drawn from `seed`), through the loss `Σ w ⊙ module(x)` with fixed random weights `w`
/// `[input[0], d_out]` (drawn from `seed + 1`).
pub fn gradcheck_module(
    module: &dyn nidl::nn::Module<f64>,
    input: &[usize],
    d_out: usize,
    seed: u64,
) {
    use nidl::rand::{rngs::StdRng, SeedableRng};
    use nidl::Tensor;
    let x = Tensor::<f64>::rand_normal(input, 0.0, 1.0, &mut StdRng::seed_from_u64(seed));
    let w = Tensor::<f64>::rand_normal(
        &[input[0], d_out],
        0.0,
        1.0,
        &mut StdRng::seed_from_u64(seed + 1),
    );
    let r = nidl::autograd::gradcheck::check_gradients(&[x], 1e-6, |g, v| {
        let y = module.forward(g, v[0])?;
        let wv = g.input(w.clone());
        let p = g.mul(y, wv)?;
        g.sum(p)
    })
    .unwrap();
    assert!(r.max_rel_error <= 1e-6, "{r:?}");
}
