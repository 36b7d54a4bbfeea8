//! OpenBHB: the published tabular layout (participants + ROI feature tables), read as nidl reads it.
//!
//! OpenBHB (Open Big Healthy Brains; Dufumier et al., NeuroImage 2022) holds 3 227 training and
//! 757 validation subjects (362 `internal_test` from training scanners, 395 `external_test` from
//! unseen ones), healthy controls aged 6–88 from ~60 site × acquisition settings. This module reads
//! its tabular modalities from the layout the data set is published in:
//!
//! ```text
//! ROOT/participants.tsv     tab-separated; columns used: participant_id, split ("train" |
//!                           "internal_test" | "external_test"), age, sex ("male" | "female"),
//!                           siteXacq (integer site code); other columns are ignored
//! ROOT/{train,val}/derivatives/cat12vbm_roi/cat12vbm_roi_features.csv      1 × 284 per subject
//! ROOT/{train,val}/derivatives/freesurfer_roi/desikan_roi_features.csv     7 × 68 per subject
//! ROOT/{train,val}/derivatives/freesurfer_roi/destrieux_roi_features.csv   7 × 148 per subject
//! ```
//!
//! The feature tables are comma-separated with a header: `participant_id`, an optional `session`
//! (nidl 0.0.1's `drop(columns=["participant_id", "session"])` fails without it), and the feature
//! columns. As in nidl (`OpenBHB._load_data`), every column other than `participant_id` and
//! `session` is a feature, in file order, and a subject's row reshaped to
//! [`Modality::sample_shape`] is its sample (channel-major for the FreeSurfer tables). `vbm_roi` is
//! 142 grey-matter volumes followed by 142 CSF volumes (Neuromorphometrics atlas).
//!
//! Encoding, matching nidl and the probing example: the split `train` is the participants whose
//! `split` is `train`; `val` those whose `split` is `internal_test` or `external_test`;
//! `internal_val` / `external_val` one of the two — always in participants.tsv order. Rows of the
//! feature table are matched to participants by `participant_id`, compared as integers when both
//! sides are integers (nidl casts them with `astype(int)`), as exact text otherwise. Targets: `age`
//! as an `f64`, `sex` as `1.0` for female and `0.0` for male (the example's `sex == "female"`),
//! `site` as the integer `siteXacq` code (nidl's `participants["siteXacq"].astype(int)`).
//!
//! Every malformed input — a missing file, column or participant, a duplicate id, a missing or
//! non-numeric value, a row with the wrong number of fields — is an [`Error`] naming the file, the
//! line and the column. See [`csv`] for the dialect (quoted fields, CRLF, byte-order mark).
//!
//! The real data cannot be downloaded here; [`synthetic`] writes a simulated data set in the same
//! layout, clearly labelled as synthetic, and [`ensure_synthetic`] caches one for the commands that
//! default to it.
//!
//! ```no_run
//! use nidl::datasets::openbhb::{Modality, OpenBhb, OpenBhbSplit, Target};
//! # fn main() -> nidl::Result<()> {
//! let root = nidl::datasets::openbhb::ensure_synthetic(
//!     &nidl::datasets::openbhb::synthetic_cache_dir(),
//!     42,
//! )?;
//! let train = OpenBhb::new(&root, Modality::VbmRoi, &[Target::Age, Target::Sex], OpenBhbSplit::Train)?;
//! assert_eq!(train.features().shape(), &[3227, 284]);
//! assert_eq!(train.targets().shape(), &[3227, 2]); // columns: age, sex (female = 1)
//! # Ok(())
//! # }
//! ```

pub mod synthetic;

pub use synthetic::{ensure_synthetic, generate, synthetic_cache_dir, SyntheticConfig};

use super::csv::{self, parse_number, Record, Table};
use super::loader::Dataset;
use crate::error::{escape_text, Error, Result};
use crate::tensor::Tensor;
use rayon::prelude::*;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The participants table, relative to the data set's root.
pub const PARTICIPANTS_FILE: &str = "participants.tsv";

