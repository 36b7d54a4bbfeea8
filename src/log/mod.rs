//! Run logging: everything a training run writes into `<log-dir>/version_<N>/`.
//!
//! - [`next_version_dir`] picks and creates the run's directory (as PyTorch Lightning does);
//! - [`RunLogger`] appends every scalar to a TensorBoard event file ([`tensorboard`]) and to
//!   `metrics.csv` ([`csv`]), writes `hparams.yaml`, and on [`RunLogger::finish`] draws
//!   `metrics.png` and `metrics.svg` (feature `plot`, on by default: `figure`, `plot`);
//! - [`Metrics`] reads a run's `metrics.csv` back, queryable by tag ([`metrics`]);
//! - `compare` overlays several runs per tag for `nidl plot` (feature `plot`).
//!
//! ```
//! # fn main() -> nidl::Result<()> {
//! let root = std::env::temp_dir().join(format!("nidl-doc-log-{}", std::process::id()));
//! let dir = nidl::log::next_version_dir(&root)?; // <root>/version_0
//! let mut logger = nidl::log::RunLogger::create(&dir)?;
//! logger.log_hparams(&[("lr".into(), "0.0001".into())])?;
//! logger.log_scalar("loss/train", 4.2, 1, 0)?;
//! logger.log_scalar("LogisticRegression/accuracy", 0.81, 1, 0)?;
//! let png = logger.finish()?; // Some(<dir>/metrics.png) with the `plot` feature
//! # #[cfg(feature = "plot")]
//! assert!(png.is_some_and(|p| p.ends_with("metrics.png")));
//! # std::fs::remove_dir_all(&root).ok();
//! # Ok(())
//! # }
//! ```

#[cfg(feature = "plot")]
pub mod compare;
pub mod csv;
#[cfg(feature = "plot")]
pub mod figure;
pub mod metric_kind;
pub mod metrics;
#[cfg(feature = "plot")]
pub mod plot;
#[cfg(feature = "plot")]
pub mod raster;
pub mod smoothing;
pub mod tensorboard;

use std::fs;
use std::io::{BufWriter, ErrorKind, Write};
use std::path::{Path, PathBuf};

pub use metric_kind::MetricKind;
pub use metrics::{MetricRow, Metrics};

use crate::atomic_file::write_atomic;
use crate::error::{Error, Result};

/// File name of the CSV log inside a version directory.
pub const METRICS_CSV: &str = "metrics.csv";
/// File name of the hyper-parameter file inside a version directory.
pub const HPARAMS_YAML: &str = "hparams.yaml";
/// File name of the metrics plot inside a version directory.
pub const METRICS_PNG: &str = "metrics.png";
/// File name of what the run's figure names beyond its scalars (the data, panel titles, the
/// steps of short last batches), written by [`RunLogger::finish`] so `nidl plot` draws the
/// run as its own `metrics.png` does ([`figure_yaml`]).
pub const FIGURE_YAML: &str = "figure.yaml";
/// File name of the metrics plot as SVG, beside [`METRICS_PNG`].
pub const METRICS_SVG: &str = "metrics.svg";
/// The tag of the epoch (0-based) that the trainer logs after each group of scalars, as
/// Lightning does; not drawn in `metrics.png`.
pub const EPOCH_TAG: &str = "epoch";

/// `<log_dir>/version_<N>/` with N the next free integer (as Lightning: scan existing
/// `version_*` dirs, max+1, 0 if none); created race-safely (create_dir, retry on AlreadyExists).
///
/// `log_dir` is created if missing. Only directories named `version_` followed by decimal digits
/// count; other names are ignored.
pub fn next_version_dir(log_dir: &Path) -> Result<PathBuf> {
    fs::create_dir_all(log_dir).map_err(|e| Error::io(log_dir, e))?;
    let mut next = 0u64;
    for entry in fs::read_dir(log_dir).map_err(|e| Error::io(log_dir, e))? {
        let entry = entry.map_err(|e| Error::io(log_dir, e))?;
        let name = entry.file_name();
        let Some(n) = name.to_str().and_then(parse_version) else {
            continue;
        };
        let is_dir =
            entry.file_type().map(|t| t.is_dir()).unwrap_or(false) || entry.path().is_dir(); // follow symlinks to directories
        if is_dir {
            next = next.max(n.saturating_add(1));
        }
    }
    loop {
        let dir = log_dir.join(format!("version_{next}"));
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            // Another process took this number between our scan and create: take the next one.
            Err(e) if e.kind() == ErrorKind::AlreadyExists && next < u64::MAX => next += 1,
            Err(e) => return Err(Error::io(dir, e)),
        }
    }
}

