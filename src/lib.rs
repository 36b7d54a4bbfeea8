//! nidl: self-supervised representation learning with model probing.

#![warn(missing_docs)]

pub mod datasets;
pub mod error;
pub mod loss;
pub mod autograd;
pub mod nn;
pub mod optim;
pub mod tensor;

pub use error::{Error, Result};
pub use tensor::{Element, Tensor};
