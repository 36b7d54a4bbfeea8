//! 2-D convolution of `[N, C_in, H, W]` tensors: shape checks, then the backend (the CPU
//! algorithm and its tuning are described in `tensor/cpu/conv.rs`).

use super::pool::pool_dims;
use super::{Element, Tensor};
use crate::backend::op::{Conv2dGeometry, ConvDims, PoolDims};
use crate::error::{Error, Result};

/// The error naming `op` and the shapes when `bias` is not `[C_out]`.
fn check_bias<T: Element>(
    op: &'static str,
    x: &Tensor<T>,
    weight: &Tensor<T>,
    bias: Option<&Tensor<T>>,
    d: &ConvDims,
) -> Result<()> {
    match bias {
        Some(b) if b.shape() != [d.co] => Err(Error::shape(
            op,
            format!("bias [{}] (C_out)", d.co),
            &[x.shape(), weight.shape(), b.shape()],
        )),
        _ => Ok(()),
    }
}

/// The convolution and pooling geometries of `avg_pool2d(relu(conv2d(x, weight, bias)), k)`,
/// or the error naming `op` and the shapes.
fn relu_pool_dims<T: Element>(
    op: &'static str,
    x: &Tensor<T>,
    weight: &Tensor<T>,
    bias: Option<&Tensor<T>>,
    geom: Conv2dGeometry,
    k: usize,
) -> Result<(ConvDims, PoolDims)> {
    let d = ConvDims::new(op, x.shape(), weight.shape(), geom)?;
    check_bias(op, x, weight, bias, &d)?;
    let conv_shape = [d.n, d.co, d.oh, d.ow];
    let pool = pool_dims(op, &conv_shape, k, &[x.shape(), weight.shape()])?;
    Ok((d, pool))
}

impl<T: Element> Tensor<T> {
    /// x: `[N, C_in, H, W]`, weight: `[C_out, C_in, KH, KW]`, bias: `[C_out]` →
    /// `[N, C_out, OH, OW]`, OH = (H + 2p − KH)/s + 1 (floor), likewise OW.
    ///
    /// Errors: [`Error::Shape`] for a wrong rank, mismatched input channels, a bias that is not
    /// `[C_out]` or a kernel larger than the padded input; [`Error::InvalidArgument`] for stride 0.
    /// The result is bit-identical for any number of rayon threads.
    pub fn conv2d(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        geom: Conv2dGeometry,
    ) -> Result<Tensor<T>> {
        let d = ConvDims::new("conv2d", self.shape(), weight.shape(), geom)?;
        check_bias("conv2d", self, weight, bias, &d)?;
        let out_shape = [d.n, d.co, d.oh, d.ow];
        let bias = bias.map(Tensor::storage);
        Ok(Tensor::wrap(
            self.storage().conv2d(weight.storage(), bias, &d)?,
            &out_shape,
        ))
    }

    /// `avg_pool2d(relu(conv2d(x, weight, bias)), k)` — the same bits as those three calls, in
    /// one pass over the output on the CPU where the direct kernel applies (`k = 2`, stride 1,
    /// small channel counts; see `tensor/cpu/direct.rs`). For inference: it records nothing
    /// a backward pass could use ([`conv2d_relu_pool_train`](Tensor::conv2d_relu_pool_train)
    /// does).
    ///
    /// Errors: as [`conv2d`](Tensor::conv2d) and [`avg_pool2d`](Tensor::avg_pool2d) on the
    /// convolution's output shape.
    pub fn conv2d_relu_pool(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        geom: Conv2dGeometry,
        k: usize,
    ) -> Result<Tensor<T>> {
        let (d, pool) = relu_pool_dims("conv2d_relu_pool", self, weight, bias, geom, k)?;
        let out_shape = [d.n, d.co, pool.oh, pool.ow];
        if d.n * d.co * pool.oh * pool.ow == 0 {
            return self.zeros_like_on(&out_shape);
        }
        let bias = bias.map(Tensor::storage);
        Ok(Tensor::wrap(
            self.storage()
                .conv2d_relu_pool(weight.storage(), bias, &d, &pool)?,
            &out_shape,
        ))
    }

