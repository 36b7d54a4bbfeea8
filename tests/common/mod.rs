//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

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
        if worst.map_or(true, |(_, w)| err > w) {
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
