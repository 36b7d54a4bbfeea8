//! Dense linear algebra and optimisation over plain `f64` slices, for the probes and metrics.
//!
//! - [`cholesky`]: factorisation `A = L·Lᵀ` of a symmetric positive-definite matrix and solves
//!   with several right-hand sides (Ridge).
//! - [`lbfgs`]: limited-memory BFGS with the Moré–Thuente line search, step for step as scipy's
//!   `L-BFGS-B` runs on an unconstrained problem (LogisticRegression).
//! - [`svd`]: the thin singular value decomposition by one-sided Jacobi rotations (the
//!   Procrustes metrics of `metrics::ssl`).
//!
//! Everything here is `f64`, row-major and independent of the autograd tape.

pub mod cholesky;
pub mod lbfgs;
pub mod svd;

pub use cholesky::Cholesky;
pub use lbfgs::{minimize, minimize_observed, LbfgsOptions, LbfgsResult, Termination};
pub use svd::{svd, Svd};
