//! Running one experiment: the run options, the data, the encoder, the method, the probing
//! callbacks, then the shared fit of the built-in commands ([`RunOptions::fit`]).

use super::data::{self, Input, OpenedData};
use super::formats;
use super::monitor;
use super::schema::{
    EncoderKind, Experiment, Format, Method, ProbeKindSpec, ProbeSpec, MLP_PROBE_HIDDEN,
};
use super::scored;
use crate::cli::train_common::{
    simclr_model, yaware_model, BarlowOptions, DclOptions, ModelParts, OptionSource, ProbeOptions,
    RunOptions,
};
use nidl::log::FigureNames;
use nidl::loss::Kernel;
use nidl::nn::{ConvBlock, ConvNet, LeNet, Mlp, Module, Pooling};
use nidl::probe::mlp::{ClassLabels, Mlp as MlpProbe, TargetShape};
use nidl::probe::{
    KNeighborsClassifier, KNeighborsRegressor, LogisticRegression, MultiTask, Ridge, TaskProbe,
};
use nidl::train::{
    Callback, ClassificationProbing, Estimator, MultitaskProbing, ProbeSchedule, ProbingSets,
    RegressionProbing, SslMetrics,
};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::path::PathBuf;
use std::time::Instant;

/// Trains the experiment `exp` (defaults filled in, checked) into the next `version_<N>` of its
/// log folder, with `hparams` added to its `hparams.yaml` (what the run records of its views
/// and a sweep's values, [`views_hparams`]); messages name what `source` calls the keys (an
/// experiment's, or a command's options). Returns the run's folder.
pub fn run(
    exp: &Experiment,
    hparams: Vec<(String, String)>,
    source: OptionSource,
) -> Result<PathBuf, String> {
    let start = Instant::now();
    let run = run_options(exp, source)?;
    run.check_resume()?;
    let mut rng = StdRng::seed_from_u64(run.seed);
    let data = formats::open(exp, &run)?;
    // An empty training set first, naming the key to change.
    nidl::train::preflight::non_empty("the training set", &*data.train)
        .map_err(|e| run.error(e))?;
    // DINO's teacher: an encoder of the same kind, its values replaced by the student's (drawn
    // from its own RNG so that the run's draws stay those of the other methods).
    let teacher = match exp.run.method {
        Method::Dino => Some(encoder(exp, data.input, &mut StdRng::seed_from_u64(0))?),
        _ => None,
    };
    let encoder = encoder(exp, data.input, &mut rng)?;
    let parts = ModelParts {
        run: &run,
        encoder,
        rng: &mut rng,
    };
    let mut model = model(exp, data.input, parts, teacher)?;
    run.place(&mut *model)?;
    let opts = probe_options(exp);
    let (mut callbacks, shared) = probe_callbacks(exp, &data, &opts)?;
    callbacks.extend(ssl_metrics_callback(exp, &data, run.seed));
    // After the probes: the online probe then reuses their test embeddings.
    callbacks.extend(monitor::online_probe(exp, &data, &opts, &shared)?);
    run.fit(
        start,
        &mut *model,
        &*data.train,
        &*data.val,
        callbacks,
        hparams,
        FigureNames {
            data: Some(data_title(exp)),
            panels: panel_names(exp),
        },
    )
}

/// The data as the figure's title names it: `MNIST`, `OpenBHB` (`synthetic OpenBHB` without
/// `data.dir`), or the file format (`npy arrays`, `csv table`).
fn data_title(exp: &Experiment) -> String {
    let synthetic = exp.data.dir.is_none();
    match exp.data.format {
        Format::Mnist => "MNIST".into(),
        Format::Openbhb if synthetic => "synthetic OpenBHB".into(),
        Format::Openbhb => "OpenBHB".into(),
        Format::Npy => "npy arrays".into(),
        Format::Csv => "csv table".into(),
    }
}