/// A tabular OpenBHB modality.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Modality {
    /// `vbm_roi`: CAT12 VBM volumes on the Neuromorphometrics atlas, 142 grey-matter then 142 CSF
    /// (sample shape 1 × 284).
    VbmRoi,
    /// `fs_desikan_roi`: 7 FreeSurfer measures on the 68 Desikan regions (7 × 68).
    FsDesikanRoi,
    /// `fs_destrieux_roi`: 7 FreeSurfer measures on the 148 Destrieux regions (7 × 148).
    FsDestrieuxRoi,
}

impl Modality {
    /// Every tabular modality, in nidl's order.
    pub const ALL: [Modality; 3] = [
        Modality::VbmRoi,
        Modality::FsDesikanRoi,
        Modality::FsDestrieuxRoi,
    ];

    /// The name nidl uses (`vbm_roi`, `fs_desikan_roi`, `fs_destrieux_roi`).
    pub fn name(self) -> &'static str {
        match self {
            Modality::VbmRoi => "vbm_roi",
            Modality::FsDesikanRoi => "fs_desikan_roi",
            Modality::FsDestrieuxRoi => "fs_destrieux_roi",
        }
    }

    /// One sample's shape as nidl returns it: `[1, 284]`, `[7, 68]` or `[7, 148]`.
    pub fn sample_shape(self) -> [usize; 2] {
        match self {
            Modality::VbmRoi => [1, 284],
            Modality::FsDesikanRoi => [7, 68],
            Modality::FsDestrieuxRoi => [7, 148],
        }
    }

    /// Feature values per sample (the product of [`Modality::sample_shape`]).
    pub fn n_features(self) -> usize {
        let [a, b] = self.sample_shape();
        a * b
    }

    /// The feature table's path below `ROOT/{train,val}/`.
    pub fn relative_path(self) -> &'static str {
        match self {
            Modality::VbmRoi => "derivatives/cat12vbm_roi/cat12vbm_roi_features.csv",
            Modality::FsDesikanRoi => "derivatives/freesurfer_roi/desikan_roi_features.csv",
            Modality::FsDestrieuxRoi => "derivatives/freesurfer_roi/destrieux_roi_features.csv",
        }
    }

    /// The feature table holding `split`'s subjects under `root`.
    pub fn features_path(self, root: &Path, split: OpenBhbSplit) -> PathBuf {
        root.join(split.folder()).join(self.relative_path())
    }
}

impl fmt::Display for Modality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Modality {
    type Err = Error;

    /// Parses a nidl modality name; the image modalities (`vbm`, `quasiraw`, `fs_xhemi`) are
    /// rejected with a message saying this reader is tabular only.
    fn from_str(s: &str) -> Result<Self> {
        Modality::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "OpenBhb modality",
                    format!(
                        "unknown or unsupported modality '{s}' (this reader handles the tabular \
                         ones: vbm_roi, fs_desikan_roi, fs_destrieux_roi)"
                    ),
                )
            })
    }
}

/// A split of OpenBHB, as nidl names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpenBhbSplit {
    /// Participants whose `split` is `train` (3 227 in OpenBHB).
    Train,
    /// `internal_val` ∪ `external_val`, in participants.tsv order (757).
    Val,
    /// Participants whose `split` is `internal_test`: training scanners (362).
    InternalVal,
    /// Participants whose `split` is `external_test`: scanners unseen in training (395).
    ExternalVal,
}

impl OpenBhbSplit {
    /// Every split.
    pub const ALL: [OpenBhbSplit; 4] = [
        OpenBhbSplit::Train,
        OpenBhbSplit::Val,
        OpenBhbSplit::InternalVal,
        OpenBhbSplit::ExternalVal,
    ];