/// `Some(N)` for `version_N` with N all decimal digits.
fn parse_version(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("version_")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// One scalar observation.
#[derive(Clone, Debug, PartialEq)]
pub struct Scalar {
    /// The tag, exactly as logged (e.g. `LogisticRegression/accuracy`, `loss/train`).
    pub tag: String,
    /// The value (f64; TensorBoard stores it rounded to f32, the CSV keeps it exact).
    pub value: f64,
    /// Global training step.
    pub step: u64,
    /// Epoch (0-based) during which it was logged.
    pub epoch: usize,
}

/// Everything a training run writes into its version dir: the TensorBoard event file,
/// `metrics.csv`, `hparams.yaml` and, at the end, `metrics.png` and `metrics.svg`.
#[derive(Debug)]
pub struct RunLogger {
    dir: PathBuf,
    events: tensorboard::EventWriter,
    csv: csv::CsvWriter,
    scalars: Vec<Scalar>,
    hparams: Vec<(String, String)>,
    names: FigureNames,
    short_steps: Vec<u64>,
}

/// What a caller names in a run's figure beyond what the logger knows
/// ([`RunLogger::set_figure_names`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FigureNames {
    /// The data, in the title (e.g. `MNIST`, `synthetic OpenBHB`).
    pub data: Option<String>,
    /// Panel titles by tag prefix (e.g. `("task0", "age")`).
    pub panels: Vec<(String, String)>,
}

impl RunLogger {
    /// Opens the event file `events.out.tfevents.<secs>.<host>.<pid>.0` (writes the file-version
    /// record `brain.Event:2` first) and `metrics.csv` (header `step,epoch,tag,value`) in `dir`.
    ///
    /// `dir` must exist (see [`next_version_dir`]).
    pub fn create(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::io(
                dir,
                std::io::Error::new(ErrorKind::NotFound, "log directory does not exist"),
            ));
        }
        let events = tensorboard::EventWriter::create(dir)?;
        let csv = csv::CsvWriter::create(&dir.join(METRICS_CSV))?;
        Ok(RunLogger {
            dir: dir.to_path_buf(),
            events,
            csv,
            scalars: Vec::new(),
            hparams: Vec::new(),
            names: FigureNames::default(),
            short_steps: Vec::new(),
        })
    }

    /// Appends one scalar to both files (buffered; flushed by `flush`/`finish`).
    pub fn log_scalar(&mut self, tag: &str, value: f64, step: u64, epoch: usize) -> Result<()> {
        if tag.is_empty() {
            return Err(Error::invalid("RunLogger::log_scalar", "empty tag"));
        }
        self.events.add_scalar(tag, value, step)?;
        self.csv.write_row(step, epoch, tag, value)?;
        self.scalars.push(Scalar {
            tag: tag.to_string(),
            value,
            step,
            epoch,
        });
        Ok(())
    }

    /// Writes `hparams.yaml` (key: value lines, values quoted/escaped as YAML needs) atomically
    /// (temp + rename). Keys keep their order; a repeated key is an error.
    ///
    /// Numbers (`0.0001`, `42`, `-1e-5`) and `true`/`false` stay plain so YAML reads them as such;
    /// every other value that YAML would not read back as the same string is double-quoted.
    pub fn log_hparams(&mut self, hparams: &[(String, String)]) -> Result<()> {
        let text = hparams_yaml(hparams)?;
        write_atomic(&self.dir.join(HPARAMS_YAML), text.as_bytes())?;
        self.hparams = hparams.to_vec();
        Ok(())
    }

    /// Names for the figure: the data (in the title) and panel titles by tag prefix. The
    /// method and batch size come from the `estimator` and `batch_size` hyper-parameters
    /// ([`log_hparams`](Self::log_hparams)).
    pub fn set_figure_names(&mut self, names: FigureNames) {
        self.names = names;
    }

    /// Marks the `loss/train` logged at `step` as the loss of a short last batch of an epoch:
    /// the figure draws it as an open circle and leaves it out of the smoothed line.
    pub fn mark_short_batch(&mut self, step: u64) {
        self.short_steps.push(step);
    }

    /// Flushes both files to disk (call at least once per epoch so a crash loses little).
    pub fn flush(&mut self) -> Result<()> {
        self.events.flush()?;
        self.csv.flush()
    }

    /// All scalars logged so far, in order.
    pub fn scalars(&self) -> &[Scalar] {
        &self.scalars
    }

    /// Flushes, writes [`FIGURE_YAML`], then (feature `plot`) `metrics.png` and `metrics.svg`
    /// ([`figure::figure`], [`plot::write_figure`]): every metric but [`EPOCH_TAG`] against step,
    /// panels by tag prefix and metric kind, `loss/*` last. Returns the PNG's path (`None`
    /// without the `plot` feature). Atomic writes.
    pub fn finish(mut self) -> Result<Option<PathBuf>> {
        self.flush()?;
        let names = figure_yaml(&self.names, &self.short_steps)?;
        write_atomic(&self.dir.join(FIGURE_YAML), names.as_bytes())?;
        #[cfg(feature = "plot")]
        {
            let path = self.dir.join(METRICS_PNG);
            let fig = figure::figure(
                &self.scalars,
                &self.figure_labels(),
                &self.short_steps,
                smoothing::DEFAULT_SMOOTHING,
            );
            plot::write_figure(&path, &fig)?;
            Ok(Some(path))
        }
        #[cfg(not(feature = "plot"))]
        Ok(None)
    }

    /// What the figure's title and panels name: method and batch size from the hparams, the
    /// data and panel names given, the version directory's name.
    #[cfg(feature = "plot")]
    fn figure_labels(&self) -> figure::FigureLabels {
        let hparam = |k: &str| {
            self.hparams
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        figure::FigureLabels {
            method: hparam("estimator"),
            data: self.names.data.clone(),
            version: self
                .dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned()),
            batch_size: hparam("batch_size").and_then(|b| b.parse().ok()),
            panel_names: self.names.panels.clone(),
        }
    }

    /// The version directory this run writes into.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of the TensorBoard event file.
    pub fn event_file(&self) -> &Path {
        self.events.path()
    }
}

