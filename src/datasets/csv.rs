//! A small, strict reader for CSV and TSV tables: OpenBHB's ([`openbhb`](super::openbhb)) and the
//! tables of named columns [`table`](super::table) reads.
//!
//! The dialect is RFC 4180 with the usual variations real exports show, and every departure from it
//! is an [`Error::Format`] naming the file, the line and the column — the reader never panics:
//!
//! - a field delimiter chosen by the caller (`b','` for CSV, `b'\t'` for TSV);
//! - records end with `\n`, `\r\n` or a lone `\r`; blank lines are skipped (as pandas does);
//! - a leading UTF-8 byte-order mark is dropped; any other invalid UTF-8 is an error;
//! - a field that *starts* with `"` is quoted: it runs to the next lone `"`, may hold delimiters and
//!   line breaks, and writes a quote as `""`; after its closing quote only a delimiter or the end of
//!   the record may follow. A `"` inside an unquoted field is an ordinary character;
//! - the first record is the header: columns are found by name ([`Table::column`]), so their order is
//!   free and columns nobody asks for are ignored; every record must have as many fields as it.
//!
//! Line numbers are 1-based physical lines of the file (a quoted line break counts), so they match
//! what an editor shows; column numbers are 1-based field positions.
//!
//! Splitting the text into records is one sequential pass (it has to track quotes); fields are then
//! split per record ([`Table::fields`]), which callers may do in parallel.

use crate::error::{escape_text, Error, Result};
use crate::input_file::read_regular;
use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// Reads `path` as UTF-8 text for [`Table::parse`]: drops a leading byte-order mark and reports
/// invalid UTF-8 with the line it is on. A path that is not a regular file is an
/// [`Error::NotRegularFile`] (see [`crate::input_file`]).
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = read_regular(path)?;
    text_from_bytes(bytes, path)
}

/// [`read_text`] for bytes already in memory; `path` only names the source in errors.
pub fn text_from_bytes(mut bytes: Vec<u8>, path: &Path) -> Result<String> {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    if bytes.starts_with(BOM) {
        bytes.drain(..BOM.len());
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let raw = e.as_bytes();
        let line = 1 + count_line_breaks(&raw[..at]);
        Error::format(
            path,
            format!("line {line}: invalid UTF-8 at byte offset {at}"),
        )
    })
}

/// Line breaks (`\n`, `\r\n` or a lone `\r`, each counted once) in `bytes`.
fn count_line_breaks(bytes: &[u8]) -> usize {
    let mut n = 0;
    for (i, &c) in bytes.iter().enumerate() {
        if c == b'\n' || (c == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
            n += 1;
        }
    }
    n
}

/// One record of a table: its raw text (without the line break) and the line it starts on.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    /// The 1-based line of the file the record starts on.
    pub line: usize,
    text: &'a str,
}

/// A parsed table: the header's column names and the data records, borrowed from the text.
#[derive(Debug)]
pub struct Table<'a> {
    path: PathBuf,
    delimiter: u8,
    header: Vec<String>,
    records: Vec<Record<'a>>,
}

/// Where the record splitter stands in the current field.
#[derive(Clone, Copy, PartialEq)]
enum State {
    /// At the first byte of a field: a `"` here opens a quoted field.
    FieldStart,
    /// Inside an unquoted field.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just read a `"` inside a quoted field: either the closing quote or half of `""`.
    QuoteInQuoted,
}

