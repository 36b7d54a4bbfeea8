//! Bad input to the engine: every shape mismatch is an `Error` naming the op and the shapes.

use nidl::autograd::Graph;
use nidl::tensor::Conv2dGeometry;
use nidl::Tensor;

fn message(r: nidl::Result<impl std::fmt::Debug>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn tensor_ops_name_op_and_shapes() {
    let a = Tensor::<f32>::zeros(&[2, 3]);
    let b = Tensor::<f32>::zeros(&[4, 5]);
    let m = message(a.matmul(&b, false, false));
    assert!(
        m.contains("matmul") && m.contains("[2, 3]") && m.contains("[4, 5]"),
        "{m}"
    );
    let m = message(Tensor::concat(&[&a, &b], 0));
    assert!(
        m.contains("concat") && m.contains("[2, 3]") && m.contains("[4, 5]"),
        "{m}"
    );
    let m = message(a.reshape(&[7]));
    assert!(
        m.contains("reshape") && m.contains("[2, 3]") && m.contains("[7]"),
        "{m}"
    );
    let m = message(Tensor::<f64>::from_vec(vec![1.0; 5], &[2, 3]));
    assert!(
        m.contains("from_vec") && m.contains("[2, 3]") && m.contains("[5]"),
        "{m}"
    );
    let m = message(a.slice(1, 2, 4));
    assert!(m.contains("slice") && m.contains("2..4"), "{m}");
}

#[test]
fn graph_ops_name_op_and_shapes() {
    let mut g = Graph::<f64>::new();
    let a = g.input(Tensor::zeros(&[2, 3]));
    let b = g.input(Tensor::zeros(&[3, 2]));
    let m = message(g.add(a, b));
    assert!(
        m.contains("add") && m.contains("[2, 3]") && m.contains("[3, 2]"),
        "{m}"
    );
    let m = message(g.matmul_t(a, b, false, true));
    assert!(
        m.contains("matmul") && m.contains("[2, 3]") && m.contains("[3, 2]"),
        "{m}"
    );
    let x = g.input(Tensor::zeros(&[1, 2, 8, 8]));
    let w = g.input(Tensor::zeros(&[4, 3, 3, 3]));
    let m = message(g.conv2d(
        x,
        w,
        None,
        Conv2dGeometry {
            stride: 1,
            padding: 0,
        },
    ));
    assert!(
        m.contains("conv2d") && m.contains("[1, 2, 8, 8]") && m.contains("[4, 3, 3, 3]"),
        "{m}"
    );
    // Empty images (no row, column or channel) or no output channel: an error, not a panic of
    // the kernels' per-image chunks.
    let padded = Conv2dGeometry {
        stride: 1,
        padding: 1,
    };
    for (xs, ws) in [
        ([1, 1, 0, 0], [1, 1, 1, 1]),
        ([1, 1, 0, 4], [1, 1, 1, 1]),
        ([2, 0, 4, 4], [1, 0, 1, 1]),
        ([2, 1, 4, 4], [0, 1, 1, 1]),
    ] {
        let x = Tensor::<f32>::zeros(&xs);
        let w = Tensor::<f32>::zeros(&ws);
        let m = message(x.conv2d(&w, None, padded));
        assert!(
            m.contains("conv2d") && m.contains("at least one"),
            "{xs:?} {ws:?}: {m}"
        );
    }
    let m = message(g.masked_fill(a, &[true; 5], 0.0));
    assert!(m.contains("masked_fill") && m.contains("[2, 3]"), "{m}");
    let m = message(g.backward(a));
    assert!(m.contains("backward") && m.contains("[2, 3]"), "{m}");
    let m = message(g.logsumexp_rows(x));
    assert!(
        m.contains("logsumexp_rows") && m.contains("[1, 2, 8, 8]"),
        "{m}"
    );
}
