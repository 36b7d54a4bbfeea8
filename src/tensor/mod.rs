//! Dense, row-major, contiguous tensors of `f32` or `f64`, and the ops that compute on them.
//!
//! Layout: a shape (`Vec<usize>`) and `shape.iter().product()` elements, last axis fastest.
//! Every method that combines tensors checks shapes and returns [`Error::Shape`] naming the op
//! and the shapes; the kernels below that boundary assume checked input.
//!
//! The boundary, top to bottom: the [`Tensor`] methods (checks, then an op descriptor of
//! `backend/op.rs`) → `storage.rs` (one `match` per op on where the operands live) → the
//! backend trait of `backend/`, implemented by the CPU kernels in `cpu/` and, with the `gpu`
//! feature, by the GPU kernels of the `gpu` module. Every op returns `Result`: a device failure (out of memory,
//! a tensor past the device's limits) is an [`Error::Device`] naming the op and the size.
//! Host access to device elements is explicit: [`Tensor::to_vec`], [`Tensor::host_values`]
//! and [`Tensor::to_device`] read back, [`Tensor::data`] only reads host tensors.

pub(crate) mod conv;
mod cpu;
mod elementwise;
mod fused;
mod optim;
mod pool;
mod reduce;
mod rows;
mod storage;
mod upsample;

pub use crate::backend::op::{BinaryOp, Conv2dGeometry, UnaryOp};
pub use crate::backend::{Element, Lanes};
pub use cpu::gemm;
pub use storage::Device;

use crate::backend::op::{AxisSplit, GemmDims};
use storage::Storage;

use crate::error::{Error, Result};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal, Uniform};
use rayon::prelude::*;
use std::borrow::Cow;

/// A dense row-major tensor on a [`Device`].
///
/// Equality compares shapes and values for host tensors; device tensors are equal only to
/// clones sharing their buffer (read them back with [`Tensor::to_vec`] to compare values).
#[derive(Clone, Debug)]
pub struct Tensor<T: Element> {
    shape: Vec<usize>,
    storage: Storage<T>,
}

impl<T: Element> PartialEq for Tensor<T> {
    fn eq(&self, other: &Self) -> bool {
        self.shape == other.shape && self.storage.same_values(&other.storage)
    }
}

impl<T: Element> Tensor<T> {
    /// A tensor from its elements in row-major order; errors if `data.len()` ≠ the shape's size.
    pub fn from_vec(data: Vec<T>, shape: &[usize]) -> Result<Self> {
        let n: usize = shape.iter().product();
        if n != data.len() {
            return Err(Error::shape(
                "Tensor::from_vec",
                format!("{n} elements for the shape"),
                &[shape, &[data.len()]],
            ));
        }
        Ok(Tensor::wrap(Storage::host(data), shape))
    }

    /// A tensor around storage a backend computed for `shape` (lengths agree by construction).
    fn wrap(storage: Storage<T>, shape: &[usize]) -> Self {
        debug_assert_eq!(storage.len(), shape.iter().product::<usize>());
        Tensor {
            shape: shape.to_vec(),
            storage,
        }
    }

    /// The storage, for the op files of this module.
    fn storage(&self) -> &Storage<T> {
        &self.storage
    }

    /// The storage, mutably.
    fn storage_mut(&mut self) -> &mut Storage<T> {
        &mut self.storage
    }

    /// The storage, by value.
    fn into_storage(self) -> Storage<T> {
        self.storage
    }

    /// Every element equal to `value`, in host memory.
    pub fn full(shape: &[usize], value: T) -> Self {
        Tensor::wrap(Storage::host(vec![value; shape.iter().product()]), shape)
    }

    /// All zeros, in host memory.
    pub fn zeros(shape: &[usize]) -> Self {
        Self::full(shape, T::ZERO)
    }

    /// All ones, in host memory.
    pub fn ones(shape: &[usize]) -> Self {
        Self::full(shape, T::ONE)
    }

    /// A 0-dimensional host tensor holding `value`.
    pub fn scalar(value: T) -> Self {
        Self::full(&[], value)
    }

    /// Elements drawn uniformly from `[low, high)` with `rng` (row-major order, so a seeded
    /// generator gives the same tensor on every machine).
    pub fn rand_uniform<R: Rng + ?Sized>(
        shape: &[usize],
        low: f64,
        high: f64,
        rng: &mut R,
    ) -> Self {
        let dist = Uniform::new(low, high);
        let data = (0..shape.iter().product::<usize>())
            .map(|_| T::from_f64(dist.sample(rng)))
            .collect();
        Tensor::wrap(Storage::host(data), shape)
    }

