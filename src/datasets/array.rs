//! In-memory data sets of `N` samples from arrays: feature vectors (`N × D`) or images
//! (`N × C × H × W`), each with `K` label columns — read from `.npy` files or built from tensors.
//!
//! - [`FeatureArray`]: samples are `Vec<f32>` of `D` features. From `.npy`, any dtype the reader
//!   supports (`<f4`, `<f8`, `<i8`, `<i4`, `|u1`) converts to `f32` (integers only where exact).
//! - [`ImageArray`]: samples are [`Image<f32>`] of `C × H × W` pixels; an `N × H × W` array is
//!   `C = 1`. `|u1` pixels are kept as bytes and scaled to `[0, 1]` when a sample is read (as
//!   torchvision's `ToTensor`: `v / 255`); `<f4` / `<f8` pixels are used as they are.
//! - Labels: an array of shape `N` (one column) or `N × K`, any dtype, as `f64`
//!   ([`LabelMatrix`]); every sample's label is the `Vec<f64>` of the selected columns
//!   ([`FeatureArray::select_labels`]: a probe on column `k`, y-Aware's auxiliary variable).
//! - [`ArrayDataset::from_npy`] picks the kind from the rank of the samples' array.
//!
//! Errors, each naming the file and the shapes: sample and label counts that differ, a rank that
//! does not fit, an empty array, a NaN or infinite value (with its sample and position).
//!
//! ```
//! use nidl::datasets::array::FeatureArray;
//! use nidl::datasets::loader::Dataset;
//! use nidl::tensor::Tensor;
//!
//! # fn main() -> nidl::Result<()> {
//! let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2])?;
//! let y = Tensor::from_vec(vec![30.0, 0.0, 41.0, 1.0, 52.0, 1.0], &[3, 2])?; // age, sex
//! let set = FeatureArray::new(&x, &y)?;
//! assert_eq!(set.get(1)?, (vec![3.0, 4.0], vec![41.0, 1.0]));
//! let sex = set.select_labels(&[1])?;
//! assert_eq!(sex.get(2)?.1, vec![1.0]);
//! # Ok(())
//! # }
//! ```

use super::labels::LabelMatrix;
use super::loader::Dataset;
use super::npy::{read_npy, NpyArray, NpyData};
use super::transforms::Image;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::path::Path;
use std::sync::Arc;

/// `N` feature vectors of `D` values with their labels.
#[derive(Clone, Debug)]
pub struct FeatureArray {
    /// `n × d` values, row-major.
    x: Arc<[f32]>,
    n: usize,
    d: usize,
    labels: LabelMatrix,
}

impl FeatureArray {
    /// Features `x` of shape `[N, D]` and labels of shape `[N]` or `[N, K]`: every value finite,
    /// `N ≥ 1`, `D ≥ 1`.
    pub fn new(x: &Tensor<f32>, labels: &Tensor<f64>) -> Result<Self> {
        let labels = LabelMatrix::from_tensor(labels)?;
        Self::from_parts(x.to_vec()?, x.shape(), labels)
            .map_err(|m| Error::invalid("FeatureArray::new", m))
    }

    /// Reads features from the `.npy` file `x_path` (shape `N × D`) and labels from `y_path`
    /// (shape `N` or `N × K`).
    pub fn from_npy(x_path: impl AsRef<Path>, y_path: impl AsRef<Path>) -> Result<Self> {
        let x_path = x_path.as_ref();
        let x = read_npy(x_path)?;
        let labels = read_labels(y_path.as_ref(), x_path, &x.shape)?;
        from_npy_features(x, x_path, labels)
    }

    /// Checks `[N, D]` finite features against `labels`; the message names the shapes.
    pub(crate) fn from_parts(
        x: Vec<f32>,
        shape: &[usize],
        labels: LabelMatrix,
    ) -> Result<Self, String> {
        let &[n, d] = shape else {
            return Err(format!(
                "expected features of shape [N, D], got shape {shape:?}"
            ));
        };
        check_samples(n, d, shape, labels.len())?;
        check_finite(&x, d, shape)?;
        Ok(FeatureArray {
            x: x.into(),
            n,
            d,
            labels,
        })
    }

