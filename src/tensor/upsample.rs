//! Nearest-neighbour upsampling of `[N, C, H, W]` tensors by an integer factor (PyTorch's
//! `nn.Upsample(scale_factor=k, mode="nearest")`): checks, then the backend.
//!
//! A decoder upsamples with it and then convolves (Odena et al. 2016: nearest upsampling +
//! convolution avoids the checkerboard artefacts of transposed convolutions with a kernel not
//! divisible by the stride). The backends take the geometry as the [`PoolDims`] of the pooling
//! from the upsampled planes back to the input ones.

use super::{Element, Tensor};
use crate::backend::op::PoolDims;
use crate::error::{Error, Result};

/// The geometry of upsampling `input` (`[N, C, H, W]`) by `k`, or the error naming `op`.
fn upsample_dims(op: &'static str, input: &[usize], k: usize) -> Result<PoolDims> {
    if k == 0 {
        return Err(Error::invalid(
            op,
            "scale factor k must be at least 1, got 0",
        ));
    }
    let &[n, c, h, w] = input else {
        return Err(Error::shape(op, "an input [N, C, H, W]", &[input]));
    };
    let too_big = || Error::shape(op, format!("upsampled by {k} within usize"), &[input]);
    let hk = h.checked_mul(k).ok_or_else(too_big)?;
    let wk = w.checked_mul(k).ok_or_else(too_big)?;
    let planes = n.checked_mul(c).ok_or_else(too_big)?;
    planes
        .checked_mul(hk)
        .and_then(|e| e.checked_mul(wk))
        .ok_or_else(too_big)?;
    Ok(PoolDims {
        planes,
        h: hk,
        w: wk,
        oh: h,
        ow: w,
        k,
    })
}

impl<T: Element> Tensor<T> {
    /// Nearest-neighbour upsampling by `k` of `[N, C, H, W]` into `[N, C, k·H, k·W]`: output
    /// `(i, j)` is input `(i / k, j / k)`.
    ///
    /// Errors: [`Error::InvalidArgument`] for `k == 0`; [`Error::Shape`] for an input that is
    /// not 4-D or whose output would not fit in memory's index range.
    pub fn upsample_nearest2d(&self, k: usize) -> Result<Tensor<T>> {
        let d = upsample_dims("upsample_nearest2d", self.shape(), k)?;
        let out_shape = [self.shape()[0], self.shape()[1], d.h, d.w];
        if d.planes * d.h * d.w == 0 {
            return self.zeros_like_on(&out_shape);
        }
        Ok(Tensor::wrap(
            self.storage().upsample_nearest2d(&d)?,
            &out_shape,
        ))
    }

