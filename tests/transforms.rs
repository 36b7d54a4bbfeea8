//! Transforms against torchvision (golden files from torchvision 0.29 / Pillow), and the
//! properties the seed's augmentations rely on.

mod common;

use common::{assert_close, golden};
use nidl::datasets::transforms::{
    gaussian_blur, gaussian_kernel1d, mnist_contrast_transforms, mnist_scale_transforms,
    resized_crop, GaussianBlur, GaussianNoise, Image, MultiViews, Normalize, RandomMask,
    RandomResizedCrop, ToTensor, Transform, TransformExt, Views,
};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// A golden `(28, 28)` array of grey levels as a `u8` image.
fn golden_u8(case: &str, name: &str) -> Image<u8> {
    let t = golden(case, name);
    let px: Vec<u8> = t.data().unwrap().iter().map(|&v| v as u8).collect();
    assert!(t
        .data()
        .unwrap()
        .iter()
        .zip(&px)
        .all(|(&v, &p)| v == p as f64));
    Image::gray(t.shape()[0], t.shape()[1], px).unwrap()
}

#[test]
fn resized_crop_matches_pil_within_one_grey_level() {
    for case in ["resized_crop_0", "resized_crop_1", "resized_crop_2"] {
        let img = golden_u8(case, "img");
        let b = golden(case, "box");
        let (top, left, h, w) = (
            b.data().unwrap()[0],
            b.data().unwrap()[1],
            b.data().unwrap()[2],
            b.data().unwrap()[3],
        );
        let want = golden_u8(case, "out");
        let got = resized_crop(
            &img,
            top as i64,
            left as i64,
            h as usize,
            w as usize,
            28,
            28,
        )
        .unwrap();
        let worst = got
            .data()
            .iter()
            .zip(want.data())
            .map(|(&a, &b)| (a as i32 - b as i32).abs())
            .max()
            .unwrap();
        let exact = got
            .data()
            .iter()
            .zip(want.data())
            .filter(|(a, b)| a == b)
            .count();
        eprintln!("{case}: max |Δ| = {worst} grey levels, {exact}/784 pixels identical");
        assert!(worst <= 1, "{case}: max difference {worst} grey levels");
    }
}

#[test]
fn gaussian_blur_matches_torchvision() {
    for case in ["gaussian_blur_0", "gaussian_blur_1", "gaussian_blur_2"] {
        let img = golden(case, "img");
        let sigma = golden(case, "sigma").data().unwrap()[0];
        let want = golden(case, "out");
        let px: Vec<f32> = img.data().unwrap().iter().map(|&v| v as f32).collect();
        let got = gaussian_blur(&Image::new(1, 28, 28, px).unwrap(), 3, sigma as f32).unwrap();
        let got: Vec<f64> = got.data().iter().map(|&v| v as f64).collect();
        let worst = got
            .iter()
            .zip(want.data().unwrap())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        eprintln!("{case} (sigma {sigma}): max |Δ| = {worst:e}");
        assert_close(case, &got, want.data().unwrap(), 1e-6, 1.0);
    }
}

#[test]
fn blur_of_a_pil_image_rounds_the_float_result() {
    let img = golden_u8("resized_crop_0", "img");
    let as_float: Vec<f32> = img.data().iter().map(|&v| v as f32).collect();
    let f = gaussian_blur(&Image::new(1, 28, 28, as_float).unwrap(), 3, 0.9).unwrap();
    let u = gaussian_blur(&img, 3, 0.9).unwrap();
    for (&a, &b) in u.data().iter().zip(f.data()) {
        assert_eq!(a, b.round_ties_even() as u8);
    }
}

#[test]
fn kernel_matches_the_closed_form() {
    // k = [e, 1, e] / (1 + 2e), e = exp(-1 / (2σ²)).
    for sigma in [0.1f32, 0.7, 2.0] {
        let e = (-0.5 / (sigma as f64 * sigma as f64)).exp();
        let want = [
            e / (1.0 + 2.0 * e),
            1.0 / (1.0 + 2.0 * e),
            e / (1.0 + 2.0 * e),
        ];
        let got: Vec<f64> = gaussian_kernel1d(3, sigma)
            .iter()
            .map(|&v| v as f64)
            .collect();
        assert_close("kernel", &got, &want, 1e-6, 1.0);
    }
}

#[test]
fn to_tensor_and_normalize_as_torchvision() {
    let img = Image::gray(1, 3, vec![0u8, 51, 255]).unwrap();
    let t = ToTensor.apply(img, &mut rng(0)).unwrap();
    assert_eq!(t.data(), &[0.0, 0.2, 1.0]);
    let n = Normalize::new(&[0.5], &[0.5])
        .unwrap()
        .apply(t, &mut rng(0))
        .unwrap();
    assert_eq!(n.data(), &[-1.0, (0.2f32 - 0.5) / 0.5, 1.0]);
    // Per-channel statistics.
    let rgb = Image::new(2, 1, 1, vec![1.0f32, 1.0]).unwrap();
    let n = Normalize::new(&[0.0, 0.5], &[1.0, 0.25])
        .unwrap()
        .apply(rgb, &mut rng(0))
        .unwrap();
    assert_eq!(n.data(), &[1.0, 2.0]);
}

