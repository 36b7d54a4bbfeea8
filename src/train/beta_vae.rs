//! The β-VAE estimator (nidl 0.0.2's `VAE`, `nidl/estimators/autoencoders/vae.py`).

use super::estimator::Estimator;
use crate::autograd::{Grads, Graph, Var};
use crate::datasets::loader::{keyed_rng, Batch};
use crate::error::{Error, Result};
use crate::loss::{BetaVaeLoss, ReconstructionDistribution};
use crate::nn::{move_to, param_grads, param_values_mut, ConvDecoder, Linear, Mlp, Module, State};
use crate::optim::{AdamW, Optimizer};
use crate::tensor::{BinaryOp, Device, Tensor};
use rand::RngCore;
use std::collections::BTreeMap;

/// What one sample is: the shape the decoder rebuilds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleShape {
    /// Images `[C, H, W]` (`H`, `W` multiples of 4): a [`ConvDecoder`].
    Image([usize; 3]),
    /// Feature vectors of this width: an [`Mlp`] decoder `latent → 128 → width`.
    Features(usize),
}

/// Hidden width of the feature-vector decoder.
const FEATURE_DECODER_HIDDEN: usize = 128;

/// The settings of [`BetaVae`]; [`Default`] is nidl 0.0.2's `VAE` (`beta = 1`, normal, AdamW
/// `lr = 1e-4`, `weight_decay = 0.01`), with `latent_dim` (required in nidl) 32.
#[derive(Clone, Debug, PartialEq)]
pub struct BetaVaeConfig {
    /// Width of `μ` and `log σ²` (nidl's `latent_dim`).
    pub latent_dim: usize,
    /// Weight of the KL term (nidl's `beta`).
    pub beta: f64,
    /// The decoder distribution (nidl's `default_dist`).
    pub default_dist: ReconstructionDistribution,
    /// AdamW learning rate.
    pub lr: f64,
    /// AdamW (decoupled) weight decay.
    pub weight_decay: f64,
}

impl Default for BetaVaeConfig {
    fn default() -> Self {
        BetaVaeConfig {
            latent_dim: 32,
            beta: 1.0,
            default_dist: ReconstructionDistribution::Normal,
            lr: 1e-4,
            weight_decay: 0.01,
        }
    }
}

/// The networks of a VAE, named as nidl's `VAE` module names them: `encoder.*`, `fc_mu.*`,
/// `fc_logvar.*`, `decoder.*`. Its [`Module::forward`] is the posterior mean `μ(x)`.
struct VaeNet {
    encoder: Box<dyn Module<f32>>,
    fc_mu: Linear<f32>,
    fc_logvar: Linear<f32>,
    decoder: Box<dyn Module<f32>>,
}

impl VaeNet {
    /// `(μ, log σ²)` of `x`; errors name the module at fault.
    fn posterior(&self, g: &mut Graph<f32>, x: Var) -> Result<(Var, Var)> {
        let h = self
            .encoder
            .forward(g, x)
            .map_err(|e| e.in_module("encoder"))?;
        let mu = self.fc_mu.forward(g, h).map_err(|e| e.in_module("fc_mu"))?;
        let logvar = self
            .fc_logvar
            .forward(g, h)
            .map_err(|e| e.in_module("fc_logvar"))?;
        Ok((mu, logvar))
    }
}

impl Module<f32> for VaeNet {
    fn forward(&self, g: &mut Graph<f32>, x: Var) -> Result<Var> {
        Ok(self.posterior(g, x)?.0)
    }

    crate::params!(f32; encoder, fc_mu, fc_logvar, decoder);
}

/// Key tag of the reparameterisation noise streams ("VAE").
const TAG_NOISE: u64 = 0x5641_4500_0000_0001;

/// Checkpoint metadata: optimizer steps taken (the training noise stream's position).
const META_STEPS: &str = "beta_vae.steps";

