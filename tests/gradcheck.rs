//! Finite-difference gradient checks (f64, central differences, max relative error ≤ 1e-6) for
//! every differentiable op of the tape.

use nidl::autograd::gradcheck::check_gradients;
use nidl::autograd::{Graph, Var};
use nidl::tensor::Conv2dGeometry;
use nidl::{Result, Tensor};
use rand::rngs::StdRng;
use rand::SeedableRng;

const TOL: f64 = 1e-6;
const H: f64 = 1e-6;

fn randn(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::rand_normal(shape, 0.0, 1.0, &mut StdRng::seed_from_u64(seed))
}

/// Reduces a non-scalar output to a scalar with fixed random weights, so every output element
/// contributes a distinct amount to the loss.
fn weighted_sum(g: &mut Graph<f64>, y: Var, seed: u64) -> Result<Var> {
    let w = g.input(randn(g.value(y).shape(), seed));
    let p = g.mul(y, w)?;
    g.sum(p)
}

fn check(name: &str, inputs: &[Tensor<f64>], f: impl Fn(&mut Graph<f64>, &[Var]) -> Result<Var>) {
    let r = check_gradients(inputs, H, f).unwrap();
    assert!(
        r.max_rel_error <= TOL,
        "{name}: max relative error {:.3e} at {:?} (analytic, numeric) = {:?}",
        r.max_rel_error,
        r.worst,
        r.worst_values
    );
}

#[test]
fn matmul_all_transposes() {
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        let a = randn(if ta { &[4, 3] } else { &[3, 4] }, 1);
        let b = randn(if tb { &[5, 4] } else { &[4, 5] }, 2);
        check(&format!("matmul {ta} {tb}"), &[a, b], |g, v| {
            let y = g.matmul_t(v[0], v[1], ta, tb)?;
            weighted_sum(g, y, 3)
        });
    }
}

#[test]
fn broadcast_binary_ops() {
    let a = randn(&[3, 4], 4);
    // Denominators kept away from zero.
    let b_row = randn(&[4], 5)
        .add_scalar(0.0)
        .unwrap()
        .map(nidl::tensor::UnaryOp::Exp)
        .unwrap();
    let b_col = randn(&[3, 1], 6).map(nidl::tensor::UnaryOp::Exp).unwrap();
    let b_full = randn(&[3, 4], 7).map(nidl::tensor::UnaryOp::Exp).unwrap();
    for b in [b_row, b_col, b_full] {
        for op in ["add", "sub", "mul", "div"] {
            check(
                &format!("{op} {:?}", b.shape()),
                &[a.clone(), b.clone()],
                |g, v| {
                    let y = match op {
                        "add" => g.add(v[0], v[1])?,
                        "sub" => g.sub(v[0], v[1])?,
                        "mul" => g.mul(v[0], v[1])?,
                        _ => g.div(v[0], v[1])?,
                    };
                    weighted_sum(g, y, 8)
                },
            );
        }
    }
}

#[test]
fn scalar_ops() {
    let a = randn(&[2, 5], 9);
    check("scalar ops", &[a], |g, v| {
        let y = g.add_scalar(v[0], 0.3)?;
        let y = g.mul_scalar(y, -1.7)?;
        let y = g.scalar(y, 2.5, nidl::tensor::BinaryOp::Div)?;
        let y = g.scalar(y, 0.1, nidl::tensor::BinaryOp::Sub)?;
        weighted_sum(g, y, 10)
    });
}

#[test]
fn unary_ops() {
    // Inputs away from relu's kink; ln/sqrt on positive values.
    let a = randn(&[3, 4], 11)
        .map(nidl::tensor::UnaryOp::Exp)
        .unwrap()
        .add_scalar(0.1)
        .unwrap();
    let mixed = Tensor::from_vec(vec![-1.3, 0.7, 2.1, -0.4, 0.05, -2.0], &[2, 3]).unwrap();
    check("relu", std::slice::from_ref(&mixed), |g, v| {
        let y = g.relu(v[0])?;
        weighted_sum(g, y, 12)
    });
    check("neg", &[mixed], |g, v| {
        let y = g.neg(v[0])?;
        weighted_sum(g, y, 12)
    });
    for op in ["exp", "ln", "sqrt"] {
        check(op, std::slice::from_ref(&a), |g, v| {
            let y = match op {
                "exp" => g.exp(v[0])?,
                "ln" => g.ln(v[0])?,
                _ => g.sqrt(v[0])?,
            };
            weighted_sum(g, y, 13)
        });
    }
}

#[test]
fn sums_means_reshape_transpose() {
    let a = randn(&[2, 3, 4], 14);
    for axis in 0..3 {
        check(
            &format!("sum_axis {axis}"),
            std::slice::from_ref(&a),
            |g, v| {
                let y = g.sum_axis(v[0], axis)?;
                weighted_sum(g, y, 15)
            },
        );
        check(
            &format!("mean_axis {axis}"),
            std::slice::from_ref(&a),
            |g, v| {
                let y = g.mean_axis(v[0], axis)?;
                weighted_sum(g, y, 16)
            },
        );
    }
    check("mean", std::slice::from_ref(&a), |g, v| {
        let y = g.mul(v[0], v[0])?;
        g.mean(y)
    });
    check("reshape+flatten+transpose", &[a], |g, v| {
        let y = g.flatten(v[0])?;
        let y = g.transpose(y)?;
        let y = g.reshape(y, &[4, 6])?;
        weighted_sum(g, y, 17)
    });
}

