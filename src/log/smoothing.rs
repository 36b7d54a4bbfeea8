//! TensorBoard's exponential smoothing of a scalar curve, as its scalar dashboard draws it.

/// TensorBoard's default smoothing weight (the dashboard's slider starts at 0.6).
pub const DEFAULT_SMOOTHING: f64 = 0.6;

/// `values` smoothed as TensorBoard's scalar dashboard does (`classicSmoothing` /
/// `resmoothDataset`): a debiased exponential moving average with weight `w` in `[0, 1]`.
///
/// With `last = 0` and `n = 0` to start, each finite value `v` updates
/// `last = last * w + (1 - w) * v`, `n += 1`, and is drawn as `last / (1 - w^n)` (as `last` when
/// `w = 1`). Non-finite values are passed through unchanged and do not update the average; a
/// constant series is passed through unchanged (TensorBoard's special case, so rounding does not
/// wobble a flat line). `w = 0` returns the values themselves.
pub fn tensorboard_smoothing(values: &[f64], w: f64) -> Vec<f64> {
    let constant = values.iter().all(|&v| v == values[0]);
    let mut last = 0.0;
    let mut n = 0i32;
    values
        .iter()
        .map(|&v| {
            if constant || !v.is_finite() {
                return v;
            }
            last = last * w + (1.0 - w) * v;
            n += 1;
            let debias = if w == 1.0 { 1.0 } else { 1.0 - w.powi(n) };
            last / debias
        })
        .collect()
}