    /// The name nidl uses (`train`, `val`, `internal_val`, `external_val`).
    pub fn name(self) -> &'static str {
        match self {
            OpenBhbSplit::Train => "train",
            OpenBhbSplit::Val => "val",
            OpenBhbSplit::InternalVal => "internal_val",
            OpenBhbSplit::ExternalVal => "external_val",
        }
    }

    /// The folder below the root holding the split's feature tables: `train` or `val`.
    pub fn folder(self) -> &'static str {
        match self {
            OpenBhbSplit::Train => "train",
            _ => "val",
        }
    }

    /// Whether a participant labelled `label` in participants.tsv belongs to this split.
    pub fn contains(self, label: SplitLabel) -> bool {
        matches!(
            (self, label),
            (OpenBhbSplit::Train, SplitLabel::Train)
                | (
                    OpenBhbSplit::Val,
                    SplitLabel::InternalTest | SplitLabel::ExternalTest
                )
                | (OpenBhbSplit::InternalVal, SplitLabel::InternalTest)
                | (OpenBhbSplit::ExternalVal, SplitLabel::ExternalTest)
        )
    }
}

impl fmt::Display for OpenBhbSplit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OpenBhbSplit {
    type Err = Error;

    /// Parses `train`, `val`, `internal_val` or `external_val`.
    fn from_str(s: &str) -> Result<Self> {
        OpenBhbSplit::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "OpenBhb split",
                    format!(
                        "unknown split '{s}' (expected train, val, internal_val or external_val)"
                    ),
                )
            })
    }
}

/// The value of participants.tsv's `split` column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SplitLabel {
    /// `train`.
    Train,
    /// `internal_test`.
    InternalTest,
    /// `external_test`.
    ExternalTest,
}

impl SplitLabel {
    /// The text in participants.tsv.
    pub fn as_str(self) -> &'static str {
        match self {
            SplitLabel::Train => "train",
            SplitLabel::InternalTest => "internal_test",
            SplitLabel::ExternalTest => "external_test",
        }
    }

    /// Parses the text of participants.tsv's `split` column (surrounding whitespace ignored).
    pub fn parse(s: &str) -> Option<SplitLabel> {
        match s.trim() {
            "train" => Some(SplitLabel::Train),
            "internal_test" => Some(SplitLabel::InternalTest),
            "external_test" => Some(SplitLabel::ExternalTest),
            _ => None,
        }
    }
}

/// A target variable read from participants.tsv.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// `age` in years, as an `f64`.
    Age,
    /// `sex`, encoded `1.0` for `female` and `0.0` for `male` (also `F` / `M`, any case).
    Sex,
    /// `site`: the integer `siteXacq` code (site × acquisition setting), as an `f64`.
    Site,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 3] = [Target::Age, Target::Sex, Target::Site];

    /// The name nidl uses (`age`, `sex`, `site`).
    pub fn name(self) -> &'static str {
        match self {
            Target::Age => "age",
            Target::Sex => "sex",
            Target::Site => "site",
        }
    }

    /// The participants.tsv column the target is read from (`site` reads `siteXacq`).
    pub fn column(self) -> &'static str {
        match self {
            Target::Age => "age",
            Target::Sex => "sex",
            Target::Site => "siteXacq",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Target {
    type Err = Error;

    /// Parses `age`, `sex` or `site`.
    fn from_str(s: &str) -> Result<Self> {
        Target::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "OpenBhb target",
                    format!("unknown target '{s}' (expected age, sex or site)"),
                )
            })
    }
}

/// One split of OpenBHB in memory: a feature matrix, a target matrix and the participant ids,
/// row `i` of each describing the `i`-th participant of the split in participants.tsv order.
#[derive(Clone, Debug)]
pub struct OpenBhb {
    root: PathBuf,
    modality: Modality,
    split: OpenBhbSplit,
    target_kinds: Vec<Target>,
    ids: Vec<String>,
    features: Tensor<f32>,
    targets: Tensor<f64>,
}