impl<'a> Table<'a> {
    /// Splits `text` into records and reads the header (its fields trimmed of surrounding
    /// whitespace). `path` names the file in errors. An empty text, an unterminated quoted field or
    /// a malformed header is an error; data records are checked when their fields are read. The
    /// delimiter must be an ASCII byte other than `"`, `\n` and `\r`.
    pub fn parse(text: &'a str, delimiter: u8, path: impl Into<PathBuf>) -> Result<Table<'a>> {
        let path = path.into();
        if !delimiter.is_ascii() || matches!(delimiter, b'"' | b'\n' | b'\r') {
            return Err(Error::invalid(
                "csv::Table::parse",
                format!(
                    "delimiter {:?} must be ASCII and not a quote or line break",
                    delimiter as char
                ),
            ));
        }
        let mut records = split_records(text, delimiter, &path)?;
        if records.is_empty() {
            return Err(Error::format(&path, "empty file: expected a header line"));
        }
        let head = records.remove(0);
        let mut header = Vec::new();
        for (i, field) in FieldIter::new(head.text, delimiter).enumerate() {
            let field = field.map_err(|msg| {
                Error::format(
                    &path,
                    format!("line {}, column {}: {msg}", head.line, i + 1),
                )
            })?;
            header.push(field.trim().to_string());
        }
        Ok(Table {
            path,
            delimiter,
            header,
            records,
        })
    }

    /// The file this table was read from (for error messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The column names, in file order.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// The data records (header excluded, blank lines skipped), in file order.
    pub fn records(&self) -> &[Record<'a>] {
        &self.records
    }

    /// The index of the column named `name`; an error when it is absent or appears more than once.
    pub fn column(&self, name: &str) -> Result<usize> {
        self.optional_column(name)?.ok_or_else(|| {
            Error::format(
                &self.path,
                format!("line 1: missing column '{name}' in the header"),
            )
        })
    }

    /// The index of the column named `name`, `None` when absent; an error when it appears twice.
    pub fn optional_column(&self, name: &str) -> Result<Option<usize>> {
        let mut found = self.header.iter().enumerate().filter(|(_, h)| *h == name);
        let first = found.next().map(|(i, _)| i);
        if let (Some(a), Some((b, _))) = (first, found.next()) {
            return Err(Error::format(
                &self.path,
                format!(
                    "line 1: column '{name}' appears twice in the header (columns {} and {})",
                    a + 1,
                    b + 1
                ),
            ));
        }
        Ok(first)
    }

    /// The fields of `record`, unquoted; an error when one is malformed or when their count differs
    /// from the header's.
    pub fn fields(&self, record: &Record<'a>) -> Result<Vec<Cow<'a, str>>> {
        let mut out = Vec::with_capacity(self.header.len());
        for field in self.field_iter(record) {
            out.push(field?);
        }
        if out.len() != self.header.len() {
            return Err(self.count_error(record, out.len()));
        }
        Ok(out)
    }

    /// The fields of `record` one at a time, for callers that parse as they go. Unlike
    /// [`Table::fields`] it does not check the count: call [`Table::count_error`] when it is wrong.
    pub fn field_iter<'t>(
        &'t self,
        record: &Record<'a>,
    ) -> impl Iterator<Item = Result<Cow<'a, str>>> + 't {
        let line = record.line;
        FieldIter::new(record.text, self.delimiter)
            .enumerate()
            .map(move |(i, f)| {
                f.map_err(|msg| {
                    Error::format(&self.path, format!("line {line}, column {}: {msg}", i + 1))
                })
            })
    }

    /// The error for `record` having `found` fields instead of the header's count.
    pub fn count_error(&self, record: &Record<'a>, found: usize) -> Error {
        Error::format(
            &self.path,
            format!(
                "line {}: expected {} fields (as many as the header), found {found}",
                record.line,
                self.header.len()
            ),
        )
    }

    /// An error about the value of column `col` on `record`: `line L, column 'name' (#c): message`.
    pub fn value_error(&self, record: &Record<'a>, col: usize, message: impl AsRef<str>) -> Error {
        let name = self.header.get(col).map_or("?".into(), |h| escape_text(h));
        Error::format(
            &self.path,
            format!(
                "line {}, column '{name}' (#{}): {}",
                record.line,
                col + 1,
                message.as_ref()
            ),
        )
    }

    /// Parses the value of column `col` on `record` as a finite `f64` (see [`parse_number`]).
    pub fn number(&self, record: &Record<'a>, col: usize, field: &str) -> Result<f64> {
        parse_number::<f64>(field).map_err(|m| self.value_error(record, col, m))
    }
}

/// Parses a numeric field: surrounding whitespace is ignored; an empty field or a missing-value
/// marker (`NA`, `NaN`, `N/A`, `null`, ...) is "missing value", infinities are "non-finite",
/// anything else that is not a number says so. The message quotes the field.
pub fn parse_number<T: std::str::FromStr + Into<f64> + Copy>(
    field: &str,
) -> std::result::Result<T, String> {
    let s = field.trim();
    match s.parse::<T>() {
        Ok(v) if v.into().is_finite() => Ok(v),
        Ok(v) if v.into().is_nan() => Err(format!("missing value '{s}'")),
        Ok(_) => Err(format!("non-finite value '{s}'")),
        Err(_) if is_missing_marker(s) => Err(if s.is_empty() {
            "missing value (empty field)".to_string()
        } else {
            format!("missing value '{s}'")
        }),
        Err(_) => Err(format!("'{}' is not a number", shorten(s))),
    }
}

/// Whether `s` is one of the markers pandas reads as a missing value (`NA`, `NaN`, `null`, ...,
/// case-insensitive), or empty.
pub fn is_missing_marker(s: &str) -> bool {
    const MARKERS: &[&str] = &[
        "", "na", "n/a", "nan", "-nan", "null", "none", "#n/a", "<na>", "-1.#ind", "1.#ind",
    ];
    MARKERS.iter().any(|m| s.eq_ignore_ascii_case(m))
}

/// `s` cut to at most 40 characters (on a character boundary) and escaped ([`escape_text`]) for
/// an error message.
pub fn shorten(s: &str) -> Cow<'_, str> {
    match s.char_indices().nth(40) {
        Some((cut, _)) => Cow::Owned(format!("{}...", escape_text(&s[..cut]))),
        None => escape_text(s),
    }
}