    /// [`conv2d_relu_pool`](Tensor::conv2d_relu_pool) for training: `(pooled, act)`, the pooled
    /// output and `act = relu(conv2d(x, weight, bias))` `[N, C_out, OH, OW]`, which
    /// [`conv2d_relu_pool_backward`](Tensor::conv2d_relu_pool_backward) needs. The same bits as
    /// the three calls; on the CPU one pass writes both where the direct kernel applies (`k =
    /// 2`, OH and OW even, stride 1, small channel counts).
    ///
    /// Errors: as [`conv2d_relu_pool`](Tensor::conv2d_relu_pool).
    pub fn conv2d_relu_pool_train(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        geom: Conv2dGeometry,
        k: usize,
    ) -> Result<(Tensor<T>, Tensor<T>)> {
        let (d, pool) = relu_pool_dims("conv2d_relu_pool", self, weight, bias, geom, k)?;
        let out_shape = [d.n, d.co, pool.oh, pool.ow];
        let act_shape = [d.n, d.co, d.oh, d.ow];
        if d.n * d.out_img() == 0 {
            return Ok((
                self.zeros_like_on(&out_shape)?,
                self.zeros_like_on(&act_shape)?,
            ));
        }
        let bias = bias.map(Tensor::storage);
        let (out, act) =
            self.storage()
                .conv2d_relu_pool_train(weight.storage(), bias, &d, &pool)?;
        Ok((Tensor::wrap(out, &out_shape), Tensor::wrap(act, &act_shape)))
    }

    /// Gradients `(grad_x, grad_w, grad_b)` of `avg_pool2d(relu(conv2d(x, weight, b)), k)`
    /// (self = x) given `act`, the relu output
    /// [`conv2d_relu_pool_train`](Tensor::conv2d_relu_pool_train) returned, and `g`, the
    /// gradient of the pooled output: the bits of
    /// [`avg_pool2d_backward`](Tensor::avg_pool2d_backward), [`relu_backward`](Tensor::relu_backward)
    /// and [`conv2d_backward`](Tensor::conv2d_backward) in turn (the first two in one pass on
    /// the CPU). grad_x only when `need_input_grad`.
    ///
    /// Errors: as [`conv2d_backward`](Tensor::conv2d_backward), plus [`Error::Shape`] when
    /// `act` is not `[N, C_out, OH, OW]` or `g` not the pooled shape.
    #[allow(clippy::type_complexity)] // the signature is the crate-wide API
    pub fn conv2d_relu_pool_backward(
        &self,
        weight: &Tensor<T>,
        act: &Tensor<T>,
        g: &Tensor<T>,
        geom: Conv2dGeometry,
        k: usize,
        need_input_grad: bool,
    ) -> Result<(Option<Tensor<T>>, Tensor<T>, Tensor<T>)> {
        let op = "conv2d_relu_pool_backward";
        let (d, pool) = relu_pool_dims(op, self, weight, None, geom, k)?;
        if act.shape() != [d.n, d.co, d.oh, d.ow] || g.shape() != [d.n, d.co, pool.oh, pool.ow] {
            return Err(Error::shape(
                op,
                format!(
                    "act [{}, {}, {}, {}] and g [{}, {}, {}, {}]",
                    d.n, d.co, d.oh, d.ow, d.n, d.co, pool.oh, pool.ow
                ),
                &[self.shape(), weight.shape(), act.shape(), g.shape()],
            ));
        }
        if d.n * d.out_img() == 0 {
            return self.conv2d_backward(weight, act, geom, need_input_grad);
        }
        let (gx, gw, gb) = self.storage().conv2d_relu_pool_backward(
            weight.storage(),
            act.storage(),
            g.storage(),
            &d,
            &pool,
            need_input_grad,
        )?;
        Ok((
            gx.map(|g| Tensor::wrap(g, self.shape())),
            Tensor::wrap(gw, weight.shape()),
            Tensor::wrap(gb, &[d.co]),
        ))
    }