    /// The same samples with `columns` of the current labels, in that order (see
    /// [`LabelMatrix::select`]).
    pub fn select_labels(&self, columns: &[usize]) -> Result<Self> {
        Ok(FeatureArray {
            labels: self.labels.select(columns)?,
            ..self.clone()
        })
    }

    /// Features per sample `D`.
    pub fn n_features(&self) -> usize {
        self.d
    }

    /// All features, `N × D` row-major.
    pub fn features(&self) -> &[f32] {
        &self.x
    }

    /// The labels (with the current selection of columns).
    pub fn labels(&self) -> &LabelMatrix {
        &self.labels
    }
}

impl Dataset for FeatureArray {
    /// The `D` features of one sample.
    type Sample = Vec<f32>;
    /// The selected label columns of the sample.
    type Label = Vec<f64>;

    fn len(&self) -> usize {
        self.n
    }

    fn get(&self, index: usize) -> Result<(Vec<f32>, Vec<f64>)> {
        let label = self.labels.row_for("FeatureArray::get", index)?;
        Ok((self.x[index * self.d..(index + 1) * self.d].to_vec(), label))
    }
}

/// The pixels of an [`ImageArray`], as stored.
#[derive(Clone, Debug)]
enum Pixels {
    /// Grey levels `0..=255`, scaled to `[0, 1]` when read.
    U8(Arc<[u8]>),
    /// Values used as they are.
    F32(Arc<[f32]>),
}

/// `N` images of `C × H × W` pixels with their labels.
#[derive(Clone, Debug)]
pub struct ImageArray {
    pixels: Pixels,
    n: usize,
    shape: [usize; 3],
    labels: LabelMatrix,
}

impl ImageArray {
    /// Images of shape `[N, C, H, W]` (or `[N, H, W]`, one channel) and labels of shape `[N]` or
    /// `[N, K]`: every value finite, no axis empty.
    pub fn new(x: &Tensor<f32>, labels: &Tensor<f64>) -> Result<Self> {
        let labels = LabelMatrix::from_tensor(labels)?;
        Self::from_parts(Pixels::F32(x.to_vec()?.into()), x.shape(), labels)
            .map_err(|m| Error::invalid("ImageArray::new", m))
    }

    /// 8-bit images (`pixels` row-major of shape `[N, C, H, W]` or `[N, H, W]`), scaled to
    /// `[0, 1]` when read, and labels of shape `[N]` or `[N, K]`.
    pub fn from_u8(pixels: Vec<u8>, shape: &[usize], labels: &Tensor<f64>) -> Result<Self> {
        if shape.iter().product::<usize>() != pixels.len() {
            return Err(Error::shape(
                "ImageArray::from_u8",
                "as many pixels as the shape holds",
                &[shape, &[pixels.len()]],
            ));
        }
        let labels = LabelMatrix::from_tensor(labels)?;
        Self::from_parts(Pixels::U8(pixels.into()), shape, labels)
            .map_err(|m| Error::invalid("ImageArray::from_u8", m))
    }

    /// Reads images from the `.npy` file `x_path` (`|u1`, `<f4` or `<f8`; shape `N × C × H × W`
    /// or `N × H × W`) and labels from `y_path` (shape `N` or `N × K`).
    pub fn from_npy(x_path: impl AsRef<Path>, y_path: impl AsRef<Path>) -> Result<Self> {
        let x_path = x_path.as_ref();
        let x = read_npy(x_path)?;
        let labels = read_labels(y_path.as_ref(), x_path, &x.shape)?;
        from_npy_images(x, x_path, labels)
    }

