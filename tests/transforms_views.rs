//! Image views for images of any size and channel count (flips, brightness, contrast; crop and
//! blur on several channels), and pipelines built at run time.

use nidl::datasets::array::ImageArray;
use nidl::datasets::loader::Loader;
use nidl::datasets::transforms::{
    adjust_brightness, adjust_contrast, hflip, vflip, GaussianBlur, GaussianNoise, Image,
    ImageAugment, MultiViews, Normalize, Pipeline, RandomBrightness, RandomContrast,
    RandomHorizontalFlip, RandomMask, RandomResizedCrop, RandomVerticalFlip, TabularAugment,
    Transform, TransformExt,
};
use nidl::Tensor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// A 2-channel 2×3 image: channel 0 is 1..=6, channel 1 is 11..=16.
fn two_channels() -> Image<f32> {
    let px = (1..=6).chain(11..=16).map(|v| v as f32).collect();
    Image::new(2, 2, 3, px).unwrap()
}

fn close(a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() < 1e-6, "{a:?} vs {b:?}");
    }
}

#[test]
fn flips_mirror_every_channel() {
    let img = two_channels();
    // Rows [1 2 3 | 4 5 6] reversed within each row; rows swapped top to bottom.
    assert_eq!(
        hflip(&img).data(),
        &[3.0, 2.0, 1.0, 6.0, 5.0, 4.0, 13.0, 12.0, 11.0, 16.0, 15.0, 14.0]
    );
    assert_eq!(
        vflip(&img).data(),
        &[4.0, 5.0, 6.0, 1.0, 2.0, 3.0, 14.0, 15.0, 16.0, 11.0, 12.0, 13.0]
    );
    // An odd height keeps its middle row.
    let tall = Image::gray(3, 1, vec![1u8, 2, 3]).unwrap();
    assert_eq!(vflip(&tall).data(), &[3, 2, 1]);
    assert_eq!(hflip(&hflip(&img)), img);
}

#[test]
fn random_flips_draw_one_f32_against_p() {
    let img = two_channels();
    let h = RandomHorizontalFlip::new(0.5).unwrap();
    let v = RandomVerticalFlip::new(0.5).unwrap();
    let mut flipped = 0;
    for seed in 0..200 {
        // torch.rand(1) < p: one f32 uniform draw.
        let u: f32 = rng(seed).gen();
        let got = h.apply(img.clone(), &mut rng(seed)).unwrap();
        let want = if u < 0.5 { hflip(&img) } else { img.clone() };
        assert_eq!(got, want);
        let got = v.apply(img.clone(), &mut rng(seed)).unwrap();
        let want = if u < 0.5 { vflip(&img) } else { img.clone() };
        assert_eq!(got, want);
        flipped += usize::from(u < 0.5);
    }
    assert!((70..130).contains(&flipped), "{flipped}");
    let always = RandomHorizontalFlip::new(1.0).unwrap();
    let never = RandomVerticalFlip::new(0.0).unwrap();
    for seed in 0..20 {
        assert_eq!(
            always.apply(img.clone(), &mut rng(seed)).unwrap(),
            hflip(&img)
        );
        assert_eq!(never.apply(img.clone(), &mut rng(seed)).unwrap(), img);
    }
    assert!(RandomHorizontalFlip::new(1.5).is_err());
    assert!(RandomVerticalFlip::new(-0.1).is_err());
    assert!(RandomVerticalFlip::new(f64::NAN).is_err());
}

#[test]
fn brightness_scales_and_clamps() {
    let img = Image::gray(1, 3, vec![0.2f32, 0.5, 0.8]).unwrap();
    // 1.5·x, the last clamped from 1.2 to 1.
    close(
        adjust_brightness(img.clone(), 1.5).data(),
        &[0.3, 0.75, 1.0],
    );
    close(adjust_brightness(img.clone(), 0.0).data(), &[0.0, 0.0, 0.0]);
    assert_eq!(RandomBrightness::new(0.5).unwrap().range(), (0.5, 1.5));
    // The lower end is clipped at 0.
    assert_eq!(RandomBrightness::new(2.0).unwrap().range(), (0.0, 3.0));
    let t = RandomBrightness::new(0.4).unwrap();
    for seed in 0..20 {
        // The factor: 0.6 + u·(1.4 − 0.6), u one f32 draw (torch's uniform_).
        let u: f32 = rng(seed).gen();
        let f = 0.6f32 + u * (1.4f32 - 0.6f32);
        let got = t.apply(img.clone(), &mut rng(seed)).unwrap();
        let want: Vec<f32> = img
            .data()
            .iter()
            .map(|&x| (f * x).clamp(0.0, 1.0))
            .collect();
        assert_eq!(got.data(), want.as_slice());
    }
    assert!(RandomBrightness::new(-1.0).is_err());
    assert!(RandomBrightness::new(f64::INFINITY).is_err());
}

