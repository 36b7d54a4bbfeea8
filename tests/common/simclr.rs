//! One SimCLR training step as the seed runs it (LeNet encoder → MLP head [64, 32] → InfoNCE
//! (temperature 0.1) → backward → AdamW(lr 1e-4, weight decay 1e-4)), shared by the determinism
//! test and the `simclr_step` benchmark (`#[path]`-included there).
#![allow(dead_code)]

use nidl::autograd::Graph;
use nidl::loss::InfoNce;
use nidl::nn::{param_grads, param_values_mut, LeNet, Mlp, Module};
use nidl::optim::{AdamW, Optimizer};
use nidl::{Element, Result, Tensor};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Encoder, head, optimizer and loss of a SimCLR run.
pub struct SimClrStep<T: Element> {
    /// LeNet encoder, latent 32.
    pub encoder: LeNet<T>,
    /// Projection head 32 → 64 → 32.
    pub head: Mlp<T>,
    opt: AdamW<T>,
    loss: InfoNce,
}

impl<T: Element> SimClrStep<T> {
    /// Freshly initialised from `seed`.
    pub fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        SimClrStep {
            encoder: LeNet::new(32, &mut rng).unwrap(),
            head: Mlp::new(32, &[64, 32], &mut rng).unwrap(),
            opt: AdamW::new(1e-4).weight_decay(1e-4),
            loss: InfoNce::new(0.1),
        }
    }

    /// One step on `views` = `[2B, 1, 28, 28]` (view 1 of every image, then view 2); returns
    /// the loss before the update.
    pub fn step(&mut self, views: Tensor<T>) -> Result<T> {
        let b = views.shape()[0] / 2;
        let mut g = Graph::new();
        let x = g.input(views);
        let h = self.encoder.forward(&mut g, x)?;
        let z = self.head.forward(&mut g, h)?;
        let z1 = g.slice(z, 0, 0, b)?;
        let z2 = g.slice(z, 0, b, 2 * b)?;
        let loss = self.loss.forward(&mut g, z1, z2)?;
        let grads = g.backward(loss)?;
        let mut all = param_grads(&self.encoder, &grads);
        all.extend(param_grads(&self.head, &grads));
        let grad_refs: Vec<&Tensor<T>> = all.iter().collect();
        let mut params = param_values_mut(&mut self.encoder);
        params.extend(param_values_mut(&mut self.head));
        self.opt.step(&mut params, &grad_refs)?;
        g.value(loss).item()
    }

    /// Every parameter of encoder and head, flattened in order.
    pub fn flat_params(&self) -> Vec<T> {
        let mut out = Vec::new();
        for (_, t) in self
            .encoder
            .state_dict()
            .into_iter()
            .chain(self.head.state_dict())
        {
            out.extend_from_slice(t.data().unwrap());
        }
        out
    }
}

/// A batch of `2·b` pseudo-images in [−1, 1] drawn from `seed`.
pub fn random_views<T: Element>(b: usize, seed: u64) -> Tensor<T> {
    Tensor::rand_uniform(
        &[2 * b, 1, 28, 28],
        -1.0,
        1.0,
        &mut StdRng::seed_from_u64(seed),
    )
}
