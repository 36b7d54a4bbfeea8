//! The data side of the OpenBHB training commands (`yaware-openbhb`, `barlow-openbhb`): the
//! `vbm_roi` features of OpenBHB (a SYNTHETIC OpenBHB generated once into the cache folder
//! without `--data-dir`) with random-mask + Gaussian-noise views, the MLP encoder 284 → 2·latent
//! → latent, and the multi-task probes on age (task 0) and sex (task 1) of the train (fit) and
//! validation (score) splits.

use super::options::{OpenBhbArgs, ProbeKind};
use super::stdout::outln;
use super::train_common::{
    view_loaders, ProbeOptions, RunOptions, Sources, TrainingData, KNN_NEIGHBOURS,
};
use nidl::datasets::openbhb::{self, Modality, OpenBhb, OpenBhbSplit, SyntheticConfig, Target};
use nidl::datasets::transforms::{GaussianNoise, Identity, MultiViews, RandomMask, TransformExt};
use nidl::nn::Mlp;
use nidl::probe::{
    KNeighborsClassifier, KNeighborsRegressor, LogisticRegression, MultiTask, Ridge, TaskProbe,
};
use nidl::train::{Callback, MultitaskProbing, ProbingSets};
use rand::rngs::StdRng;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Seed of the synthetic OpenBHB the commands use without `--data-dir`.
const SYNTHETIC_SEED: u64 = 42;

/// OpenBHB from `--data-dir` (or the synthetic one), and the views' settings.
pub struct OpenBhbData {
    data_dir: Option<PathBuf>,
    /// `--mask-prob` and `--noise-std`, and the views' transforms built from them.
    mask_prob: f64,
    noise_std: f64,
    mask: RandomMask,
    noise: GaussianNoise,
    /// The tree used, once loaded.
    root: Option<PathBuf>,
}

impl OpenBhbData {
    /// The `split` with age and sex as targets (the probes' sets).
    fn labelled(&self, split: OpenBhbSplit) -> Result<Arc<OpenBhb>, String> {
        let root = self
            .root
            .as_ref()
            .ok_or_else(|| "internal: OpenBHB used before it was loaded".to_string())?;
        vbm_roi(
            root,
            &[Target::Age, Target::Sex],
            split,
            "option --data-dir",
        )
    }
}

/// The `vbm_roi` features of `split` of the tree at `root` with `targets` as labels; read errors
/// are prefixed with `what` (the option or key naming the folder).
pub fn vbm_roi(
    root: &Path,
    targets: &[Target],
    split: OpenBhbSplit,
    what: &str,
) -> Result<Arc<OpenBhb>, String> {
    OpenBhb::new(root, Modality::VbmRoi, targets, split)
        .map(Arc::new)
        .map_err(|e| format!("{what}: {e}"))
}

/// What `split` of the tree at `root` is, for messages: `OpenBHB train split of
/// DIR/participants.tsv`.
pub fn split_name(root: &Path, split: OpenBhbSplit) -> String {
    format!(
        "OpenBHB {} split of {}",
        split.name(),
        root.join(openbhb::PARTICIPANTS_FILE).display()
    )
}

/// The synthetic OpenBHB in the cache folder, generated on first use (and said so).
pub fn synthetic_root() -> Result<PathBuf, String> {
    let cache = openbhb::synthetic_cache_dir();
    let root = openbhb::synthetic::synthetic_root(&cache, SYNTHETIC_SEED);
    if !openbhb::synthetic::is_generated(&root, &SyntheticConfig::with_seed(SYNTHETIC_SEED)) {
        eprintln!(
            "generating a SYNTHETIC OpenBHB (seed {SYNTHETIC_SEED}) into {} (once; later runs reuse it)...",
            root.display()
        );
    }
    let root = openbhb::ensure_synthetic(&cache, SYNTHETIC_SEED).map_err(|e| e.to_string())?;
    outln!(
        "data: SYNTHETIC OpenBHB at {} (use --data-dir for real data)",
        root.display()
    );
    Ok(root)
}

