//! The wgpu compute backend (cargo feature `gpu`): device buffers and WGSL kernels for every
//! op a training step runs.
//!
//! The autograd tape and the layers are the same code on every device: the tensor storage
//! sends an op to the GPU implementation of the backend trait (`gpu/storage.rs`) when an
//! operand lives on the GPU ([`Tensor::to_device`]), so a model whose parameters were moved
//! there trains there. This module sees only the op descriptors, the backend trait and the
//! error type — never tensors, layers, optimizers or the trainer. Within a step nothing comes back to the host
//! until something asks for host values (the loss's `item()`, embeddings for a probe): kernels
//! are recorded into one command encoder and submitted in batches, and [`readbacks`] counts the
//! transfers back (per thread) so tests can hold the backend to that.
//!
//! The device is opened once per process ([`gpu`]); every kernel is compiled once, on first
//! use. Kernels write fresh buffers (never their inputs), taken from a pool of freed buffers of
//! the same size class, so a steady training loop allocates no device memory. All reductions
//! run in a fixed order, so a GPU run is reproducible on one device and driver.
//!
//! [`Tensor`]: crate::tensor::Tensor
//! [`Tensor::to_device`]: crate::tensor::Tensor::to_device

mod kernels;
mod storage;

pub(crate) use storage::GpuStorage;

use crate::error::{Error, Result};
use kernels::{Kernel, PARAM_WORDS};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use wgpu::util::DeviceExt;

/// Kernels recorded before the pending command encoder is submitted: bounds the work (and the
/// parameter buffers) a submission holds without a submit per kernel.
const KERNELS_PER_SUBMIT: usize = 256;

/// Freed buffers kept for reuse, in bytes, at most; beyond it freed buffers are released.
const POOL_BYTES: u64 = 1 << 30;

/// Threads per workgroup of the one-dimensional kernels (the WGSL sources say the same).
pub(crate) const WORKGROUP: u32 = 256;

/// Most workgroups along one grid axis (WebGPU's default limit); longer 1-D grids fold into y,
/// longer GEMM grids are dispatched in chunks.
pub(crate) const MAX_GROUPS_PER_AXIS: u32 = 65_535;

/// An open GPU: device, queue, compiled kernels, the command encoder being recorded and the
/// pool of free buffers.
pub struct Gpu {
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    pipelines: Mutex<HashMap<&'static str, Arc<wgpu::ComputePipeline>>>,
    pending: Mutex<Pending>,
    pool: Mutex<Pool>,
    /// Largest storage binding the device allows, in bytes: the cap on one tensor.
    max_binding: u64,
}

/// The guarded value, also after a panic elsewhere poisoned the lock: the pool and the
/// pending encoder stay consistent between statements, so a failed op cannot wedge the GPU.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The command encoder kernels are recorded into, and how many it holds.
struct Pending {
    encoder: Option<wgpu::CommandEncoder>,
    kernels: usize,
}

/// Free storage buffers by size class (bytes, a power of two).
#[derive(Default)]
struct Pool {
    free: HashMap<u64, Vec<wgpu::Buffer>>,
    bytes: u64,
}

static GPU: OnceLock<std::result::Result<Gpu, String>> = OnceLock::new();
thread_local! {
    static READBACKS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// The process's GPU, opened on first use.
///
/// Errors: [`Error::Device`] naming the backends looked for when no adapter can be opened.
pub fn gpu() -> Result<&'static Gpu> {
    GPU.get_or_init(Gpu::open)
        .as_ref()
        .map_err(|e| Error::Device(e.clone()))
}

/// Buffers the calling thread has read back to the host (each [`Buffer::read`]).
pub fn readbacks() -> u64 {
    READBACKS.with(std::cell::Cell::get)
}

/// Waits for `future` on this thread. wgpu's native futures complete once the device is
/// polled, which `poll` does between tries.
fn block_on<F: std::future::Future>(future: F, poll: impl Fn()) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        poll();
        std::thread::yield_now();
    }
}

