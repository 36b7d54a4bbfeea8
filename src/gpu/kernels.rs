//! The WGSL kernels. Each is one shader module assembled from `.wgsl` files under `wgsl/`
//! (each file's opening comment says what it is and, for a kernel, its parameter block): the
//! shared prelude (`prelude.wgsl`: the parameter block at binding 0 and its accessors), for the
//! one-thread-per-item kernels the entry point that calls `item(i)` for `i < p(0)`
//! (`items_main.wgsl`), any shared helpers (`conv_geometry.wgsl`, `pool_geometry.wgsl`,
//! `row_lse.wgsl`), then the kernel's own file: its bindings (inputs, then outputs) and code.
//!
//! Algorithm choices and tuning constants:
//! - GEMM: 64×64 output tiles per workgroup of 16×16 threads, each thread a 4×4 block, K in
//!   steps of 16 through workgroup memory. Bigger tiles cut global reads (each loaded element
//!   is used 64 times) but leave fewer workgroups for small matrices; 64 fits the batch-256
//!   training shapes (256×256 similarity, 256×64 heads) with 16 or more workgroups. Products
//!   of at most 32 rows (the convolutions' per-image products, C_out = 6 or 16) use 16-row
//!   tiles instead, which cut the wasted rows 4-fold. Both share `gemm.wgsl`, after a one-line
//!   part that sets its rows per thread (`gemm_rows4.wgsl`, `gemm_rows1.wgsl`).
//! - Row reductions that feed a scalar (sum of all elements) use one workgroup per row and a
//!   tree in workgroup memory; the per-row ops of the losses (logsumexp, log-softmax, L2
//!   normalisation) use one thread per row: their rows are short (≤ 512) and few.
//! - Convolution is im2col + the batched GEMM, its backward the GEMM + col2im; col2im gathers
//!   (each input pixel sums the patches it is in) instead of scattering, so it needs no atomics
//!   and adds in a fixed order.

/// Words in every kernel's parameter block (a uniform buffer of `PARAM_WORDS / 4` vec4s).
pub(super) const PARAM_WORDS: usize = 32;

/// One compute kernel.
pub(super) struct Kernel {
    /// Name (the pipeline cache key and the debug label).
    pub name: &'static str,
    /// The WGSL parts, in order: [`PRELUDE`], [`ITEMS_MAIN`] for a kernel of one thread per item
    /// (its own part defines `fn item(i: u32)`; otherwise it defines the entry point `main`),
    /// any shared helpers, then the kernel's own part.
    parts: &'static [&'static str],
}

impl Kernel {
    /// The complete WGSL source: the parts, one after another.
    pub fn source(&self) -> String {
        self.parts.join("\n")
    }
}

/// Binding 0 and its accessors `p(i)`, `pf(i)`, first in every kernel.
const PRELUDE: &str = include_str!("wgsl/prelude.wgsl");

/// The entry point of the one-thread-per-item kernels, which calls their `item(i)`.
const ITEMS_MAIN: &str = include_str!("wgsl/items_main.wgsl");

/// `conv_geometry()`: the convolution parameters `p(1..=9)`, for the convolution kernels.
const CONV_GEOMETRY: &str = include_str!("wgsl/conv_geometry.wgsl");

/// `pool_geometry()`: the pooling parameters `p(1..=5)`, for the pooling kernels.
const POOL_GEOMETRY: &str = include_str!("wgsl/pool_geometry.wgsl");

/// `row_lse(base, d)` (and `magnitude_bits`), the CPU-equal logsumexp of a row of a binding
/// named `x`, for the logsumexp and log-softmax kernels.
const ROW_LSE: &str = include_str!("wgsl/row_lse.wgsl");

/// The batched GEMM, for `16·ROWS`-row tiles; the part before it defines `ROWS`.
const GEMM_BODY: &str = include_str!("wgsl/gemm.wgsl");

/// Unary maps and scalar ops: `wgsl/map.wgsl`.
pub(super) const MAP: Kernel = Kernel {
    name: "map",
    parts: &[PRELUDE, ITEMS_MAIN, include_str!("wgsl/map.wgsl")],
};