/// Splits `text` into non-blank records, tracking quoted fields (which may span lines).
///
/// Fast path: a line holding no `"` and no `\r` other than a final one is a record by itself,
/// found with three byte searches (`memchr` in the standard library). Other records go through the
/// quote-aware state machine of [`scan_record`].
fn split_records<'a>(text: &'a str, delimiter: u8, path: &Path) -> Result<Vec<Record<'a>>> {
    let b = text.as_bytes();
    let mut records = Vec::new();
    let mut start = 0usize;
    let mut line = 1usize;
    // `start` and every end below sit on ASCII bytes (or the ends), so they are char boundaries.
    let mut push = |start: usize, end: usize, line: usize| {
        let rec = &text[start..end];
        if !rec.trim().is_empty() {
            records.push(Record { line, text: rec });
        }
    };
    while start < b.len() {
        let newline = text[start..].find('\n').map(|i| start + i);
        let end = newline.unwrap_or(b.len());
        let body_end = if end > start && b[end - 1] == b'\r' {
            end - 1
        } else {
            end
        };
        let body = &b[start..body_end];
        if !body.contains(&b'"') && !body.contains(&b'\r') {
            push(start, body_end, line);
            start = end + 1;
            line += 1;
            continue;
        }
        let (rec_end, next, breaks) = scan_record(b, start, delimiter, line, path)?;
        push(start, rec_end, line);
        start = next;
        line += breaks;
    }
    Ok(records)
}

/// Scans the record starting at `start` (on line `line`) with the quote-aware state machine.
/// Returns where it ends (its line break or the end of the text), where the next one starts,
/// and how many line breaks were consumed (quoted ones and the terminator).
fn scan_record(
    b: &[u8],
    start: usize,
    delimiter: u8,
    line: usize,
    path: &Path,
) -> Result<(usize, usize, usize)> {
    let mut breaks = 0usize;
    let mut quote_line = line;
    let mut state = State::FieldStart;
    let mut i = start;
    while i < b.len() {
        let c = b[i];
        match state {
            State::Quoted => {
                if c == b'"' {
                    state = State::QuoteInQuoted;
                } else if c == b'\n' || (c == b'\r' && b.get(i + 1) != Some(&b'\n')) {
                    breaks += 1;
                }
                i += 1;
                continue;
            }
            State::QuoteInQuoted if c == b'"' => {
                state = State::Quoted;
                i += 1;
                continue;
            }
            _ => {}
        }
        if c == b'\n' || c == b'\r' {
            let next = if c == b'\r' && b.get(i + 1) == Some(&b'\n') {
                i + 2
            } else {
                i + 1
            };
            return Ok((i, next, breaks + 1));
        }
        state = if c == delimiter {
            State::FieldStart
        } else if c == b'"' && state == State::FieldStart {
            quote_line = line + breaks;
            State::Quoted
        } else {
            // Unquoted text, or a character after a closing quote (kept in this record;
            // `FieldIter` reports it).
            State::Unquoted
        };
        i += 1;
    }
    if state == State::Quoted {
        return Err(Error::format(
            path,
            format!("line {quote_line}: quoted field opened here is never closed"),
        ));
    }
    Ok((b.len(), b.len(), breaks))
}

/// Iterates over the fields of one record's text, unquoting quoted ones.
struct FieldIter<'a> {
    rest: &'a str,
    delimiter: u8,
    done: bool,
}

impl<'a> FieldIter<'a> {
    fn new(text: &'a str, delimiter: u8) -> Self {
        FieldIter {
            rest: text,
            delimiter,
            done: false,
        }
    }
}

