//! The scalar types tensors hold (`f32`, `f64`), with their SIMD lanes and GEMM routine.
//!
//! Kernels are written once, generic over [`Element`]; the f32/f64 choice is made here, at one
//! boundary (as ndarray routes `sgemm`/`dgemm`).

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// A pack of SIMD lanes of one [`Element`] type (`wide::f32x8`, `wide::f64x4`).
pub trait Lanes<T>:
    Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self>
{
    /// Number of scalars in one pack.
    const WIDTH: usize;
    /// Every lane set to `v`.
    fn splat(v: T) -> Self;
    /// Loads `WIDTH` scalars from the front of `src` (which must hold at least `WIDTH`).
    fn load(src: &[T]) -> Self;
    /// Stores the lanes into the front of `dst` (which must hold at least `WIDTH`).
    fn store(self, dst: &mut [T]);
    /// Lane-wise maximum.
    fn max(self, other: Self) -> Self;
    /// Sum of the lanes, in lane order.
    fn reduce_sum(self) -> T;
}

macro_rules! impl_lanes {
    ($lanes:ty, $t:ty, $w:expr) => {
        impl Lanes<$t> for $lanes {
            const WIDTH: usize = $w;
            #[inline(always)]
            fn splat(v: $t) -> Self {
                <$lanes>::splat(v)
            }
            #[inline(always)]
            fn load(src: &[$t]) -> Self {
                let arr: [$t; $w] = src[..$w]
                    .try_into()
                    .expect("load: slice shorter than lanes");
                <$lanes>::from(arr)
            }
            #[inline(always)]
            fn store(self, dst: &mut [$t]) {
                dst[..$w].copy_from_slice(&self.to_array());
            }
            #[inline(always)]
            fn max(self, other: Self) -> Self {
                <$lanes>::max(self, other)
            }
            #[inline(always)]
            fn reduce_sum(self) -> $t {
                self.to_array().iter().fold(0.0, |acc, &v| acc + v)
            }
        }
    };
}
impl_lanes!(wide::f32x8, f32, 8);
impl_lanes!(wide::f64x4, f64, 4);

/// A floating-point scalar a [`Tensor`](crate::Tensor) can hold: `f32` or `f64`.
pub trait Element:
    Copy
    + Send
    + Sync
    + Debug
    + Display
    + Default
    + PartialOrd
    + Sum
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + 'static
{
    /// The SIMD pack used by elementwise and reduction kernels.
    type Lanes: Lanes<Self>;
    /// Additive identity.
    const ZERO: Self;
    /// Multiplicative identity.
    const ONE: Self;
    /// The type's name as NumPy spells it (`"f32"`, `"f64"`).
    const NAME: &'static str;
    /// The elements as `f32`, the one type the GPU backend computes in: `Some` for `f32`
    /// (the same memory), `None` for a type no device holds.
    fn as_f32(data: &[Self]) -> Option<&[f32]>;
    /// Converts from `f64` (rounding for `f32`).
    fn from_f64(v: f64) -> Self;
    /// Converts to `f64` (exact).
    fn to_f64(self) -> f64;
    /// Converts from `usize` (for counts in means).
    fn from_usize(v: usize) -> Self {
        Self::from_f64(v as f64)
    }
    /// e^self.
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// The larger of the two (NaN-propagating from `self` as `f32::max` does not; see kernels).
    fn max(self, other: Self) -> Self;
    /// True unless NaN or infinite.
    fn is_finite(self) -> bool;
    /// True for NaN.
    fn is_nan(self) -> bool;
    /// General matrix multiply `C = alpha·A·B + beta·C` on strided row/column layouts, through
    /// `matrixmultiply` (the crate's only caller is [`gemm`](crate::tensor::gemm)).
    ///
    /// # Safety
    /// The pointers and strides must describe valid `m×k`, `k×n` and `m×n` matrices, and `c` must
    /// not alias `a` or `b`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );
}

macro_rules! impl_element {
    ($t:ty, $lanes:ty, $name:expr, $gemm:path, $as_f32:expr) => {
        impl Element for $t {
            type Lanes = $lanes;
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const NAME: &'static str = $name;
            fn as_f32(data: &[Self]) -> Option<&[f32]> {
                $as_f32(data)
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn max(self, other: Self) -> Self {
                if self >= other || self.is_nan() {
                    self
                } else {
                    other
                }
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            #[inline(always)]
            unsafe fn gemm_raw(
                m: usize,
                k: usize,
                n: usize,
                alpha: Self,
                a: *const Self,
                rsa: isize,
                csa: isize,
                b: *const Self,
                rsb: isize,
                csb: isize,
                beta: Self,
                c: *mut Self,
                rsc: isize,
                csc: isize,
            ) {
                $gemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc)
            }
        }
    };
}
impl_element!(f32, wide::f32x8, "f32", matrixmultiply::sgemm, Some);
impl_element!(f64, wide::f64x4, "f64", matrixmultiply::dgemm, |_| None);