    /// Gradient of [`upsample_nearest2d`](Tensor::upsample_nearest2d): each `k × k` window of
    /// `grad_out` summed; `input_shape` is the forward input's shape.
    ///
    /// Errors: as [`upsample_nearest2d`](Tensor::upsample_nearest2d) for `input_shape` and
    /// `k`, plus [`Error::Shape`] when `grad_out` is not `[N, C, k·H, k·W]`.
    pub fn upsample_nearest2d_backward(
        grad_out: &Tensor<T>,
        input_shape: &[usize],
        k: usize,
    ) -> Result<Tensor<T>> {
        let op = "upsample_nearest2d_backward";
        let d = upsample_dims(op, input_shape, k)?;
        if grad_out.shape() != [input_shape[0], input_shape[1], d.h, d.w] {
            return Err(Error::shape(
                op,
                format!(
                    "grad_out [{}, {}, {}, {}] for factor {k}",
                    input_shape[0], input_shape[1], d.h, d.w
                ),
                &[input_shape, grad_out.shape()],
            ));
        }
        if d.planes * d.oh * d.ow == 0 {
            return grad_out.zeros_like_on(input_shape);
        }
        Ok(Tensor::wrap(
            grad_out.storage().upsample_nearest2d_backward(&d)?,
            input_shape,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn hand_worked_factor_two() {
        // [[1, 2], [3, 4]] → every value over a 2×2 block; backward sums the blocks.
        let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2]).unwrap();
        let y = x.upsample_nearest2d(2).unwrap();
        assert_eq!(y.shape(), [1, 1, 4, 4]);
        #[rustfmt::skip]
        let want = [
            1.0, 1.0, 2.0, 2.0,
            1.0, 1.0, 2.0, 2.0,
            3.0, 3.0, 4.0, 4.0,
            3.0, 3.0, 4.0, 4.0,
        ];
        assert_eq!(y.to_vec().unwrap(), want);
        let g = Tensor::<f64>::from_vec((0..16).map(f64::from).collect(), &[1, 1, 4, 4]).unwrap();
        let gx = Tensor::upsample_nearest2d_backward(&g, &[1, 1, 2, 2], 2).unwrap();
        // Block sums: 0+1+4+5, 2+3+6+7, 8+9+12+13, 10+11+14+15.
        assert_eq!(gx.to_vec().unwrap(), [10.0, 18.0, 42.0, 50.0]);
    }

    #[test]
    fn backward_is_the_adjoint_for_many_planes() {
        // Upsampling is linear: ⟨up(x), g⟩ = ⟨x, up_backward(g)⟩, over more planes than one
        // rayon task holds and with factor 3 (3 × 3 windows of 7 × 5 planes).
        let mut rng = StdRng::seed_from_u64(3);
        let shape = [40, 9, 7, 5];
        let x = Tensor::<f64>::rand_normal(&shape, 0.0, 1.0, &mut rng);
        let g = Tensor::<f64>::rand_normal(&[40, 9, 21, 15], 0.0, 1.0, &mut rng);
        let y = x.upsample_nearest2d(3).unwrap();
        let gx = Tensor::upsample_nearest2d_backward(&g, &shape, 3).unwrap();
        let dot = |a: &Tensor<f64>, b: &Tensor<f64>| -> f64 {
            let (a, b) = (a.to_vec().unwrap(), b.to_vec().unwrap());
            a.iter().zip(&b).map(|(p, q)| p * q).sum()
        };
        let (lhs, rhs) = (dot(&y, &g), dot(&x, &gx));
        assert!(
            (lhs - rhs).abs() <= 1e-9 * lhs.abs().max(1.0),
            "{lhs} vs {rhs}"
        );
        // And every output element is its input's (i / 3, j / 3).
        let (xv, yv) = (x.to_vec().unwrap(), y.to_vec().unwrap());
        for p in 0..40 * 9 {
            for i in 0..21 {
                for j in 0..15 {
                    assert_eq!(yv[(p * 21 + i) * 15 + j], xv[(p * 7 + i / 3) * 5 + j / 3]);
                }
            }
        }
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let x = Tensor::<f32>::zeros(&[2, 3, 4, 4]);
        assert!(matches!(
            x.upsample_nearest2d(0),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            Tensor::<f32>::zeros(&[3, 4, 4]).upsample_nearest2d(2),
            Err(Error::Shape { .. })
        ));
        // A shape whose upsampled size overflows (checked before any allocation).
        assert!(matches!(
            upsample_dims("upsample_nearest2d", &[1, 1, usize::MAX / 2, 1], 3),
            Err(Error::Shape { .. })
        ));
        let g = Tensor::<f32>::zeros(&[2, 3, 8, 6]);
        match Tensor::upsample_nearest2d_backward(&g, &[2, 3, 4, 4], 2) {
            Err(Error::Shape { op, .. }) => assert_eq!(op, "upsample_nearest2d_backward"),
            other => panic!("{other:?}"),
        }
        // Empty batches give empty results of the right shape.
        let e = Tensor::<f32>::zeros(&[0, 3, 2, 2])
            .upsample_nearest2d(2)
            .unwrap();
        assert_eq!(e.shape(), [0, 3, 4, 4]);
    }
}