impl OpenBhb {
    /// Reads `split` of the data set under `root`: participants.tsv, then the split's feature table
    /// for `modality`, with the `targets` columns in the order given (none is fine; each at most
    /// once). Only the columns it needs must be present. Every row of participants.tsv must have a
    /// unique `participant_id` and a known `split`; target values are read for the split's
    /// participants only. Every row of the feature table is checked (unique ids, finite numbers,
    /// as many fields as the header). See the [module docs](self) for the layout and encoding.
    pub fn new(
        root: impl AsRef<Path>,
        modality: Modality,
        targets: &[Target],
        split: OpenBhbSplit,
    ) -> Result<Self> {
        let root = root.as_ref();
        for (i, t) in targets.iter().enumerate() {
            if targets[..i].contains(t) {
                return Err(Error::invalid(
                    "OpenBhb::new",
                    format!("target '{t}' requested twice"),
                ));
            }
        }
        let participants_path = root.join(PARTICIPANTS_FILE);
        let selected = read_participants(&participants_path, split, targets)?;
        let table_path = modality.features_path(root, split);
        let table = FeatureTable::read(&table_path, modality.n_features())?;

        let d = modality.n_features();
        let mut features = Vec::with_capacity(selected.len() * d);
        let mut target_values = Vec::with_capacity(selected.len() * targets.len());
        let mut ids = Vec::with_capacity(selected.len());
        for p in selected {
            let Some(&row) = table.index.get(&p.key) else {
                return Err(Error::format(
                    &table_path,
                    format!(
                        "no row for participant_id '{}' (participants.tsv line {}, split {}); \
                         every participant of split '{split}' needs one",
                        escape_text(&p.id),
                        p.line,
                        p.label.as_str()
                    ),
                ));
            };
            features.extend_from_slice(table.row(row));
            target_values.extend_from_slice(&p.targets);
            ids.push(p.id);
        }
        let n = ids.len();
        Ok(OpenBhb {
            root: root.to_path_buf(),
            modality,
            split,
            target_kinds: targets.to_vec(),
            ids,
            features: Tensor::from_vec(features, &[n, d])?,
            targets: Tensor::from_vec(target_values, &[n, targets.len()])?,
        })
    }

    /// The number of participants in the split.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the split has no participant.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The features, `[len, d]` with `d` = [`Modality::n_features`] (284 for `vbm_roi`): each row is
    /// one sample flattened (reshape a row to [`Modality::sample_shape`] for nidl's array).
    pub fn features(&self) -> &Tensor<f32> {
        &self.features
    }

    /// The targets, `[len, k]`, one column per requested target in the order requested.
    pub fn targets(&self) -> &Tensor<f64> {
        &self.targets
    }

    /// The requested targets, naming the columns of [`OpenBhb::targets`].
    pub fn target_kinds(&self) -> &[Target] {
        &self.target_kinds
    }

    /// One target's column, `None` if it was not requested.
    pub fn target(&self, target: Target) -> Option<Vec<f64>> {
        let k = self.target_kinds.len();
        let j = self.target_kinds.iter().position(|&t| t == target)?;
        // The reader builds its tensors in host memory, so `data()` is `Ok`.
        Some(
            self.targets
                .data()
                .ok()?
                .iter()
                .skip(j)
                .step_by(k)
                .copied()
                .collect(),
        )
    }

    /// The participant ids as written in participants.tsv, in row order.
    pub fn participant_ids(&self) -> &[String] {
        &self.ids
    }

    /// Sample `i`: its features and targets, `None` past the end.
    pub fn sample(&self, i: usize) -> Option<(&[f32], &[f64])> {
        if i >= self.len() {
            return None;
        }
        let d = self.modality.n_features();
        let k = self.target_kinds.len();
        Some((
            &self.features.data().ok()?[i * d..(i + 1) * d],
            &self.targets.data().ok()?[i * k..(i + 1) * k],
        ))
    }

    /// The modality read.
    pub fn modality(&self) -> Modality {
        self.modality
    }

    /// The split read.
    pub fn split(&self) -> OpenBhbSplit {
        self.split
    }

    /// The data set's root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Dataset for OpenBhb {
    /// One participant's features, flattened (`d` values).
    type Sample = Vec<f32>;
    /// The participant's requested targets, in the order requested (`k` values).
    type Label = Vec<f64>;

    fn len(&self) -> usize {
        self.ids.len()
    }