    /// Elements drawn from N(mean, std²) with `rng`, in row-major order.
    pub fn rand_normal<R: Rng + ?Sized>(shape: &[usize], mean: f64, std: f64, rng: &mut R) -> Self {
        let data = (0..shape.iter().product::<usize>())
            .map(|_| {
                let z: f64 = StandardNormal.sample(rng);
                T::from_f64(mean + std * z)
            })
            .collect();
        Tensor::wrap(Storage::host(data), shape)
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when the tensor holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements of a host tensor in row-major order.
    ///
    /// Errors: [`Error::Device`] for a tensor on the GPU (read it with [`Tensor::to_vec`] or
    /// move it with [`Tensor::to_device`]).
    pub fn data(&self) -> Result<&[T]> {
        self.storage.host_slice("Tensor::data")
    }

    /// The elements of a host tensor in row-major order, mutably.
    ///
    /// Errors: [`Error::Device`] for a tensor on the GPU.
    pub fn data_mut(&mut self) -> Result<&mut [T]> {
        self.storage.host_slice_mut("Tensor::data_mut")
    }

    /// The elements in host memory: borrowed from a host tensor, read back from a device.
    pub fn host_values(&self) -> Result<Cow<'_, [T]>> {
        match &self.storage {
            Storage::Cpu(c) => Ok(Cow::Borrowed(c.as_slice())),
            Storage::Gpu(_) => Ok(Cow::Owned(self.to_vec()?)),
        }
    }

    /// The elements copied into a vector, read back from the device where they are on one.
    pub fn to_vec(&self) -> Result<Vec<T>> {
        self.storage.to_host()
    }

    /// Consumes the tensor, returning its elements (read back from the device where needed).
    pub fn into_vec(self) -> Result<Vec<T>> {
        self.storage.into_host()
    }

    /// Where the elements are.
    pub fn device(&self) -> Device {
        self.storage.device()
    }

    /// The same tensor on `device` (a clone when it is already there).
    ///
    /// Errors: [`Error::Device`] for [`Device::Gpu`] in a build without the `gpu` feature, when
    /// no GPU adapter can be opened, for an element type the device does not compute in (the
    /// GPU: f32 only), or when the device cannot hold or return the elements.
    pub fn to_device(&self, device: Device) -> Result<Self> {
        Ok(Tensor::wrap(self.storage.to_device(device)?, &self.shape))
    }

    /// Zeros of `shape` on the same device as `self` (on the GPU, cleared there: nothing is
    /// uploaded).
    pub fn zeros_like_on(&self, shape: &[usize]) -> Result<Self> {
        Ok(Tensor::wrap(
            self.storage.zeros(shape.iter().product())?,
            shape,
        ))
    }

    /// The single element of a one-element tensor (read back from the device where needed).
    pub fn item(&self) -> Result<T> {
        if self.len() != 1 {
            return Err(Error::shape(
                "Tensor::item",
                "exactly one element",
                &[&self.shape],
            ));
        }
        Ok(self.to_vec()?[0])
    }

    /// The same host tensor converted element by element to another precision.
    ///
    /// Errors: [`Error::Device`] for a tensor on the GPU.
    pub fn cast<U: Element>(&self) -> Result<Tensor<U>> {
        let data = self.storage.host_slice("Tensor::cast")?;
        let data = data.iter().map(|v| U::from_f64(v.to_f64())).collect();
        Ok(Tensor::wrap(Storage::host(data), &self.shape))
    }

    /// `(rows, cols)` of a 2-D tensor, or a shape error naming `op`.
    pub fn dims2(&self, op: &'static str) -> Result<(usize, usize)> {
        match self.shape.as_slice() {
            &[r, c] => Ok((r, c)),
            _ => Err(Error::shape(op, "a 2-D tensor", &[&self.shape])),
        }
    }

    /// The same elements under a new shape of equal size (no copy; device buffers are shared).
    pub fn reshape(&self, shape: &[usize]) -> Result<Self> {
        if shape.iter().product::<usize>() != self.len() {
            return Err(Error::shape(
                "reshape",
                "the same number of elements",
                &[&self.shape, shape],
            ));
        }
        Ok(Tensor::wrap(self.storage.clone(), shape))
    }

    /// Transpose of a 2-D tensor.
    pub fn transpose(&self) -> Result<Self> {
        let (r, c) = self.dims2("transpose")?;
        Ok(Tensor::wrap(self.storage.transpose(r, c)?, &[c, r]))
    }

