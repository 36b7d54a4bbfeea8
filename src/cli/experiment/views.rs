//! The views of an experiment: `[views]` lists built into the library's run-time pipelines
//! ([`Pipeline`] of [`ImageAugment`] / [`TabularAugment`]).
//!
//! The seed's MNIST list (`random_resized_crop 28`, `gaussian_blur 3`, mean/std 0.5) is mapped
//! onto [`mnist_contrast_transforms`] instead: the seed crops and blurs the `u8` image with
//! PIL's integer rounding, which the `f32` pipeline does not reproduce.

use super::schema::{seed_mnist_views, Experiment, ImageView, TabularView};
use nidl::datasets::transforms::{
    mnist_contrast_transforms, GaussianBlur, GaussianNoise, ImageAugment, MnistContrastTransforms,
    Normalize, Pipeline, RandomBrightness, RandomContrast, RandomHorizontalFlip, RandomMask,
    RandomResizedCrop, RandomVerticalFlip, TabularAugment,
};

/// The seed's MNIST views, when `[views]` lists exactly them (see the module docs).
pub fn seed_mnist_transforms(exp: &Experiment) -> Result<Option<MnistContrastTransforms>, String> {
    let v = &exp.views;
    let is_seed = v.image.as_ref() == Some(&seed_mnist_views())
        && v.mean.as_deref() == Some(&[0.5][..])
        && v.std.as_deref() == Some(&[0.5][..]);
    if !is_seed {
        return Ok(None);
    }
    mnist_contrast_transforms()
        .map(Some)
        .map_err(|e| format!("views.image: {e}"))
}

/// `views.mean` / `views.std` as a Normalize step, when set.
pub fn normalize(exp: &Experiment) -> Result<Option<ImageAugment>, String> {
    match (&exp.views.mean, &exp.views.std) {
        (Some(mean), Some(std)) => Normalize::new(mean, std)
            .map(|n| Some(ImageAugment::Normalize(n)))
            .map_err(|e| format!("views.mean / views.std: {e}")),
        (None, None) => Ok(None),
        _ => Err("views.mean / views.std: give both or neither".into()),
    }
}

/// The pipeline of `views.image` on `f32` images of `[C, H, W]` = `shape`, then
/// Normalize(`mean`, `std`) when set; errors name the item. A crop must give `H × W` views: the
/// probes embed the images as they are.
pub fn image_pipeline(
    exp: &Experiment,
    shape: [usize; 3],
) -> Result<Pipeline<ImageAugment>, String> {
    let list = exp.views.image.as_deref().unwrap_or(&[]);
    image_list_pipeline(exp, list, "views.image", shape)
}

/// [`image_pipeline`] of the views `list`, named `key` in messages (dino's local views).
pub fn image_list_pipeline(
    exp: &Experiment,
    list: &[ImageView],
    key: &str,
    [_, h, w]: [usize; 3],
) -> Result<Pipeline<ImageAugment>, String> {
    let mut steps = Vec::with_capacity(list.len() + 1);
    for (i, v) in list.iter().enumerate() {
        let at = |e: nidl::Error| format!("{key}[{i}]: {e}");
        steps.push(match *v {
            ImageView::RandomResizedCrop {
                size,
                width,
                scale,
                ratio,
            } => {
                let width = width.unwrap_or(size);
                if (size, width) != (h, w) {
                    return Err(format!(
                        "{key}[{i}]: a random_resized_crop of {size}×{width} on {h}×{w} images (the probes embed the images unchanged, so the views keep their size: size = {h}, width = {w})"
                    ));
                }
                let mut t = RandomResizedCrop::with_size(size, width).map_err(at)?;
                if let Some([lo, hi]) = scale {
                    t = t.scale(lo, hi).map_err(at)?;
                }
                if let Some([lo, hi]) = ratio {
                    t = t.ratio(lo, hi).map_err(at)?;
                }
                ImageAugment::ResizedCrop(t)
            }
            ImageView::GaussianBlur { kernel, sigma } => {
                let mut t = GaussianBlur::new(kernel).map_err(at)?;
                if let Some([lo, hi]) = sigma {
                    t = t.sigma(lo, hi).map_err(at)?;
                }
                ImageAugment::Blur(t)
            }
            ImageView::HorizontalFlip { p } => {
                ImageAugment::HorizontalFlip(RandomHorizontalFlip::new(p).map_err(at)?)
            }
            ImageView::VerticalFlip { p } => {
                ImageAugment::VerticalFlip(RandomVerticalFlip::new(p).map_err(at)?)
            }
            ImageView::Brightness { strength } => {
                ImageAugment::Brightness(RandomBrightness::new(strength).map_err(at)?)
            }
            ImageView::Contrast { strength } => {
                ImageAugment::Contrast(RandomContrast::new(strength).map_err(at)?)
            }
        });
    }
    steps.extend(normalize(exp)?);
    Ok(Pipeline(steps))
}

/// The pipeline of `views.tabular`; errors name the item.
pub fn tabular_pipeline(exp: &Experiment) -> Result<Pipeline<TabularAugment>, String> {
    let list = exp.views.tabular.as_deref().unwrap_or(&[]);
    tabular_list_pipeline(list, "views.tabular")
}

/// [`tabular_pipeline`] of the views `list`, named `key` in messages (dino's local views).
pub fn tabular_list_pipeline(
    list: &[TabularView],
    key: &str,
) -> Result<Pipeline<TabularAugment>, String> {
    let steps = list
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let at = |e: nidl::Error| format!("{key}[{i}]: {e}");
            Ok(match *v {
                TabularView::Mask { prob } => {
                    TabularAugment::Mask(RandomMask::new(prob).map_err(at)?)
                }
                TabularView::Noise { std } => {
                    TabularAugment::Noise(GaussianNoise::new(std).map_err(at)?)
                }
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Pipeline(steps))
}
