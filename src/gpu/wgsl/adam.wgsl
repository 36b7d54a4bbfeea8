// ADAM: one Adam/AdamW step into fresh buffers (see `optim::adam` for the formula), one thread
// per parameter. Parameters: p = [n, flags (bit 0 decoupled decay, bit 1 L2 decay), shrink,
// l2_wd, 1 − β1, β2, 1 − β2, √bc2, −lr/bc1, eps].
@group(0) @binding(1) var<storage, read> param: array<f32>;
@group(0) @binding(2) var<storage, read> m_in: array<f32>;
@group(0) @binding(3) var<storage, read> v_in: array<f32>;
@group(0) @binding(4) var<storage, read> grad: array<f32>;
@group(0) @binding(5) var<storage, read_write> param_out: array<f32>;
@group(0) @binding(6) var<storage, read_write> m_out: array<f32>;
@group(0) @binding(7) var<storage, read_write> v_out: array<f32>;

// torch.lerp: start + w·(end − start) for |w| < 0.5, else end − (end − start)·(1 − w).
fn lerp(start: f32, end: f32, w: f32) -> f32 {
    if (abs(w) < 0.5) {
        return start + w * (end - start);
    }
    return end - (end - start) * (1.0 - w);
}

fn item(i: u32) {
    let flags = p(1u);
    var x = param[i];
    if ((flags & 1u) != 0u) {
        x = x * pf(2u);
    }
    var g = grad[i];
    if ((flags & 2u) != 0u) {
        g = g + pf(3u) * x;
    }
    let m = lerp(m_in[i], g, pf(4u));
    let v = v_in[i] * pf(5u) + pf(6u) * g * g;
    let denom = sqrt(v) / pf(7u) + pf(9u);
    param_out[i] = x + pf(8u) * m / denom;
    m_out[i] = m;
    v_out[i] = v;
}
