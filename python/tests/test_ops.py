"""Reference ops against the crate's golden values (PyTorch, float64), in float64 and
float32; finite-difference gradient checks; bad input."""

import numpy as np
import pytest
from conftest import golden

import nidl_rs

F64 = dict(rtol=1e-9, atol=1e-12)


def f32_tol(want):
    """f32 results: 1e-4 relative, with a floor of 1% of the array's largest magnitude (the
    crate's golden_layers.rs rule: near-cancellations carry f32 rounding of O(1) terms)."""
    return dict(rtol=1e-4, atol=1e-2 * float(np.max(np.abs(want))))


def check_loss(case, fn):
    z1, z2 = golden(case, "z1"), golden(case, "z2")
    want = [golden(case, "loss"), golden(case, "grad_z1"), golden(case, "grad_z2")]
    loss, g1, g2 = fn(z1, z2)
    assert g1.dtype == np.float64 and g1.shape == z1.shape
    for got, exp in zip([loss, g1, g2], want):
        np.testing.assert_allclose(got, exp, **F64)
    loss, g1, g2 = fn(z1.astype(np.float32), z2.astype(np.float32))
    assert g1.dtype == np.float32
    np.testing.assert_allclose(loss, want[0], rtol=1e-4, atol=1e-6)
    for got, exp in zip([g1, g2], want[1:]):
        np.testing.assert_allclose(got, exp, rtol=1e-4, atol=1e-6)


def test_info_nce_golden():
    check_loss("info_nce", lambda a, b: nidl_rs.info_nce(a, b, temperature=0.1))


def test_barlow_twins_golden():
    check_loss("barlow_twins", lambda a, b: nidl_rs.barlow_twins(a, b, lambd=5e-3))


def test_yaware_golden():
    y = golden("yaware_info_nce", "y")
    check_loss(
        "yaware_info_nce",
        lambda a, b: nidl_rs.yaware_info_nce(a, b, y, bandwidth=16.0, temperature=0.1),
    )
    w = nidl_rs.yaware_weights(y, bandwidth=16.0)
    np.testing.assert_allclose(w, golden("yaware_info_nce", "w"), rtol=1e-12, atol=1e-15)
    # nidl's normalisation makes columns sum to 1; "rows" makes rows sum to 1.
    np.testing.assert_allclose(w.sum(axis=0), 1.0, atol=1e-12)
    rows = nidl_rs.yaware_weights(y, bandwidth=16.0, normalization="rows")
    np.testing.assert_allclose(rows.sum(axis=1), 1.0, atol=1e-12)


def test_yaware_bandwidth_forms_agree():
    """H = 16 I given as a scalar, a diagonal or a full matrix gives the same loss."""
    rng = np.random.default_rng(0)
    z1, z2, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    scalar = nidl_rs.yaware_info_nce(z1, z2, y, bandwidth=16.0)
    diag = nidl_rs.yaware_info_nce(z1, z2, y, bandwidth=np.array([16.0, 16.0]))
    full = nidl_rs.yaware_info_nce(z1, z2, y, bandwidth=16.0 * np.eye(2))
    for a, b in [(scalar, diag), (scalar, full)]:
        np.testing.assert_allclose(a[0], b[0], rtol=1e-12)
        np.testing.assert_allclose(a[1], b[1], rtol=1e-10, atol=1e-14)
    for rule in ("scott", "silverman"):
        loss, _, _ = nidl_rs.yaware_info_nce(z1, z2, y, bandwidth=rule)
        assert np.isfinite(loss)
    # Without labels: nidl's two-sided InfoNCE, equal to info_nce up to rounding.
    unl = nidl_rs.yaware_info_nce(z1, z2, None)
    ref = nidl_rs.info_nce(z1, z2)
    np.testing.assert_allclose(unl[0], ref[0], rtol=1e-9)
    np.testing.assert_allclose(unl[1], ref[1], rtol=1e-7, atol=1e-10)


def golden_layer(case, names):
    return [golden(case, n) for n in names]


