//! `run.method = "dino"`: its `[method]` keys (named as nidl 0.0.2's `DINO` names them), their
//! defaults and checks, its multi-crop views (`views.image` / `views.tabular` for the 2 global
//! views, `views.local_image` / `views.local_tabular` for the `num_local_crops` local ones) and
//! the estimator.
//!
//! Defaults are nidl's, except the head's widths: nidl's 2048 → 2048 → 256 → 4096 head is sized
//! for ResNet features; on the LeNet's 32 values the experiment files default to
//! 256 → 256 → 64 → 1024 (the README's DINO section says why).

use super::checks::{at_least, method_name, number, only_allowed};
use super::schema::{Experiment, Format, ImageView, Method, MethodOptions, TabularView};
use super::views;
use crate::cli::train_common::ModelParts;
use nidl::datasets::transforms::Compose;
use nidl::datasets::transforms::{
    ImageAugment, MultiCrop, Pipeline, TabularAugment, ToTensor, TransformExt,
    DEFAULT_N_LOCAL_CROPS, GLOBAL_CROP_SCALE, GLOBAL_TABULAR_VIEWS, LOCAL_CROP_SCALE,
    LOCAL_TABULAR_VIEWS,
};
use nidl::nn::Module;
use nidl::train::{Dino, DinoConfig};

/// The `[method]` keys of dino.
pub const METHOD_KEYS: [&str; 15] = [
    "warmup_epochs",
    "proj_hidden_dim",
    "proj_bottleneck_dim",
    "proj_output_dim",
    "proj_batch_norm",
    "proj_norm_last_layer",
    "num_local_crops",
    "student_temperature",
    "teacher_temperature",
    "warmup_teacher_temp",
    "warmup_teacher_temp_epochs",
    "base_lambda",
    "final_lambda",
    "clip_grad",
    "freeze_last_layer",
];

/// The head widths of experiment files (hidden, bottleneck, output): see the module docs.
const HEAD: (usize, usize, usize) = (256, 64, 1024);