impl TrainingData for OpenBhbData {
    type Args = OpenBhbArgs;

    /// Every batch.
    const LIMITS: (Option<usize>, Option<usize>) = (None, None);

    fn new(args: OpenBhbArgs) -> Result<Self, String> {
        let mask_prob = args.mask_prob.unwrap_or(OpenBhbArgs::MASK_PROB);
        let mask = RandomMask::new(mask_prob).map_err(|e| format!("option --mask-prob: {e}"))?;
        let noise_std = args.noise_std.unwrap_or(OpenBhbArgs::NOISE_STD);
        let noise =
            GaussianNoise::new(noise_std).map_err(|e| format!("option --noise-std: {e}"))?;
        Ok(OpenBhbData {
            data_dir: args.data_dir,
            mask_prob,
            noise_std,
            mask,
            noise,
            root: None,
        })
    }

    /// The views' `mask_prob` and `noise_std`.
    fn hparams(&self) -> Vec<(String, String)> {
        vec![
            ("mask_prob".into(), self.mask_prob.to_string()),
            ("noise_std".into(), self.noise_std.to_string()),
        ]
    }

    fn load(&mut self, run: &RunOptions, rng: &mut StdRng) -> Result<Sources, String> {
        let err = |e: nidl::Error| e.to_string();
        let root = match &self.data_dir {
            Some(d) => d.clone(),
            None => synthetic_root()?,
        };
        let load = |split| vbm_roi(&root, &[Target::Age], split, "option --data-dir");
        let views = MultiViews::new(self.mask.then(self.noise), 2).map_err(err)?;
        let names = [OpenBhbSplit::Train, OpenBhbSplit::Val].map(|s| split_name(&root, s));
        let (train, val) = view_loaders(
            (load(OpenBhbSplit::Train)?, load(OpenBhbSplit::Val)?),
            views,
            run,
            names,
        )?;
        let widths = [2 * run.latent, run.latent];
        let encoder = Mlp::<f32>::new(Modality::VbmRoi.n_features(), &widths, rng).map_err(err)?;
        self.root = Some(root);
        Ok(Sources {
            train,
            val,
            encoder: Box::new(encoder),
        })
    }

    fn probing_sets(&self, probe: &ProbeOptions) -> Result<ProbingSets, String> {
        let (train, test) = (
            self.labelled(OpenBhbSplit::Train)?,
            self.labelled(OpenBhbSplit::Val)?,
        );
        let names = [train.split(), test.split()].map(|s| split_name(train.root(), s));
        probe.sets((train, test), names, || Ok(Identity))
    }

    fn probe_callback(
        &self,
        kind: ProbeKind,
        sets: ProbingSets,
        probe: &ProbeOptions,
    ) -> Result<Box<dyn Callback>, String> {
        let err = |e: nidl::Error| e.to_string();
        let callback = match kind {
            ProbeKind::Linear => {
                let probes = MultiTask::new(vec![
                    TaskProbe::Ridge(Ridge::new()),
                    TaskProbe::LogisticRegression(
                        LogisticRegression::new().max_iter(probe.max_iter),
                    ),
                ])
                .map_err(err)?;
                MultitaskProbing::with_sets(sets, probes)
            }
            ProbeKind::Knn => {
                let probes = MultiTask::new(vec![
                    TaskProbe::KNeighborsRegressor(KNeighborsRegressor::new(KNN_NEIGHBOURS)),
                    TaskProbe::KNeighborsClassifier(KNeighborsClassifier::new(KNN_NEIGHBOURS)),
                ])
                .map_err(err)?;
                let names: Vec<&str> = probes.tasks().iter().map(|t| t.name()).collect();
                MultitaskProbing::with_sets(sets, probes)
                    .task_names(&names)
                    .map_err(err)?
            }
        };
        Ok(probe.scheduled(callback))
    }
}
