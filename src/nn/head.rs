//! Projection heads built from blocks, as nidl's `ProjectionHead` builds them.

use super::{BatchNorm1d, Linear, Module, Relu, Sequential};
use crate::autograd::{Graph, Var};
use crate::error::{Error, Result};
use crate::tensor::Element;
use rand::RngCore;

/// One block of a [`ProjectionHead`]: `Linear(in_features, out_features)` — with a bias only
/// when there is no batch norm after it — then `BatchNorm1d(out_features)` if `batch_norm`, then
/// a ReLU if `relu`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadBlock {
    /// Input width of the linear layer.
    pub in_features: usize,
    /// Output width of the linear layer (and of the batch norm).
    pub out_features: usize,
    /// Whether a `BatchNorm1d` follows the linear layer (which then has no bias).
    pub batch_norm: bool,
    /// Whether a ReLU ends the block.
    pub relu: bool,
}

/// nidl's `ProjectionHead`: the layers of its [`HeadBlock`]s in one `nn.Sequential` named
/// `layers`, so the state names are PyTorch's (`layers.0.weight`, `layers.1.running_mean`, ...;
/// PyTorch's `num_batches_tracked` counter, unused with a fixed momentum, is not kept).
pub struct ProjectionHead<T: Element> {
    layers: Sequential<T>,
    blocks: Vec<HeadBlock>,
}

impl<T: Element> ProjectionHead<T> {
    /// The head of `blocks`, layers drawn from `rng` in order (PyTorch's default initialisation).
    ///
    /// Errors: [`Error::InvalidArgument`] for no block, a zero width, or a block whose input
    /// width is not the previous block's output width.
    pub fn new(blocks: &[HeadBlock], rng: &mut dyn RngCore) -> Result<Self> {
        const OP: &str = "ProjectionHead::new";
        if blocks.is_empty() {
            return Err(Error::invalid(OP, "no blocks given"));
        }
        let mut layers = Sequential::new();
        for (i, b) in blocks.iter().enumerate() {
            if b.in_features == 0 || b.out_features == 0 {
                return Err(Error::invalid(
                    OP,
                    format!("block {i}: need positive widths, got {b:?}"),
                ));
            }
            if i > 0 && blocks[i - 1].out_features != b.in_features {
                return Err(Error::invalid(
                    OP,
                    format!(
                        "block {i} takes {} features but block {} gives {}",
                        b.in_features,
                        i - 1,
                        blocks[i - 1].out_features
                    ),
                ));
            }
            layers = layers.push(Linear::new(
                b.in_features,
                b.out_features,
                !b.batch_norm,
                rng,
            ));
            if b.batch_norm {
                layers = layers.push(BatchNorm1d::new(b.out_features));
            }
            if b.relu {
                layers = layers.push(Relu);
            }
        }
        Ok(ProjectionHead {
            layers,
            blocks: blocks.to_vec(),
        })
    }

    /// nidl's `BarlowTwinsProjectionHead(input_dim, hidden_dim, output_dim)`:
    /// `Linear(input, hidden, no bias) → BatchNorm1d → ReLU → Linear(hidden, hidden, no bias) →
    /// BatchNorm1d → ReLU → Linear(hidden, output)`.
    pub fn barlow_twins(
        input_dim: usize,
        hidden_dim: usize,
        output_dim: usize,
        rng: &mut dyn RngCore,
    ) -> Result<Self> {
        let block = |i, o, bn| HeadBlock {
            in_features: i,
            out_features: o,
            batch_norm: bn,
            relu: bn,
        };
        Self::new(
            &[
                block(input_dim, hidden_dim, true),
                block(hidden_dim, hidden_dim, true),
                block(hidden_dim, output_dim, false),
            ],
            rng,
        )
    }

    /// The blocks the head was built from.
    pub fn blocks(&self) -> &[HeadBlock] {
        &self.blocks
    }
}

impl<T: Element> Module<T> for ProjectionHead<T> {
    fn forward(&self, g: &mut Graph<T>, x: Var) -> Result<Var> {
        self.layers.forward(g, x).map_err(|e| e.in_module("layers"))
    }

    crate::params!(T; layers);
}