/// Each dino-only key of `[method]` and whether it is set.
pub fn set_keys(o: &MethodOptions) -> [(&'static str, bool); 14] {
    [
        ("proj_hidden_dim", o.proj_hidden_dim.is_some()),
        ("proj_bottleneck_dim", o.proj_bottleneck_dim.is_some()),
        ("proj_output_dim", o.proj_output_dim.is_some()),
        ("proj_batch_norm", o.proj_batch_norm.is_some()),
        ("proj_norm_last_layer", o.proj_norm_last_layer.is_some()),
        ("num_local_crops", o.num_local_crops.is_some()),
        ("student_temperature", o.student_temperature.is_some()),
        ("teacher_temperature", o.teacher_temperature.is_some()),
        ("warmup_teacher_temp", o.warmup_teacher_temp.is_some()),
        (
            "warmup_teacher_temp_epochs",
            o.warmup_teacher_temp_epochs.is_some(),
        ),
        ("base_lambda", o.base_lambda.is_some()),
        ("final_lambda", o.final_lambda.is_some()),
        ("clip_grad", o.clip_grad.is_some()),
        ("freeze_last_layer", o.freeze_last_layer.is_some()),
    ]
}

/// Fills the `[method]` defaults of dino: nidl's, the head's widths excepted ([`HEAD`]).
pub fn fill_method_defaults(o: &mut MethodOptions) {
    let nidl = DinoConfig::default();
    o.warmup_epochs.get_or_insert(nidl.warmup_epochs);
    o.proj_hidden_dim.get_or_insert(HEAD.0);
    o.proj_bottleneck_dim.get_or_insert(HEAD.1);
    o.proj_output_dim.get_or_insert(HEAD.2);
    o.proj_batch_norm.get_or_insert(nidl.proj_batch_norm);
    o.proj_norm_last_layer
        .get_or_insert(nidl.proj_norm_last_layer);
    o.num_local_crops.get_or_insert(DEFAULT_N_LOCAL_CROPS);
    o.student_temperature
        .get_or_insert(nidl.student_temperature);
    o.teacher_temperature
        .get_or_insert(nidl.teacher_temperature);
    o.warmup_teacher_temp
        .get_or_insert(nidl.warmup_teacher_temp);
    o.warmup_teacher_temp_epochs
        .get_or_insert(nidl.warmup_teacher_temp_epochs);
    o.base_lambda.get_or_insert(nidl.base_lambda);
    o.final_lambda.get_or_insert(nidl.final_lambda);
    o.clip_grad.get_or_insert(nidl.clip_grad);
    o.freeze_last_layer.get_or_insert(nidl.freeze_last_layer);
}

/// An MNIST crop of area `scale` then `GaussianBlur(3)` (the seed's views, at DINO's scales).
fn mnist_crop((lo, hi): (f64, f64)) -> Vec<ImageView> {
    vec![
        ImageView::RandomResizedCrop {
            size: 28,
            width: None,
            scale: Some([lo, hi]),
            ratio: None,
        },
        ImageView::GaussianBlur {
            kernel: 3,
            sigma: None,
        },
    ]
}

/// A tabular view of masking probability and noise std `(mask, std)`.
fn tabular((prob, std): (f64, f64)) -> Vec<TabularView> {
    vec![TabularView::Mask { prob }, TabularView::Noise { std }]
}

/// Fills the view defaults of dino (before the generic ones, which then keep them) and refuses
/// `views.local_*` for the other methods and dino on data it has no views for; `input` is the
/// `[C, H, W]` of image samples, `None` for feature vectors.
pub fn fill_view_defaults(exp: &mut Experiment, input: Option<[usize; 3]>) -> Result<(), String> {
    let m = exp.run.method;
    let v = &mut exp.views;
    let set = [
        ("local_image", v.local_image.is_some()),
        ("local_tabular", v.local_tabular.is_some()),
    ];
    if m != Method::Dino {
        let owner = format!("run.method = \"{}\" (only dino)", method_name(m));
        return only_allowed(&set, &[], "views", &owner);
    }
    let format = exp.data.format;
    if !matches!(format, Format::Mnist | Format::Openbhb) {
        return Err(format!(
            "run.method = \"dino\": its multi-crop views are built for format = \"mnist\" and \
             \"openbhb\", not \"{}\"",
            exp.data.format_name()
        ));
    }
    if input.is_some() {
        only_allowed(&set, &["local_image"], "views", "image data")?;
        v.image.get_or_insert_with(|| mnist_crop(GLOBAL_CROP_SCALE));
        v.local_image
            .get_or_insert_with(|| mnist_crop(LOCAL_CROP_SCALE));
    } else {
        only_allowed(&set, &["local_tabular"], "views", "feature vectors")?;
        v.tabular
            .get_or_insert_with(|| tabular(GLOBAL_TABULAR_VIEWS));
        v.local_tabular
            .get_or_insert_with(|| tabular(LOCAL_TABULAR_VIEWS));
    }
    Ok(())
}

/// The range checks of the dino keys; errors name the key.
pub fn check(exp: &Experiment) -> Result<(), String> {
    let o = &exp.method;
    for (key, v) in [
        ("proj_hidden_dim", o.proj_hidden_dim),
        ("proj_bottleneck_dim", o.proj_bottleneck_dim),
        ("proj_output_dim", o.proj_output_dim),
    ] {
        if let Some(v) = v {
            at_least(&format!("method.{key}"), v, 1)?;
        }
    }
    for (key, v) in [
        ("student_temperature", o.student_temperature),
        ("teacher_temperature", o.teacher_temperature),
        ("warmup_teacher_temp", o.warmup_teacher_temp),
    ] {
        number(&format!("method.{key}"), v, true)?;
    }
    number("method.clip_grad", o.clip_grad, false)?;
    for (key, v) in [
        ("base_lambda", o.base_lambda),
        ("final_lambda", o.final_lambda),
    ] {
        if let Some(v) = v {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("method.{key}: must be in [0, 1], got {v}"));
            }
        }
    }
    if let (Some(b), Some(f)) = (o.base_lambda, o.final_lambda) {
        if b > f {
            return Err(format!(
                "method.base_lambda: must not exceed method.final_lambda ({f}), got {b}"
            ));
        }
    }
    Ok(())
}