/// Key of [`FIGURE_YAML`] naming the data.
pub const FIGURE_DATA_KEY: &str = "data";
/// Key prefix of [`FIGURE_YAML`] naming a panel: `panel.<tag prefix>: <title>`.
pub const FIGURE_PANEL_KEY: &str = "panel.";
/// Key of [`FIGURE_YAML`] listing the steps of short last batches, space-separated.
pub const FIGURE_SHORT_KEY: &str = "short_batch_steps";

/// The text of [`FIGURE_YAML`]: a comment line, then `data: <data>`, a
/// `panel.<prefix>: <title>` line per panel name and `short_batch_steps: "<s1> <s2> …"`, each
/// only when known; lines as in `hparams.yaml` ([`hparams_yaml`]).
pub fn figure_yaml(names: &FigureNames, short_steps: &[u64]) -> Result<String> {
    let mut lines: Vec<(String, String)> = Vec::new();
    if let Some(d) = &names.data {
        lines.push((FIGURE_DATA_KEY.into(), d.clone()));
    }
    for (prefix, title) in &names.panels {
        lines.push((format!("{FIGURE_PANEL_KEY}{prefix}"), title.clone()));
    }
    if !short_steps.is_empty() {
        let steps: Vec<String> = short_steps.iter().map(u64::to_string).collect();
        lines.push((FIGURE_SHORT_KEY.into(), steps.join(" ")));
    }
    Ok(format!(
        "# What nidl plot draws as this run's metrics.png does (panel titles, short last batches)\n{}",
        hparams_yaml(&lines)?
    ))
}

/// The text of `hparams.yaml` for `hparams`: one `key: value` line each, in order.
pub fn hparams_yaml(hparams: &[(String, String)]) -> Result<String> {
    let mut out = String::new();
    for (i, (k, v)) in hparams.iter().enumerate() {
        if hparams[..i].iter().any(|(k2, _)| k2 == k) {
            return Err(Error::invalid(
                "RunLogger::log_hparams",
                format!("hyper-parameter `{k}` given twice"),
            ));
        }
        out.push_str(&yaml_key(k));
        out.push_str(": ");
        out.push_str(&yaml_value(v));
        out.push('\n');
    }
    Ok(out)
}

/// A key: plain if it is a safe plain string, double-quoted otherwise.
fn yaml_key(k: &str) -> String {
    if is_safe_plain_string(k) {
        k.to_string()
    } else {
        yaml_quote(k)
    }
}