@pytest.mark.parametrize(
    "case,stride,padding",
    [("conv2d_pad2", 1, 2), ("conv2d_nopad", 1, 0), ("conv2d_stride2", 2, 1)],
)
def test_conv2d_golden(case, stride, padding):
    x, w, b, g = golden_layer(case, ["x", "w", "b", "g"])
    for dtype in (np.float64, np.float32):
        out = nidl_rs.conv2d(
            x.astype(dtype), w.astype(dtype), b.astype(dtype), stride=stride,
            padding=padding, grad_output=g.astype(dtype),
        )
        assert set(out) == {"y", "grad_x", "grad_w", "grad_b"}
        for name in out:
            want = golden(case, name)
            assert out[name].dtype == dtype
            tol = F64 if dtype == np.float64 else f32_tol(want)
            np.testing.assert_allclose(out[name], want, err_msg=f"{case} {name}", **tol)
    forward_only = nidl_rs.conv2d(x, w, b, stride=stride, padding=padding)
    assert set(forward_only) == {"y"}
    np.testing.assert_allclose(forward_only["y"], golden(case, "y"), **F64)


def test_avg_pool2d_golden():
    x, g = golden_layer("avgpool2d", ["x", "g"])
    for dtype in (np.float64, np.float32):
        out = nidl_rs.avg_pool2d(x.astype(dtype), 2, grad_output=g.astype(dtype))
        for name in ("y", "grad_x"):
            want = golden("avgpool2d", name)
            tol = F64 if dtype == np.float64 else f32_tol(want)
            np.testing.assert_allclose(out[name], want, **tol)


def test_batch_norm1d_golden():
    case = "batch_norm1d"
    x, gamma, beta, g = golden_layer(case, ["x", "gamma", "beta", "g"])
    for dtype, tol in ((np.float64, F64), (np.float32, dict(rtol=1e-4, atol=1e-4))):
        out = nidl_rs.batch_norm1d(
            *(a.astype(dtype) for a in (x, gamma, beta)), grad_output=g.astype(dtype)
        )
        for name in ("y", "grad_x", "grad_gamma", "grad_beta", "running_mean", "running_var"):
            np.testing.assert_allclose(out[name], golden(case, name), err_msg=name, **tol)


# -- gradient checks (float64, central differences) ------------------------------------------
def small_views(seed, b=4, d=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(b, d)), rng.normal(size=(b, d))


@pytest.mark.parametrize(
    "fn",
    [
        lambda a, b: nidl_rs.info_nce(a, b, temperature=0.5),
        lambda a, b: nidl_rs.barlow_twins(a, b, lambd=0.1),
        lambda a, b: nidl_rs.yaware_info_nce(a, b, np.array([0.1, 0.5, 1.2, 2.0]), bandwidth=0.5),
        lambda a, b: nidl_rs.yaware_info_nce(
            a, b, np.array([0.1, 0.5, 1.2, 2.0]), kernel="exponential", normalization="rows"
        ),
        lambda a, b: nidl_rs.yaware_info_nce(
            a, b, np.array([[0.1, 1], [0.5, 0], [1.2, 2], [2.0, 1]]), kernel="epanechnikov",
            bandwidth=np.array([[4.0, 1.0], [1.0, 3.0]]),
        ),
    ],
    ids=["info_nce", "barlow_twins", "yaware_gaussian", "yaware_exp_rows", "yaware_full_h"],
)
def test_losses_pass_gradcheck(fn):
    z1, z2 = small_views(1)
    report = nidl_rs.gradcheck(fn, [z1, z2], eps=1e-6, atol=1e-7, rtol=1e-5)
    assert report.passed and report.max_abs_error < 1e-7, report


def test_layers_pass_gradcheck():
    rng = np.random.default_rng(2)
    x, w, b = rng.normal(size=(2, 2, 6, 5)), rng.normal(size=(3, 2, 3, 3)), rng.normal(size=3)
    up = rng.normal(size=(2, 3, 3, 3))

    def conv(x, w, b):
        o = nidl_rs.conv2d(x, w, b, stride=2, padding=1, grad_output=up)
        return float((o["y"] * up).sum()), o["grad_x"], o["grad_w"], o["grad_b"]

    assert nidl_rs.gradcheck(conv, [x, w, b], atol=1e-7, rtol=1e-6)
    xb, gm, bt = rng.normal(size=(6, 3)), rng.normal(size=3), rng.normal(size=3)
    upb = rng.normal(size=(6, 3))

    def bn(x, gm, bt):
        o = nidl_rs.batch_norm1d(x, gm, bt, grad_output=upb)
        return float((o["y"] * upb).sum()), o["grad_x"], o["grad_gamma"], o["grad_beta"]

    assert nidl_rs.gradcheck(bn, [xb, gm, bt], atol=1e-7, rtol=1e-6)


