//! What the CPU can do, asked once per call at run time: the hand-written x86-64 kernels
//! (`tensor/cpu/direct.rs`, `probe/logistic/kernel.rs`) run only where this says so, and every
//! caller falls back to the portable path elsewhere.

/// Whether the CPU has AVX2 and FMA (x86-64 only). AVX2 as well as FMA: matrixmultiply picks its
/// fused kernels only with both, and the direct convolution kernels reproduce those kernels'
/// bits, so they must run exactly where those do.
pub(crate) fn avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
