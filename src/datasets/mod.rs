//! Data sets: readers and writers for the files nidl trains and evaluates on.

pub mod array;
pub mod csv;
pub mod labels;
pub mod loader;
pub mod mnist;
pub mod npy;
pub mod openbhb;
pub mod table;
pub mod transforms;