def test_gradcheck_catches_a_wrong_gradient():
    z1, z2 = small_views(3)

    def wrong(a, b):
        loss, g1, g2 = nidl_rs.info_nce(a, b)
        g1 = g1.copy()
        g1[1, 2] += 1e-3
        return loss, g1, g2

    report = nidl_rs.gradcheck(wrong, [z1, z2], raise_exception=False)
    assert not report.passed and report.worst == (0, 1 * 3 + 2)
    with pytest.raises(AssertionError, match="gradient check failed"):
        nidl_rs.gradcheck(wrong, [z1, z2])


# -- bad input ------------------------------------------------------------------------------
def test_ops_bad_input_raise_value_error():
    z1, z2 = small_views(4)
    cases = [
        lambda: nidl_rs.info_nce(z1, z2[:3]),  # shape mismatch
        lambda: nidl_rs.info_nce(z1, z2.astype(np.float32)),  # dtype mismatch
        lambda: nidl_rs.info_nce(z1, z2, temperature=0.0),
        lambda: nidl_rs.info_nce(z1.astype(np.int64), z2),  # integers are not accepted here
        lambda: nidl_rs.info_nce(z1[0], z2[0]),  # 1-D
        lambda: nidl_rs.barlow_twins(z1, z2, lambd=-1.0),
        lambda: nidl_rs.yaware_info_nce(z1, z2, np.ones(3)),  # labels of another batch size
        lambda: nidl_rs.yaware_info_nce(z1, z2, np.ones(4), kernel="box"),
        lambda: nidl_rs.yaware_info_nce(z1, z2, np.ones(4), bandwidth=-1.0),
        lambda: nidl_rs.yaware_info_nce(z1, z2, np.ones(4), bandwidth="silly"),
        lambda: nidl_rs.yaware_info_nce(z1, z2, np.ones(4), normalization="cols"),
        lambda: nidl_rs.yaware_info_nce(z1, z2, np.array([1.0, np.nan, 2.0, 3.0])),
        lambda: nidl_rs.conv2d(np.ones((1, 2, 5, 5)), np.ones((3, 4, 3, 3))),  # channels
        lambda: nidl_rs.conv2d(np.ones((1, 2, 5, 5)), np.ones((3, 2, 3, 3)), grad_output=np.ones((1, 3, 2, 2))),
        # Huge paddings: output sizes overflow (2**40) or the padded size wraps (2**62).
        lambda: nidl_rs.conv2d(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), padding=2**40),
        lambda: nidl_rs.conv2d(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), padding=2**62),
        lambda: nidl_rs.avg_pool2d(np.ones((2, 3)), 2),
        lambda: nidl_rs.avg_pool2d(np.ones((1, 1, 4, 4)), 2**62),  # kernel larger than H
        lambda: nidl_rs.batch_norm1d(np.ones((4, 3)), np.ones(2), np.zeros(3)),
        lambda: nidl_rs.batch_norm1d(np.ones((1, 3)), np.ones(3), np.zeros(3)),  # one row
        # NaN/inf inputs: a ValueError, never a NaN result.
        lambda: nidl_rs.info_nce(np.where(z1 > 0, np.nan, z1), z2),
        lambda: nidl_rs.yaware_info_nce(z1, np.full_like(z2, np.inf), np.ones(4)),
        lambda: nidl_rs.barlow_twins(z1, np.where(z2 > 0, -np.inf, z2)),
        lambda: nidl_rs.conv2d(np.full((1, 1, 4, 4), np.nan), np.ones((1, 1, 3, 3))),
        lambda: nidl_rs.conv2d(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), grad_output=np.full((1, 1, 2, 2), np.inf)),
        lambda: nidl_rs.avg_pool2d(np.full((1, 1, 4, 4), np.inf), 2),
        lambda: nidl_rs.batch_norm1d(np.full((4, 3), np.nan), np.ones(3), np.zeros(3)),
        lambda: nidl_rs.batch_norm1d(np.ones((4, 3)), np.ones(3), np.zeros(3), eps=-1.0),
        lambda: nidl_rs.batch_norm1d(np.ones((4, 3)), np.ones(3), np.zeros(3), eps=0.0),
        lambda: nidl_rs.batch_norm1d(np.ones((4, 3)), np.ones(3), np.zeros(3), momentum=5.0),
        lambda: nidl_rs.batch_norm1d(np.ones((4, 3)), np.ones(3), np.zeros(3), momentum=-0.1),
    ]
    for i, case in enumerate(cases):
        with pytest.raises(ValueError):
            case()
            pytest.fail(f"case {i} raised nothing")
