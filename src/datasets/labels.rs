//! The label columns of a data set read from arrays or tables: `N` rows of `K` `f64` values, and
//! which of the `K` columns a data set yields.
//!
//! Selecting columns ([`LabelMatrix::select`]) shares the values instead of copying them, so a
//! probe on column `k` and y-Aware's auxiliary variable (one column) cost nothing extra.

use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::sync::Arc;

/// `N` rows of label values, `K` columns each, and the selected columns (all of them at first).
#[derive(Clone, Debug, PartialEq)]
pub struct LabelMatrix {
    /// `n × k` values, row-major.
    values: Arc<[f64]>,
    n: usize,
    k: usize,
    /// Indices into the `k` stored columns, in the order they are yielded.
    selected: Vec<usize>,
}

impl LabelMatrix {
    /// `n` rows of `k` values from `values` (row-major, `n·k` of them, every one finite), all `k`
    /// columns selected. Errors name the row and column of the first non-finite value, or both
    /// counts when the length is wrong.
    pub fn new(values: Vec<f64>, n: usize, k: usize) -> Result<Self> {
        if n.checked_mul(k) != Some(values.len()) {
            return Err(Error::shape(
                "LabelMatrix::new",
                format!("{n} rows × {k} columns of labels"),
                &[&[n, k], &[values.len()]],
            ));
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: format!(
                    "labels: row {}, column {} is {} (labels of shape [{n}, {k}])",
                    i / k.max(1),
                    i % k.max(1),
                    values[i]
                ),
            });
        }
        Self::from_checked(values, n, k)
    }

    /// Labels from a tensor of shape `[N]` (one column) or `[N, K]`.
    pub fn from_tensor(t: &Tensor<f64>) -> Result<Self> {
        let (n, k) = match *t.shape() {
            [n] => (n, 1),
            [n, k] => (n, k),
            _ => {
                return Err(Error::shape(
                    "LabelMatrix::from_tensor",
                    "labels of shape [N] or [N, K]",
                    &[t.shape()],
                ))
            }
        };
        Self::new(t.to_vec()?, n, k)
    }

    /// Values already checked to be `n·k` finite numbers.
    pub(crate) fn from_checked(values: Vec<f64>, n: usize, k: usize) -> Result<Self> {
        Ok(LabelMatrix {
            values: values.into(),
            n,
            k,
            selected: (0..k).collect(),
        })
    }

    /// Number of rows `N`.
    pub fn len(&self) -> usize {
        self.n
    }

    /// True without rows.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Number of selected columns (the length of each label).
    pub fn n_columns(&self) -> usize {
        self.selected.len()
    }

    /// The selected columns, as indices into the columns the matrix was built with.
    pub fn columns(&self) -> &[usize] {
        &self.selected
    }

    /// Keeps `columns` of the current selection, in that order (indices `0..n_columns()`;
    /// repeats allowed). Errors name an index out of range.
    pub fn select(&self, columns: &[usize]) -> Result<Self> {
        if let Some(&c) = columns.iter().find(|&&c| c >= self.selected.len()) {
            return Err(Error::invalid(
                "LabelMatrix::select",
                format!(
                    "label column {c} out of range: the labels have {} columns (0..{})",
                    self.selected.len(),
                    self.selected.len()
                ),
            ));
        }
        Ok(LabelMatrix {
            values: Arc::clone(&self.values),
            n: self.n,
            k: self.k,
            selected: columns.iter().map(|&c| self.selected[c]).collect(),
        })
    }

    /// The selected values of row `i`, or `None` past the end.
    pub fn row(&self, i: usize) -> Option<Vec<f64>> {
        let row = self.values.get(i.checked_mul(self.k)?..)?.get(..self.k)?;
        (i < self.n).then(|| self.selected.iter().map(|&c| row[c]).collect())
    }

    /// [`LabelMatrix::row`], or an error from `op` (a data set's `get`) for an index past the end.
    pub(crate) fn row_for(&self, op: &'static str, i: usize) -> Result<Vec<f64>> {
        self.row(i).ok_or_else(|| {
            Error::invalid(op, format!("index {i} out of range for {} samples", self.n))
        })
    }

    /// Selected column `j` over all rows, or `None` past the end.
    pub fn column(&self, j: usize) -> Option<Vec<f64>> {
        let c = *self.selected.get(j)?;
        Some((0..self.n).map(|i| self.values[i * self.k + c]).collect())
    }

    /// The selected columns as a `[N, n_columns]` tensor.
    pub fn to_tensor(&self) -> Result<Tensor<f64>> {
        let mut out = Vec::with_capacity(self.n * self.selected.len());
        for i in 0..self.n {
            let row = &self.values[i * self.k..(i + 1) * self.k];
            out.extend(self.selected.iter().map(|&c| row[c]));
        }
        Tensor::from_vec(out, &[self.n, self.selected.len()])
    }
}
