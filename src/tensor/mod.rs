//! Dense, row-major, contiguous tensors of `f32` or `f64`, and the kernels that compute on them.
//!
//! Layout: a shape (`Vec<usize>`) and a `Vec<T>` of `shape.iter().product()` elements, last axis
//! fastest. Every method that combines tensors checks shapes and returns [`Error::Shape`] naming
//! the op and the shapes; kernels below that boundary assume checked input.
//!
//! The methods of [`Tensor`] are the one dispatch boundary between the autograd tape and the
//! kernels: the tape and the layers call nothing else, so another backend can route them.
//!
//! On the GPU (feature `gpu`) the methods that cannot fail on the CPU (`map`, `scalar_op`,
//! `sum_all_tensor`, the fused backward kernels, [`add_assign`]) panic with the device's
//! message when the device itself fails (out of memory, device lost); the fallible methods
//! return it as [`Error::Device`].

pub mod conv;
mod element;
mod elementwise;
mod fused;
pub mod gemm;
pub mod pool;
mod reduce;
mod rows;
mod storage;

pub use element::{Element, Lanes};
pub use elementwise::{BinaryOp, UnaryOp};
pub use storage::Device;

use storage::Storage;

use crate::error::{Error, Result};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal, Uniform};
use rayon::prelude::*;

/// Elements per rayon task in elementwise and reduction kernels. Fixed, so the split (and any
/// reduction order) does not depend on the number of threads.
pub const PAR_CHUNK: usize = 1 << 15;

