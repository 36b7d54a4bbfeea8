//! The data side of the MNIST training commands (`simclr-mnist`, `barlow-mnist`): MNIST with the
//! SimCLR views (the test set's views give the validation loss), the LeNet encoder, and the
//! probes on the digits (train/test sets, ToTensor + Normalize).

use super::options::{MnistArgs, ProbeKind};
use super::train_common::{ProbeOptions, RunOptions, Sources, TrainingData, KNN_NEIGHBOURS};
use nidl::datasets::loader::Loader;
use nidl::datasets::mnist::{self, Mnist, MnistSplit};
use nidl::datasets::transforms::{mnist_contrast_transforms, mnist_scale_transforms, MultiViews};
use nidl::nn::LeNet;
use nidl::probe::{KNeighborsClassifier, LogisticRegression};
use nidl::train::{Callback, ClassificationProbing, ProbingSets};
use rand::rngs::StdRng;
use std::path::PathBuf;
use std::sync::Arc;

/// MNIST from `--data-dir`, once loaded.
pub struct MnistData {
    data_dir: PathBuf,
    sets: Option<(Arc<Mnist>, Arc<Mnist>)>,
}

impl MnistData {
    /// What the files of `split` are, for messages: `MNIST train-* files in data/mnist`.
    fn split_name(&self, split: MnistSplit) -> String {
        format!(
            "MNIST {}-* files in {}",
            split.prefix(),
            self.data_dir.display()
        )
    }

    /// The loaded train and test sets.
    fn sets(&self) -> Result<&(Arc<Mnist>, Arc<Mnist>), String> {
        self.sets
            .as_ref()
            .ok_or_else(|| "internal: MNIST used before it was loaded".to_string())
    }
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
        let load = |split| {
            Mnist::load(&self.data_dir, split)
                .map(Arc::new)
                .map_err(|e| format!("option --data-dir: {e}"))
        };
        let (train_set, test_set) = (load(MnistSplit::Train)?, load(MnistSplit::Test)?);
        let views = || -> nidl::Result<_> { MultiViews::new(mnist_contrast_transforms()?, 2) };
        let train = Loader::new(
            Arc::clone(&train_set),
            views().map_err(err)?,
            run.batch_size,
        )
        .map_err(err)?
        .shuffle(true)
        .seed(run.seed)
        .limit_batches(run.limit_train)
        .named(self.split_name(MnistSplit::Train));
        let val = Loader::new(Arc::clone(&test_set), views().map_err(err)?, run.batch_size)
            .map_err(err)?
            .seed(run.seed)
            .limit_batches(run.limit_val)
            .named(self.split_name(MnistSplit::Test));
        let encoder = LeNet::<f32>::new(run.latent, rng).map_err(err)?;
        self.sets = Some((train_set, test_set));
        Ok(Sources {
            train: Box::new(train),
            val: Box::new(val),
            encoder: Box::new(encoder),
        })
    }

    fn probing_sets(&self, probe: &ProbeOptions) -> Result<ProbingSets, String> {
        let (train, test) = self.sets()?;
        let names = [MnistSplit::Train, MnistSplit::Test].map(|s| self.split_name(s));
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
