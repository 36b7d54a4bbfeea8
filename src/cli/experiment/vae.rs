//! `run.method = "vae"`: the β-VAE of `[method]` (`beta`, `latent_dim`, `default_dist`, named
//! as nidl 0.0.2's `VAE` names them) around the run's encoder, with a decoder for its data.

use super::data::Input;
use super::schema::MethodOptions;
use crate::cli::train_common::ModelParts;
use nidl::loss::ReconstructionDistribution;
use nidl::train::{BetaVae, BetaVaeConfig, SampleShape};

/// The β-VAE of the options `o` (defaults filled in) for samples `input`, around
/// `parts.encoder` (output width `--latent`), with the run's learning rate and weight decay.
pub fn model(o: &MethodOptions, input: Input, parts: ModelParts) -> Result<BetaVae, String> {
    let defaults = BetaVaeConfig::default();
    let default_dist = match &o.default_dist {
        Some(d) => d
            .parse::<ReconstructionDistribution>()
            .map_err(|e| format!("method.{e}"))?,
        None => defaults.default_dist,
    };
    let run = parts.run;
    let config = BetaVaeConfig {
        latent_dim: o.latent_dim.unwrap_or(defaults.latent_dim),
        beta: o.beta.unwrap_or(defaults.beta),
        default_dist,
        lr: run.lr,
        weight_decay: run.weight_decay,
    };
    let shape = match input {
        Input::Image(s) => SampleShape::Image(s),
        Input::Features(d) => SampleShape::Features(d),
    };
    BetaVae::new(parts.encoder, run.latent, shape, config, parts.rng).map_err(|e| e.to_string())
}
