// GEMM's variant of gemm.wgsl: 4 rows per thread, 64-row output tiles.
const ROWS: u32 = 4u;
