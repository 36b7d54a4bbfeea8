//! 2-D convolution kernels (im2col + GEMM forward, GEMM + col2im backward).