#[test]
fn contrast_blends_with_the_grey_mean() {
    // One channel: mean 0.3; factor 2 gives 2x − 0.3, clamped.
    let gray = Image::gray(2, 2, vec![0.0f32, 0.2, 0.4, 0.6]).unwrap();
    close(
        adjust_contrast(gray.clone(), 2.0).data(),
        &[0.0, 0.1, 0.5, 0.9],
    );
    // Factor 0: every value becomes the mean.
    close(adjust_contrast(gray, 0.0).data(), &[0.3; 4]);
    // Three channels, 1×2 pixels: r = (1, 0), g = (0, 1), b = (0, 0); grey levels 0.2989 and
    // 0.587, mean m = 0.44295; factor 0.5 gives 0.5x + 0.5m = 0.5x + 0.221475.
    let rgb = Image::new(3, 1, 2, vec![1.0f32, 0.0, 0.0, 1.0, 0.0, 0.0]).unwrap();
    close(
        adjust_contrast(rgb, 0.5).data(),
        &[0.721475, 0.221475, 0.221475, 0.721475, 0.221475, 0.221475],
    );
    // Two channels: the mean of every value, (0.1 + 0.3 + 0.5 + 0.7) / 4 = 0.4; factor 3
    // gives 3x − 0.8, clamped.
    let two = Image::new(2, 1, 2, vec![0.1f32, 0.3, 0.5, 0.7]).unwrap();
    close(adjust_contrast(two, 3.0).data(), &[0.0, 0.1, 0.7, 1.0]);
    assert_eq!(RandomContrast::new(0.3).unwrap().range(), (0.7, 1.3));
    assert!(RandomContrast::new(f64::NAN).is_err());
}

#[test]
fn zero_strength_jitter_is_the_identity_and_draws_nothing() {
    let img = Image::gray(1, 2, vec![0.25f32, 0.75]).unwrap();
    for t in [
        ImageAugment::Brightness(RandomBrightness::new(0.0).unwrap()),
        ImageAugment::Contrast(RandomContrast::new(0.0).unwrap()),
    ] {
        let mut r = rng(3);
        assert_eq!(t.apply(img.clone(), &mut r).unwrap(), img);
        assert_eq!(r.gen::<u64>(), rng(3).gen::<u64>());
    }
}

/// A `C × H × W` image of pseudo-random values in [0, 1).
fn noise_image(c: usize, h: usize, w: usize, seed: u64) -> Image<f32> {
    let mut r = rng(seed);
    Image::new(c, h, w, (0..c * h * w).map(|_| r.gen::<f32>()).collect()).unwrap()
}

/// Channel `k` of `img` as a one-channel image.
fn channel<P: nidl::datasets::transforms::Pixel>(img: &Image<P>, k: usize) -> Image<P> {
    let plane = img.height() * img.width();
    Image::gray(
        img.height(),
        img.width(),
        img.data()[k * plane..(k + 1) * plane].to_vec(),
    )
    .unwrap()
}

#[test]
fn crop_and_blur_treat_each_channel_of_a_non_square_image_alike() {
    let img = noise_image(3, 9, 13, 1);
    let bytes = Image::new(
        3,
        9,
        13,
        img.data().iter().map(|&v| (v * 255.0) as u8).collect(),
    )
    .unwrap();
    let crop = RandomResizedCrop::with_size(5, 7).unwrap();
    let blur = GaussianBlur::new(5).unwrap();
    for seed in 0..10 {
        let c = crop.apply(img.clone(), &mut rng(seed)).unwrap();
        assert_eq!(c.shape(), [3, 5, 7]);
        let b = blur.apply(img.clone(), &mut rng(seed)).unwrap();
        assert_eq!(b.shape(), [3, 9, 13]);
        let cb = crop.apply(bytes.clone(), &mut rng(seed)).unwrap();
        for k in 0..3 {
            // The same draws on one channel give that channel of the multi-channel result.
            let one = crop.apply(channel(&img, k), &mut rng(seed)).unwrap();
            assert_eq!(channel(&c, k), one);
            let one = blur.apply(channel(&img, k), &mut rng(seed)).unwrap();
            assert_eq!(channel(&b, k), one);
            let one = crop.apply(channel(&bytes, k), &mut rng(seed)).unwrap();
            assert_eq!(channel(&cb, k), one);
        }
    }
}