#[test]
fn concat_slice_gather_masked_fill() {
    let a = randn(&[3, 4], 18);
    let b = randn(&[2, 4], 19);
    check("concat axis 0", &[a.clone(), b.clone()], |g, v| {
        let y = g.concat(&[v[0], v[1], v[0]], 0)?;
        weighted_sum(g, y, 20)
    });
    let c = randn(&[3, 2], 21);
    check("concat axis 1", &[a.clone(), c], |g, v| {
        let y = g.concat(&[v[0], v[1]], 1)?;
        weighted_sum(g, y, 22)
    });
    check("slice", std::slice::from_ref(&a), |g, v| {
        let y = g.slice(v[0], 1, 1, 3)?;
        weighted_sum(g, y, 23)
    });
    check(
        "gather_rows with repeats",
        std::slice::from_ref(&a),
        |g, v| {
            let y = g.gather_rows(v[0], &[2, 0, 2, 1])?;
            weighted_sum(g, y, 24)
        },
    );
    let mask: Vec<bool> = (0..12).map(|i| i % 3 == 0).collect();
    check("masked_fill", &[a], |g, v| {
        let y = g.masked_fill(v[0], &mask, -9e15)?;
        let y = g.mul_scalar(y, 1e-15)?; // keep the filled constant's scale sane
        weighted_sum(g, y, 25)
    });
}

#[test]
fn row_ops_normalize_cosine_logsumexp_log_softmax() {
    let a = randn(&[5, 3], 26);
    let b = randn(&[4, 3], 27);
    check("l2_normalize_rows", std::slice::from_ref(&a), |g, v| {
        let y = g.l2_normalize_rows(v[0])?;
        weighted_sum(g, y, 28)
    });
    check("cosine_similarity_matrix", &[a.clone(), b], |g, v| {
        let y = g.cosine_similarity_matrix(v[0], v[1])?;
        weighted_sum(g, y, 29)
    });
    check(
        "cosine_similarity_matrix self",
        std::slice::from_ref(&a),
        |g, v| {
            let y = g.cosine_similarity_matrix(v[0], v[0])?;
            weighted_sum(g, y, 30)
        },
    );
    let big = randn(&[4, 6], 31).mul_scalar(5.0).unwrap();
    check("logsumexp_rows", std::slice::from_ref(&big), |g, v| {
        let y = g.logsumexp_rows(v[0])?;
        weighted_sum(g, y, 32)
    });
    check("log_softmax_rows", &[big], |g, v| {
        let y = g.log_softmax_rows(v[0])?;
        weighted_sum(g, y, 33)
    });
}

#[test]
fn conv2d_any_stride_padding() {
    for (stride, padding, h, w) in [(1, 0, 6, 5), (1, 2, 5, 5), (2, 1, 7, 6), (3, 0, 8, 7)] {
        let x = randn(&[2, 2, h, w], 34);
        let wt = randn(&[3, 2, 3, 3], 35);
        let b = randn(&[3], 36);
        let geom = Conv2dGeometry { stride, padding };
        check(
            &format!("conv2d s{stride} p{padding}"),
            &[x.clone(), wt.clone(), b],
            |g, v| {
                let y = g.conv2d(v[0], v[1], Some(v[2]), geom)?;
                weighted_sum(g, y, 37)
            },
        );
        check(
            &format!("conv2d no bias s{stride} p{padding}"),
            &[x, wt],
            |g, v| {
                let y = g.conv2d(v[0], v[1], None, geom)?;
                weighted_sum(g, y, 38)
            },
        );
    }
}

#[test]
fn conv2d_relu_pool() {
    // The recording graph's fused op (`Op::Conv2dReluPool`; the inference graph's fused kernel
    // has the same bits: src/tensor/conv.rs tests it). Relu cuts some outputs. Cases: the
    // direct kernel's path (even 6×6 output, k = 2), an odd 7×7 output whose last row and
    // column the pooling drops, and k = 3 (both composed forward, fused backward).
    for (hw, k, seed) in [(6, 2, 41), (7, 2, 45), (6, 3, 49)] {
        let x = randn(&[2, 2, hw, hw], seed);
        let wt = randn(&[3, 2, 3, 3], seed + 1);
        let b = randn(&[3], seed + 2);
        let geom = Conv2dGeometry {
            stride: 1,
            padding: 1,
        };
        check(
            &format!("conv2d_relu_pool {hw} k {k}"),
            &[x, wt, b],
            |g, v| {
                let y = g.conv2d_relu_pool(v[0], v[1], Some(v[2]), geom, k)?;
                weighted_sum(g, y, seed + 3)
            },
        );
    }
}

#[test]
fn avg_pool2d() {
    for k in [2, 3] {
        let x = randn(&[2, 3, 6, 6], 39);
        check(&format!("avg_pool2d {k}"), &[x], |g, v| {
            let y = g.avg_pool2d(v[0], k)?;
            weighted_sum(g, y, 40)
        });
    }
}

#[test]
fn gradients_accumulate_over_reuse() {
    // f(x) = Σ (x ⊙ x ⊙ w) uses x twice; the check covers the accumulation path.
    let x = randn(&[3, 3], 41);
    check("reuse", &[x], |g, v| {
        let y = g.mul(v[0], v[0])?;
        let z = g.add(y, v[0])?;
        weighted_sum(g, z, 42)
    });
}