    fn get(&self, index: usize) -> Result<(Vec<f32>, Vec<f64>)> {
        let (x, y) = self.sample(index).ok_or_else(|| {
            Error::invalid(
                "OpenBhb::get",
                format!("index {index} out of range for {} participants", self.len()),
            )
        })?;
        Ok((x.to_vec(), y.to_vec()))
    }
}

/// A participant of the requested split, with its target values.
struct Selected {
    id: String,
    key: String,
    line: usize,
    label: SplitLabel,
    targets: Vec<f64>,
}

/// The key participants are matched on: the integer value when the id is an integer (also when
/// written as `123.0`), else the trimmed text. `None` for an empty id.
fn id_key(raw: &str) -> Option<String> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(v) = s.parse::<i128>() {
        return Some(v.to_string());
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e15 => {
            Some((v as i64).to_string())
        }
        _ => Some(s.to_string()),
    }
}

/// Reads participants.tsv: checks ids are present and unique and every `split` is known, and
/// returns the participants of `split` with their `targets`, in file order.
fn read_participants(
    path: &Path,
    split: OpenBhbSplit,
    targets: &[Target],
) -> Result<Vec<Selected>> {
    let text = csv::read_text(path)?;
    let table = Table::parse(&text, b'\t', path)?;
    let id_col = table.column("participant_id")?;
    let split_col = table.column("split")?;
    let target_cols = targets
        .iter()
        .map(|t| table.column(t.column()))
        .collect::<Result<Vec<_>>>()?;

    let mut seen: HashMap<String, usize> = HashMap::with_capacity(table.records().len());
    let mut selected = Vec::new();
    for rec in table.records() {
        let fields = table.fields(rec)?;
        let id = fields[id_col].trim();
        let key = id_key(id).ok_or_else(|| {
            table.value_error(rec, id_col, "missing value (empty participant_id)")
        })?;
        if let Some(first) = seen.insert(key.clone(), rec.line) {
            return Err(table.value_error(
                rec,
                id_col,
                format!(
                    "duplicate participant_id '{}' (first on line {first})",
                    escape_text(id)
                ),
            ));
        }
        let label = SplitLabel::parse(&fields[split_col]).ok_or_else(|| {
            table.value_error(
                rec,
                split_col,
                format!(
                    "unknown split '{}' (expected train, internal_test or external_test)",
                    csv::shorten(fields[split_col].trim())
                ),
            )
        })?;
        if !split.contains(label) {
            continue;
        }
        let mut values = Vec::with_capacity(targets.len());
        for (&t, &col) in targets.iter().zip(&target_cols) {
            values.push(parse_target(&table, rec, col, t, &fields[col])?);
        }
        selected.push(Selected {
            id: id.to_string(),
            key,
            line: rec.line,
            label,
            targets: values,
        });
    }
    Ok(selected)
}

/// One target value, encoded (see [`Target`]).
fn parse_target(
    table: &Table<'_>,
    rec: &Record<'_>,
    col: usize,
    t: Target,
    field: &str,
) -> Result<f64> {
    match t {
        Target::Age => table.number(rec, col, field),
        Target::Sex => {
            let s = field.trim();
            if s.eq_ignore_ascii_case("female") || s.eq_ignore_ascii_case("f") {
                Ok(1.0)
            } else if s.eq_ignore_ascii_case("male") || s.eq_ignore_ascii_case("m") {
                Ok(0.0)
            } else if s.is_empty() {
                Err(table.value_error(rec, col, "missing value (empty field)"))
            } else {
                Err(table.value_error(
                    rec,
                    col,
                    format!("sex '{}' is neither 'female' nor 'male'", csv::shorten(s)),
                ))
            }
        }
        Target::Site => {
            let v = table.number(rec, col, field)?;
            if v.fract() != 0.0 || v.abs() > 9.0e15 {
                return Err(table.value_error(
                    rec,
                    col,
                    format!("site code '{}' is not an integer", field.trim()),
                ));
            }
            Ok(v)
        }
    }
}

/// A feature table in memory: one row of `width` values per participant, indexed by id key.
struct FeatureTable {
    width: usize,
    values: Vec<f32>,
    index: HashMap<String, usize>,
}

