//! The data side of the MNIST training commands (`simclr-mnist`, `barlow-mnist`): MNIST with the
//! SimCLR views (the test set's views give the validation loss), the LeNet encoder, and the
//! probes on the digits (train/test sets, ToTensor + Normalize).

use super::options::{MnistArgs, ProbeKind};
use super::train_common::{
    view_loaders, ProbeOptions, RunOptions, Sources, TrainingData, KNN_NEIGHBOURS,
};
use nidl::datasets::mnist::{self, Mnist, MnistSplit};
use nidl::datasets::transforms::{mnist_contrast_transforms, mnist_scale_transforms, MultiViews};
use nidl::nn::LeNet;
use nidl::probe::{KNeighborsClassifier, LogisticRegression};
use nidl::train::{Callback, ClassificationProbing, ProbingSets};
use rand::rngs::StdRng;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// MNIST from `--data-dir`, once loaded.
pub struct MnistData {
    data_dir: PathBuf,
    sets: Option<(Arc<Mnist>, Arc<Mnist>)>,
}

impl MnistData {
    /// The loaded train and test sets.
    fn sets(&self) -> Result<&(Arc<Mnist>, Arc<Mnist>), String> {
        self.sets
            .as_ref()
            .ok_or_else(|| "internal: MNIST used before it was loaded".to_string())
    }
}

/// The MNIST train and test sets.
pub type MnistSets = (Arc<Mnist>, Arc<Mnist>);

/// What the files of `split` in `dir` are, for messages: `MNIST train-* files in data/mnist`.
pub fn split_name(dir: &Path, split: MnistSplit) -> String {
    format!("MNIST {}-* files in {}", split.prefix(), dir.display())
}

/// The MNIST train and test sets in `dir`, and what each is (for messages); read errors are
/// prefixed with `what` (the option or key naming the folder).
pub fn load_sets(dir: &Path, what: &str) -> Result<(MnistSets, [String; 2]), String> {
    let load = |split| {
        Mnist::load(dir, split)
            .map(Arc::new)
            .map_err(|e| format!("{what}: {e}"))
    };
    let names = [MnistSplit::Train, MnistSplit::Test].map(|s| split_name(dir, s));
    Ok(((load(MnistSplit::Train)?, load(MnistSplit::Test)?), names))
}

impl TrainingData for MnistData {
    type Args = MnistArgs;

    /// The seed's limits: 100 training and 10 validation batches per epoch.
    const LIMITS: (Option<usize>, Option<usize>) = (Some(100), Some(10));

    fn new(args: MnistArgs) -> Result<Self, String> {
        Ok(MnistData {
            data_dir: args.data_dir.unwrap_or_else(mnist::default_dir),
            sets: None,
        })
    }

    /// None: the MNIST views have no options.
    fn hparams(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    fn load(&mut self, run: &RunOptions, rng: &mut StdRng) -> Result<Sources, String> {
        let err = |e: nidl::Error| e.to_string();
        let (sets, names) = load_sets(&self.data_dir, "option --data-dir")?;
        let views = MultiViews::new(mnist_contrast_transforms().map_err(err)?, 2).map_err(err)?;
        let (train, val) = view_loaders(sets.clone(), views, run, names)?;
        let encoder = LeNet::<f32>::new(run.latent, rng).map_err(err)?;
        self.sets = Some(sets);
        Ok(Sources {
            train,
            val,
            encoder: Box::new(encoder),
        })
    }

    fn probing_sets(&self, probe: &ProbeOptions) -> Result<ProbingSets, String> {
        let (train, test) = self.sets()?;
        let names = [MnistSplit::Train, MnistSplit::Test].map(|s| split_name(&self.data_dir, s));
        probe.sets(
            (Arc::clone(train), Arc::clone(test)),
            names,
            mnist_scale_transforms,
        )
    }

    fn probe_callback(
        &self,
        kind: ProbeKind,
        sets: ProbingSets,
        probe: &ProbeOptions,
    ) -> Result<Box<dyn Callback>, String> {
        Ok(match kind {
            ProbeKind::Linear => probe.scheduled(ClassificationProbing::with_sets(
                sets,
                LogisticRegression::new().max_iter(probe.max_iter),
            )),
            ProbeKind::Knn => probe.scheduled(ClassificationProbing::with_sets(
                sets,
                KNeighborsClassifier::new(KNN_NEIGHBOURS),
            )),
        })
    }
}