    /// Checks the image shape and finite pixels against `labels`.
    fn from_parts(pixels: Pixels, shape: &[usize], labels: LabelMatrix) -> Result<Self, String> {
        let (n, image) = match *shape {
            [n, h, w] => (n, [1, h, w]),
            [n, c, h, w] => (n, [c, h, w]),
            _ => {
                return Err(format!(
                    "expected images of shape [N, C, H, W] or [N, H, W], got shape {shape:?}"
                ))
            }
        };
        let per_image: usize = image.iter().product();
        if image.contains(&0) {
            return Err(format!(
                "expected images of at least 1 × 1 × 1 pixels, got shape {shape:?}"
            ));
        }
        check_samples(n, per_image, shape, labels.len())?;
        if let Pixels::F32(v) = &pixels {
            check_finite(v, per_image, shape)?;
        }
        Ok(ImageArray {
            pixels,
            n,
            shape: image,
            labels,
        })
    }

    /// The same images with `columns` of the current labels, in that order (see
    /// [`LabelMatrix::select`]).
    pub fn select_labels(&self, columns: &[usize]) -> Result<Self> {
        Ok(ImageArray {
            labels: self.labels.select(columns)?,
            ..self.clone()
        })
    }

    /// One image's shape `[C, H, W]`.
    pub fn image_shape(&self) -> [usize; 3] {
        self.shape
    }

    /// True when the pixels are stored as bytes (scaled to `[0, 1]` when read).
    pub fn is_u8(&self) -> bool {
        matches!(self.pixels, Pixels::U8(_))
    }

    /// The labels (with the current selection of columns).
    pub fn labels(&self) -> &LabelMatrix {
        &self.labels
    }
}

impl Dataset for ImageArray {
    /// One image, `f32` (bytes scaled by 1/255).
    type Sample = Image<f32>;
    /// The selected label columns of the image.
    type Label = Vec<f64>;

    fn len(&self) -> usize {
        self.n
    }

    fn get(&self, index: usize) -> Result<(Image<f32>, Vec<f64>)> {
        let label = self.labels.row_for("ImageArray::get", index)?;
        let [c, h, w] = self.shape;
        let span = index * c * h * w..(index + 1) * c * h * w;
        let data = match &self.pixels {
            Pixels::U8(v) => v[span].iter().map(|&p| p as f32 / 255.0).collect(),
            Pixels::F32(v) => v[span].to_vec(),
        };
        Ok((Image::new(c, h, w, data)?, label))
    }
}

/// A data set read from `.npy` files, its kind chosen by the rank of the samples' array.
#[derive(Clone, Debug)]
pub enum ArrayDataset {
    /// Rank 2: `N × D` feature vectors.
    Features(FeatureArray),
    /// Rank 3 or 4: `N × H × W` or `N × C × H × W` images.
    Images(ImageArray),
}