/// `out = a op b` with `b` broadcast: `wgsl/binary.wgsl`.
pub(super) const BINARY: Kernel = Kernel {
    name: "binary",
    parts: &[PRELUDE, ITEMS_MAIN, include_str!("wgsl/binary.wgsl")],
};

/// Rows of the output tile of [`GEMM`] (of [`GEMM_SKINNY`]: 16).
pub(super) const GEMM_TILE_ROWS: usize = 64;

/// The batched GEMM with 64×64 output tiles (each thread 4×4): bigger tiles cut global reads
/// (each loaded element is used 64 times) but waste work on products with few rows:
/// `wgsl/gemm_rows4.wgsl` + `wgsl/gemm.wgsl`.
pub(super) const GEMM: Kernel = Kernel {
    name: "gemm",
    parts: &[PRELUDE, include_str!("wgsl/gemm_rows4.wgsl"), GEMM_BODY],
};

/// The batched GEMM with 16×64 output tiles (each thread 1×4), for products of at most 32 rows
/// (the convolutions' `C_out × (OH·OW)` products): a 64-row tile would compute 4–10× the rows:
/// `wgsl/gemm_rows1.wgsl` + `wgsl/gemm.wgsl`.
pub(super) const GEMM_SKINNY: Kernel = Kernel {
    name: "gemm_skinny",
    parts: &[PRELUDE, include_str!("wgsl/gemm_rows1.wgsl"), GEMM_BODY],
};

/// Sum over the middle axis of `[outer, len, inner]`: `wgsl/sum_axis.wgsl`.
pub(super) const SUM_AXIS: Kernel = Kernel {
    name: "sum_axis",
    parts: &[PRELUDE, ITEMS_MAIN, include_str!("wgsl/sum_axis.wgsl")],
};

/// Sum of each row of `[rows, len]`, one workgroup per row: `wgsl/sum_rows.wgsl`.
pub(super) const SUM_ROWS: Kernel = Kernel {
    name: "sum_rows",
    parts: &[PRELUDE, include_str!("wgsl/sum_rows.wgsl")],
};

/// Row-wise logsumexp: `wgsl/logsumexp_rows.wgsl`.
pub(super) const LOGSUMEXP_ROWS: Kernel = Kernel {
    name: "logsumexp_rows",
    parts: &[
        PRELUDE,
        ITEMS_MAIN,
        ROW_LSE,
        include_str!("wgsl/logsumexp_rows.wgsl"),
    ],
};

/// Row-wise log-softmax: `wgsl/log_softmax_rows.wgsl`.
pub(super) const LOG_SOFTMAX_ROWS: Kernel = Kernel {
    name: "log_softmax_rows",
    parts: &[
        PRELUDE,
        ITEMS_MAIN,
        ROW_LSE,
        include_str!("wgsl/log_softmax_rows.wgsl"),
    ],
};

/// Gradient of [`LOGSUMEXP_ROWS`]: `wgsl/logsumexp_rows_backward.wgsl`.
pub(super) const LOGSUMEXP_ROWS_BACKWARD: Kernel = Kernel {
    name: "logsumexp_rows_backward",
    parts: &[
        PRELUDE,
        ITEMS_MAIN,
        include_str!("wgsl/logsumexp_rows_backward.wgsl"),
    ],
};

/// Gradient of [`LOG_SOFTMAX_ROWS`]: `wgsl/log_softmax_rows_backward.wgsl`.
pub(super) const LOG_SOFTMAX_ROWS_BACKWARD: Kernel = Kernel {
    name: "log_softmax_rows_backward",
    parts: &[
        PRELUDE,
        ITEMS_MAIN,
        include_str!("wgsl/log_softmax_rows_backward.wgsl"),
    ],
};

/// Rows divided by their (clamped) L2 norms, and those norms: `wgsl/l2_normalize_rows.wgsl`.
pub(super) const L2_NORMALIZE_ROWS: Kernel = Kernel {
    name: "l2_normalize_rows",
    parts: &[
        PRELUDE,
        ITEMS_MAIN,
        include_str!("wgsl/l2_normalize_rows.wgsl"),
    ],
};

