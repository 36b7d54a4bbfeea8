//! Average pooling (kernel = stride) of `[N, C, H, W]` tensors: checks, then the backend.

use super::{Element, Tensor};
use crate::backend::op::PoolDims;
use crate::error::{Error, Result};

/// The pooling geometry of an input shape, or the error naming `op` and the shapes.
pub(super) fn pool_dims(
    op: &'static str,
    input: &[usize],
    k: usize,
    others: &[&[usize]],
) -> Result<PoolDims> {
    if k == 0 {
        return Err(Error::invalid(
            op,
            "kernel size k must be at least 1, got 0",
        ));
    }
    let mut shapes = vec![input];
    shapes.extend_from_slice(others);
    let &[n, c, h, w] = input else {
        return Err(Error::shape(op, "an input [N, C, H, W]", &shapes));
    };
    if k > h || k > w {
        return Err(Error::shape(
            op,
            format!("H and W at least the kernel size {k}"),
            &shapes,
        ));
    }
    Ok(PoolDims {
        planes: n * c,
        h,
        w,
        oh: h / k,
        ow: w / k,
        k,
    })
}

impl<T: Element> Tensor<T> {
    /// Average pooling with kernel = stride = k over `[N, C, H, W]` (H, W divisible by k → else
    /// floor like PyTorch: trailing rows/cols dropped).
    ///
    /// Errors: [`Error::InvalidArgument`] for `k == 0`; [`Error::Shape`] for an input that is
    /// not 4-D or smaller than `k` in H or W.
    pub fn avg_pool2d(&self, k: usize) -> Result<Tensor<T>> {
        let d = pool_dims("avg_pool2d", self.shape(), k, &[])?;
        let out_shape = [self.shape()[0], self.shape()[1], d.oh, d.ow];
        if d.planes * d.oh * d.ow == 0 {
            return self.zeros_like_on(&out_shape);
        }
        Ok(Tensor::wrap(self.storage().avg_pool2d(&d)?, &out_shape))
    }

