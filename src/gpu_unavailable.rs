//! The GPU slot of [`Storage`](crate::tensor) in a build without the `gpu` feature: an
//! uninhabited type, so no tensor can be on a GPU, every GPU arm of the dispatch is unreachable
//! at no cost, and moving a tensor there is an [`Error::Device`] saying how to get a backend.

use crate::backend::op::{
    AdamStep, AxisSplit, BinaryOp, Broadcast, ConvDims, GemmDims, PoolDims, SgdStep, UnaryOp,
};
use crate::backend::BackendStorage;
use crate::backend::Element;
use crate::error::{Error, Result};
use std::convert::Infallible;
use std::marker::PhantomData;

/// Device storage that cannot exist.
#[derive(Clone, Debug)]
pub(crate) struct GpuStorage<T> {
    never: Infallible,
    _element: PhantomData<T>,
}

impl<T: Element> GpuStorage<T> {
    /// Always the error that this build has no GPU backend.
    pub(crate) fn upload(_data: &[T]) -> Result<Self> {
        Err(Error::Device(
            "this build has no GPU backend; rebuild with `--features gpu`".into(),
        ))
    }

    /// Unreachable: no value exists.
    pub(crate) fn same_buffer(&self, _other: &Self) -> bool {
        match self.never {}
    }
}

impl<T: Element> BackendStorage<T> for GpuStorage<T> {
    fn len(&self) -> usize {
        match self.never {}
    }
    fn to_host(&self) -> Result<Vec<T>> {
        match self.never {}
    }
    fn zeros(&self, _: usize) -> Result<Self> {
        match self.never {}
    }
    fn binary(&self, _: &Self, _: BinaryOp, _: &Broadcast) -> Result<Self> {
        match self.never {}
    }
    fn scalar(&self, _: T, _: BinaryOp) -> Result<Self> {
        match self.never {}
    }
    fn unary(&self, _: UnaryOp) -> Result<Self> {
        match self.never {}
    }
    fn add_assign(&mut self, _: &Self) -> Result<()> {
        match self.never {}
    }
    fn sum_to_shape(&self, _: &Broadcast, _: usize) -> Result<Self> {
        match self.never {}
    }
    fn sum_axis(&self, _: AxisSplit) -> Result<Self> {
        match self.never {}
    }
    fn max_axis(&self, _: AxisSplit) -> Result<Self> {
        match self.never {}
    }
    fn sum_all(&self) -> Result<Self> {
        match self.never {}
    }
    fn transpose(&self, _: usize, _: usize) -> Result<Self> {
        match self.never {}
    }
    fn concat(parts: &[&Self], _: usize, _: &[usize], _: usize) -> Result<Self> {
        match parts.first() {
            Some(p) => match p.never {},
            None => Err(Error::invalid("concat", "no tensors to concatenate")),
        }
    }
    fn slice(&self, _: AxisSplit, _: usize, _: usize) -> Result<Self> {
        match self.never {}
    }
    fn gather_rows(&self, _: &[usize], _: usize) -> Result<Self> {
        match self.never {}
    }
    fn scatter_add_rows(&self, _: &[usize], _: usize, _: usize) -> Result<Self> {
        match self.never {}
    }
    fn matmul(&self, _: &Self, _: GemmDims) -> Result<Self> {
        match self.never {}
    }
    fn logsumexp_rows(&self, _: usize, _: usize) -> Result<Self> {
        match self.never {}
    }
    fn logsumexp_rows_backward(&self, _: &Self, _: &Self, _: usize, _: usize) -> Result<Self> {
        match self.never {}
    }
    fn log_softmax_rows(&self, _: usize, _: usize) -> Result<Self> {
        match self.never {}
    }
    fn log_softmax_rows_backward(&self, _: Self, _: usize, _: usize) -> Result<Self> {
        match self.never {}
    }
    fn l2_normalize_rows(&self, _: usize, _: usize, _: T) -> Result<(Self, Self)> {
        match self.never {}
    }
    fn l2_normalize_rows_backward(
        &self,
        _: &Self,
        _: T,
        _: Self,
        _: usize,
        _: usize,
    ) -> Result<Self> {
        match self.never {}
    }
    fn relu_backward(&self, _: Self) -> Result<Self> {
        match self.never {}
    }
    fn gelu_backward(&self, _: Self) -> Result<Self> {
        match self.never {}
    }
    fn masked_fill(self, _: &[bool], _: T) -> Result<Self> {
        match self.never {}
    }
    fn conv2d(&self, _: &Self, _: Option<&Self>, _: &ConvDims) -> Result<Self> {
        match self.never {}
    }
    fn conv2d_backward(
        &self,
        _: &Self,
        _: &Self,
        _: &ConvDims,
        _: bool,
    ) -> Result<(Option<Self>, Self, Self)> {
        match self.never {}
    }
    fn avg_pool2d(&self, _: &PoolDims) -> Result<Self> {
        match self.never {}
    }
    fn avg_pool2d_backward(&self, _: &PoolDims) -> Result<Self> {
        match self.never {}
    }
    fn upsample_nearest2d(&self, _: &PoolDims) -> Result<Self> {
        match self.never {}
    }
    fn upsample_nearest2d_backward(&self, _: &PoolDims) -> Result<Self> {
        match self.never {}
    }
    fn adam_step(&mut self, _: &mut Self, _: &mut Self, _: &Self, _: &AdamStep<T>) -> Result<()> {
        match self.never {}
    }
    fn sgd_step(&mut self, _: Option<&mut Self>, _: &Self, _: &SgdStep<T>) -> Result<()> {
        match self.never {}
    }
    fn ema_update(&mut self, _: &Self, _: T, _: T) -> Result<()> {
        match self.never {}
    }
}
