//! Where a tensor's elements live: host memory, or (feature `gpu`) a device buffer.
//!
//! A device tensor's buffer is never written after the kernel that made it: every GPU kernel
//! writes a fresh buffer, so clones share the buffer (`Arc`) and a reshape copies nothing. Host
//! code that reads a device tensor ([`Tensor::data`](super::Tensor::data)) gets a copy read back
//! once and kept beside the buffer; host code that writes one
//! ([`Tensor::data_mut`](super::Tensor::data_mut)) first moves it to the host.

use super::Element;
use std::fmt;
use std::ops::Deref;
#[cfg(feature = "gpu")]
use std::sync::{Arc, OnceLock};

/// Which memory a tensor's elements are in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Device {
    /// Host memory; the CPU kernels compute.
    Cpu,
    /// A wgpu device (f32 only); the kernels of `crate::gpu` compute. Placing a tensor there
    /// is an error in a build without the `gpu` feature.
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

/// A tensor's elements. Clones of device storage share the buffer and the host copy.
#[derive(Clone)]
pub(crate) enum Storage<T: Element> {
    /// In host memory.
    Host(Vec<T>),
    /// In a device buffer, with the host copy made on the first host read.
    #[cfg(feature = "gpu")]
    Gpu {
        /// The elements as f32 on the device.
        buffer: Arc<crate::gpu::Buffer>,
        /// The host copy, read back on demand and shared by clones.
        host: Arc<OnceLock<Vec<T>>>,
    },
}

impl<T: Element> Storage<T> {
    /// Device-resident storage around a buffer a kernel wrote.
    #[cfg(feature = "gpu")]
    pub(crate) fn gpu(buffer: crate::gpu::Buffer) -> Self {
        Storage::Gpu {
            buffer: Arc::new(buffer),
            host: Arc::default(),
        }
    }

    /// Where the elements are.
    pub(crate) fn device(&self) -> Device {
        match self {
            Storage::Host(_) => Device::Cpu,
            #[cfg(feature = "gpu")]
            Storage::Gpu { .. } => Device::Gpu,
        }
    }

    /// The elements as a host vector, reading a device buffer back (and leaving the host).
    pub(crate) fn make_host(&mut self) -> &mut Vec<T> {
        #[cfg(feature = "gpu")]
        if let Storage::Gpu { .. } = self {
            let host = self.to_vec();
            *self = Storage::Host(host);
        }
        match self {
            Storage::Host(v) => v,
            #[cfg(feature = "gpu")]
            Storage::Gpu { .. } => unreachable!("moved to the host above"),
        }
    }

    /// Consumes the storage, returning host elements.
    pub(crate) fn into_vec(mut self) -> Vec<T> {
        std::mem::take(self.make_host())
    }
}

impl<T: Element> Deref for Storage<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        match self {
            Storage::Host(v) => v,
            #[cfg(feature = "gpu")]
            Storage::Gpu { buffer, host } => host.get_or_init(|| {
                buffer
                    .read()
                    .into_iter()
                    .map(|v| T::from_f64(f64::from(v)))
                    .collect()
            }),
        }
    }
}

impl<T: Element> fmt::Debug for Storage<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Storage::Host(v) => v.fmt(f),
            #[cfg(feature = "gpu")]
            Storage::Gpu { buffer, .. } => write!(f, "Gpu({} elements)", buffer.len()),
        }
    }
}

impl<T: Element> PartialEq for Storage<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}
