//! nidl: self-supervised representation learning with model probing.
//!
//! The engine under the `nidl` command: tensors ([`tensor`]), a tape-based reverse-mode
//! autograd ([`autograd`]), layers ([`nn`]), self-supervised losses ([`loss`]: InfoNCE, y-Aware,
//! Barlow Twins), optimizers and schedules ([`optim`]) and data I/O ([`datasets`]). Data flows
//! one way: data → views → encoder → projection head → self-supervised loss → backward →
//! optimizer.
//!
//! With the cargo feature `gpu`, the module `gpu` adds a wgpu backend: `nidl::nn::move_to(&mut encoder,
//! Device::Gpu)` puts a model's parameters on the GPU, and the same code below then trains there
//! (the `Tensor` methods route to GPU kernels when an operand lives on the device).
//!
//! The crate re-exports the [`rand`] it is built against: seed the RNGs the API takes with
//! `nidl::rand::rngs::StdRng` (a `rand` of another version in your own `Cargo.toml` would give
//! an `StdRng` these functions reject).
//!
//! One SimCLR training step, end to end:
//!
//! ```
//! use nidl::autograd::Graph;
//! use nidl::loss::InfoNce;
//! use nidl::nn::{param_grads, param_values_mut, LeNet, Mlp, Module};
//! use nidl::optim::{AdamW, Optimizer};
//! use nidl::Tensor;
//! use nidl::rand::{rngs::StdRng, SeedableRng};
//!
//! # fn main() -> nidl::Result<()> {
//! let mut rng = StdRng::seed_from_u64(42);
//! let mut encoder = LeNet::<f32>::new(32, &mut rng)?;
//! let mut head = Mlp::<f32>::new(32, &[64, 32], &mut rng)?;
//! let mut opt = AdamW::new(1e-4).weight_decay(1e-4);
//!
//! // Two augmented views of 4 images, stacked: rows 0..4 are view 1, rows 4..8 view 2.
//! let views = Tensor::<f32>::rand_uniform(&[8, 1, 28, 28], -1.0, 1.0, &mut rng);
//! let mut g = Graph::new();
//! let x = g.input(views);
//! let h = encoder.forward(&mut g, x)?; // [8, 32] embeddings (what probes see)
//! let z = head.forward(&mut g, h)?; // [8, 32] projections (what the loss sees)
//! let (z1, z2) = (g.slice(z, 0, 0, 4)?, g.slice(z, 0, 4, 8)?);
//! let loss = InfoNce::new(0.1).forward(&mut g, z1, z2)?;
//! let grads = g.backward(loss)?;
//!
//! let mut all_grads = param_grads(&encoder, &grads);
//! all_grads.extend(param_grads(&head, &grads));
//! let grad_refs: Vec<&Tensor<f32>> = all_grads.iter().collect();
//! let mut params = param_values_mut(&mut encoder);
//! params.extend(param_values_mut(&mut head));
//! opt.step(&mut params, &grad_refs)?;
//! assert!(g.value(loss).item()?.is_finite());
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub mod atomic_file;
pub mod autograd;
mod backend;
mod cpu_features;
pub mod datasets;
pub mod error;
#[cfg(feature = "gpu")]
pub mod gpu;
#[cfg(not(feature = "gpu"))]
mod gpu_unavailable;
pub mod input_file;
pub mod linalg;
pub mod log;
pub mod loss;
pub mod memory;
pub mod metrics;
pub mod nn;
pub mod optim;
pub mod probe;
pub mod tensor;
pub mod train;

pub use error::{Error, Result};
/// The `rand` crate this library is built against. The API takes RNGs of this version
/// (`&mut dyn nidl::rand::RngCore`), so draw them from here (`nidl::rand::rngs::StdRng`) rather
/// than adding `rand` to your own `Cargo.toml`, whose version may differ.
pub use rand;
pub use tensor::{Element, Tensor};