/// A value: plain for numbers, booleans and safe strings; double-quoted otherwise.
pub fn yaml_value(v: &str) -> String {
    if is_yaml_number(v) || v == "true" || v == "false" || is_safe_plain_string(v) {
        v.to_string()
    } else {
        yaml_quote(v)
    }
}

/// `[-+]?digits[.digits][(e|E)[-+]?digits]` (also `.5`-less forms like `5.`), which YAML 1.1
/// and 1.2 read as numbers; other numeric-looking spellings get quoted.
fn is_yaml_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == int_start {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

/// Words YAML (1.1 or 1.2) resolves to null/bool/special floats when unquoted.
const YAML_RESERVED: &[&str] = &[
    "null", "Null", "NULL", "~", "true", "True", "TRUE", "false", "False", "FALSE", "yes", "Yes",
    "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N", ".inf",
    ".Inf", ".INF", "-.inf", "-.Inf", "-.INF", "+.inf", ".nan", ".NaN", ".NAN", "<<", "=",
];

/// A string YAML reads back unchanged when unquoted: starts with a letter or `_`, continues
/// with letters, digits, `_ - . /`, and is no reserved word.
fn is_safe_plain_string(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && !YAML_RESERVED.contains(&s)
}

/// `s` between double quotes, with `"`, `\\`, newline, carriage return and tab backslash-escaped
/// (as YAML double-quoted scalars and JSON strings both spell them) and every other character
/// passed to `other`, which pushes it onto the output, escaped or not.
pub fn quote_escaped(s: &str, mut other: impl FnMut(&mut String, char)) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => other(&mut out, c),
        }
    }
    out.push('"');
    out
}

/// `s` as a YAML double-quoted scalar, with `\\`, `\"` and control characters escaped.
pub fn yaml_quote(s: &str) -> String {
    quote_escaped(s, |out, c| match c {
        '\0' => out.push_str("\\0"),
        c if (c as u32) < 0x20 || c == '\u{7f}' => {
            out.push_str(&format!("\\x{:02x}", c as u32));
        }
        // Unicode line/paragraph separators and NEL break lines in YAML; BOM is stripped.
        '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}' => {
            out.push_str(&format!("\\u{:04x}", c as u32));
        }
        c => out.push(c),
    })
}

/// Byte-at-a-time lookup table of the reflected CRC-32 whose reflected polynomial is `poly`
/// (`0xedb8_8320` for IEEE, `0x82f6_3b78` for Castagnoli), for [`crc32_with`]; a `const fn`, so
/// tables are built at compile time.
pub(crate) const fn crc32_table(poly: u32) -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ poly } else { c >> 1 };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

/// Table-driven reflected CRC-32 of `data` (initial value and final XOR all ones) with a table
/// from [`crc32_table`].
pub(crate) fn crc32_with(table: &[u32; 256], data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc = table[((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// Writes `out`'s buffered bytes to its file and asks the OS to put them on disk; errors name
/// `path`, the file's path.
pub(crate) fn flush_and_sync(out: &mut BufWriter<fs::File>, path: &Path) -> Result<()> {
    out.flush().map_err(|e| Error::io(path, e))?;
    out.get_ref().sync_data().map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names() {
        assert_eq!(parse_version("version_0"), Some(0));
        assert_eq!(parse_version("version_12"), Some(12));
        assert_eq!(parse_version("version_"), None);
        assert_eq!(parse_version("version_3_old"), None);
        assert_eq!(parse_version("version_-1"), None);
        assert_eq!(parse_version("v_3"), None);
    }

    #[test]
    fn yaml_values() {
        assert_eq!(yaml_value("0.0001"), "0.0001");
        assert_eq!(yaml_value("42"), "42");
        assert_eq!(yaml_value("-1e-5"), "-1e-5");
        assert_eq!(yaml_value("true"), "true");
        assert_eq!(yaml_value("LogisticRegression"), "LogisticRegression");
        assert_eq!(yaml_value("data/mnist"), "data/mnist");
        assert_eq!(yaml_value("yes"), "\"yes\"");
        assert_eq!(yaml_value("null"), "\"null\"");
        assert_eq!(yaml_value(""), "\"\"");
        assert_eq!(yaml_value("[64, 32]"), "\"[64, 32]\"");
        assert_eq!(yaml_value("a: b"), "\"a: b\"");
        assert_eq!(yaml_value("say \"hi\"\n"), "\"say \\\"hi\\\"\\n\"");
        assert_eq!(yaml_value("0x1F"), "\"0x1F\"");
        assert_eq!(yaml_value("1e"), "\"1e\"");
    }
}
