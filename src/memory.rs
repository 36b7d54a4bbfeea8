//! Process-wide allocator policy for training and embedding loops.
//!
//! Every batch allocates and frees the same few multi-megabyte buffers (activations, im2col
//! scratch). glibc's malloc serves blocks that large with `mmap` and hands freed memory back to
//! the kernel, so each batch pays for fresh zeroed pages: on LeNet embedding of 70 000 MNIST
//! images that is over a million page faults and ~40 % of the wall time. Keeping freed memory in
//! the process makes the next batch reuse it; peak RSS is unchanged (it is the same peak).

/// `mallopt` parameter: trim threshold (bytes of free memory at the top of the heap kept).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const M_TRIM_THRESHOLD: i32 = -1;
/// `mallopt` parameter: blocks at least this large are served by `mmap`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const M_MMAP_THRESHOLD: i32 = -3;

/// Largest mmap threshold glibc accepts on 64-bit targets (`HEAP_MAX_SIZE / 2`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD_BYTES: i32 = 32 << 20;
/// Free memory kept at the top of the heap before trimming: far above a training step's churn.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD_BYTES: i32 = 1 << 30;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" {
    fn mallopt(param: i32, value: i32) -> i32;
}

/// Asks the C allocator to keep freed memory for reuse rather than return it to the kernel
/// after every batch (glibc on Linux; a no-op elsewhere). Returns whether the policy took effect.
/// Call once at start-up of a program that trains or embeds; the `nidl` binary does.
pub fn retain_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` only adjusts malloc tuning parameters; both values are in range.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
                && mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
