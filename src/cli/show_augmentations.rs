//! `nidl show-augmentations --out views.png [--n 8] [--seed N] [--data-dir data/mnist]`: a PNG
//! grid with one row per MNIST test image — the original, then the two SimCLR views the loader
//! gives it (crop + blur + normalise, mapped back to grey levels) — upscaled so a person can see
//! them, as the seed's figure shows.

use super::options::MnistArgs;
use super::stdout::outln;
use super::values::whole;
use nidl::atomic_file::write_atomic_with;
use nidl::datasets::loader::Loader;
use nidl::datasets::mnist::{self, Mnist, MnistSplit};
use nidl::datasets::transforms::{mnist_contrast_transforms, MultiViews};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Pixels per MNIST pixel in the picture.
const SCALE: usize = 4;
/// Grey border around and between the tiles, in picture pixels.
const GAP: usize = 6;
/// Grey level of the border (the digits are white on black).
const GAP_GREY: u8 = 128;
/// Columns: the original and two views.
const COLUMNS: usize = 3;

/// The options of `nidl show-augmentations`.
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// The PNG file to write
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// MNIST test images, one row each
    #[arg(long, value_name = "N", value_parser = whole(1usize), default_value_t = 8)]
    n: usize,
    /// Seed of the views
    #[arg(long, value_name = "N", value_parser = whole(0u64), default_value_t = 42)]
    seed: u64,
    /// The data options.
    #[command(flatten)]
    data: MnistArgs,
}

/// Runs `nidl show-augmentations`; `Err` is the one-line cause.
pub fn run(args: Args) -> Result<(), String> {
    let Args { out, n, seed, data } = args;
    let data_dir = data.data_dir.unwrap_or_else(mnist::default_dir);
    let mnist = Arc::new(Mnist::load(&data_dir, MnistSplit::Test).map_err(|e| e.to_string())?);
    if n > mnist.len() {
        return Err(format!(
            "option --n: {n} images asked, the test set has {}",
            mnist.len()
        ));
    }
    let (rows, cols) = (mnist.rows(), mnist.cols());
    let views = MultiViews::new(mnist_contrast_transforms().map_err(|e| e.to_string())?, 2)
        .map_err(|e| e.to_string())?;
    // The first n test images in order, views from the loader's streams (epoch 0).
    let loader = Loader::new(Arc::clone(&mnist), views, n)
        .map_err(|e| e.to_string())?
        .seed(seed);
    let batch = loader.batch(0, 0).map_err(|e| e.to_string())?;

    let tile_w = cols * SCALE;
    let tile_h = rows * SCALE;
    let width = COLUMNS * tile_w + (COLUMNS + 1) * GAP;
    let height = n * tile_h + (n + 1) * GAP;
    let mut canvas = vec![GAP_GREY; width * height];
    let px = rows * cols;
    let views = batch.views.data().map_err(|e| e.to_string())?;
    for (r, &index) in batch.indices.iter().enumerate() {
        let original = mnist
            .image(index)
            .ok_or_else(|| format!("image {index} missing from {}", data_dir.display()))?;
        let view = |v: usize| -> Vec<u8> {
            let start = (v * n + r) * px;
            views[start..start + px]
                .iter()
                // Undo Normalize(0.5, 0.5) and ToTensor: x·0.5 + 0.5 in [0, 1], times 255.
                .map(|&x| ((x * 0.5 + 0.5) * 255.0).round().clamp(0.0, 255.0) as u8)
                .collect()
        };
        let tiles = [original.to_vec(), view(0), view(1)];
        for (c, tile) in tiles.iter().enumerate() {
            let (x0, y0) = (GAP + c * (tile_w + GAP), GAP + r * (tile_h + GAP));
            for y in 0..tile_h {
                let src = &tile[(y / SCALE) * cols..(y / SCALE + 1) * cols];
                let dst = &mut canvas[(y0 + y) * width + x0..(y0 + y) * width + x0 + tile_w];
                for (x, d) in dst.iter_mut().enumerate() {
                    *d = src[x / SCALE];
                }
            }
        }
    }
    write_png_atomically(&out, width, height, &canvas)?;
    outln!(
        "wrote {} ({width}×{height}): {n} MNIST test images, original + 2 SimCLR views each, seed {seed}",
        out.display()
    );
    Ok(())
}

/// Writes an 8-bit grey PNG to `path`, atomically ([`write_atomic_with`]).
fn write_png_atomically(
    path: &Path,
    width: usize,
    height: usize,
    grey: &[u8],
) -> Result<(), String> {
    if path.file_name().is_none() {
        return Err(format!(
            "option --out: '{}' is not a file path",
            path.display()
        ));
    }
    write_atomic_with(path, |out| {
        let (w, h) = (
            u32::try_from(width).map_err(io::Error::other)?,
            u32::try_from(height).map_err(io::Error::other)?,
        );
        let mut enc = png::Encoder::new(out, w, h);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(io::Error::other)?;
        writer.write_image_data(grey).map_err(io::Error::other)?;
        writer.finish().map_err(io::Error::other)
    })
    .map_err(|e| e.to_string())
}