    /// Gradients of conv2d given the output gradient `grad_out` (self = x): returns
    /// (grad_x, grad_w, grad_b). grad_x is only computed when `need_input_grad` (the first
    /// layer's input needs none) — None otherwise.
    ///
    /// Errors: as [`conv2d`](Tensor::conv2d), plus [`Error::Shape`] when `grad_out` is not
    /// `[N, C_out, OH, OW]`.
    ///
    /// On the CPU, `grad_w` and `grad_b` are summed per task of a fixed number of images, then
    /// over tasks in order, so they are bit-identical for any number of rayon threads.
    #[allow(clippy::type_complexity)] // the signature is the crate-wide API
    pub fn conv2d_backward(
        &self,
        weight: &Tensor<T>,
        grad_out: &Tensor<T>,
        geom: Conv2dGeometry,
        need_input_grad: bool,
    ) -> Result<(Option<Tensor<T>>, Tensor<T>, Tensor<T>)> {
        let d = ConvDims::new("conv2d_backward", self.shape(), weight.shape(), geom)?;
        if grad_out.shape() != [d.n, d.co, d.oh, d.ow] {
            return Err(Error::shape(
                "conv2d_backward",
                format!("grad_out [{}, {}, {}, {}]", d.n, d.co, d.oh, d.ow),
                &[self.shape(), weight.shape(), grad_out.shape()],
            ));
        }
        if d.n == 0 || d.out_img() == 0 {
            let gx = need_input_grad
                .then(|| self.zeros_like_on(self.shape()))
                .transpose()?;
            return Ok((
                gx,
                weight.zeros_like_on(weight.shape())?,
                weight.zeros_like_on(&[d.co])?,
            ));
        }
        let (gx, gw, gb) = self.storage().conv2d_backward(
            weight.storage(),
            grad_out.storage(),
            &d,
            need_input_grad,
        )?;
        Ok((
            gx.map(|g| Tensor::wrap(g, self.shape())),
            Tensor::wrap(gw, weight.shape()),
            Tensor::wrap(gb, &[d.co]),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::cpu::conv::IMAGES_PER_TASK;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// (N, C_in, H, W, C_out, KH, KW, stride, padding)
    type Case = (
        usize,
        usize,
        usize,
        usize,
        usize,
        usize,
        usize,
        usize,
        usize,
    );

    /// LeNet's two layers plus stride 2 / padding 1 / non-square / C_in > 1 / 1×1 kernels,
    /// stride larger than the kernel (no row stacking), padding larger than the kernel, and
    /// batches that span several tasks. C_out 1..16 exercises row stacking R = 16, 8, 4, 2, 1.
    const CASES: [Case; 9] = [
        (3, 1, 28, 28, 6, 5, 5, 1, 2),
        (2, 6, 14, 14, 16, 5, 5, 1, 0),
        (3, 3, 7, 9, 4, 3, 2, 2, 1),
        (1, 2, 5, 5, 3, 3, 3, 3, 0),
        (5, 2, 6, 4, 1, 1, 1, 1, 0),
        (IMAGES_PER_TASK + 3, 1, 8, 8, 2, 3, 3, 1, 1),
        (1, 1, 9, 9, 2, 2, 2, 3, 0),
        (2, 1, 3, 3, 2, 2, 2, 1, 3),
        (2, 2, 6, 7, 8, 4, 3, 2, 2),
    ];

    fn out_size(len: usize, k: usize, s: usize, p: usize) -> usize {
        (len + 2 * p - k) / s + 1
    }

    /// Input index `o·s + k − p`, or None inside the zero padding.
    fn in_index(o: usize, k: usize, s: usize, p: usize, len: usize) -> Option<usize> {
        (o * s + k).checked_sub(p).filter(|&i| i < len)
    }

    /// Direct-loop convolution:
    /// out[n,co,oh,ow] = b[co] + Σ w[co,c,ki,kj]·x[n,c,oh·s+ki−p,ow·s+kj−p], zero outside x.
    fn naive_forward(case: Case, x: &[f64], w: &[f64], b: &[f64]) -> Vec<f64> {
        let (n, c, h, wd, co, kh, kw, s, p) = case;
        let (oh, ow) = (out_size(h, kh, s, p), out_size(wd, kw, s, p));
        let mut out = vec![0.0; n * co * oh * ow];
        for i in 0..n {
            for o in 0..co {
                for y in 0..oh {
                    for z in 0..ow {
                        let mut acc = b[o];
                        for ci in 0..c {
                            for ki in 0..kh {
                                for kj in 0..kw {
                                    if let (Some(ih), Some(iw)) =
                                        (in_index(y, ki, s, p, h), in_index(z, kj, s, p, wd))
                                    {
                                        acc += w[((o * c + ci) * kh + ki) * kw + kj]
                                            * x[((i * c + ci) * h + ih) * wd + iw];
                                    }
                                }
                            }
                        }
                        out[((i * co + o) * oh + y) * ow + z] = acc;
                    }
                }
            }
        }
        out
    }

    /// Direct-loop gradients of `naive_forward`: every product w·x of the forward sum sends
    /// go·x to grad_w, go·w to grad_x, and go to grad_b.
    fn naive_backward(case: Case, x: &[f64], w: &[f64], go: &[f64]) -> [Vec<f64>; 3] {
        let (n, c, h, wd, co, kh, kw, s, p) = case;
        let (oh, ow) = (out_size(h, kh, s, p), out_size(wd, kw, s, p));
        let (mut gx, mut gw, mut gb) = (vec![0.0; x.len()], vec![0.0; w.len()], vec![0.0; co]);
        for i in 0..n {
            for o in 0..co {
                for y in 0..oh {
                    for z in 0..ow {
                        let g = go[((i * co + o) * oh + y) * ow + z];
                        gb[o] += g;
                        for ci in 0..c {
                            for ki in 0..kh {
                                for kj in 0..kw {
                                    if let (Some(ih), Some(iw)) =
                                        (in_index(y, ki, s, p, h), in_index(z, kj, s, p, wd))
                                    {
                                        let xi = ((i * c + ci) * h + ih) * wd + iw;
                                        let wi = ((o * c + ci) * kh + ki) * kw + kj;
                                        gw[wi] += g * x[xi];
                                        gx[xi] += g * w[wi];
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        [gx, gw, gb]
    }

    struct Inputs<T: Element> {
        x: Tensor<T>,
        w: Tensor<T>,
        b: Tensor<T>,
        go: Tensor<T>,
        geom: Conv2dGeometry,
    }

    fn inputs<T: Element>(case: Case, seed: u64) -> Inputs<T> {
        let (n, c, h, wd, co, kh, kw, s, p) = case;
        let mut rng = StdRng::seed_from_u64(seed);
        let (oh, ow) = (out_size(h, kh, s, p), out_size(wd, kw, s, p));
        Inputs {
            x: Tensor::rand_uniform(&[n, c, h, wd], -1.0, 1.0, &mut rng),
            w: Tensor::rand_uniform(&[co, c, kh, kw], -1.0, 1.0, &mut rng),
            b: Tensor::rand_uniform(&[co], -1.0, 1.0, &mut rng),
            go: Tensor::rand_uniform(&[n, co, oh, ow], -1.0, 1.0, &mut rng),
            geom: Conv2dGeometry {
                stride: s,
                padding: p,
            },
        }
    }

    fn assert_close<T: Element>(got: &[T], want: &[f64], tol: f64, what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            let g = g.to_f64();
            assert!(
                (g - w).abs() <= tol * (1.0 + w.abs()),
                "{what}[{i}]: got {g}, want {w}"
            );
        }
    }

    fn as_f64<T: Element>(t: &Tensor<T>) -> Vec<f64> {
        t.data().unwrap().iter().map(|v| v.to_f64()).collect()
    }

    fn check_case<T: Element>(case: Case, tol: f64) {
        let t = inputs::<T>(case, 7);
        let (x, w, b, go) = (as_f64(&t.x), as_f64(&t.w), as_f64(&t.b), as_f64(&t.go));
        let what = format!("{} {case:?}", T::NAME);

        let out = t.x.conv2d(&t.w, Some(&t.b), t.geom).unwrap();
        assert_eq!(out.shape(), t.go.shape(), "{what}: output shape");
        assert_close(
            out.data().unwrap(),
            &naive_forward(case, &x, &w, &b),
            tol,
            &format!("{what} out"),
        );
        let no_bias = t.x.conv2d(&t.w, None, t.geom).unwrap();
        let zero_b = vec![0.0; b.len()];
        let want = naive_forward(case, &x, &w, &zero_b);
        assert_close(
            no_bias.data().unwrap(),
            &want,
            tol,
            &format!("{what} out (no bias)"),
        );

        let [gx, gw, gb] = naive_backward(case, &x, &w, &go);
        let (got_gx, got_gw, got_gb) = t.x.conv2d_backward(&t.w, &t.go, t.geom, true).unwrap();
        let got_gx = got_gx.expect("grad_x requested");
        assert_eq!(got_gx.shape(), t.x.shape());
        assert_eq!(got_gw.shape(), t.w.shape());
        assert_eq!(got_gb.shape(), t.b.shape());
        assert_close(got_gx.data().unwrap(), &gx, tol, &format!("{what} grad_x"));
        assert_close(got_gw.data().unwrap(), &gw, tol, &format!("{what} grad_w"));
        assert_close(got_gb.data().unwrap(), &gb, tol, &format!("{what} grad_b"));

        let (none, gw2, gb2) = t.x.conv2d_backward(&t.w, &t.go, t.geom, false).unwrap();
        assert!(
            none.is_none(),
            "{what}: grad_x computed though not asked for"
        );
        assert_eq!(gw2, got_gw, "{what}: grad_w depends on need_input_grad");
        assert_eq!(gb2, got_gb, "{what}: grad_b depends on need_input_grad");
    }

    #[test]
    fn matches_direct_loops_f64() {
        for case in CASES {
            check_case::<f64>(case, 1e-12);
        }
    }

    #[test]
    fn matches_direct_loops_f32() {
        for case in CASES {
            check_case::<f32>(case, 2e-4);
        }
    }

    #[test]
    fn tiny_hand_worked_case() {
        // x = [[1, 2], [3, 4]], w = [[1, 0], [0, 1]] (adds the diagonal), b = 0.5, padding 0:
        // a single output 1·1 + 4·1 + 0.5 = 5.5. With grad_out = 2: grad_w = 2·x,
        // grad_x = 2·w, grad_b = 2.
        let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2]).unwrap();
        let w = Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0], &[1, 1, 2, 2]).unwrap();
        let b = Tensor::from_vec(vec![0.5], &[1]).unwrap();
        let geom = Conv2dGeometry {
            stride: 1,
            padding: 0,
        };
        let out = x.conv2d(&w, Some(&b), geom).unwrap();
        assert_eq!(out.shape(), [1, 1, 1, 1]);
        assert_eq!(out.data().unwrap(), [5.5]);
        let go = Tensor::from_vec(vec![2.0], &[1, 1, 1, 1]).unwrap();
        let (gx, gw, gb) = x.conv2d_backward(&w, &go, geom, true).unwrap();
        assert_eq!(gx.unwrap().data().unwrap(), [2.0, 0.0, 0.0, 2.0]);
        assert_eq!(gw.data().unwrap(), [2.0, 4.0, 6.0, 8.0]);
        assert_eq!(gb.data().unwrap(), [2.0]);
    }

    #[test]
    fn backward_matches_finite_differences() {
        // L = Σ out · go; central differences of L in x, w and b against conv2d_backward (f64).
        let case: Case = (2, 2, 6, 5, 3, 3, 2, 2, 1);
        let t = inputs::<f64>(case, 11);
        let loss = |x: &Tensor<f64>, w: &Tensor<f64>, b: &Tensor<f64>| -> f64 {
            let out = x.conv2d(w, Some(b), t.geom).unwrap();
            out.data()
                .unwrap()
                .iter()
                .zip(t.go.data().unwrap())
                .map(|(o, g)| o * g)
                .sum()
        };
        let (gx, gw, gb) = t.x.conv2d_backward(&t.w, &t.go, t.geom, true).unwrap();
        let eps = 1e-6;
        let fd = |which: usize, i: usize| -> f64 {
            let mut ts = [t.x.clone(), t.w.clone(), t.b.clone()];
            ts[which].data_mut().unwrap()[i] += eps;
            let up = loss(&ts[0], &ts[1], &ts[2]);
            ts[which].data_mut().unwrap()[i] -= 2.0 * eps;
            let down = loss(&ts[0], &ts[1], &ts[2]);
            (up - down) / (2.0 * eps)
        };
        for (which, g) in [gx.unwrap(), gw, gb].iter().enumerate() {
            for (i, &v) in g.data().unwrap().iter().enumerate() {
                let want = fd(which, i);
                assert!(
                    (v - want).abs() <= 1e-6 * (1.0 + want.abs()),
                    "operand {which}[{i}]: analytic {v}, numeric {want}"
                );
            }
        }
    }

    /// `conv2d_relu_pool` has the bits of conv2d, relu and avg_pool2d in turn (fused on the
    /// CPU where the direct kernel applies, composed otherwise).
    fn fused_matches_composition<T: Element>() {
        for (seed, case) in CASES.into_iter().enumerate() {
            let t = inputs::<T>(case, seed as u64);
            let conv = t.x.conv2d(&t.w, Some(&t.b), t.geom).unwrap();
            for k in [2, 3] {
                if k > conv.shape()[2] || k > conv.shape()[3] {
                    continue;
                }
                let want = conv.relu().unwrap().avg_pool2d(k).unwrap();
                let got = t.x.conv2d_relu_pool(&t.w, Some(&t.b), t.geom, k).unwrap();
                assert_eq!(got.shape(), want.shape(), "{case:?} k {k}");
                let bits = |v: &Tensor<T>| -> Vec<u64> {
                    v.data()
                        .unwrap()
                        .iter()
                        .map(|x| x.to_f64().to_bits())
                        .collect()
                };
                assert_eq!(bits(&got), bits(&want), "{case:?} k {k}");
            }
        }
    }

    #[test]
    fn conv2d_relu_pool_has_the_bits_of_its_parts() {
        fused_matches_composition::<f32>();
        fused_matches_composition::<f64>();
    }

    /// The training form and its backward have the bits of the composed ops: `(pooled, act)`
    /// those of conv2d → relu → avg_pool2d, the gradients those of avg_pool2d_backward →
    /// relu_backward → conv2d_backward (CASES cover even and odd outputs, k 2 and 3).
    fn fused_train_matches_composition<T: Element>() {
        let bits = |v: &Tensor<T>| -> Vec<u64> {
            v.data()
                .unwrap()
                .iter()
                .map(|x| x.to_f64().to_bits())
                .collect()
        };
        for (seed, case) in CASES.into_iter().enumerate() {
            let t = inputs::<T>(case, seed as u64 + 20);
            let act_want =
                t.x.conv2d(&t.w, Some(&t.b), t.geom)
                    .unwrap()
                    .relu()
                    .unwrap();
            for k in [2, 3] {
                if k > act_want.shape()[2] || k > act_want.shape()[3] {
                    continue;
                }
                let what = format!("{} {case:?} k {k}", T::NAME);
                let want = act_want.avg_pool2d(k).unwrap();
                let (got, act) =
                    t.x.conv2d_relu_pool_train(&t.w, Some(&t.b), t.geom, k)
                        .unwrap();
                assert_eq!(bits(&got), bits(&want), "{what}: pooled");
                assert_eq!(bits(&act), bits(&act_want), "{what}: act");
                let g = Tensor::<T>::rand_uniform(
                    want.shape(),
                    -1.0,
                    1.0,
                    &mut StdRng::seed_from_u64(3),
                );
                let go = act
                    .relu_backward(Tensor::avg_pool2d_backward(&g, act.shape(), k).unwrap())
                    .unwrap();
                for need_gx in [true, false] {
                    let (wx, ww, wb) = t.x.conv2d_backward(&t.w, &go, t.geom, need_gx).unwrap();
                    let (gx, gw, gb) =
                        t.x.conv2d_relu_pool_backward(&t.w, &act, &g, t.geom, k, need_gx)
                            .unwrap();
                    assert_eq!(gx.is_some(), need_gx, "{what}");
                    if let (Some(gx), Some(wx)) = (gx, wx) {
                        assert_eq!(bits(&gx), bits(&wx), "{what}: grad_x");
                    }
                    assert_eq!(bits(&gw), bits(&ww), "{what}: grad_w");
                    assert_eq!(bits(&gb), bits(&wb), "{what}: grad_b");
                }
            }
        }
    }

    #[test]
    fn conv2d_relu_pool_train_and_backward_have_the_bits_of_their_parts() {
        fused_train_matches_composition::<f32>();
        fused_train_matches_composition::<f64>();
    }

    #[test]
    fn conv2d_relu_pool_backward_checks_shapes() {
        let geom = Conv2dGeometry {
            stride: 1,
            padding: 0,
        };
        let x = Tensor::<f32>::zeros(&[1, 1, 6, 6]);
        let w = Tensor::<f32>::zeros(&[2, 1, 3, 3]);
        let act = Tensor::<f32>::zeros(&[1, 2, 4, 4]);
        let g = Tensor::<f32>::zeros(&[1, 2, 2, 2]);
        assert!(x
            .conv2d_relu_pool_backward(&w, &act, &g, geom, 2, true)
            .is_ok());
        for (a, gg) in [(&g, &g), (&act, &act)] {
            let err = x
                .conv2d_relu_pool_backward(&w, a, gg, geom, 2, true)
                .unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains("conv2d_relu_pool_backward") && msg.contains("act [1, 2, 4, 4]"),
                "{msg}"
            );
        }
    }

    #[test]
    fn conv2d_relu_pool_checks_shapes() {
        let geom = Conv2dGeometry {
            stride: 1,
            padding: 0,
        };
        let x = Tensor::<f32>::zeros(&[1, 1, 4, 4]);
        let w = Tensor::<f32>::zeros(&[2, 1, 3, 3]);
        // The 2×2 convolution output is smaller than a 3×3 window.
        let err = x.conv2d_relu_pool(&w, None, geom, 3).unwrap_err();
        assert!(err.to_string().contains("conv2d_relu_pool"), "{err}");
        let err = x
            .conv2d_relu_pool(&w, Some(&Tensor::zeros(&[3])), geom, 2)
            .unwrap_err();
        assert!(err.to_string().contains("bias [2]"), "{err}");
    }

    #[test]
    fn bit_identical_for_any_thread_count() {
        // LeNet's layers with a batch spanning several tasks and a ragged last task.
        for case in [
            (3 * IMAGES_PER_TASK + 5, 1, 28, 28, 6, 5, 5, 1, 2),
            (3 * IMAGES_PER_TASK + 5, 6, 14, 14, 16, 5, 5, 1, 0),
        ] {
            let t = inputs::<f32>(case, 3);
            let run = |threads: usize| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| {
                        let out = t.x.conv2d(&t.w, Some(&t.b), t.geom).unwrap();
                        let (gx, gw, gb) = t.x.conv2d_backward(&t.w, &t.go, t.geom, true).unwrap();
                        let fused = t.x.conv2d_relu_pool(&t.w, Some(&t.b), t.geom, 2).unwrap();
                        let (pooled, act) =
                            t.x.conv2d_relu_pool_train(&t.w, Some(&t.b), t.geom, 2)
                                .unwrap();
                        let (fgx, fgw, fgb) =
                            t.x.conv2d_relu_pool_backward(&t.w, &act, &pooled, t.geom, 2, true)
                                .unwrap();
                        let fused_grads = [fgx.unwrap(), fgw, fgb, act];
                        (out, gx.unwrap(), gw, gb, fused, fused_grads)
                    })
            };
            let (a, b) = (run(1), run(2));
            let bits = |v: &Tensor<f32>| {
                v.data()
                    .unwrap()
                    .iter()
                    .map(|x| x.to_bits())
                    .collect::<Vec<_>>()
            };
            assert_eq!(bits(&a.0), bits(&b.0), "{case:?} forward");
            assert_eq!(bits(&a.1), bits(&b.1), "{case:?} grad_x");
            assert_eq!(bits(&a.2), bits(&b.2), "{case:?} grad_w");
            assert_eq!(bits(&a.3), bits(&b.3), "{case:?} grad_b");
            assert_eq!(bits(&a.4), bits(&b.4), "{case:?} conv2d_relu_pool");
            for (i, (x, y)) in a.5.iter().zip(&b.5).enumerate() {
                assert_eq!(
                    bits(x),
                    bits(y),
                    "{case:?} conv2d_relu_pool_train/backward {i}"
                );
            }
        }
    }

    #[test]
    fn empty_batch_gives_empty_output_and_zero_gradients() {
        let t = inputs::<f64>((1, 2, 5, 5, 3, 3, 3, 1, 1), 1);
        let x = Tensor::<f64>::zeros(&[0, 2, 5, 5]);
        let out = x.conv2d(&t.w, Some(&t.b), t.geom).unwrap();
        assert_eq!(out.shape(), [0, 3, 5, 5]);
        let (gx, gw, gb) = x.conv2d_backward(&t.w, &out, t.geom, true).unwrap();
        assert_eq!(gx.unwrap().shape(), [0, 2, 5, 5]);
        assert_eq!(gw, Tensor::zeros(&[3, 2, 3, 3]));
        assert_eq!(gb, Tensor::zeros(&[3]));
    }

    #[test]
    fn bad_shapes_and_arguments_are_errors() {
        let g = Conv2dGeometry {
            stride: 1,
            padding: 0,
        };
        let x = Tensor::<f32>::zeros(&[2, 3, 8, 8]);
        let w = Tensor::<f32>::zeros(&[4, 3, 3, 3]);
        let shape_err = |r: Result<Tensor<f32>>, needle: &str| match r {
            Err(e @ Error::Shape { op: "conv2d", .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(needle), "{msg} should mention {needle}");
            }
            other => panic!("expected a conv2d shape error, got {other:?}"),
        };
        // Wrong rank of x and of the weight.
        shape_err(Tensor::zeros(&[3, 8, 8]).conv2d(&w, None, g), "[3, 8, 8]");
        shape_err(x.conv2d(&Tensor::zeros(&[4, 3, 3]), None, g), "[4, 3, 3]");
        // Channel mismatch.
        shape_err(
            x.conv2d(&Tensor::zeros(&[4, 2, 3, 3]), None, g),
            "[4, 2, 3, 3]",
        );
        // Kernel larger than the (padded) input; fits once padded.
        shape_err(
            x.conv2d(&Tensor::zeros(&[4, 3, 9, 3]), None, g),
            "[4, 3, 9, 3]",
        );
        let padded = Conv2dGeometry {
            stride: 1,
            padding: 1,
        };
        assert!(x
            .conv2d(&Tensor::zeros(&[4, 3, 9, 3]), None, padded)
            .is_ok());
        // Bias of the wrong length.
        shape_err(x.conv2d(&w, Some(&Tensor::zeros(&[3])), g), "bias");
        // Stride 0.
        let zero = Conv2dGeometry {
            stride: 0,
            padding: 0,
        };
        assert!(matches!(
            x.conv2d(&w, None, zero),
            Err(Error::InvalidArgument { op: "conv2d", .. })
        ));
        // grad_out of the wrong shape.
        let go = Tensor::<f32>::zeros(&[2, 4, 6, 5]);
        match x.conv2d_backward(&w, &go, g, true) {
            Err(Error::Shape { op, shapes, .. }) => {
                assert_eq!(op, "conv2d_backward");
                assert_eq!(shapes[2], [2, 4, 6, 5]);
            }
            other => panic!("expected a shape error, got {other:?}"),
        }
        assert!(matches!(
            x.conv2d_backward(&w, &go, zero, false),
            Err(Error::InvalidArgument { .. })
        ));
    }
}
