//! Where a tensor's elements live, and the one place that knows devices: each op is one `match`
//! over the storage of its operands, sending it to the CPU kernels (`tensor/cpu/`) or the GPU
//! ones (`gpu/`). An op with any operand on the GPU runs there, uploading host operands.
//!
//! In a build without the `gpu` feature the GPU variant holds an uninhabited type, so its arms
//! cost nothing and placing a tensor on the GPU is an [`Error::Device`].

use super::cpu::CpuStorage;
use super::Element;
use crate::backend::op::{
    AdamStep, AxisSplit, BinaryOp, Broadcast, ConvDims, GemmDims, PoolDims, SgdStep, UnaryOp,
};
use crate::backend::BackendStorage;
use crate::error::{Error, Result};
#[cfg(feature = "gpu")]
pub(crate) use crate::gpu::GpuStorage;
#[cfg(not(feature = "gpu"))]
pub(crate) use crate::gpu_unavailable::GpuStorage;
use std::borrow::Cow;
use std::fmt;

/// Which memory a tensor's elements are in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Device {
    /// Host memory; the CPU kernels compute.
    Cpu,
    /// A wgpu device (f32 only); the kernels of the `gpu` module compute. Placing a tensor
    /// there is an error in a build without the `gpu` feature.
    Gpu,
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Device::Cpu => "cpu",
            Device::Gpu => "gpu",
        })
    }
}

impl std::str::FromStr for Device {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cpu" => Ok(Device::Cpu),
            "gpu" => Ok(Device::Gpu),
            _ => Err(format!("unknown device {s:?} (expected cpu or gpu)")),
        }
    }
}

/// A tensor's elements on their device.
#[derive(Clone)]
pub(crate) enum Storage<T: Element> {
    /// In host memory.
    Cpu(CpuStorage<T>),
    /// In a device buffer.
    Gpu(GpuStorage<T>),
}

/// The GPU storage of an operand, uploading host elements.
fn gpu<T: Element>(s: &Storage<T>) -> Result<Cow<'_, GpuStorage<T>>> {
    match s {
        Storage::Cpu(c) => Ok(Cow::Owned(GpuStorage::upload(c.as_slice())?)),
        Storage::Gpu(g) => Ok(Cow::Borrowed(g)),
    }
}

/// `r`, with a device error's message prefixed by the op and the element count it ran on.
fn on_device<R>(op: &str, len: usize, r: Result<R>) -> Result<R> {
    r.map_err(|e| match e {
        Error::Device(m) => Error::Device(format!("{op} on {len} elements: {m}")),
        other => other,
    })
}

/// The one `match` of an op on one operand: the same kernel call on CPU or GPU storage
/// (`$x` names the operand's storage in `$call`), a GPU failure prefixed with the op's name.
macro_rules! one_operand {
    ($storage:expr, $name:expr, |$x:ident| $call:expr) => {
        match $storage {
            Storage::Cpu($x) => Ok(Storage::Cpu($call?)),
            Storage::Gpu($x) => Ok(Storage::Gpu(on_device($name, $x.len(), $call)?)),
        }
    };
}

impl<T: Element> Storage<T> {
    /// Host storage holding `data`.
    pub(crate) fn host(data: Vec<T>) -> Self {
        Storage::Cpu(CpuStorage::new(data))
    }

