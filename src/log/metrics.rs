//! Reading a run's `metrics.csv` back: every logged scalar, queryable by tag.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::env::temp_dir().join(format!("nidl-doc-metrics-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let path = dir.join("metrics.csv");
//! let rows = "0,0,loss/train,5.4\n1,0,loss/train,5.1\n2,0,task0/R2,0.25\n";
//! std::fs::write(&path, format!("step,epoch,tag,value\n{rows}"))?;
//! let m = nidl::log::Metrics::read(&path)?;
//! assert_eq!(m.tags(), ["loss/train", "task0/R2"]);
//! assert_eq!(m.tag("loss/train"), [(0, 0, 5.4), (1, 0, 5.1)]);
//! assert_eq!(m.last("task0/R2"), Some(0.25));
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok(())
//! # }
//! ```

use super::csv::HEADER;
use crate::error::{Error, Result};
use crate::input_file::read_regular;
use std::path::Path;

/// One logged value: `(step, epoch, value)`.
pub type MetricRow = (u64, usize, f64);

/// The scalars of a `metrics.csv` (`step,epoch,tag,value` rows, as
/// [`CsvWriter`](super::csv::CsvWriter) writes them), grouped by tag in the order tags first
/// appear, each tag's rows in file order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    series: Vec<(String, Vec<MetricRow>)>,
}

impl Metrics {
    /// Reads the file at `path`.
    ///
    /// Errors: the file cannot be read ([`Error::Io`], [`Error::NotRegularFile`]), or it is not
    /// a `metrics.csv`: an [`Error::Format`] naming the file and the line (a missing or other
    /// header, a row without four fields, a step, epoch or value that is not a number, a quote
    /// left open).
    pub fn read(path: impl AsRef<Path>) -> Result<Metrics> {
        let path = path.as_ref();
        let bytes = read_regular(path)?;
        let text = String::from_utf8(bytes)
            .map_err(|e| Error::format(path, format!("not UTF-8 text: {e}")))?;
        Metrics::parse(&text, path)
    }

    /// Parses `text`, the content of the file at `path` (named in errors, see
    /// [`read`](Metrics::read)).
    pub fn parse(text: &str, path: &Path) -> Result<Metrics> {
        let bad = |line: usize, what: String| Error::format(path, format!("line {line}: {what}"));
        let records = records(text).map_err(|line| bad(line, "a quote is not closed".into()))?;
        let mut rows = records.into_iter();
        match rows.next() {
            Some((_, h)) if h == HEADER.split(',').collect::<Vec<_>>() => {}
            Some((line, h)) => {
                return Err(bad(
                    line,
                    format!("header {:?}, expected '{HEADER}'", h.join(",")),
                ))
            }
            None => {
                return Err(bad(
                    1,
                    format!("empty file, expected the header '{HEADER}'"),
                ))
            }
        }
        let mut m = Metrics::default();
        for (line, fields) in rows {
            let [step, epoch, tag, value] = fields.as_slice() else {
                return Err(bad(
                    line,
                    format!("{} fields, expected 4 ({HEADER})", fields.len()),
                ));
            };
            let number = |name: &str, v: &str| bad(line, format!("{name} '{v}' is not a number"));
            let step: u64 = step.parse().map_err(|_| number("step", step))?;
            let epoch: usize = epoch.parse().map_err(|_| number("epoch", epoch))?;
            let value: f64 = value.parse().map_err(|_| number("value", value))?;
            m.push(tag, (step, epoch, value));
        }
        Ok(m)
    }

    fn push(&mut self, tag: &str, row: MetricRow) {
        match self.series.iter_mut().find(|(t, _)| t == tag) {
            Some((_, rows)) => rows.push(row),
            None => self.series.push((tag.to_string(), vec![row])),
        }
    }

    /// The tags, in the order they were first logged.
    pub fn tags(&self) -> Vec<&str> {
        self.series.iter().map(|(t, _)| t.as_str()).collect()
    }

    /// The rows logged under `tag` (`(step, epoch, value)`, in file order); empty for a tag never
    /// logged.
    pub fn tag(&self, tag: &str) -> &[MetricRow] {
        self.series
            .iter()
            .find(|(t, _)| t == tag)
            .map_or(&[], |(_, rows)| rows.as_slice())
    }

    /// The last value logged under `tag`, if any.
    pub fn last(&self, tag: &str) -> Option<f64> {
        self.tag(tag).last().map(|&(_, _, v)| v)
    }
}

/// The non-blank records of CSV `text` with the line each starts on (1-based), fields unquoted
/// (RFC 4180: a quoted field may hold commas, doubled quotes and line breaks). `Err(line)`: the
/// quote opened on `line` is never closed.
fn records(text: &str) -> std::result::Result<Vec<(usize, Vec<String>)>, usize> {
    let mut out = Vec::new();
    let (mut fields, mut field) = (Vec::new(), String::new());
    let (mut line, mut start, mut quote_line) = (1, 1, None);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quote_line) {
            ('"', Some(_)) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', Some(_)) => quote_line = None,
            ('"', None) if field.is_empty() => quote_line = Some(line),
            ('\n', Some(_)) => {
                field.push('\n');
                line += 1;
            }
            (',', None) => fields.push(std::mem::take(&mut field)),
            ('\n', None) => {
                end_record(&mut out, start, &mut fields, &mut field);
                line += 1;
                start = line;
            }
            ('\r', None) if chars.peek() == Some(&'\n') => {}
            (c, _) => field.push(c),
        }
    }
    if let Some(l) = quote_line {
        return Err(l);
    }
    end_record(&mut out, start, &mut fields, &mut field);
    Ok(out)
}

/// Ends the record of `fields` + `field` that started on line `start` (a blank line is none).
fn end_record(
    out: &mut Vec<(usize, Vec<String>)>,
    start: usize,
    fields: &mut Vec<String>,
    field: &mut String,
) {
    if fields.is_empty() && field.is_empty() {
        return;
    }
    fields.push(std::mem::take(field));
    out.push((start, std::mem::take(fields)));
}