#[test]
fn random_resized_crop_is_seeded_and_keeps_the_size() {
    let img = golden_u8("resized_crop_0", "img");
    let t = RandomResizedCrop::new(28).unwrap();
    let a = t.apply(img.clone(), &mut rng(5)).unwrap();
    let b = t.apply(img.clone(), &mut rng(5)).unwrap();
    let c = t.apply(img.clone(), &mut rng(6)).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(a.shape(), [1, 28, 28]);
    // A non-square output and a float image.
    let f = ToTensor.apply(img, &mut rng(0)).unwrap();
    let r = RandomResizedCrop::with_size(10, 14)
        .unwrap()
        .apply(f, &mut rng(1))
        .unwrap();
    assert_eq!(r.shape(), [1, 10, 14]);
    assert!(r.data().iter().all(|&v| (0.0..=1.0).contains(&v)));
    assert!(RandomResizedCrop::new(0).is_err());
    assert!(RandomResizedCrop::new(28).unwrap().ratio(2.0, 1.0).is_err());
    assert!(RandomResizedCrop::new(28)
        .unwrap()
        .scale(-0.1, 1.0)
        .is_err());
}

#[test]
fn random_crop_sigma_draws_stay_in_range() {
    let blur = GaussianBlur::new(3).unwrap();
    let mut r = rng(9);
    let sigmas: Vec<f32> = (0..1000).map(|_| blur.get_sigma(&mut r)).collect();
    assert!(sigmas.iter().all(|&s| (0.1..=2.0).contains(&s)));
    let mean = sigmas.iter().sum::<f32>() / 1000.0;
    assert!((mean - 1.05).abs() < 0.05, "{mean}");
    assert!(GaussianBlur::new(4).is_err());
    assert!(GaussianBlur::new(3).unwrap().sigma(0.0, 1.0).is_err());
}

#[test]
fn multi_views_are_independent_and_seeded() {
    let img = golden_u8("resized_crop_0", "img");
    let views = MultiViews::new(mnist_contrast_transforms().unwrap(), 2).unwrap();
    let Views(a) = views.apply(img.clone(), &mut rng(1)).unwrap();
    let Views(b) = views.apply(img.clone(), &mut rng(1)).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.len(), 2);
    assert_ne!(a[0], a[1]);
    for v in &a {
        assert_eq!(v.shape(), [1, 28, 28]);
        assert!(v.data().iter().all(|&x| (-1.0..=1.0).contains(&x)));
    }
    assert!(MultiViews::new(ToTensor, 0).is_err());
    // The probing transform is deterministic and exact: (v/255 − 0.5)/0.5.
    let s = mnist_scale_transforms()
        .unwrap()
        .apply(img.clone(), &mut rng(0))
        .unwrap();
    for (&x, &p) in s.data().iter().zip(img.data()) {
        assert_eq!(x, (p as f32 / 255.0 - 0.5) / 0.5);
    }
}

#[test]
fn tabular_transforms_as_the_seed() {
    // Masking keeps about (1 − p) of the features.
    let mask = RandomMask::new(0.8).unwrap();
    let x = vec![1.0f32; 10_000];
    let kept = mask
        .apply(x, &mut rng(2))
        .unwrap()
        .iter()
        .filter(|&&v| v == 1.0)
        .count();
    assert!((kept as f64 / 10_000.0 - 0.2).abs() < 0.02, "{kept}");
    // Noise: all-or-nothing, std 0.5 when applied.
    let noise = GaussianNoise::new(0.5).unwrap();
    let mut applied = 0;
    for seed in 0..400 {
        let y = noise.apply(vec![0.0f64; 2000], &mut rng(seed)).unwrap();
        if y.iter().any(|&v| v != 0.0) {
            applied += 1;
            let var = y.iter().map(|v| v * v).sum::<f64>() / 2000.0;
            assert!((var.sqrt() - 0.5).abs() < 0.05, "std {}", var.sqrt());
        }
    }
    assert!((applied as f64 / 400.0 - 0.5).abs() < 0.1, "{applied}");
    // The seed's chain: flatten → mask → noise, two views.
    let chain = nidl::datasets::transforms::FlattenSample
        .then(mask)
        .then(noise);
    let views = MultiViews::new(chain, 2).unwrap();
    let Views(v) = views.apply(vec![1.0f32; 284], &mut rng(3)).unwrap();
    assert_eq!(v.len(), 2);
    assert_ne!(v[0], v[1]);
}