/// Checkpoint metadata: the key of the noise streams.
const META_NOISE_SEED: &str = "beta_vae.noise_seed";

/// The β-VAE (Kingma & Welling 2014; Higgins et al. 2017) as nidl 0.0.2's `VAE` trains it:
/// encoder → `fc_mu`, `fc_logvar` (two `Linear(encoder_out, latent_dim)`) → `z = μ + e^{log σ² / 2}
/// · ε` (the reparameterisation, `ε ~ N(0, I)`) → decoder → [`BetaVaeLoss`]`(β, default_dist)`
/// on the one view of each sample; AdamW(`lr`, `weight_decay`), no learning-rate schedule.
///
/// **Decoder.** nidl takes the decoder as an argument; here it is built for the data
/// ([`SampleShape`]): a [`ConvDecoder`] for images, an MLP `latent → 128 → D` for feature
/// vectors. With `bernoulli` its output goes through a sigmoid (the success probabilities the
/// loss takes); with `normal` and `laplace` it is the distribution's mean, unbounded.
///
/// **Noise.** `ε` comes from ChaCha streams keyed by a seed drawn from the run's RNG at
/// construction (after the networks) and by the position in the run: training step `t` (the
/// optimizer steps taken) for training batches, `(epoch, j)` for the `j`-th evaluation-mode
/// loss of an epoch (validation); checkpoints store the seed and the steps. So runs are
/// bit-identical for a seed,
/// for any `RAYON_NUM_THREADS`, and a resumed run draws what the uninterrupted one drew.
///
/// **What callbacks see.** [`Estimator::embed`] and [`Estimator::train_features`] give the
/// posterior mean `μ` (nidl's `transform_step` with `stochastic_transform=False`: probes see the
/// deterministic code, not a sample). [`Estimator::project`] is refused: a VAE has no projection
/// head and trains on one view, so the two-view SSL metrics do not apply.
pub struct BetaVae {
    net: VaeNet,
    opt: AdamW<f32>,
    loss: BetaVaeLoss,
    config: BetaVaeConfig,
    encoder_out_dim: usize,
    shape: SampleShape,
    device: Device,
    noise_seed: u64,
    /// Optimizer steps taken.
    steps: u64,
    /// The current epoch and the evaluation-mode losses computed in it.
    epoch: u64,
    eval_draws: u64,
    /// `μ` of the last batch ([`Estimator::train_features`]).
    features: Option<Var>,
}

impl BetaVae {
    /// A β-VAE around `encoder` (output width `encoder_out_dim`) for samples of `shape`; the
    /// mean and log-variance layers, then the decoder, then the noise seed are drawn from
    /// `rng` after whatever drew the encoder.
    ///
    /// Errors: [`Error::InvalidArgument`] for a zero width, a `β` or weight decay that is
    /// negative or not finite, a learning rate that is not positive, or images the decoder
    /// cannot rebuild (see [`ConvDecoder::new`]).
    pub fn new(
        encoder: Box<dyn Module<f32>>,
        encoder_out_dim: usize,
        shape: SampleShape,
        config: BetaVaeConfig,
        rng: &mut dyn RngCore,
    ) -> Result<Self> {
        const OP: &str = "BetaVae::new";
        let latent = config.latent_dim;
        if latent == 0 || encoder_out_dim == 0 {
            return Err(Error::invalid(
                OP,
                format!(
                    "latent_dim and the encoder's output width must be positive, got {latent} \
                     and {encoder_out_dim}"
                ),
            ));
        }
        let finite_at_least = |what: &str, v: f64, lo: f64, strict: bool| {
            let ok = v.is_finite() && if strict { v > lo } else { v >= lo };
            match ok {
                true => Ok(()),
                false => Err(Error::invalid(
                    OP,
                    format!(
                        "{what} must be finite and {} {lo}, got {v}",
                        if strict { ">" } else { "≥" }
                    ),
                )),
            }
        };
        finite_at_least("beta", config.beta, 0.0, false)?;
        finite_at_least("lr", config.lr, 0.0, true)?;
        finite_at_least("weight_decay", config.weight_decay, 0.0, false)?;
        let fc_mu = Linear::new(encoder_out_dim, latent, true, rng);
        let fc_logvar = Linear::new(encoder_out_dim, latent, true, rng);
        let decoder: Box<dyn Module<f32>> = match shape {
            SampleShape::Image(s) => Box::new(ConvDecoder::new(latent, s, rng)?),
            SampleShape::Features(d) => {
                Box::new(Mlp::new(latent, &[FEATURE_DECODER_HIDDEN, d], rng)?)
            }
        };
        let noise_seed = rng.next_u64();
        Ok(BetaVae {
            net: VaeNet {
                encoder,
                fc_mu,
                fc_logvar,
                decoder,
            },
            opt: AdamW::new(config.lr).weight_decay(config.weight_decay),
            loss: BetaVaeLoss::new(config.beta, config.default_dist),
            config,
            encoder_out_dim,
            shape,
            device: Device::Cpu,
            noise_seed,
            steps: 0,
            epoch: 0,
            eval_draws: 0,
            features: None,
        })
    }

