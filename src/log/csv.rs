//! `metrics.csv`: one `step,epoch,tag,value` row per logged scalar.
//!
//! Values are printed with Rust's shortest round-trip formatting (`{}` on f64), so parsing a cell
//! back gives the exact f64 that was logged and same-seed runs write byte-identical files.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
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

/// What [`CsvWriter`] writes to: a file it can cut back after a failed write.
pub trait Append: Write {
    /// Cuts the content back to its first `len` bytes, the next write going at its end.
    fn truncate_to(&mut self, len: u64) -> std::io::Result<()>;
}

impl Append for File {
    fn truncate_to(&mut self, len: u64) -> std::io::Result<()> {
        self.set_len(len)?;
        self.seek(SeekFrom::Start(len)).map(|_| ())
    }
}

/// Bytes of rows kept in memory before they are written (whole rows only).
const PENDING_BYTES: usize = 8192;

/// Writer of `metrics.csv` whose rows reach the file whole or not at all: rows are kept in
/// memory and written together (by [`flush`](Self::flush), or once 8 KiB are waiting), each batch
/// with one `write_all`; when that fails (a full disk), the file is cut back to its length before
/// the write, so it always ends with a complete row, and the rows stay pending for the next
/// flush.
#[derive(Debug)]
pub struct CsvWriter<W: Append = File> {
    path: PathBuf,
    out: W,
    /// Rows not written yet, newline-terminated.
    pending: Vec<u8>,
    /// Bytes the file holds: whole rows only.
    written: u64,
}

impl CsvWriter {
    /// Creates (truncating) the file at `path`, the header line pending.
    pub fn create(path: &Path) -> Result<Self> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        Ok(CsvWriter::new(file, path))
    }

    /// Writes pending rows to the file and asks the OS to put them on disk.
    pub fn flush(&mut self) -> Result<()> {
        self.write_pending()?;
        self.out.sync_data().map_err(|e| Error::io(&self.path, e))
    }
}

impl<W: Append> CsvWriter<W> {
    /// A writer to the empty `out` (`path` names it in errors), the header line pending.
    pub fn new(out: W, path: &Path) -> Self {
        CsvWriter {
            path: path.to_path_buf(),
            out,
            pending: format!("{HEADER}\n").into_bytes(),
            written: 0,
        }
    }

    /// Appends one row (written once enough rows are pending, or at the next flush).
    pub fn write_row(&mut self, step: u64, epoch: usize, tag: &str, value: f64) -> Result<()> {
        self.pending
            .extend_from_slice(format_row(step, epoch, tag, value).as_bytes());
        if self.pending.len() >= PENDING_BYTES {
            self.write_pending()?;
        }
        Ok(())
    }

    /// Writes the pending rows with one `write_all`; on failure cuts `out` back to the rows
    /// written before and keeps these pending. The error names the file (and a failed cut).
    fn write_pending(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let wrote = self
            .out
            .write_all(&self.pending)
            .and_then(|()| self.out.flush());
        if let Err(e) = wrote {
            let e = match self.out.truncate_to(self.written) {
                Ok(()) => e,
                Err(cut) => std::io::Error::new(
                    e.kind(),
                    format!(
                        "{e}; cutting the file back to its {} bytes of whole rows failed too: {cut}",
                        self.written
                    ),
                ),
            };
            return Err(Error::io(&self.path, e));
        }
        self.written += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
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

    /// Takes at most `room` bytes in all (a disk that fills up), writing part of a buffer
    /// before it fails.
    #[derive(Debug)]
    struct Filling {
        bytes: Vec<u8>,
        room: usize,
    }

    impl Write for Filling {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.room.saturating_sub(self.bytes.len()));
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    "no space left",
                ));
            }
            self.bytes.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Append for Filling {
        fn truncate_to(&mut self, len: u64) -> std::io::Result<()> {
            self.bytes.truncate(len as usize);
            Ok(())
        }
    }

    #[test]
    fn a_full_disk_leaves_whole_rows_and_the_rows_pending() {
        let path = Path::new("metrics.csv");
        let mut w = CsvWriter::new(
            Filling {
                bytes: Vec::new(),
                room: 1000,
            },
            path,
        );
        w.write_row(0, 0, "loss/train", 1.5).unwrap();
        w.write_pending().unwrap();
        let whole = w.out.bytes.clone();
        assert_eq!(whole, b"step,epoch,tag,value\n0,0,loss/train,1.5\n");
        // Room for part of the next batch of rows only: the write fails mid-row.
        w.out.room = whole.len() + 30;
        for step in 1..4 {
            w.write_row(step, 8, "loss/train", 0.25).unwrap();
        }
        let e = w.write_pending().unwrap_err().to_string();
        assert!(
            e.contains("metrics.csv") && e.contains("no space left"),
            "{e}"
        );
        assert_eq!(w.out.bytes, whole, "cut back to the rows written before");
        // Space again: the pending rows are written whole at the next flush.
        w.out.room = 1000;
        w.write_pending().unwrap();
        let text = String::from_utf8(w.out.bytes.clone()).unwrap();
        assert!(text.ends_with("1,8,loss/train,0.25\n2,8,loss/train,0.25\n3,8,loss/train,0.25\n"));
        assert_eq!(text.lines().count(), 5);
        // A row pushes the rows out once 8 KiB are pending.
        w.out.room = usize::MAX;
        let before = w.out.bytes.len();
        let mut n = 0;
        while w.out.bytes.len() == before {
            w.write_row(n, 0, "loss/train", 0.5).unwrap();
            n += 1;
        }
        assert!(w.pending.is_empty() && w.out.bytes.len() - before >= PENDING_BYTES);
    }
}