/// Panel titles for the figure, `<label> (<probe>)` (e.g. `digit (LogisticRegression)`,
/// `age (Ridge)`), by the tag prefix each probe logs under: a probe alone in its group logs
/// under its name or its type's name; the tasks of an unnamed multi-task group under
/// `task<j>`. (Named multi-task groups keep their names.)
fn panel_names(exp: &Experiment) -> Vec<(String, String)> {
    let title = |p: &ProbeSpec| {
        let kind = task_probe(p).name();
        format!("{} ({kind})", p.task_names().join(", "))
    };
    groups(&exp.probes)
        .into_iter()
        .flat_map(|g| match &g[..] {
            [(_, p)] => {
                let prefix = p
                    .name
                    .clone()
                    .unwrap_or_else(|| task_probe(p).name().into());
                vec![(prefix, title(p))]
            }
            _ if g.iter().all(|(_, p)| p.name.is_none()) => g
                .iter()
                .enumerate()
                .map(|(j, (_, p))| (format!("task{j}"), title(p)))
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// The views of `exp` as `nidl fit` records them in `hparams.yaml` (compared on resume):
/// `views.tabular` and `views.image`, each the list of views.
pub fn views_hparams(exp: &Experiment) -> Vec<(String, String)> {
    let v = &exp.views;
    let tabular = v.tabular.as_deref().unwrap_or_default();
    let image = v.image.as_deref().unwrap_or_default();
    let mut hparams = Vec::new();
    if !tabular.is_empty() {
        hparams.push(("views.tabular".into(), format!("{tabular:?}")));
    }
    if !image.is_empty() {
        hparams.push(("views.image".into(), format!("{image:?}")));
    }
    hparams
}

/// The latent size of the encoder of `exp`.
fn latent(exp: &Experiment) -> usize {
    let e = &exp.encoder;
    match e.kind {
        Some(EncoderKind::Lenet) => e.latent.unwrap_or(32),
        _ => e
            .hidden
            .as_ref()
            .and_then(|h| h.last().copied())
            .unwrap_or(32),
    }
}

/// `[run]` (and the encoder's latent size) as run options, messages naming what `source` calls
/// the keys.
pub fn run_options(exp: &Experiment, source: OptionSource) -> Result<RunOptions, String> {
    let r = &exp.run;
    Ok(RunOptions {
        epochs: r.epochs,
        batch_size: r.batch_size,
        lr: r.lr.unwrap_or(r.method.default_lr_wd().0),
        weight_decay: r.weight_decay.unwrap_or(r.method.default_lr_wd().1),
        latent: latent(exp),
        seed: r.seed,
        limit_train: r.limit_train_batches,
        limit_val: r.limit_val_batches,
        log_every_n_steps: r.log_every_n_steps,
        device: r
            .device
            .parse()
            .map_err(|e| format!("{}: {e}", source.name("device")))?,
        log_dir: r.log_dir.clone().unwrap_or_else(|| "lightning_logs".into()),
        checkpoint: r.checkpoint,
        resume: r.resume.clone(),
        resume_despite_changes: r.resume_despite_changes,
        no_progress: !r.progress,
        monitor: monitor::options(exp),
        source,
    })
}

/// `[probing]` as the commands' probing options.
fn probe_options(exp: &Experiment) -> ProbeOptions {
    let p = &exp.probing;
    ProbeOptions {
        train_limit: p.train_limit,
        test_limit: p.test_limit,
        every: p.every,
        after_last_epoch: p.after_last_epoch,
        every_val: p.every_val,
        on_train_start: p.on_train_start,
    }
}

/// The encoder of `[encoder]` for `input`, drawn from `rng`.
fn encoder(
    exp: &Experiment,
    input: Input,
    rng: &mut StdRng,
) -> Result<Box<dyn Module<f32>>, String> {
    let err = |e: nidl::Error| format!("encoder: {e}");
    let e = &exp.encoder;
    match (e.kind.unwrap_or(EncoderKind::Mlp), input) {
        (EncoderKind::Mlp, Input::Features(d)) => {
            let widths = e.hidden.clone().unwrap_or_else(|| vec![64, 32]);
            let mlp = match e.batch_norm {
                Some(true) => Mlp::<f32>::with_batch_norm(d, &widths, rng),
                _ => Mlp::<f32>::new(d, &widths, rng),
            };
            Ok(Box::new(mlp.map_err(err)?))
        }
        (EncoderKind::Lenet, Input::Image([1, 28, 28])) => Ok(Box::new(
            LeNet::<f32>::new(latent(exp), rng).map_err(err)?,
        )),
        (EncoderKind::Convnet, Input::Image(shape)) => {
            let blocks: Vec<ConvBlock> = e
                .blocks
                .iter()
                .flatten()
                .map(|b| {
                    let pooling = match b.pool {
                        0 => Pooling::None,
                        k => Pooling::Avg(k),
                    };
                    ConvBlock::new(b.channels, b.kernel)
                        .stride(b.stride)
                        .padding(b.padding)
                        .pooling(pooling)
                })
                .collect();
            let net = ConvNet::<f32>::new(shape, &blocks, latent(exp), rng).map_err(err)?;
            Ok(Box::new(net))
        }
        (EncoderKind::Mlp, Input::Image(s)) => Err(format!(
            "encoder.kind = \"mlp\": takes feature vectors, the data are images of shape {s:?} (use convnet)"
        )),
        (EncoderKind::Lenet, other) => Err(format!(
            "encoder.kind = \"lenet\": takes 1×28×28 images, the data are {}",
            describe(other)
        )),
        (EncoderKind::Convnet, Input::Features(d)) => Err(format!(
            "encoder.kind = \"convnet\": takes images, the data are feature vectors of {d} values (use mlp)"
        )),
    }
}

/// What the encoder's input is, for messages.
fn describe(input: Input) -> String {
    match input {
        Input::Features(d) => format!("feature vectors of {d} values"),
        Input::Image([c, h, w]) => format!("{c}×{h}×{w} images"),
    }
}

/// The yaware kernel named `name`.
fn kernel(name: &str) -> Result<Kernel, String> {
    Ok(match name {
        "gaussian" => Kernel::Gaussian,
        "epanechnikov" => Kernel::Epanechnikov,
        "exponential" => Kernel::Exponential,
        "linear" => Kernel::Linear,
        "cosine" => Kernel::Cosine,
        other => {
            return Err(format!(
                "method.kernel: unknown kernel '{other}' (expected gaussian, epanechnikov, exponential, linear or cosine)"
            ))
        }
    })
}

/// The method of `[run]` with the options of `[method]`, around `parts.encoder` (and DINO's
/// `teacher`), for samples `input`.
fn model(
    exp: &Experiment,
    input: Input,
    parts: ModelParts,
    teacher: Option<Box<dyn Module<f32>>>,
) -> Result<Box<dyn Estimator>, String> {
    let o = &exp.method;
    let err = |e: nidl::Error| e.to_string();
    Ok(match exp.run.method {
        Method::Simclr => Box::new(simclr_model(o.temperature.unwrap_or(0.1), parts).map_err(err)?),
        Method::Yaware => {
            let k = kernel(o.kernel.as_deref().unwrap_or("gaussian"))?;
            let options = (k, o.sigma.unwrap_or(4.0), o.temperature.unwrap_or(0.1));
            Box::new(yaware_model(options, parts).map_err(err)?)
        }
        Method::Barlow => {
            let options = BarlowOptions::new(
                o.lambda.unwrap_or(5e-3),
                o.proj_hidden,
                o.proj_output,
                o.warmup_epochs.unwrap_or(10),
            );
            Box::new(options.build(parts).map_err(err)?)
        }
        Method::Dcl => {
            let options = DclOptions {
                temperature: o.temperature.unwrap_or(0.1),
                sigma: o.sigma,
                proj_hidden: o.proj_hidden,
                proj_output: o.proj_output,
                warmup_epochs: o.warmup_epochs.unwrap_or(10),
            };
            Box::new(options.build(parts).map_err(err)?)
        }
        Method::Vae => Box::new(super::vae::model(o, input, parts)?),
        Method::Dino => {
            let teacher = teacher.ok_or("method dino: no teacher encoder built")?;
            Box::new(super::dino::model(exp, parts, teacher).map_err(err)?)
        }
    })
}

/// The probes grouped by `group`, groups in order of first appearance, each probe with its
/// index in `[[probe]]`.
fn groups(probes: &[ProbeSpec]) -> Vec<Vec<(usize, &ProbeSpec)>> {
    let mut out: Vec<(usize, Vec<(usize, &ProbeSpec)>)> = Vec::new();
    for (i, p) in probes.iter().enumerate() {
        match out.iter_mut().find(|(g, _)| *g == p.group) {
            Some((_, members)) => members.push((i, p)),
            None => out.push((p.group, vec![(i, p)])),
        }
    }
    out.into_iter().map(|(_, m)| m).collect()
}

/// The probing sets of the probes, by label columns.
type SharedSets = Vec<(Vec<usize>, ProbingSets)>;

/// One probing callback per group of `[[probe]]`, scheduled by `[probing]`; groups on the same
/// label columns share their probing sets (embedded once per model state), which are returned
/// too, by label columns.
fn probe_callbacks(
    exp: &Experiment,
    data: &OpenedData,
    opts: &ProbeOptions,
) -> Result<(Vec<Box<dyn Callback>>, SharedSets), String> {
    if !opts.enabled() {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut shared: SharedSets = Vec::new();
    let mut callbacks = Vec::new();
    for group in groups(&exp.probes) {
        let columns = group
            .iter()
            .flat_map(|(i, p)| {
                let key = p.tasks_key(*i);
                p.task_names()
                    .into_iter()
                    .map(move |task| data::label_column(exp, &key, task))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let sets = match shared.iter().find(|(c, _)| *c == columns) {
            Some((_, s)) => s.clone(),
            None => {
                let s = (data.probing)(&columns, opts)?;
                shared.push((columns, s.clone()));
                s
            }
        };
        callbacks.push(match &group[..] {
            [(_, p)] => single_probe(exp, p, sets.clone(), opts)?,
            _ => multitask_probe(exp, &group, sets.clone(), opts)?,
        });
        callbacks.extend(scored::cv_callbacks(exp, &group, &sets, opts, task_probe)?);
    }
    Ok((callbacks, shared))
}

/// The SSL metrics callback of `[metrics]` (`ssl = true`, after every `every`-th epoch) on the
/// validation views exactly as `loss/val` sees them: the validation loader with its own seed,
/// else the run's `seed`, as the trainer seeds it.
fn ssl_metrics_callback(
    exp: &Experiment,
    data: &OpenedData,
    seed: u64,
) -> Option<Box<dyn Callback>> {
    let m = &exp.metrics;
    if !m.ssl || m.every == 0 {
        return None;
    }
    let views = data.val.with_seed(data.val.seed().unwrap_or(seed));
    let schedule = ProbeSchedule {
        every_n_train_epochs: m.every,
        ..ProbeSchedule::default()
    };
    Some(Box::new(SslMetrics::new(views).with_schedule(schedule)))
}

/// The callback of a probe alone in its group, logging `<ProbeName>/<metric>` (or `name`), or
/// the scores of `[probing] scoring` ([`scored::scored`]).
fn single_probe(
    exp: &Experiment,
    p: &ProbeSpec,
    sets: ProbingSets,
    opts: &ProbeOptions,
) -> Result<Box<dyn Callback>, String> {
    let k = p.k.unwrap_or(5);
    let tag = p
        .name
        .clone()
        .unwrap_or_else(|| task_probe(p).name().into());
    macro_rules! named {
        ($probing:expr) => {{
            let probing = $probing;
            let probing = match &p.name {
                Some(n) => probing.name(n.clone()),
                None => probing,
            };
            opts.scheduled(scored::scored(exp, probing, p, &tag)?)
        }};
    }
    Ok(match p.kind {
        ProbeKindSpec::Logreg => named!(ClassificationProbing::with_sets(sets, logreg(p))),
        ProbeKindSpec::Knn => named!(ClassificationProbing::with_sets(
            sets,
            KNeighborsClassifier::new(k)
        )),
        ProbeKindSpec::Ridge => named!(RegressionProbing::with_sets(
            sets,
            Ridge::new().alpha(p.alpha.unwrap_or(1.0))
        )),
        ProbeKindSpec::KnnRegressor => named!(RegressionProbing::with_sets(
            sets,
            KNeighborsRegressor::new(k)
        )),
        // Named as scikit-learn names them (`MLPClassifier/…`), not as the Rust types.
        ProbeKindSpec::Mlp => named!(
            ClassificationProbing::with_sets(sets, mlp::<ClassLabels>(p))
                .name(task_probe(p).name())
        ),
        ProbeKindSpec::MlpRegressor => {
            named!(RegressionProbing::with_sets(sets, mlp::<TargetShape>(p))
                .name(task_probe(p).name()))
        }
    })
}

/// The MLP probe of `p` (classifier or regressor): `hidden`, `alpha`, `max_iter`.
fn mlp<K>(p: &ProbeSpec) -> MlpProbe<K> {
    MlpProbe::new()
        .hidden(p.hidden.as_deref().unwrap_or(&MLP_PROBE_HIDDEN))
        .alpha(p.alpha.unwrap_or(1e-4))
        .max_iter(p.max_iter.unwrap_or(200))
}

/// The logistic regression of `p`.
fn logreg(p: &ProbeSpec) -> LogisticRegression {
    LogisticRegression::new()
        .c(p.c.unwrap_or(1.0))
        .max_iter(p.max_iter.unwrap_or(200))
}

/// The probe of `p` as one task of a multi-task probe (also what names its kind).
fn task_probe(p: &ProbeSpec) -> TaskProbe {
    let k = p.k.unwrap_or(5);
    match p.kind {
        ProbeKindSpec::Logreg => TaskProbe::LogisticRegression(logreg(p)),
        ProbeKindSpec::Ridge => TaskProbe::Ridge(Ridge::new().alpha(p.alpha.unwrap_or(1.0))),
        ProbeKindSpec::Knn => TaskProbe::KNeighborsClassifier(KNeighborsClassifier::new(k)),
        ProbeKindSpec::KnnRegressor => TaskProbe::KNeighborsRegressor(KNeighborsRegressor::new(k)),
        ProbeKindSpec::Mlp => TaskProbe::MlpClassifier(mlp(p)),
        ProbeKindSpec::MlpRegressor => TaskProbe::MlpRegressor(mlp(p)),
    }
}

/// The callback of a group of probes, one task each, logging `task<j>/<metric>` (or `name`).
fn multitask_probe(
    exp: &Experiment,
    group: &[(usize, &ProbeSpec)],
    sets: ProbingSets,
    opts: &ProbeOptions,
) -> Result<Box<dyn Callback>, String> {
    let err = |e: nidl::Error| format!("probe: {e}");
    let tasks = group.iter().map(|(_, p)| task_probe(p)).collect();
    let mut probing = MultitaskProbing::with_sets(sets, MultiTask::new(tasks).map_err(err)?);
    if group.iter().any(|(_, p)| p.name.is_some()) {
        let names: Vec<String> = group
            .iter()
            .enumerate()
            .map(|(j, (_, p))| p.name.clone().unwrap_or_else(|| format!("task{j}")))
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        probing = probing.task_names(&names).map_err(err)?;
    }
    Ok(opts.scheduled(scored::scored_tasks(exp, probing, group)?))
}