    /// Gradient of avg_pool2d: spreads grad_out / k² over each window; `input_shape` is the
    /// forward input's shape (rows/columns the forward dropped get zero gradient).
    ///
    /// Errors: as [`avg_pool2d`](Tensor::avg_pool2d) for `input_shape` and `k`, plus
    /// [`Error::Shape`] when `grad_out` is not `[N, C, H/k, W/k]` (floor).
    pub fn avg_pool2d_backward(
        grad_out: &Tensor<T>,
        input_shape: &[usize],
        k: usize,
    ) -> Result<Tensor<T>> {
        let op = "avg_pool2d_backward";
        let d = pool_dims(op, input_shape, k, &[grad_out.shape()])?;
        if grad_out.shape() != [input_shape[0], input_shape[1], d.oh, d.ow] {
            return Err(Error::shape(
                op,
                format!(
                    "grad_out [{}, {}, {}, {}] for kernel {k}",
                    input_shape[0], input_shape[1], d.oh, d.ow
                ),
                &[input_shape, grad_out.shape()],
            ));
        }
        if d.planes * d.h * d.w == 0 {
            return grad_out.zeros_like_on(input_shape);
        }
        Ok(Tensor::wrap(
            grad_out.storage().avg_pool2d_backward(&d)?,
            input_shape,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// Window means over [N, C, H, W], dropping trailing rows/columns (f64 reference).
    fn naive(x: &[f64], shape: [usize; 4], k: usize) -> Vec<f64> {
        let [n, c, h, w] = shape;
        let (oh, ow) = (h / k, w / k);
        let mut out = Vec::with_capacity(n * c * oh * ow);
        for p in 0..n * c {
            for y in 0..oh {
                for z in 0..ow {
                    let mut s = 0.0;
                    for i in 0..k {
                        for j in 0..k {
                            s += x[p * h * w + (y * k + i) * w + z * k + j];
                        }
                    }
                    out.push(s / (k * k) as f64);
                }
            }
        }
        out
    }

    const SHAPES: [([usize; 4], usize); 6] = [
        ([2, 3, 4, 4], 2),
        ([256, 6, 28, 28], 2),
        ([1, 2, 5, 7], 2),
        ([2, 1, 7, 6], 3),
        ([3, 2, 3, 3], 1),
        ([1, 1, 4, 4], 4),
    ];

    #[test]
    fn forward_matches_naive_window_means() {
        let mut rng = StdRng::seed_from_u64(5);
        for (shape, k) in SHAPES {
            let x = Tensor::<f64>::rand_uniform(&shape, -1.0, 1.0, &mut rng);
            let y = x.avg_pool2d(k).unwrap();
            assert_eq!(y.shape(), [shape[0], shape[1], shape[2] / k, shape[3] / k]);
            let want = naive(x.data().unwrap(), shape, k);
            for (a, b) in y.data().unwrap().iter().zip(&want) {
                assert!((a - b).abs() < 1e-14, "{shape:?} k={k}: {a} vs {b}");
            }
            let y32 = x.cast::<f32>().unwrap().avg_pool2d(k).unwrap();
            for (a, b) in y32.data().unwrap().iter().zip(&want) {
                assert!((*a as f64 - b).abs() < 1e-6, "f32 {shape:?} k={k}");
            }
        }
    }

    #[test]
    fn backward_is_the_adjoint_of_forward() {
        // avg_pool2d is linear, so ⟨pool(x), g⟩ = ⟨x, pool_backward(g)⟩ for every x and g; with
        // x a unit vector e_i this is exactly the finite-difference derivative of ⟨pool(x), g⟩.
        let mut rng = StdRng::seed_from_u64(9);
        for (shape, k) in SHAPES.into_iter().filter(|(s, _)| s[0] < 100) {
            let g_shape = [shape[0], shape[1], shape[2] / k, shape[3] / k];
            let g = Tensor::<f64>::rand_uniform(&g_shape, -1.0, 1.0, &mut rng);
            let gx = Tensor::avg_pool2d_backward(&g, &shape, k).unwrap();
            assert_eq!(gx.shape(), shape);
            for i in 0..gx.len() {
                let mut e = Tensor::<f64>::zeros(&shape);
                e.data_mut().unwrap()[i] = 1.0;
                let y = e.avg_pool2d(k).unwrap();
                let d: f64 = y
                    .data()
                    .unwrap()
                    .iter()
                    .zip(g.data().unwrap())
                    .map(|(a, b)| a * b)
                    .sum();
                assert!(
                    (gx.data().unwrap()[i] - d).abs() < 1e-14,
                    "{shape:?} k={k} at {i}"
                );
            }
        }
    }

    #[test]
    fn tiny_hand_worked_case() {
        // One 2×3 plane, k = 2: the window [[1, 2], [4, 5]] has mean 3; column 3 is dropped.
        // Backward of grad_out = 8 puts 8 / 4 = 2 on the window and 0 on the dropped column.
        let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[1, 1, 2, 3]).unwrap();
        let y = x.avg_pool2d(2).unwrap();
        assert_eq!(y.shape(), [1, 1, 1, 1]);
        assert_eq!(y.data().unwrap(), [3.0]);
        let g = Tensor::from_vec(vec![8.0f32], &[1, 1, 1, 1]).unwrap();
        let gx = Tensor::avg_pool2d_backward(&g, &[1, 1, 2, 3], 2).unwrap();
        assert_eq!(gx.data().unwrap(), [2.0, 2.0, 0.0, 2.0, 2.0, 0.0]);
    }

    #[test]
    fn bit_identical_for_any_thread_count() {
        let mut rng = StdRng::seed_from_u64(1);
        let x = Tensor::<f32>::rand_uniform(&[256, 6, 28, 28], -1.0, 1.0, &mut rng);
        let g = Tensor::<f32>::rand_uniform(&[256, 6, 14, 14], -1.0, 1.0, &mut rng);
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    (
                        x.avg_pool2d(2).unwrap(),
                        Tensor::avg_pool2d_backward(&g, x.shape(), 2).unwrap(),
                    )
                })
        };
        let (a, b) = (run(1), run(2));
        let bits = |t: &Tensor<f32>| {
            t.data()
                .unwrap()
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&a.0), bits(&b.0));
        assert_eq!(bits(&a.1), bits(&b.1));
    }

    #[test]
    fn empty_batch_is_fine() {
        let x = Tensor::<f32>::zeros(&[0, 3, 4, 4]);
        assert_eq!(x.avg_pool2d(2).unwrap().shape(), [0, 3, 2, 2]);
        let g = Tensor::<f32>::zeros(&[0, 3, 2, 2]);
        let gx = Tensor::avg_pool2d_backward(&g, &[0, 3, 4, 4], 2).unwrap();
        assert_eq!(gx.shape(), [0, 3, 4, 4]);
    }

    #[test]
    fn bad_arguments_are_errors() {
        let x = Tensor::<f32>::zeros(&[2, 3, 4, 4]);
        assert!(matches!(
            x.avg_pool2d(0),
            Err(Error::InvalidArgument {
                op: "avg_pool2d",
                ..
            })
        ));
        match Tensor::<f32>::zeros(&[3, 4, 4]).avg_pool2d(2) {
            Err(Error::Shape { op, shapes, .. }) => {
                assert_eq!(op, "avg_pool2d");
                assert_eq!(shapes, vec![vec![3, 4, 4]]);
            }
            other => panic!("expected a shape error, got {other:?}"),
        }
        assert!(matches!(x.avg_pool2d(5), Err(Error::Shape { .. })));
        let g = Tensor::<f32>::zeros(&[2, 3, 2, 2]);
        assert!(Tensor::avg_pool2d_backward(&g, &[2, 3, 4, 4], 2).is_ok());
        // grad_out of the wrong shape, a wrong-rank input shape, k = 0.
        match Tensor::avg_pool2d_backward(&g, &[2, 3, 6, 6], 2) {
            Err(Error::Shape { op, shapes, .. }) => {
                assert_eq!(op, "avg_pool2d_backward");
                assert_eq!(shapes, vec![vec![2, 3, 6, 6], vec![2, 3, 2, 2]]);
            }
            other => panic!("expected a shape error, got {other:?}"),
        }
        assert!(matches!(
            Tensor::avg_pool2d_backward(&g, &[2, 3, 4], 2),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(
            Tensor::avg_pool2d_backward(&g, &[2, 3, 4, 4], 0),
            Err(Error::InvalidArgument { .. })
        ));
    }
}