impl Gpu {
    /// Opens the first high-performance adapter of the native backends.
    fn open() -> std::result::Result<Gpu, String> {
        let backends = wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12;
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends,
            ..wgpu::InstanceDescriptor::new_without_display_handle_from_env()
        });
        let options = wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        };
        let adapter = block_on(instance.request_adapter(&options), || {}).map_err(|e| {
            format!(
                "no GPU adapter found (looked for Vulkan, Metal and DX12 adapters; on Linux \
                 without a GPU, `apt-get install mesa-vulkan-drivers libvulkan1` gives a \
                 software one): {e}"
            )
        })?;
        let info = adapter.get_info();
        let max_binding = adapter.limits().max_storage_buffer_binding_size;
        let limits = wgpu::Limits {
            max_storage_buffers_per_shader_stage: 8,
            max_storage_buffer_binding_size: max_binding,
            max_buffer_size: adapter.limits().max_buffer_size,
            ..wgpu::Limits::default()
        };
        let desc = wgpu::DeviceDescriptor {
            label: Some("nidl"),
            required_limits: limits,
            ..Default::default()
        };
        let (device, queue) = block_on(adapter.request_device(&desc), || {})
            .map_err(|e| format!("the adapter {:?} refused a device: {e}", info.name))?;
        Ok(Gpu {
            device,
            queue,
            info,
            pipelines: Mutex::new(HashMap::new()),
            pending: Mutex::new(Pending {
                encoder: None,
                kernels: 0,
            }),
            pool: Mutex::new(Pool::default()),
            max_binding: max_binding.min(adapter.limits().max_buffer_size),
        })
    }

    /// The largest tensor the device holds, in bytes (its largest storage binding).
    pub fn max_tensor_bytes(&self) -> u64 {
        self.max_binding
    }

    /// The adapter's name and backend, e.g. `NVIDIA H100 (Vulkan)`.
    pub fn name(&self) -> String {
        format!("{} ({:?})", self.info.name, self.info.backend)
    }

    /// The compiled pipeline of `kernel`, compiling it on first use.
    fn pipeline(&self, kernel: &Kernel) -> Arc<wgpu::ComputePipeline> {
        let mut cache = lock(&self.pipelines);
        let p = cache.entry(kernel.name).or_insert_with(|| {
            let source = kernel.source();
            let module = self
                .device
                .create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(kernel.name),
                    source: wgpu::ShaderSource::Wgsl(source.into()),
                });
            Arc::new(
                self.device
                    .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                        label: Some(kernel.name),
                        layout: None,
                        module: &module,
                        entry_point: Some("main"),
                        compilation_options: Default::default(),
                        cache: None,
                    }),
            )
        });
        Arc::clone(p)
    }

    /// A storage buffer of at least `len` f32 elements from the pool (contents undefined).
    ///
    /// Errors: [`Error::Device`] for a tensor beyond the device's largest storage binding, or
    /// when the device cannot allocate it.
    fn alloc(&self, len: usize) -> Result<Buffer> {
        let class = self.size_class(len)?;
        let reused = {
            let mut pool = lock(&self.pool);
            let b = pool.free.get_mut(&class).and_then(Vec::pop);
            if b.is_some() {
                pool.bytes -= class;
            }
            b
        };
        let raw = match reused {
            Some(raw) => raw,
            None => self.checked(len, || {
                self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: None,
                    size: class,
                    usage: storage_usage(),
                    mapped_at_creation: false,
                })
            })?,
        };
        Ok(Buffer {
            raw: Some(raw),
            len,
        })
    }

    /// A zeroed buffer of `len` elements (cleared on the device: nothing is uploaded).
    fn zeros(&self, len: usize) -> Result<Buffer> {
        let out = self.alloc(len)?;
        self.clear(&out);
        Ok(out)
    }

    /// A buffer holding `data`, written at creation (so it cannot race the pending kernels).
    fn upload_f32(&self, data: &[f32]) -> Result<Buffer> {
        let class = self.size_class(data.len())?;
        let mut bytes = Vec::with_capacity(class as usize);
        bytes.extend(data.iter().flat_map(|v| v.to_le_bytes()));
        bytes.resize(class as usize, 0);
        let raw = self.checked(data.len(), || {
            self.device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: None,
                    contents: &bytes,
                    usage: storage_usage(),
                })
        })?;
        Ok(Buffer {
            raw: Some(raw),
            len: data.len(),
        })
    }

    /// Bytes of the pool class for `len` f32 elements: the next power of two (at least 256),
    /// or the exact size where that power of two would pass the binding limit.
    ///
    /// Errors: [`Error::Device`] when `len` elements pass the limit.
    fn size_class(&self, len: usize) -> Result<u64> {
        let bytes = len.max(1) as u64 * 4;
        if bytes > self.max_binding {
            return Err(Error::Device(format!(
                "a tensor of {len} f32 elements ({bytes} bytes) exceeds the largest storage \
                 buffer {} allows ({} bytes); use smaller batches",
                self.name(),
                self.max_binding
            )));
        }
        let class = bytes.next_power_of_two().max(256);
        Ok(if class <= self.max_binding {
            class
        } else {
            bytes
        })
    }

    /// Runs `create` (a buffer creation for `len` elements) and turns a device error it
    /// raises (out of memory, a limit) into [`Error::Device`].
    fn checked(&self, len: usize, create: impl FnOnce() -> wgpu::Buffer) -> Result<wgpu::Buffer> {
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let raw = create();
        let invalid = block_on(validation.pop(), || {});
        let oom = block_on(scope.pop(), || {});
        match invalid.or(oom) {
            None => Ok(raw),
            Some(e) => Err(Error::Device(format!(
                "{} could not allocate {len} f32 elements: {e}",
                self.name()
            ))),
        }
    }

    /// A storage buffer of u32 values (row indices), written at creation.
    fn upload_u32(&self, data: &[u32]) -> wgpu::Buffer {
        self.u32_buffer(data, data.len().max(1), wgpu::BufferUsages::STORAGE)
    }

    /// `data` zero-padded to `words` u32 words in a new buffer of `usage`, written at creation.
    fn u32_buffer(&self, data: &[u32], words: usize, usage: wgpu::BufferUsages) -> wgpu::Buffer {
        let mut bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        bytes.resize(words * 4, 0);
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: None,
                contents: &bytes,
                usage,
            })
    }

    /// Records one dispatch of `kernel` over `groups` workgroups: binding 0 holds `params`, then
    /// `inputs` in order, then `outputs`. A grid with a zero axis records nothing.
    fn run(
        &self,
        kernel: &Kernel,
        params: &[u32],
        inputs: &[&wgpu::Buffer],
        outputs: &[&Buffer],
        groups: [u32; 3],
    ) {
        if groups.contains(&0) {
            return;
        }
        let pipeline = self.pipeline(kernel);
        assert!(
            params.len() <= PARAM_WORDS,
            "{}: parameter block overflow",
            kernel.name
        );
        let params = self.u32_buffer(params, PARAM_WORDS, wgpu::BufferUsages::UNIFORM);
        let mut buffers: Vec<&wgpu::Buffer> = vec![&params];
        buffers.extend_from_slice(inputs);
        buffers.extend(outputs.iter().map(|b| b.raw()));
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(kernel.name),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        self.record(|encoder| {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(kernel.name),
                timestamp_writes: None,
            });
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
        });
    }

    /// Records zeroing `buffer`.
    fn clear(&self, buffer: &Buffer) {
        self.record(|encoder| encoder.clear_buffer(buffer.raw(), 0, None));
    }

    /// Records a command into the pending encoder, submitting every [`KERNELS_PER_SUBMIT`].
    fn record(&self, command: impl FnOnce(&mut wgpu::CommandEncoder)) {
        let mut pending = lock(&self.pending);
        command(pending.encoder.get_or_insert_with(|| {
            self.device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None })
        }));
        pending.kernels += 1;
        if pending.kernels >= KERNELS_PER_SUBMIT {
            self.submit(&mut pending);
        }
    }

    /// Submits the recorded kernels.
    fn submit(&self, pending: &mut Pending) {
        if let Some(encoder) = pending.encoder.take() {
            self.queue.submit([encoder.finish()]);
        }
        pending.kernels = 0;
    }

    /// Copies `buffer`'s elements to the host, after every kernel recorded so far.
    ///
    /// Errors: [`Error::Device`] when the device is lost or the copy cannot be mapped.
    fn read(&self, buffer: &Buffer) -> Result<Vec<f32>> {
        let bytes = (buffer.len * 4) as u64;
        if bytes == 0 {
            return Ok(Vec::new());
        }
        let failed = |what: &str, e: &dyn std::fmt::Display| {
            Error::Device(format!(
                "{} failed {what} while reading back {} f32 elements: {e}",
                self.name(),
                buffer.len
            ))
        };
        let staging = self.checked(buffer.len, || {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("readback"),
                size: bytes,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        })?;
        self.record(|encoder| encoder.copy_buffer_to_buffer(buffer.raw(), 0, &staging, 0, bytes));
        self.submit(&mut lock(&self.pending));
        let slice = staging.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            // The receiver waits below; a send can only fail if it is gone.
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| failed("waiting for the device", &e))?;
        rx.recv()
            .map_err(|e| failed("mapping (no answer)", &e))?
            .map_err(|e| failed("mapping", &e))?;
        READBACKS.with(|n| n.set(n.get() + 1));
        let data = slice
            .get_mapped_range()
            .map_err(|e| failed("viewing the mapped copy", &e))?;
        Ok(data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// Takes a freed buffer back into the pool (or releases it when the pool is full).
    fn recycle(&self, raw: wgpu::Buffer) {
        let class = raw.size();
        let mut pool = lock(&self.pool);
        if pool.bytes + class <= POOL_BYTES {
            pool.bytes += class;
            pool.free.entry(class).or_default().push(raw);
        }
    }
}