    /// `ε ~ N(0, I)` shaped `[b, latent_dim]` for the next loss on `g` (see [`BetaVae`]).
    fn noise(&mut self, g: &Graph<f32>, b: usize) -> Tensor<f32> {
        let mut rng = if g.is_training() {
            keyed_rng(self.noise_seed, 0, self.steps, TAG_NOISE)
        } else {
            self.eval_draws += 1;
            keyed_rng(self.noise_seed, 1 + self.epoch, self.eval_draws, TAG_NOISE)
        };
        Tensor::rand_normal(&[b, self.config.latent_dim], 0.0, 1.0, &mut rng)
    }
}

impl Estimator for BetaVae {
    fn name(&self) -> &'static str {
        "VAE"
    }

    /// The posterior mean `μ(x)`.
    fn embed(&self, g: &mut Graph<f32>, x: Var) -> Result<Var> {
        self.net.forward(g, x)
    }

    /// `rec_loss + β · kl_loss` of the batch's one view (see [`BetaVae`]).
    ///
    /// Errors: a batch of other than one view per sample ([`Error::InvalidArgument`]: build the
    /// loader without `MultiViews`, or with one view), and those of the networks and the loss.
    fn loss(&mut self, g: &mut Graph<f32>, batch: &Batch<f32>) -> Result<Var> {
        if batch.n_views != 1 {
            return Err(Error::invalid(
                "BetaVae::loss",
                format!(
                    "a VAE trains on one view per sample, got {} views",
                    batch.n_views
                ),
            ));
        }
        self.features = None;
        let x = g.input(batch.views.clone());
        let (mu, logvar) = self.net.posterior(g, x)?;
        let eps = self.noise(g, batch.len());
        let eps = g.input(eps);
        let half = g.mul_scalar(logvar, 0.5)?;
        let std = g.exp(half)?;
        let scaled = g.binary(std, eps, BinaryOp::Mul)?;
        let z = g.add(mu, scaled)?;
        let mut p = self
            .net
            .decoder
            .forward(g, z)
            .map_err(|e| e.in_module("decoder"))?;
        if self.config.default_dist == ReconstructionDistribution::Bernoulli {
            p = g.sigmoid(p)?;
        }
        let terms = self.loss.forward(g, x, p, mu, logvar)?;
        self.features = Some(mu);
        Ok(terms.loss)
    }

    fn apply_gradients(&mut self, grads: &Grads<f32>) -> Result<()> {
        let all = param_grads(&self.net, grads);
        let refs: Vec<&Tensor<f32>> = all.iter().collect();
        let mut params = param_values_mut(&mut self.net);
        self.opt.step(&mut params, &refs)?;
        self.steps += 1;
        Ok(())
    }

    fn on_epoch_start(&mut self, epoch: usize) -> Result<()> {
        self.epoch = epoch as u64;
        self.eval_draws = 0;
        Ok(())
    }

    fn lr(&self) -> f64 {
        self.opt.lr()
    }

    fn move_to(&mut self, device: Device) -> Result<()> {
        move_to(&mut self.net, device)?;
        self.device = device;
        Ok(())
    }

    /// `encoder.*`, `fc_mu.*`, `fc_logvar.*`, `decoder.*` (nidl's `VAE` state names), then
    /// `optimizer.*`.
    fn state(&self) -> Vec<(String, Tensor<f32>)> {
        let mut out = self.net.state_dict();
        out.extend(
            self.opt
                .state()
                .into_iter()
                .map(|(n, t)| (format!("optimizer.{n}"), t)),
        );
        out
    }

    fn load_state(&mut self, state: &[(String, Tensor<f32>)]) -> Result<()> {
        let opt: Vec<(String, Tensor<f32>)> = state
            .iter()
            .filter_map(|(n, t)| {
                n.strip_prefix("optimizer.")
                    .map(|r| (r.to_string(), t.clone()))
            })
            .collect();
        self.net
            .load_state_dict(state)
            .map_err(|e| Error::invalid("load_state", format!("model: {e}")))?;
        self.opt
            .load_state(&opt)
            .map_err(|e| Error::invalid("load_state", format!("optimizer: {e}")))?;
        // The loaded tensors are host tensors: back to the model's device.
        self.move_to(self.device)
    }

    fn visit_trained_tensors(
        &self,
        grads: &Grads<f32>,
        f: &mut dyn FnMut(&str, &Tensor<f32>, Option<&Tensor<f32>>),
    ) {
        // Parameters first, then buffers, as the checkpoint lists them.
        self.net.visit("", &mut |name, s| {
            if let State::Param(p) = s {
                f(name, &p.value, grads.param(p.id()))
            }
        });
        self.net.visit("", &mut |name, s| {
            if let State::Buffer(b) = s {
                f(name, b, None)
            }
        });
    }

    fn extra_metadata(&self) -> Vec<(String, String)> {
        vec![
            (META_STEPS.into(), self.steps.to_string()),
            (META_NOISE_SEED.into(), self.noise_seed.to_string()),
        ]
    }

    /// Restores the noise streams' key and position (nothing changes on an error).
    fn load_extra_metadata(&mut self, meta: &BTreeMap<String, String>) -> Result<()> {
        let read = |key: &str| -> Result<u64> {
            meta.get(key).and_then(|s| s.parse().ok()).ok_or_else(|| {
                Error::invalid(
                    "BetaVae::load_extra_metadata",
                    format!("checkpoint metadata '{key}' missing or invalid"),
                )
            })
        };
        let (steps, seed) = (read(META_STEPS)?, read(META_NOISE_SEED)?);
        self.steps = steps;
        self.noise_seed = seed;
        Ok(())
    }

    fn hparams(&self) -> Vec<(String, String)> {
        let c = &self.config;
        let decoder = match self.shape {
            SampleShape::Image([ch, h, w]) => format!("ConvDecoder(latent → {ch}×{h}×{w})"),
            SampleShape::Features(d) => {
                format!("MLP(latent → {FEATURE_DECODER_HIDDEN} → {d})")
            }
        };
        vec![
            ("estimator".into(), "VAE".into()),
            ("encoder_out_dim".into(), self.encoder_out_dim.to_string()),
            ("latent_dim".into(), c.latent_dim.to_string()),
            ("beta".into(), c.beta.to_string()),
            ("default_dist".into(), c.default_dist.to_string()),
            ("decoder".into(), decoder),
            ("lr".into(), c.lr.to_string()),
            ("weight_decay".into(), c.weight_decay.to_string()),
            ("optimizer".into(), "adamW".into()),
        ]
    }

    fn train_features(&self) -> Option<Var> {
        self.features
    }
}