    /// Where the elements are.
    pub(crate) fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
            Storage::Gpu(_) => Device::Gpu,
        }
    }

    /// Number of elements.
    pub(crate) fn len(&self) -> usize {
        match self {
            Storage::Cpu(c) => c.len(),
            Storage::Gpu(g) => g.len(),
        }
    }

    /// The host elements, or the error naming `op` for storage on a device.
    pub(crate) fn host_slice(&self, op: &str) -> Result<&[T]> {
        match self {
            Storage::Cpu(c) => Ok(c.as_slice()),
            Storage::Gpu(_) => Err(device_data_error(op)),
        }
    }

    /// The host elements, mutably, or the error naming `op` for storage on a device.
    pub(crate) fn host_slice_mut(&mut self, op: &str) -> Result<&mut [T]> {
        match self {
            Storage::Cpu(c) => Ok(c.as_mut_slice()),
            Storage::Gpu(_) => Err(device_data_error(op)),
        }
    }

    /// The elements copied to a host vector (read back from a device).
    pub(crate) fn to_host(&self) -> Result<Vec<T>> {
        match self {
            Storage::Cpu(c) => c.to_host(),
            Storage::Gpu(g) => on_device("to_vec", g.len(), g.to_host()),
        }
    }

    /// Consumes the storage, returning host elements (read back from a device).
    pub(crate) fn into_host(self) -> Result<Vec<T>> {
        match self {
            Storage::Cpu(c) => Ok(c.into_vec()),
            Storage::Gpu(g) => on_device("into_vec", g.len(), g.to_host()),
        }
    }

    /// The same elements on `device` (a clone when they are already there).
    pub(crate) fn to_device(&self, device: Device) -> Result<Self> {
        match (self, device) {
            (Storage::Cpu(_), Device::Cpu) | (Storage::Gpu(_), Device::Gpu) => Ok(self.clone()),
            (Storage::Gpu(g), Device::Cpu) => {
                Ok(Storage::host(on_device("to_device", g.len(), g.to_host())?))
            }
            (Storage::Cpu(c), Device::Gpu) => Ok(Storage::Gpu(on_device(
                "to_device",
                c.len(),
                GpuStorage::upload(c.as_slice()),
            )?)),
        }
    }

    /// `len` zeros on the same device.
    pub(crate) fn zeros(&self, len: usize) -> Result<Self> {
        match self {
            Storage::Cpu(c) => Ok(Storage::Cpu(c.zeros(len)?)),
            Storage::Gpu(g) => Ok(Storage::Gpu(on_device("zeros", len, g.zeros(len))?)),
        }
    }

    /// True when both hold the same values: host elements compare by value, device buffers by
    /// identity (a device tensor equals its clones; read back to compare values).
    pub(crate) fn same_values(&self, other: &Self) -> bool {
        match (self, other) {
            (Storage::Cpu(a), Storage::Cpu(b)) => a.as_slice() == b.as_slice(),
            (Storage::Gpu(a), Storage::Gpu(b)) => a.same_buffer(b),
            _ => false,
        }
    }

    pub(crate) fn binary(&self, rhs: &Self, op: BinaryOp, b: &Broadcast) -> Result<Self> {
        match (self, rhs) {
            (Storage::Cpu(x), Storage::Cpu(y)) => Ok(Storage::Cpu(x.binary(y, op, b)?)),
            _ => {
                let r = gpu(self).and_then(|x| x.binary(&*gpu(rhs)?, op, b));
                Ok(Storage::Gpu(on_device(op.name(), self.len(), r)?))
            }
        }
    }

    pub(crate) fn scalar(&self, s: T, op: BinaryOp) -> Result<Self> {
        one_operand!(self, op.name(), |x| x.scalar(s, op))
    }

    pub(crate) fn unary(&self, op: UnaryOp) -> Result<Self> {
        one_operand!(self, op.name(), |x| x.unary(op))
    }

    pub(crate) fn add_assign(&mut self, g: &Self) -> Result<()> {
        match (&mut *self, g) {
            (Storage::Cpu(acc), Storage::Cpu(g)) => acc.add_assign(g),
            (Storage::Gpu(acc), _) => {
                let len = acc.len();
                on_device("add_assign", len, gpu(g).and_then(|g| acc.add_assign(&g)))
            }
            (Storage::Cpu(acc), Storage::Gpu(gg)) => {
                let mut up =
                    on_device("add_assign", acc.len(), GpuStorage::upload(acc.as_slice()))?;
                on_device("add_assign", gg.len(), up.add_assign(gg))?;
                *self = Storage::Gpu(up);
                Ok(())
            }
        }
    }

    pub(crate) fn sum_to_shape(&self, b: &Broadcast, out_len: usize) -> Result<Self> {
        one_operand!(self, "sum_to_shape", |x| x.sum_to_shape(b, out_len))
    }

    pub(crate) fn sum_axis(&self, split: AxisSplit) -> Result<Self> {
        one_operand!(self, "sum_axis", |x| x.sum_axis(split))
    }

    pub(crate) fn max_axis(&self, split: AxisSplit) -> Result<Self> {
        one_operand!(self, "max_axis", |x| x.max_axis(split))
    }

    pub(crate) fn sum_all(&self) -> Result<Self> {
        one_operand!(self, "sum_all", |x| x.sum_all())
    }

    pub(crate) fn transpose(&self, rows: usize, cols: usize) -> Result<Self> {
        one_operand!(self, "transpose", |x| x.transpose(rows, cols))
    }

    pub(crate) fn concat(
        parts: &[&Self],
        outer: usize,
        lens: &[usize],
        inner: usize,
    ) -> Result<Self> {
        let host: Option<Vec<&CpuStorage<T>>> = parts
            .iter()
            .map(|p| match p {
                Storage::Cpu(c) => Some(c),
                Storage::Gpu(_) => None,
            })
            .collect();
        match host {
            Some(cpu) => Ok(Storage::Cpu(CpuStorage::concat(&cpu, outer, lens, inner)?)),
            None => {
                let len = parts.iter().map(|p| p.len()).sum();
                let r = parts
                    .iter()
                    .map(|p| gpu(p))
                    .collect::<Result<Vec<_>>>()
                    .and_then(|g| {
                        let refs: Vec<&GpuStorage<T>> = g.iter().map(|c| &**c).collect();
                        GpuStorage::concat(&refs, outer, lens, inner)
                    });
                Ok(Storage::Gpu(on_device("concat", len, r)?))
            }
        }
    }

    pub(crate) fn slice(&self, split: AxisSplit, start: usize, end: usize) -> Result<Self> {
        one_operand!(self, "slice", |x| x.slice(split, start, end))
    }

    pub(crate) fn gather_rows(&self, indices: &[usize], inner: usize) -> Result<Self> {
        one_operand!(self, "gather_rows", |x| x.gather_rows(indices, inner))
    }

    pub(crate) fn scatter_add_rows(
        &self,
        indices: &[usize],
        inner: usize,
        rows: usize,
    ) -> Result<Self> {
        one_operand!(self, "scatter_add_rows", |x| x
            .scatter_add_rows(indices, inner, rows))
    }

    pub(crate) fn matmul(&self, rhs: &Self, d: GemmDims) -> Result<Self> {
        match (self, rhs) {
            (Storage::Cpu(a), Storage::Cpu(b)) => Ok(Storage::Cpu(a.matmul(b, d)?)),
            _ => {
                let r = gpu(self).and_then(|a| a.matmul(&*gpu(rhs)?, d));
                Ok(Storage::Gpu(on_device("matmul", d.batch * d.m * d.n, r)?))
            }
        }
    }

    pub(crate) fn logsumexp_rows(&self, rows: usize, d: usize) -> Result<Self> {
        one_operand!(self, "logsumexp_rows", |x| x.logsumexp_rows(rows, d))
    }

    pub(crate) fn logsumexp_rows_backward(
        &self,
        lse: &Self,
        g: &Self,
        rows: usize,
        d: usize,
    ) -> Result<Self> {
        match (self, lse, g) {
            (Storage::Cpu(x), Storage::Cpu(l), Storage::Cpu(g)) => {
                Ok(Storage::Cpu(x.logsumexp_rows_backward(l, g, rows, d)?))
            }
            _ => {
                let r = gpu(self)
                    .and_then(|x| x.logsumexp_rows_backward(&*gpu(lse)?, &*gpu(g)?, rows, d));
                Ok(Storage::Gpu(on_device(
                    "logsumexp_rows_backward",
                    rows * d,
                    r,
                )?))
            }
        }
    }

    pub(crate) fn log_softmax_rows(&self, rows: usize, d: usize) -> Result<Self> {
        one_operand!(self, "log_softmax_rows", |x| x.log_softmax_rows(rows, d))
    }

    pub(crate) fn log_softmax_rows_backward(&self, g: Self, rows: usize, d: usize) -> Result<Self> {
        match (self, g) {
            (Storage::Cpu(y), Storage::Cpu(g)) => {
                Ok(Storage::Cpu(y.log_softmax_rows_backward(g, rows, d)?))
            }
            (_, g) => {
                let r = gpu(self)
                    .and_then(|y| y.log_softmax_rows_backward(gpu(&g)?.into_owned(), rows, d));
                Ok(Storage::Gpu(on_device(
                    "log_softmax_rows_backward",
                    rows * d,
                    r,
                )?))
            }
        }
    }

    pub(crate) fn l2_normalize_rows(&self, rows: usize, d: usize, eps: T) -> Result<(Self, Self)> {
        match self {
            Storage::Cpu(x) => {
                let (y, n) = x.l2_normalize_rows(rows, d, eps)?;
                Ok((Storage::Cpu(y), Storage::Cpu(n)))
            }
            Storage::Gpu(x) => {
                let (y, n) = on_device(
                    "l2_normalize_rows",
                    x.len(),
                    x.l2_normalize_rows(rows, d, eps),
                )?;
                Ok((Storage::Gpu(y), Storage::Gpu(n)))
            }
        }
    }

    pub(crate) fn l2_normalize_rows_backward(
        &self,
        norms: &Self,
        eps: T,
        g: Self,
        rows: usize,
        d: usize,
    ) -> Result<Self> {
        match (self, norms, g) {
            (Storage::Cpu(y), Storage::Cpu(n), Storage::Cpu(g)) => Ok(Storage::Cpu(
                y.l2_normalize_rows_backward(n, eps, g, rows, d)?,
            )),
            (_, _, g) => {
                let r = gpu(self).and_then(|y| {
                    y.l2_normalize_rows_backward(&*gpu(norms)?, eps, gpu(&g)?.into_owned(), rows, d)
                });
                Ok(Storage::Gpu(on_device(
                    "l2_normalize_rows_backward",
                    rows * d,
                    r,
                )?))
            }
        }
    }

    pub(crate) fn gelu_backward(&self, g: Self) -> Result<Self> {
        match (self, g) {
            (Storage::Cpu(x), Storage::Cpu(g)) => Ok(Storage::Cpu(x.gelu_backward(g)?)),
            (_, g) => {
                let r = gpu(self).and_then(|x| x.gelu_backward(gpu(&g)?.into_owned()));
                Ok(Storage::Gpu(on_device("gelu_backward", self.len(), r)?))
            }
        }
    }

    pub(crate) fn relu_backward(&self, g: Self) -> Result<Self> {
        match (self, g) {
            (Storage::Cpu(out), Storage::Cpu(g)) => Ok(Storage::Cpu(out.relu_backward(g)?)),
            (_, g) => {
                let r = gpu(self).and_then(|out| out.relu_backward(gpu(&g)?.into_owned()));
                Ok(Storage::Gpu(on_device("relu_backward", self.len(), r)?))
            }
        }
    }

    pub(crate) fn masked_fill(self, mask: &[bool], value: T) -> Result<Self> {
        match self {
            Storage::Cpu(x) => Ok(Storage::Cpu(x.masked_fill(mask, value)?)),
            Storage::Gpu(x) => {
                let len = x.len();
                Ok(Storage::Gpu(on_device(
                    "masked_fill",
                    len,
                    x.masked_fill(mask, value),
                )?))
            }
        }
    }

    pub(crate) fn conv2d(&self, weight: &Self, bias: Option<&Self>, d: &ConvDims) -> Result<Self> {
        match (self, weight, bias) {
            (Storage::Cpu(x), Storage::Cpu(w), None) => Ok(Storage::Cpu(x.conv2d(w, None, d)?)),
            (Storage::Cpu(x), Storage::Cpu(w), Some(Storage::Cpu(b))) => {
                Ok(Storage::Cpu(x.conv2d(w, Some(b), d)?))
            }
            _ => {
                let r = gpu(self).and_then(|x| {
                    let bias = bias.map(gpu).transpose()?;
                    x.conv2d(&*gpu(weight)?, bias.as_deref(), d)
                });
                Ok(Storage::Gpu(on_device("conv2d", d.n * d.out_img(), r)?))
            }
        }
    }

    pub(crate) fn conv2d_relu_pool(
        &self,
        weight: &Self,
        bias: Option<&Self>,
        d: &ConvDims,
        pool: &PoolDims,
    ) -> Result<Self> {
        match (self, weight, bias) {
            (Storage::Cpu(x), Storage::Cpu(w), None) => {
                Ok(Storage::Cpu(x.conv2d_relu_pool(w, None, d, pool)?))
            }
            (Storage::Cpu(x), Storage::Cpu(w), Some(Storage::Cpu(b))) => {
                Ok(Storage::Cpu(x.conv2d_relu_pool(w, Some(b), d, pool)?))
            }
            _ => {
                let r = gpu(self).and_then(|x| {
                    let bias = bias.map(gpu).transpose()?;
                    x.conv2d_relu_pool(&*gpu(weight)?, bias.as_deref(), d, pool)
                });
                let len = pool.planes * pool.oh * pool.ow;
                Ok(Storage::Gpu(on_device("conv2d_relu_pool", len, r)?))
            }
        }
    }

    pub(crate) fn conv2d_relu_pool_train(
        &self,
        weight: &Self,
        bias: Option<&Self>,
        d: &ConvDims,
        pool: &PoolDims,
    ) -> Result<(Self, Self)> {
        match (self, weight, bias) {
            (Storage::Cpu(x), Storage::Cpu(w), None) => {
                let (out, act) = x.conv2d_relu_pool_train(w, None, d, pool)?;
                Ok((Storage::Cpu(out), Storage::Cpu(act)))
            }
            (Storage::Cpu(x), Storage::Cpu(w), Some(Storage::Cpu(b))) => {
                let (out, act) = x.conv2d_relu_pool_train(w, Some(b), d, pool)?;
                Ok((Storage::Cpu(out), Storage::Cpu(act)))
            }
            _ => {
                let r = gpu(self).and_then(|x| {
                    let bias = bias.map(gpu).transpose()?;
                    x.conv2d_relu_pool_train(&*gpu(weight)?, bias.as_deref(), d, pool)
                });
                let (out, act) = on_device("conv2d_relu_pool", d.n * d.out_img(), r)?;
                Ok((Storage::Gpu(out), Storage::Gpu(act)))
            }
        }
    }

    #[allow(clippy::type_complexity)]
    pub(crate) fn conv2d_relu_pool_backward(
        &self,
        weight: &Self,
        act: &Self,
        g: &Self,
        d: &ConvDims,
        pool: &PoolDims,
        need_input_grad: bool,
    ) -> Result<(Option<Self>, Self, Self)> {
        match (self, weight, act, g) {
            (Storage::Cpu(x), Storage::Cpu(w), Storage::Cpu(a), Storage::Cpu(g)) => {
                let (gx, gw, gb) =
                    x.conv2d_relu_pool_backward(w, a, g, d, pool, need_input_grad)?;
                Ok((gx.map(Storage::Cpu), Storage::Cpu(gw), Storage::Cpu(gb)))
            }
            _ => {
                let r = gpu(self).and_then(|x| {
                    x.conv2d_relu_pool_backward(
                        &*gpu(weight)?,
                        &*gpu(act)?,
                        &*gpu(g)?,
                        d,
                        pool,
                        need_input_grad,
                    )
                });
                let (gx, gw, gb) = on_device("conv2d_relu_pool_backward", d.n * d.out_img(), r)?;
                Ok((gx.map(Storage::Gpu), Storage::Gpu(gw), Storage::Gpu(gb)))
            }
        }
    }

    #[allow(clippy::type_complexity)]
    pub(crate) fn conv2d_backward(
        &self,
        weight: &Self,
        grad_out: &Self,
        d: &ConvDims,
        need_input_grad: bool,
    ) -> Result<(Option<Self>, Self, Self)> {
        match (self, weight, grad_out) {
            (Storage::Cpu(x), Storage::Cpu(w), Storage::Cpu(go)) => {
                let (gx, gw, gb) = x.conv2d_backward(w, go, d, need_input_grad)?;
                Ok((gx.map(Storage::Cpu), Storage::Cpu(gw), Storage::Cpu(gb)))
            }
            _ => {
                let r = gpu(self).and_then(|x| {
                    x.conv2d_backward(&*gpu(weight)?, &*gpu(grad_out)?, d, need_input_grad)
                });
                let (gx, gw, gb) = on_device("conv2d_backward", d.n * d.in_img(), r)?;
                Ok((gx.map(Storage::Gpu), Storage::Gpu(gw), Storage::Gpu(gb)))
            }
        }
    }

    pub(crate) fn avg_pool2d(&self, d: &PoolDims) -> Result<Self> {
        one_operand!(self, "avg_pool2d", |x| x.avg_pool2d(d))
    }

    pub(crate) fn avg_pool2d_backward(&self, d: &PoolDims) -> Result<Self> {
        one_operand!(self, "avg_pool2d_backward", |g| g.avg_pool2d_backward(d))
    }

    pub(crate) fn upsample_nearest2d(&self, d: &PoolDims) -> Result<Self> {
        one_operand!(self, "upsample_nearest2d", |x| x.upsample_nearest2d(d))
    }

    pub(crate) fn upsample_nearest2d_backward(&self, d: &PoolDims) -> Result<Self> {
        one_operand!(self, "upsample_nearest2d_backward", |g| g
            .upsample_nearest2d_backward(d))
    }

    /// One Adam step; state on another device than the parameter moves to the parameter's.
    pub(crate) fn adam_step(
        &mut self,
        m: &mut Self,
        v: &mut Self,
        g: &Self,
        c: &AdamStep<T>,
    ) -> Result<()> {
        if let (Storage::Cpu(p), Storage::Cpu(m), Storage::Cpu(v), Storage::Cpu(g)) =
            (&mut *self, &mut *m, &mut *v, g)
        {
            return p.adam_step(m, v, g, c);
        }
        let len = self.len();
        let mut p = gpu(self)?.into_owned();
        let (mut mg, mut vg) = (gpu(m)?.into_owned(), gpu(v)?.into_owned());
        on_device(
            "adam_step",
            len,
            p.adam_step(&mut mg, &mut vg, &*gpu(g)?, c),
        )?;
        (*self, *m, *v) = (Storage::Gpu(p), Storage::Gpu(mg), Storage::Gpu(vg));
        Ok(())
    }

    /// One SGD step (with the momentum buffer when there is one).
    pub(crate) fn sgd_step(
        &mut self,
        momentum: Option<&mut Self>,
        g: &Self,
        c: &SgdStep<T>,
    ) -> Result<()> {
        match (&mut *self, momentum, g) {
            (Storage::Cpu(p), None, Storage::Cpu(g)) => p.sgd_step(None, g, c),
            (Storage::Cpu(p), Some(Storage::Cpu(b)), Storage::Cpu(g)) => p.sgd_step(Some(b), g, c),
            (_, momentum, _) => {
                let len = self.len();
                let mut p = gpu(self)?.into_owned();
                let mut buf = momentum
                    .as_deref()
                    .map(gpu)
                    .transpose()?
                    .map(Cow::into_owned);
                on_device("sgd_step", len, p.sgd_step(buf.as_mut(), &*gpu(g)?, c))?;
                *self = Storage::Gpu(p);
                if let (Some(m), Some(b)) = (momentum, buf) {
                    *m = Storage::Gpu(b);
                }
                Ok(())
            }
        }
    }

    /// `self ← m·self + one_minus_m·source`; a host operand of a GPU one is uploaded.
    pub(crate) fn ema_update(&mut self, source: &Self, m: T, one_minus_m: T) -> Result<()> {
        match (&mut *self, source) {
            (Storage::Cpu(p), Storage::Cpu(s)) => p.ema_update(s, m, one_minus_m),
            _ => {
                let len = self.len();
                let mut p = gpu(self)?.into_owned();
                on_device(
                    "ema_update",
                    len,
                    p.ema_update(&*gpu(source)?, m, one_minus_m),
                )?;
                *self = Storage::Gpu(p);
                Ok(())
            }
        }
    }
}

/// The error for host access to device elements.
fn device_data_error(op: &str) -> Error {
    Error::Device(format!(
        "{op}: the tensor is on the GPU; read it with `to_vec()` or move it with \
         `to_device(Device::Cpu)` first"
    ))
}

impl<T: Element> fmt::Debug for Storage<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Storage::Cpu(c) => c.as_slice().fmt(f),
            Storage::Gpu(g) => write!(f, "Gpu({} elements)", g.len()),
        }
    }
}