/// Gradient of [`L2_NORMALIZE_ROWS`]: `wgsl/l2_normalize_rows_backward.wgsl`.
pub(super) const L2_NORMALIZE_ROWS_BACKWARD: Kernel = Kernel {
    name: "l2_normalize_rows_backward",
    parts: &[
        PRELUDE,
        ITEMS_MAIN,
        include_str!("wgsl/l2_normalize_rows_backward.wgsl"),
    ],
};

/// Block copy along one axis (concat and slice): `wgsl/copy_axis.wgsl`.
pub(super) const COPY_AXIS: Kernel = Kernel {
    name: "copy_axis",
    parts: &[PRELUDE, ITEMS_MAIN, include_str!("wgsl/copy_axis.wgsl")],
};

/// Matrix transpose: `wgsl/transpose.wgsl`.
pub(super) const TRANSPOSE: Kernel = Kernel {
    name: "transpose",
    parts: &[PRELUDE, ITEMS_MAIN, include_str!("wgsl/transpose.wgsl")],
};

/// Row gather: `wgsl/gather_rows.wgsl`.
pub(super) const GATHER_ROWS: Kernel = Kernel {
    name: "gather_rows",
    parts: &[PRELUDE, ITEMS_MAIN, include_str!("wgsl/gather_rows.wgsl")],
};

/// Row scatter-add (the gradient of [`GATHER_ROWS`]): `wgsl/scatter_add_rows.wgsl`.
pub(super) const SCATTER_ADD_ROWS: Kernel = Kernel {
    name: "scatter_add_rows",
    parts: &[
        PRELUDE,
        ITEMS_MAIN,
        include_str!("wgsl/scatter_add_rows.wgsl"),
    ],
};

/// Unfold for convolution: `wgsl/im2col.wgsl`.
pub(super) const IM2COL: Kernel = Kernel {
    name: "im2col",
    parts: &[
        PRELUDE,
        ITEMS_MAIN,
        CONV_GEOMETRY,
        include_str!("wgsl/im2col.wgsl"),
    ],
};

/// Direct convolution for inputs with few channels: `wgsl/conv2d_direct.wgsl`.
pub(super) const CONV2D_DIRECT: Kernel = Kernel {
    name: "conv2d_direct",
    parts: &[
        PRELUDE,
        ITEMS_MAIN,
        CONV_GEOMETRY,
        include_str!("wgsl/conv2d_direct.wgsl"),
    ],
};

/// Weight gradient of a convolution with a small window, one workgroup per weight:
/// `wgsl/conv2d_grad_weight_direct.wgsl`.
pub(super) const CONV2D_GRAD_WEIGHT_DIRECT: Kernel = Kernel {
    name: "conv2d_grad_weight_direct",
    parts: &[
        PRELUDE,
        CONV_GEOMETRY,
        include_str!("wgsl/conv2d_grad_weight_direct.wgsl"),
    ],
};

/// Fold for the convolution backward: `wgsl/col2im.wgsl`.
pub(super) const COL2IM: Kernel = Kernel {
    name: "col2im",
    parts: &[
        PRELUDE,
        ITEMS_MAIN,
        CONV_GEOMETRY,
        include_str!("wgsl/col2im.wgsl"),
    ],
};

/// Average pooling, kernel = stride = k: `wgsl/avg_pool2d.wgsl`.
pub(super) const AVG_POOL2D: Kernel = Kernel {
    name: "avg_pool2d",
    parts: &[
        PRELUDE,
        ITEMS_MAIN,
        POOL_GEOMETRY,
        include_str!("wgsl/avg_pool2d.wgsl"),
    ],
};

/// Gradient of [`AVG_POOL2D`]: `wgsl/avg_pool2d_backward.wgsl`.
pub(super) const AVG_POOL2D_BACKWARD: Kernel = Kernel {
    name: "avg_pool2d_backward",
    parts: &[
        PRELUDE,
        ITEMS_MAIN,
        POOL_GEOMETRY,
        include_str!("wgsl/avg_pool2d_backward.wgsl"),
    ],
};

/// Nearest-neighbour upsampling by k: `wgsl/upsample_nearest2d.wgsl`.
pub(super) const UPSAMPLE_NEAREST2D: Kernel = Kernel {
    name: "upsample_nearest2d",
    parts: &[
        PRELUDE,
        ITEMS_MAIN,
        POOL_GEOMETRY,
        include_str!("wgsl/upsample_nearest2d.wgsl"),
    ],
};