impl FeatureTable {
    /// Reads a feature table whose feature columns (all but `participant_id` and `session`) must
    /// number `width`. Rows are parsed in parallel; the first error in file order is returned.
    fn read(path: &Path, width: usize) -> Result<FeatureTable> {
        let text = csv::read_text(path)?;
        let table = Table::parse(&text, b',', path)?;
        let id_col = table.column("participant_id")?;
        let session_col = table.optional_column("session")?;
        let n_feature_cols = table.header().len() - 1 - usize::from(session_col.is_some());
        if n_feature_cols != width {
            return Err(Error::format(
                path,
                format!(
                    "line 1: the header has {n_feature_cols} feature columns (all but \
                     participant_id and session), expected {width}"
                ),
            ));
        }
        let records = table.records();
        let mut values = vec![0f32; records.len() * width];
        // One record per task, grouped by rayon; each writes only its own row (disjoint chunks of
        // fixed size), so the result does not depend on the thread count.
        let keys: Vec<Result<String>> = values
            .par_chunks_mut(width.max(1))
            .zip(records.par_iter())
            .with_min_len(16)
            .map(|(out, rec)| parse_feature_row(&table, rec, id_col, session_col, out))
            .collect();
        let mut index = HashMap::with_capacity(records.len());
        let mut lines = HashMap::with_capacity(records.len());
        for (row, (key, rec)) in keys.into_iter().zip(records).enumerate() {
            let key = key?;
            if let Some(first) = lines.insert(key.clone(), rec.line) {
                return Err(table.value_error(
                    rec,
                    id_col,
                    format!(
                        "duplicate participant_id '{}' (first on line {first})",
                        escape_text(&key)
                    ),
                ));
            }
            index.insert(key, row);
        }
        Ok(FeatureTable {
            width,
            values,
            index,
        })
    }

    /// The features of row `row`.
    fn row(&self, row: usize) -> &[f32] {
        &self.values[row * self.width..(row + 1) * self.width]
    }
}

/// Parses one feature-table record into `out`, returning its id key.
fn parse_feature_row(
    table: &Table<'_>,
    rec: &Record<'_>,
    id_col: usize,
    session_col: Option<usize>,
    out: &mut [f32],
) -> Result<String> {
    let n_cols = table.header().len();
    let mut key = None;
    let mut k = 0;
    let mut fields = table.field_iter(rec);
    let mut col = 0;
    while let Some(field) = fields.next() {
        if col == n_cols {
            return Err(table.count_error(rec, n_cols + 1 + fields.count()));
        }
        let field = field?;
        if col == id_col {
            key = Some(id_key(&field).ok_or_else(|| {
                table.value_error(rec, col, "missing value (empty participant_id)")
            })?);
        } else if Some(col) != session_col {
            let v = parse_number::<f32>(&field).map_err(|m| table.value_error(rec, col, m))?;
            // The header check makes the feature columns exactly `out.len()`.
            if let Some(slot) = out.get_mut(k) {
                *slot = v;
            }
            k += 1;
        }
        col += 1;
    }
    if col != n_cols {
        return Err(table.count_error(rec, col));
    }
    key.ok_or_else(|| table.count_error(rec, col))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_keys() {
        assert_eq!(id_key(" 0123 ").as_deref(), Some("123"));
        assert_eq!(id_key("123.0").as_deref(), Some("123"));
        assert_eq!(id_key("sub-1").as_deref(), Some("sub-1"));
        assert_eq!(id_key("  "), None);
    }

    #[test]
    fn names_round_trip() {
        for m in Modality::ALL {
            assert_eq!(m.name().parse::<Modality>().unwrap(), m);
        }
        for s in OpenBhbSplit::ALL {
            assert_eq!(s.name().parse::<OpenBhbSplit>().unwrap(), s);
        }
        for t in Target::ALL {
            assert_eq!(t.name().parse::<Target>().unwrap(), t);
        }
        assert!("vbm"
            .parse::<Modality>()
            .unwrap_err()
            .to_string()
            .contains("tabular"));
    }
}
