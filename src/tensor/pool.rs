//! Average pooling kernels (kernel = stride).