/// Gradient of [`UPSAMPLE_NEAREST2D`]: `wgsl/upsample_nearest2d_backward.wgsl`.
pub(super) const UPSAMPLE_NEAREST2D_BACKWARD: Kernel = Kernel {
    name: "upsample_nearest2d_backward",
    parts: &[
        PRELUDE,
        ITEMS_MAIN,
        POOL_GEOMETRY,
        include_str!("wgsl/upsample_nearest2d_backward.wgsl"),
    ],
};

/// One Adam/AdamW step into fresh buffers: `wgsl/adam.wgsl`.
pub(super) const ADAM: Kernel = Kernel {
    name: "adam",
    parts: &[PRELUDE, ITEMS_MAIN, include_str!("wgsl/adam.wgsl")],
};

/// One SGD step (with or without momentum) into fresh buffers: `wgsl/sgd.wgsl`.
pub(super) const SGD: Kernel = Kernel {
    name: "sgd",
    parts: &[PRELUDE, ITEMS_MAIN, include_str!("wgsl/sgd.wgsl")],
};

/// The exact GELU and its gradient, on the f32 `erf` of `wgsl/erf.wgsl`: `wgsl/gelu.wgsl`.
pub(super) const GELU: Kernel = Kernel {
    name: "gelu",
    parts: &[
        PRELUDE,
        ITEMS_MAIN,
        include_str!("wgsl/erf.wgsl"),
        include_str!("wgsl/gelu.wgsl"),
    ],
};

/// The exponential moving average of a momentum teacher: `wgsl/ema.wgsl`.
pub(super) const EMA: Kernel = Kernel {
    name: "ema",
    parts: &[PRELUDE, ITEMS_MAIN, include_str!("wgsl/ema.wgsl")],
};

#[cfg(test)]
mod tests {
    use super::*;
    use wgpu::naga;

    /// Every kernel.
    const ALL: &[&Kernel] = &[
        &MAP,
        &BINARY,
        &GEMM,
        &GEMM_SKINNY,
        &SUM_AXIS,
        &SUM_ROWS,
        &LOGSUMEXP_ROWS,
        &LOG_SOFTMAX_ROWS,
        &LOGSUMEXP_ROWS_BACKWARD,
        &LOG_SOFTMAX_ROWS_BACKWARD,
        &L2_NORMALIZE_ROWS,
        &L2_NORMALIZE_ROWS_BACKWARD,
        &COPY_AXIS,
        &TRANSPOSE,
        &GATHER_ROWS,
        &SCATTER_ADD_ROWS,
        &IM2COL,
        &CONV2D_DIRECT,
        &CONV2D_GRAD_WEIGHT_DIRECT,
        &COL2IM,
        &AVG_POOL2D,
        &AVG_POOL2D_BACKWARD,
        &UPSAMPLE_NEAREST2D,
        &UPSAMPLE_NEAREST2D_BACKWARD,
        &ADAM,
        &SGD,
        &GELU,
        &EMA,
    ];

    #[test]
    fn every_kernel_source_parses_and_validates() {
        for k in ALL {
            let source = k.source();
            let module = naga::front::wgsl::parse_str(&source)
                .unwrap_or_else(|e| panic!("{}: {}", k.name, e.emit_to_string(&source)));
            naga::valid::Validator::new(
                naga::valid::ValidationFlags::all(),
                naga::valid::Capabilities::default(),
            )
            .validate(&module)
            .unwrap_or_else(|e| panic!("{}: {}", k.name, e.emit_to_string(&source)));
            assert!(
                module.entry_points.iter().any(|e| e.name == "main"),
                "{}: no entry point `main`",
                k.name
            );
        }
    }

    #[test]
    fn kernel_names_are_unique_and_parts_open_with_a_comment() {
        let mut names: Vec<_> = ALL.iter().map(|k| k.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(
            names.len(),
            ALL.len(),
            "duplicate kernel names (the pipeline cache key)"
        );
        for k in ALL {
            for part in k.parts {
                assert!(
                    part.starts_with("//"),
                    "{}: a part without its opening comment",
                    k.name
                );
            }
        }
    }
}