impl ArrayDataset {
    /// Reads samples from `x_path` (rank 2: features; rank 3 or 4: images) and labels from
    /// `y_path`; see [`FeatureArray::from_npy`] and [`ImageArray::from_npy`].
    pub fn from_npy(x_path: impl AsRef<Path>, y_path: impl AsRef<Path>) -> Result<Self> {
        let x_path = x_path.as_ref();
        let x = read_npy(x_path)?;
        let labels = read_labels(y_path.as_ref(), x_path, &x.shape)?;
        match x.shape.len() {
            2 => from_npy_features(x, x_path, labels).map(ArrayDataset::Features),
            3 | 4 => from_npy_images(x, x_path, labels).map(ArrayDataset::Images),
            _ => Err(Error::format(
                x_path,
                format!(
                    "expected features [N, D] or images [N, H, W] / [N, C, H, W], got shape {:?}",
                    x.shape
                ),
            )),
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        match self {
            ArrayDataset::Features(d) => d.len(),
            ArrayDataset::Images(d) => d.len(),
        }
    }

    /// True without samples (never, for a data set read successfully).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The shape of one sample: `[D]` or `[C, H, W]`.
    pub fn sample_shape(&self) -> Vec<usize> {
        match self {
            ArrayDataset::Features(d) => vec![d.n_features()],
            ArrayDataset::Images(d) => d.image_shape().to_vec(),
        }
    }

    /// The labels (with the current selection of columns).
    pub fn labels(&self) -> &LabelMatrix {
        match self {
            ArrayDataset::Features(d) => d.labels(),
            ArrayDataset::Images(d) => d.labels(),
        }
    }

    /// The same samples with `columns` of the current labels (see [`LabelMatrix::select`]).
    pub fn select_labels(&self, columns: &[usize]) -> Result<Self> {
        Ok(match self {
            ArrayDataset::Features(d) => ArrayDataset::Features(d.select_labels(columns)?),
            ArrayDataset::Images(d) => ArrayDataset::Images(d.select_labels(columns)?),
        })
    }
}

/// `FeatureArray::from_parts` on a read array, errors naming `path`.
fn from_npy_features(x: NpyArray, path: &Path, labels: LabelMatrix) -> Result<FeatureArray> {
    let values = x
        .to_tensor::<f32>()
        .map_err(|e| Error::format(path, format!("features of shape {:?}: {e}", x.shape)))?
        .into_vec()?;
    FeatureArray::from_parts(values, &x.shape, labels).map_err(|m| Error::format(path, m))
}

/// `ImageArray::from_parts` on a read array (`|u1`, `<f4` or `<f8`), errors naming `path`.
fn from_npy_images(x: NpyArray, path: &Path, labels: LabelMatrix) -> Result<ImageArray> {
    let dtype = x.dtype();
    let pixels = match x.data {
        NpyData::U8(v) => Pixels::U8(v.into()),
        NpyData::F32(v) => Pixels::F32(v.into()),
        NpyData::F64(v) => Pixels::F32(v.iter().map(|&p| p as f32).collect()),
        NpyData::I32(_) | NpyData::I64(_) => {
            return Err(Error::format(
                path,
                format!(
                    "images of shape {:?} are {}: expected |u1 (0..=255, scaled to [0, 1]) or a \
                     float dtype (<f4, <f8)",
                    x.shape, dtype
                ),
            ))
        }
    };
    ImageArray::from_parts(pixels, &x.shape, labels).map_err(|m| Error::format(path, m))
}

/// Reads the labels at `path` (shape `[N]` or `[N, K]`, any dtype) for the samples of
/// `x_path`, shaped `x_shape`: their counts must agree.
fn read_labels(path: &Path, x_path: &Path, x_shape: &[usize]) -> Result<LabelMatrix> {
    let y = read_npy(path)?;
    let (n, k) = match *y.shape {
        [n] => (n, 1),
        [n, k] => (n, k),
        _ => {
            return Err(Error::format(
                path,
                format!(
                    "expected labels of shape [N] or [N, K], got shape {:?}",
                    y.shape
                ),
            ))
        }
    };
    if let Some(&nx) = x_shape.first() {
        if nx != n {
            return Err(Error::format(
                path,
                format!(
                    "{n} labels (shape {:?}) for {nx} samples in {} (shape {x_shape:?})",
                    y.shape,
                    x_path.display()
                ),
            ));
        }
    }
    let values = y
        .to_tensor::<f64>()
        .map_err(|e| Error::format(path, format!("labels of shape {:?}: {e}", y.shape)))?
        .into_vec()?;
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::format(
            path,
            format!(
                "label of sample {}, column {} is {} (labels of shape {:?})",
                i / k.max(1),
                i % k.max(1),
                values[i],
                y.shape
            ),
        ));
    }
    LabelMatrix::from_checked(values, n, k)
}

/// `n ≥ 1` samples of `per_sample ≥ 1` values, and as many labels.
fn check_samples(
    n: usize,
    per_sample: usize,
    shape: &[usize],
    n_labels: usize,
) -> Result<(), String> {
    if n == 0 || per_sample == 0 {
        return Err(format!(
            "expected at least one sample of at least one value, got shape {shape:?}"
        ));
    }
    if n_labels != n {
        return Err(format!(
            "{n} samples (shape {shape:?}) but {n_labels} labels"
        ));
    }
    Ok(())
}

/// Every value finite; the message names the first that is not, by sample and position.
fn check_finite(values: &[f32], per_sample: usize, shape: &[usize]) -> Result<(), String> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(format!(
            "sample {}, value {} is {} (shape {shape:?}); every value must be finite",
            i / per_sample,
            i % per_sample,
            values[i]
        )),
    }
}