    /// The tensor seen as a 3-D block around `axis`, or the error naming `op`.
    fn around_axis(&self, op: &'static str, axis: usize) -> Result<AxisSplit> {
        if axis >= self.ndim() {
            return Err(Error::invalid(
                op,
                format!("axis {axis} out of range for shape {:?}", self.shape),
            ));
        }
        Ok(AxisSplit {
            outer: self.shape[..axis].iter().product(),
            len: self.shape[axis],
            inner: self.shape[axis + 1..].iter().product(),
        })
    }

    /// Concatenation along `axis`; all other axes must agree.
    pub fn concat(parts: &[&Tensor<T>], axis: usize) -> Result<Self> {
        let first = parts
            .first()
            .ok_or_else(|| Error::invalid("concat", "no tensors to concatenate"))?;
        let split = first.around_axis("concat", axis)?;
        let mut shape = first.shape.clone();
        shape[axis] = 0;
        for p in parts {
            let same_rank = p.ndim() == first.ndim();
            let others_agree = same_rank
                && p.shape
                    .iter()
                    .zip(&first.shape)
                    .enumerate()
                    .all(|(i, (a, b))| i == axis || a == b);
            if !others_agree {
                let shapes: Vec<&[usize]> = parts.iter().map(|t| t.shape()).collect();
                return Err(Error::shape(
                    "concat",
                    format!("equal shapes except axis {axis}"),
                    &shapes,
                ));
            }
            shape[axis] += p.shape[axis];
        }
        let lens: Vec<usize> = parts.iter().map(|p| p.shape[axis]).collect();
        let storages: Vec<&Storage<T>> = parts.iter().map(|p| &p.storage).collect();
        let storage = Storage::concat(&storages, split.outer, &lens, split.inner)?;
        Ok(Tensor::wrap(storage, &shape))
    }

    /// The sub-tensor `start..end` along `axis`.
    pub fn slice(&self, axis: usize, start: usize, end: usize) -> Result<Self> {
        let split = self.around_axis("slice", axis)?;
        if start > end || end > split.len {
            return Err(Error::invalid(
                "slice",
                format!(
                    "range {start}..{end} out of bounds for axis {axis} of shape {:?}",
                    self.shape
                ),
            ));
        }
        let mut shape = self.shape.clone();
        shape[axis] = end - start;
        Ok(Tensor::wrap(self.storage.slice(split, start, end)?, &shape))
    }

    /// Rows `indices` of a tensor seen as `[shape[0], rest]` (row gather).
    pub fn gather_rows(&self, indices: &[usize]) -> Result<Self> {
        let Some(&rows) = self.shape.first() else {
            return Err(Error::shape(
                "gather_rows",
                "at least 1 axis",
                &[&self.shape],
            ));
        };
        let inner: usize = self.shape[1..].iter().product();
        if let Some(&i) = indices.iter().find(|&&i| i >= rows) {
            return Err(Error::invalid(
                "gather_rows",
                format!("row index {i} out of range for shape {:?}", self.shape),
            ));
        }
        let mut shape = self.shape.clone();
        shape[0] = indices.len();
        Ok(Tensor::wrap(
            self.storage.gather_rows(indices, inner)?,
            &shape,
        ))
    }

    /// Matrix product `op(self) · op(rhs)` of 2-D tensors, `op` transposing when asked.
    pub fn matmul(&self, rhs: &Tensor<T>, trans_a: bool, trans_b: bool) -> Result<Self> {
        let (ar, ac) = self.dims2("matmul")?;
        let (br, bc) = rhs.dims2("matmul")?;
        let (m, k) = if trans_a { (ac, ar) } else { (ar, ac) };
        let (k2, n) = if trans_b { (bc, br) } else { (br, bc) };
        if k != k2 {
            return Err(Error::shape(
                "matmul",
                "inner dimensions equal",
                &[&self.shape, &rhs.shape],
            ));
        }
        let d = GemmDims::single(m, n, k, trans_a, trans_b);
        Ok(Tensor::wrap(self.storage.matmul(&rhs.storage, d)?, &[m, n]))
    }

    /// True when every element is finite (read back from the device where needed).
    pub fn all_finite(&self) -> Result<bool> {
        let finite = |x: &[T]| {
            x.par_chunks(cpu::PAR_CHUNK)
                .all(|c| c.iter().all(|v| v.is_finite()))
        };
        Ok(finite(&self.host_values()?))
    }

    /// Errors naming `op` unless `other` has `self`'s shape.
    fn expect_same_shape(&self, op: &'static str, other: &Tensor<T>) -> Result<()> {
        if self.shape == other.shape {
            Ok(())
        } else {
            Err(Error::shape(
                op,
                "equal shapes",
                &[&self.shape, &other.shape],
            ))
        }
    }
}
