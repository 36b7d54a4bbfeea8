//! `metrics.csv`: one `step,epoch,tag,value` row per logged scalar.
//!
//! Values are printed with Rust's shortest round-trip formatting (`{}` on f64), so parsing a cell
//! back gives the exact f64 that was logged and same-seed runs write byte-identical files.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The header line (without newline).
pub const HEADER: &str = "step,epoch,tag,value";

/// `value` as written in the CSV: shortest round-trip decimal (`NaN`, `inf`, `-inf` for non-finite).
pub fn format_value(value: f64) -> String {
    format!("{value}")
}

/// A CSV field, quoted (RFC 4180: wrapped in `"`, inner `"` doubled) when it contains a comma,
/// a quote, a line break or leading/trailing spaces.
pub fn escape_field(field: &str) -> String {
    let needs =
        field.contains([',', '"', '\n', '\r']) || field.starts_with(' ') || field.ends_with(' ');
    if needs {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// One CSV row, newline included.
pub fn format_row(step: u64, epoch: usize, tag: &str, value: f64) -> String {
    format!(
        "{step},{epoch},{},{}\n",
        escape_field(tag),
        format_value(value)
    )
}

/// Buffered writer of `metrics.csv`.
#[derive(Debug)]
pub struct CsvWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl CsvWriter {
    /// Creates (truncating) the file at `path` and writes the header.
    pub fn create(path: &Path) -> Result<Self> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let mut w = CsvWriter {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
        };
        w.write_line(&format!("{HEADER}\n"))?;
        Ok(w)
    }

    fn write_line(&mut self, line: &str) -> Result<()> {
        self.out
            .write_all(line.as_bytes())
            .map_err(|e| Error::io(&self.path, e))
    }

    /// Appends one row.
    pub fn write_row(&mut self, step: u64, epoch: usize, tag: &str, value: f64) -> Result<()> {
        self.write_line(&format_row(step, epoch, tag, value))
    }

    /// Writes buffered rows to the file and asks the OS to put them on disk.
    pub fn flush(&mut self) -> Result<()> {
        super::flush_and_sync(&mut self.out, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_escaping() {
        assert_eq!(
            format_row(3, 1, "task0/R2", 0.1 + 0.2),
            "3,1,task0/R2,0.30000000000000004\n"
        );
        assert_eq!(escape_field("a,b"), "\"a,b\"");
        assert_eq!(escape_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(escape_field("loss/train"), "loss/train");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(1e-7).parse::<f64>().ok(), Some(1e-7));
    }
}
