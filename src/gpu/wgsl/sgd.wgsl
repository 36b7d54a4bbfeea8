// SGD: one SGD step into fresh buffers, in PyTorch's order (see `tensor::op::SgdStep`), one
// thread per parameter. Parameters: p = [n, flags, −lr, wd, momentum, 1 − dampening]; flags
// bit 0 weight decay, bit 1 momentum buffer, bit 2 first step (the buffer becomes the
// gradient), bit 3 Nesterov. Without a momentum buffer `buf_in` is bound to the gradient and
// `buf_out` to a scratch buffer, and neither is touched.
@group(0) @binding(1) var<storage, read> param: array<f32>;
@group(0) @binding(2) var<storage, read> buf_in: array<f32>;
@group(0) @binding(3) var<storage, read> grad: array<f32>;
@group(0) @binding(4) var<storage, read_write> param_out: array<f32>;
@group(0) @binding(5) var<storage, read_write> buf_out: array<f32>;

fn item(i: u32) {
    let flags = p(1u);
    let x = param[i];
    var g = grad[i];
    if ((flags & 1u) != 0u) {
        g = g + pf(3u) * x;
    }
    var d = g;
    if ((flags & 2u) != 0u) {
        var b = g;
        if ((flags & 4u) == 0u) {
            b = buf_in[i] * pf(4u) + pf(5u) * g;
        }
        buf_out[i] = b;
        d = b;
        if ((flags & 8u) != 0u) {
            d = g + pf(4u) * b;
        }
    }
    param_out[i] = x + pf(2u) * d;
}
