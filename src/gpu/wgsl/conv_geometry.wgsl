// Helper of the convolution kernels: `conv_geometry()` reads the convolution parameters
// `p(1..=9)` = C, H, W, KH, KW, OH, OW, stride, pad.
struct ConvGeometry {
    c_in: u32, h: u32, w: u32, kh_n: u32, kw_n: u32, oh_n: u32, ow_n: u32, s: u32, pad: u32,
}

fn conv_geometry() -> ConvGeometry {
    return ConvGeometry(p(1u), p(2u), p(3u), p(4u), p(5u), p(6u), p(7u), p(8u), p(9u));
}
