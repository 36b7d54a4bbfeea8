//! Which data format opens an experiment's data: MNIST and OpenBHB ([`super::data`]), npy and
//! csv ([`super::arrays`]).

use super::arrays;
use super::data::{self, OpenedData};
use super::schema::{Data, Experiment, Format};
use crate::cli::train_common::RunOptions;
use nidl::datasets::openbhb::Target;

/// The `[C, H, W]` of the format's samples when they are images, and its label names when
/// the file does not say.
pub fn peek(data: &Data) -> Result<(Option<[usize; 3]>, Vec<String>), String> {
    match data.format {
        Format::Mnist => Ok((Some([1, 28, 28]), vec!["digit".into()])),
        Format::Openbhb => Ok((None, Target::ALL.iter().map(|t| t.name().into()).collect())),
        Format::Npy => arrays::peek_npy(data),
        Format::Csv => {
            if data.label_names.is_some() {
                return Err(
                    "data.label_names: with format = \"csv\" the names are data.labels".into(),
                );
            }
            Ok((None, arrays::csv_columns(data)?.labels))
        }
    }
}

/// Opens the data of `exp` (defaults filled in) for a run with `run`'s batches and seed.
pub fn open(exp: &Experiment, run: &RunOptions) -> Result<OpenedData, String> {
    match exp.data.format {
        Format::Mnist => data::mnist(exp, run),
        Format::Openbhb => data::openbhb(exp, run),
        Format::Npy => arrays::npy(exp, run),
        Format::Csv => arrays::csv(exp, run),
    }
}
