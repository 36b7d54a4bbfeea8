//! The GELU activation as a layer.

use super::Module;
use crate::autograd::{Graph, Var};
use crate::error::Result;
use crate::tensor::Element;

/// `x·Φ(x)`, the exact GELU (`torch.nn.GELU()`, `approximate='none'`); no state.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gelu;

impl<T: Element> Module<T> for Gelu {
    fn forward(&self, g: &mut Graph<T>, x: Var) -> Result<Var> {
        g.gelu(x)
    }
    crate::params!(T;);
}
