//! Data sets: readers and writers for the files nidl trains and evaluates on.
//!
//! - The seed's data: [`mnist`] (idx files, raw or gzip) and [`openbhb`] (participants.tsv + ROI
//!   tables, and a synthetic stand-in).
//! - Bring your own: [`array`](mod@array) (`N × D` features or `N × C × H × W` images from `.npy` files or
//!   tensors), [`table`] (named, globbed feature and label columns of a CSV/TSV table, split by a
//!   column or by files, categorical labels coded `0..n`); both label every sample with the
//!   selected columns of a [`labels::LabelMatrix`].
//! - File formats: [`npy`] (read/write `.npy`), [`csv`] (the strict CSV/TSV reader).
//! - [`transforms`] (views: crops, blur, flips, brightness/contrast, masks, noise; run-time
//!   pipelines) and [`loader`] (seeded, parallel batches).

pub mod array;
pub mod csv;
pub mod labels;
pub mod loader;
pub mod mnist;
pub mod npy;
pub mod openbhb;
pub mod table;
pub mod transforms;