/// Usage of every tensor buffer.
fn storage_usage() -> wgpu::BufferUsages {
    wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST
}

/// The workgroup grid that gives one thread to each of `threads` items in 1-D kernels: x up to
/// the per-axis limit, the rest folded into y (the kernels rebuild the flat index).
pub(crate) fn grid_1d(threads: usize) -> [u32; 3] {
    let groups = threads.div_ceil(WORKGROUP as usize) as u32;
    if groups <= MAX_GROUPS_PER_AXIS {
        [groups, 1, 1]
    } else {
        [MAX_GROUPS_PER_AXIS, groups.div_ceil(MAX_GROUPS_PER_AXIS), 1]
    }
}

/// A device buffer of f32 elements, returned to the pool when dropped.
pub struct Buffer {
    raw: Option<wgpu::Buffer>,
    len: usize,
}

impl Buffer {
    /// Number of f32 elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for a buffer of no element.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn raw(&self) -> &wgpu::Buffer {
        self.raw
            .as_ref()
            .expect("a live buffer holds its wgpu buffer")
    }

    /// The elements, read back to the host.
    ///
    /// Errors: [`Error::Device`] when the device fails the copy.
    pub fn read(&self) -> Result<Vec<f32>> {
        gpu()?.read(self)
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        if let (Some(raw), Some(Ok(g))) = (self.raw.take(), GPU.get()) {
            g.recycle(raw);
        }
    }
}

/// Copies host f32 elements to a new device buffer.
///
/// Errors: [`Error::Device`] when no GPU can be opened or the buffer cannot be allocated.
pub(crate) fn upload(data: &[f32]) -> Result<Buffer> {
    gpu()?.upload_f32(data)
}