impl<'a> Iterator for FieldIter<'a> {
    type Item = std::result::Result<Cow<'a, str>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let s = self.rest;
        let b = s.as_bytes();
        if b.first() != Some(&b'"') {
            // Unquoted: up to the next delimiter (all indices below sit on ASCII bytes).
            return Some(Ok(match b.iter().position(|&c| c == self.delimiter) {
                Some(end) => {
                    self.rest = &s[end + 1..];
                    Cow::Borrowed(&s[..end])
                }
                None => {
                    self.done = true;
                    Cow::Borrowed(s)
                }
            }));
        }
        // Quoted: find the closing quote, collapsing `""` to `"`.
        let mut owned: Option<String> = None;
        let mut seg_start = 1;
        let mut i = 1;
        loop {
            match b.get(i) {
                None => {
                    self.done = true;
                    return Some(Err("quoted field is never closed".to_string()));
                }
                Some(b'"') if b.get(i + 1) == Some(&b'"') => {
                    owned
                        .get_or_insert_with(String::new)
                        .push_str(&s[seg_start..=i]);
                    i += 2;
                    seg_start = i;
                }
                Some(b'"') => break,
                Some(_) => i += 1,
            }
        }
        let value = match owned {
            Some(mut o) => {
                o.push_str(&s[seg_start..i]);
                Cow::Owned(o)
            }
            None => Cow::Borrowed(&s[1..i]),
        };
        match b.get(i + 1) {
            None => self.done = true,
            Some(&c) if c == self.delimiter => self.rest = &s[i + 2..],
            Some(_) => {
                self.done = true;
                let after = s[i + 1..].chars().next().unwrap_or(' ');
                return Some(Err(format!(
                    "unexpected {after:?} after the closing quote of a quoted field"
                )));
            }
        }
        Some(Ok(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str) -> Vec<Vec<String>> {
        let t = Table::parse(text, b',', "t.csv").unwrap();
        let mut out = vec![t.header().to_vec()];
        for r in t.records() {
            out.push(
                t.fields(r)
                    .unwrap()
                    .into_iter()
                    .map(|f| f.into_owned())
                    .collect(),
            );
        }
        out
    }

    #[test]
    fn dialect() {
        assert_eq!(
            fields("a,b\r\n1,\"x,\"\"y\"\"\nz\"\r\n\r\n\"\",q\n"),
            vec![vec!["a", "b"], vec!["1", "x,\"y\"\nz"], vec!["", "q"]]
        );
        // Lone CR ends a record; an inner quote of an unquoted field is literal.
        assert_eq!(
            fields("a,b\r1,x\"y"),
            vec![vec!["a", "b"], vec!["1", "x\"y"]]
        );
    }

    #[test]
    fn line_numbers_count_quoted_breaks() {
        let t = Table::parse("a,b\n\"1\n2\",3\n\n4,5\n", b',', "t.csv").unwrap();
        let lines: Vec<usize> = t.records().iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 5]);
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = Table::parse("a,b\n1,\"2\n", b',', "t.csv")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("t.csv") && e.contains("line 2") && e.contains("never closed"),
            "{e}"
        );
        let t = Table::parse("a,b\n1,\"2\"x\n3\n", b',', "t.csv").unwrap();
        let e = t.fields(&t.records()[0]).unwrap_err().to_string();
        assert!(
            e.contains("line 2, column 2") && e.contains("closing quote"),
            "{e}"
        );
        let e = t.fields(&t.records()[1]).unwrap_err().to_string();
        assert!(
            e.contains("line 3") && e.contains("expected 2 fields"),
            "{e}"
        );
        assert!(t
            .column("c")
            .unwrap_err()
            .to_string()
            .contains("missing column 'c'"));
        let t = Table::parse("a,a\n", b',', "t.csv").unwrap();
        assert!(t.column("a").unwrap_err().to_string().contains("twice"));
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number::<f64>(" 1.5e2 "), Ok(150.0));
        assert!(parse_number::<f64>("").unwrap_err().contains("missing"));
        assert!(parse_number::<f64>("NaN").unwrap_err().contains("missing"));
        assert!(parse_number::<f64>("NA").unwrap_err().contains("missing"));
        assert!(parse_number::<f64>("inf")
            .unwrap_err()
            .contains("non-finite"));
        assert!(parse_number::<f32>("1e39")
            .unwrap_err()
            .contains("non-finite"));
        assert!(parse_number::<f64>("abc")
            .unwrap_err()
            .contains("not a number"));
    }

    #[test]
    fn bom_and_bad_utf8() {
        let t = text_from_bytes(b"\xEF\xBB\xBFa\n".to_vec(), Path::new("x")).unwrap();
        assert_eq!(t, "a\n");
        let e = text_from_bytes(b"a\nb\xFF\n".to_vec(), Path::new("x")).unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
    }
}