/// The transform of one image view: `ToTensor`, then a `views.*` pipeline.
pub type ImageCrop = Compose<ToTensor, Pipeline<ImageAugment>>;

/// DINO's views of 1×28×28 MNIST digits: `views.image` twice, then `views.local_image`
/// `num_local_crops` times, each followed by Normalize(`views.mean`, `views.std`).
pub fn image_views(
    exp: &Experiment,
    shape: [usize; 3],
) -> Result<MultiCrop<ImageCrop, ImageCrop>, String> {
    let global = ToTensor.then(views::image_pipeline(exp, shape)?);
    let list = exp.views.local_image.as_deref().unwrap_or(&[]);
    let local = ToTensor.then(views::image_list_pipeline(
        exp,
        list,
        "views.local_image",
        shape,
    )?);
    Ok(MultiCrop::new(global, local, n_local(exp)))
}

/// DINO's views of feature vectors: `views.tabular` twice, then `views.local_tabular`
/// `num_local_crops` times.
pub fn tabular_views(
    exp: &Experiment,
) -> Result<MultiCrop<Pipeline<TabularAugment>, Pipeline<TabularAugment>>, String> {
    let global = views::tabular_pipeline(exp)?;
    let list = exp.views.local_tabular.as_deref().unwrap_or(&[]);
    let local = views::tabular_list_pipeline(list, "views.local_tabular")?;
    Ok(MultiCrop::new(global, local, n_local(exp)))
}

/// `method.num_local_crops` (filled in by the defaults).
fn n_local(exp: &Experiment) -> usize {
    exp.method.num_local_crops.unwrap_or(DEFAULT_N_LOCAL_CROPS)
}

/// The settings `[method]` and `[run]` give DINO.
pub fn config(exp: &Experiment, lr: f64, weight_decay: f64) -> DinoConfig {
    let o = &exp.method;
    let d = DinoConfig::default();
    DinoConfig {
        proj_hidden_dim: o.proj_hidden_dim.unwrap_or(HEAD.0),
        proj_bottleneck_dim: o.proj_bottleneck_dim.unwrap_or(HEAD.1),
        proj_output_dim: o.proj_output_dim.unwrap_or(HEAD.2),
        proj_batch_norm: o.proj_batch_norm.unwrap_or(d.proj_batch_norm),
        proj_norm_last_layer: o.proj_norm_last_layer.unwrap_or(d.proj_norm_last_layer),
        num_local_crops: n_local(exp),
        student_temperature: o.student_temperature.unwrap_or(d.student_temperature),
        teacher_temperature: o.teacher_temperature.unwrap_or(d.teacher_temperature),
        warmup_teacher_temp: o.warmup_teacher_temp.unwrap_or(d.warmup_teacher_temp),
        warmup_teacher_temp_epochs: o
            .warmup_teacher_temp_epochs
            .unwrap_or(d.warmup_teacher_temp_epochs),
        base_lambda: o.base_lambda.unwrap_or(d.base_lambda),
        final_lambda: o.final_lambda.unwrap_or(d.final_lambda),
        clip_grad: o.clip_grad.unwrap_or(d.clip_grad),
        freeze_last_layer: o.freeze_last_layer.unwrap_or(d.freeze_last_layer),
        lr,
        weight_decay,
        warmup_epochs: o.warmup_epochs.unwrap_or(d.warmup_epochs),
        ..d
    }
}

/// DINO around `parts.encoder` (the student) and `teacher` (an encoder of the same kind; its
/// values become the student's).
pub fn model(
    exp: &Experiment,
    parts: ModelParts,
    teacher: Box<dyn Module<f32>>,
) -> nidl::Result<Dino> {
    let run = parts.run;
    let config = config(exp, run.lr, run.weight_decay);
    Dino::new(parts.encoder, teacher, run.latent, config, parts.rng)
}
