//! Data sets: readers and writers for the files nidl trains and evaluates on.

pub mod npy;