/// A dense row-major tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor<T: Element> {
    shape: Vec<usize>,
    data: Storage<T>,
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
        Ok(Tensor {
            shape: shape.to_vec(),
            data: Storage::Host(data),
        })
    }

    /// Every element equal to `value`.
    pub fn full(shape: &[usize], value: T) -> Self {
        Tensor {
            shape: shape.to_vec(),
            data: Storage::Host(vec![value; shape.iter().product()]),
        }
    }

    /// All zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self::full(shape, T::ZERO)
    }

    /// All ones.
    pub fn ones(shape: &[usize]) -> Self {
        Self::full(shape, T::ONE)
    }

    /// A 0-dimensional tensor holding `value`.
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
        Tensor {
            shape: shape.to_vec(),
            data: Storage::Host(data),
        }
    }

    /// Elements drawn from N(mean, std²) with `rng`, in row-major order.
    pub fn rand_normal<R: Rng + ?Sized>(shape: &[usize], mean: f64, std: f64, rng: &mut R) -> Self {
        let data = (0..shape.iter().product::<usize>())
            .map(|_| {
                let z: f64 = StandardNormal.sample(rng);
                T::from_f64(mean + std * z)
            })
            .collect();
        Tensor {
            shape: shape.to_vec(),
            data: Storage::Host(data),
        }
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

    /// The elements in row-major order. For a tensor on the GPU this reads the buffer back
    /// (once; the copy is kept until the tensor changes).
    pub fn data(&self) -> &[T] {
        &self.data
    }

    /// The elements in row-major order, mutably. A tensor on the GPU moves to the host first.
    pub fn data_mut(&mut self) -> &mut [T] {
        self.data.make_host()
    }

    /// Consumes the tensor, returning its elements (read back from the GPU if it is there).
    pub fn into_vec(self) -> Vec<T> {
        self.data.into_vec()
    }

    /// Where the elements are.
    pub fn device(&self) -> Device {
        self.data.device()
    }

    /// The same tensor on `device` (a clone when it is already there).
    ///
    /// Errors: [`Error::Device`] for [`Device::Gpu`] in a build without the `gpu` feature, when
    /// no GPU adapter can be opened, or for an element type other than f32.
    pub fn to_device(&self, device: Device) -> Result<Self> {
        if device == self.device() {
            return Ok(self.clone());
        }
        match device {
            Device::Cpu => Tensor::from_vec(self.data().to_vec(), &self.shape),
            #[cfg(feature = "gpu")]
            Device::Gpu => Ok(Tensor {
                shape: self.shape.clone(),
                data: Storage::gpu(crate::gpu::upload(self.data())?),
            }),
            #[cfg(not(feature = "gpu"))]
            Device::Gpu => Err(Error::Device(
                "this build has no GPU backend; rebuild with `--features gpu`".into(),
            )),
        }
    }

    /// Zeros of `shape` on the same device as `self` (on the GPU, cleared there: nothing is
    /// uploaded).
    pub fn zeros_like_on(&self, shape: &[usize]) -> Result<Self> {
        match self.device() {
            Device::Cpu => Ok(Tensor::zeros(shape)),
            #[cfg(feature = "gpu")]
            Device::Gpu => Ok(Tensor::from_gpu(
                crate::gpu::zeros(shape.iter().product())?,
                shape,
            )),
            #[cfg(not(feature = "gpu"))]
            Device::Gpu => Tensor::zeros(shape).to_device(Device::Gpu),
        }
    }

    /// A tensor around a device buffer a GPU kernel wrote.
    #[cfg(feature = "gpu")]
    pub(crate) fn from_gpu(buffer: crate::gpu::Buffer, shape: &[usize]) -> Self {
        debug_assert_eq!(buffer.len(), shape.iter().product::<usize>());
        Tensor {
            shape: shape.to_vec(),
            data: Storage::gpu(buffer),
        }
    }

    /// The device buffer holding the elements, uploading host elements first.
    #[cfg(feature = "gpu")]
    pub(crate) fn gpu_buffer(&self) -> Result<std::sync::Arc<crate::gpu::Buffer>> {
        match &self.data {
            Storage::Gpu { buffer, .. } => Ok(std::sync::Arc::clone(buffer)),
            Storage::Host(v) => Ok(std::sync::Arc::new(crate::gpu::upload(v)?)),
        }
    }

    /// The single element of a one-element tensor.
    pub fn item(&self) -> Result<T> {
        match self.data() {
            [v] => Ok(*v),
            _ => Err(Error::shape(
                "Tensor::item",
                "exactly one element",
                &[&self.shape],
            )),
        }
    }

    /// The same tensor converted element by element to another precision.
    pub fn cast<U: Element>(&self) -> Tensor<U> {
        Tensor {
            shape: self.shape.clone(),
            data: Storage::Host(self.data.iter().map(|v| U::from_f64(v.to_f64())).collect()),
        }
    }

    /// `(rows, cols)` of a 2-D tensor, or a shape error naming `op`.
    pub fn dims2(&self, op: &'static str) -> Result<(usize, usize)> {
        match self.shape.as_slice() {
            &[r, c] => Ok((r, c)),
            _ => Err(Error::shape(op, "a 2-D tensor", &[&self.shape])),
        }
    }

    /// The same elements under a new shape of equal size.
    pub fn reshape(&self, shape: &[usize]) -> Result<Self> {
        if shape.iter().product::<usize>() != self.len() {
            return Err(Error::shape(
                "reshape",
                "the same number of elements",
                &[&self.shape, shape],
            ));
        }
        Ok(Tensor {
            shape: shape.to_vec(),
            data: self.data.clone(),
        })
    }

    /// Reshapes in place (no copy); errors if sizes differ.
    pub fn reshape_in_place(&mut self, shape: &[usize]) -> Result<()> {
        if shape.iter().product::<usize>() != self.len() {
            return Err(Error::shape(
                "reshape",
                "the same number of elements",
                &[&self.shape, shape],
            ));
        }
        self.shape = shape.to_vec();
        Ok(())
    }

    /// Transpose of a 2-D tensor.
    pub fn transpose(&self) -> Result<Self> {
        let (r, c) = self.dims2("transpose")?;
        #[cfg(feature = "gpu")]
        if on_gpu(&[self]) {
            return crate::gpu::ops::transpose(self, r, c);
        }
        // Blocked so both the reads and the writes stay within a few cache lines per tile.
        const TILE: usize = 32;
        let mut out = vec![T::ZERO; r * c];
        for i0 in (0..r).step_by(TILE) {
            for j0 in (0..c).step_by(TILE) {
                for i in i0..(i0 + TILE).min(r) {
                    for j in j0..(j0 + TILE).min(c) {
                        out[j * r + i] = self.data[i * c + j];
                    }
                }
            }
        }
        Tensor::from_vec(out, &[c, r])
    }

    /// `(outer, axis_len, inner)` for an axis: the tensor seen as a 3-D block around it.
    fn around_axis(&self, op: &'static str, axis: usize) -> Result<(usize, usize, usize)> {
        if axis >= self.ndim() {
            return Err(Error::invalid(
                op,
                format!("axis {axis} out of range for shape {:?}", self.shape),
            ));
        }
        let outer = self.shape[..axis].iter().product();
        let inner = self.shape[axis + 1..].iter().product();
        Ok((outer, self.shape[axis], inner))
    }

    /// Concatenation along `axis`; all other axes must agree.
    pub fn concat(parts: &[&Tensor<T>], axis: usize) -> Result<Self> {
        let first = parts
            .first()
            .ok_or_else(|| Error::invalid("concat", "no tensors to concatenate"))?;
        let (outer, _, inner) = first.around_axis("concat", axis)?;
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
        #[cfg(feature = "gpu")]
        if on_gpu(parts) {
            return crate::gpu::ops::concat(parts, axis, outer, inner, &shape);
        }
        let mut data = Vec::with_capacity(shape.iter().product());
        for o in 0..outer {
            for p in parts {
                let run = p.shape[axis] * inner;
                data.extend_from_slice(&p.data[o * run..(o + 1) * run]);
            }
        }
        Tensor::from_vec(data, &shape)
    }

    /// The sub-tensor `start..end` along `axis`.
    pub fn slice(&self, axis: usize, start: usize, end: usize) -> Result<Self> {
        let (outer, len, inner) = self.around_axis("slice", axis)?;
        if start > end || end > len {
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
        #[cfg(feature = "gpu")]
        if on_gpu(&[self]) {
            return crate::gpu::ops::slice(self, (outer, len, inner), start, &shape);
        }
        let mut data = Vec::with_capacity(outer * (end - start) * inner);
        for o in 0..outer {
            let base = o * len * inner;
            data.extend_from_slice(&self.data[base + start * inner..base + end * inner]);
        }
        Tensor::from_vec(data, &shape)
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
        #[cfg(feature = "gpu")]
        if on_gpu(&[self]) {
            return crate::gpu::ops::gather_rows(self, indices, inner, &shape);
        }
        let mut data = Vec::with_capacity(indices.len() * inner);
        for &i in indices {
            data.extend_from_slice(&self.data[i * inner..(i + 1) * inner]);
        }
        Tensor::from_vec(data, &shape)
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
        #[cfg(feature = "gpu")]
        if on_gpu(&[self, rhs]) {
            let dims = crate::gpu::ops::GemmDims::single(m, n, k, trans_a, trans_b);
            return crate::gpu::ops::gemm(self, rhs, dims, &[m, n]);
        }
        let mut out = vec![T::ZERO; m * n];
        gemm::gemm(
            trans_a,
            trans_b,
            m,
            n,
            k,
            T::ONE,
            &self.data,
            &rhs.data,
            T::ZERO,
            &mut out,
        );
        Tensor::from_vec(out, &[m, n])
    }

    /// True when every element is finite.
    pub fn all_finite(&self) -> bool {
        self.data
            .par_chunks(PAR_CHUNK)
            .all(|c| c.iter().all(|v| v.is_finite()))
    }
}

/// True when any of `ts` is on the GPU: an op on them then runs there, uploading the others.
#[cfg(feature = "gpu")]
fn on_gpu<T: Element>(ts: &[&Tensor<T>]) -> bool {
    ts.iter().any(|t| t.device() == Device::Gpu)
}

/// The result of a GPU kernel behind a method that cannot fail on the CPU: the kernel's only
/// failure is the device's own, which such a method reports by panicking with its message.
#[cfg(feature = "gpu")]
fn device_result<T: Element>(r: Result<Tensor<T>>) -> Tensor<T> {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// `acc += g` elementwise for equal shapes (gradient accumulation). On the GPU the sum is a new
/// buffer that replaces `acc`'s.
///
/// # Panics
/// If the lengths differ (an internal invariant: gradients have their node's shape).
pub fn add_assign<T: Element>(acc: &mut Tensor<T>, g: &Tensor<T>) {
    assert_eq!(acc.len(), g.len(), "add_assign: length invariant");
    #[cfg(feature = "gpu")]
    if on_gpu(&[acc, g]) {
        *acc = device_result(acc.add(g));
        return;
    }
    acc.data_mut()
        .par_chunks_mut(PAR_CHUNK)
        .zip(g.data().par_chunks(PAR_CHUNK))
        .for_each(|(a, b)| elementwise::binary_inplace_add(a, b));
}