#[test]
fn pipelines_draw_as_the_composed_transforms() {
    let img = noise_image(3, 12, 10, 2);
    let crop = RandomResizedCrop::with_size(8, 6).unwrap();
    let blur = GaussianBlur::new(3).unwrap();
    let hf = RandomHorizontalFlip::new(0.5).unwrap();
    let vf = RandomVerticalFlip::new(0.5).unwrap();
    let br = RandomBrightness::new(0.4).unwrap();
    let ct = RandomContrast::new(0.4).unwrap();
    let norm = Normalize::new(&[0.5, 0.4, 0.3], &[0.2, 0.2, 0.2]).unwrap();
    let pipeline = Pipeline(vec![
        ImageAugment::ResizedCrop(crop.clone()),
        ImageAugment::Blur(blur.clone()),
        ImageAugment::HorizontalFlip(hf),
        ImageAugment::VerticalFlip(vf),
        ImageAugment::Brightness(br),
        ImageAugment::Contrast(ct),
        ImageAugment::Normalize(norm.clone()),
    ]);
    let composed = crop
        .then(blur)
        .then(hf)
        .then(vf)
        .then(br)
        .then(ct)
        .then(norm);
    for seed in 0..10 {
        let (mut r1, mut r2) = (rng(seed), rng(seed));
        let a = pipeline.apply(img.clone(), &mut r1).unwrap();
        let b = composed.apply(img.clone(), &mut r2).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.shape(), [3, 8, 6]);
        // Both left their RNG at the same point.
        assert_eq!(r1.gen::<u64>(), r2.gen::<u64>());
    }
    // The empty pipeline is the identity and draws nothing.
    let empty: Pipeline<ImageAugment> = Pipeline(vec![]);
    let mut r = rng(4);
    assert_eq!(empty.apply(img.clone(), &mut r).unwrap(), img);
    assert_eq!(r.gen::<u64>(), rng(4).gen::<u64>());
    // Errors pass through: a 3-channel Normalize on a 1-channel image.
    let bad = Pipeline(vec![ImageAugment::Normalize(
        Normalize::new(&[0.5, 0.5, 0.5], &[1.0, 1.0, 1.0]).unwrap(),
    )]);
    assert!(bad.apply(noise_image(1, 2, 2, 0), &mut rng(0)).is_err());

    let mask = RandomMask::new(0.3).unwrap();
    let noise = GaussianNoise::new(0.5).unwrap();
    let tab = Pipeline(vec![
        TabularAugment::Mask(mask),
        TabularAugment::Noise(noise),
    ]);
    let chained = mask.then(noise);
    for seed in 0..10 {
        let x: Vec<f32> = (0..16).map(|v| v as f32).collect();
        assert_eq!(
            tab.apply(x.clone(), &mut rng(seed)).unwrap(),
            chained.apply(x, &mut rng(seed)).unwrap()
        );
    }
    assert_eq!(
        Pipeline::<TabularAugment>::default()
            .apply(vec![1.0f64, 2.0], &mut rng(0))
            .unwrap(),
        vec![1.0, 2.0]
    );
}

#[test]
fn image_pipeline_views_collate_into_batches() {
    let px: Vec<u8> = (0..4 * 3 * 6 * 5).map(|v| (v % 256) as u8).collect();
    let labels = Tensor::from_vec(vec![0.0, 1.0, 2.0, 3.0], &[4]).unwrap();
    let set = Arc::new(ImageArray::from_u8(px, &[4, 3, 6, 5], &labels).unwrap());
    let views = MultiViews::new(
        Pipeline(vec![
            ImageAugment::ResizedCrop(RandomResizedCrop::with_size(4, 4).unwrap()),
            ImageAugment::HorizontalFlip(RandomHorizontalFlip::new(0.5).unwrap()),
            ImageAugment::Contrast(RandomContrast::new(0.5).unwrap()),
        ]),
        2,
    )
    .unwrap();
    let loader = Loader::new(set, views, 3).unwrap().seed(7);
    let b = loader.batch(0, 0).unwrap();
    assert_eq!(b.views.shape(), &[6, 3, 4, 4]);
    assert_eq!(b.labels.shape(), &[3, 1]);
    assert!(b
        .views
        .data()
        .unwrap()
        .iter()
        .all(|v| (0.0..=1.0).contains(v)));
    // Seeded: the same batch again.
    assert_eq!(loader.batch(0, 0).unwrap(), b);
}
