//! A data set from one CSV/TSV table with a header: named feature columns and named label columns,
//! the rows of a split chosen by a column's value or by reading separate files.
//!
//! - **Features** ([`TableColumns::features`]): exact column names, or glob patterns (`*` any run
//!   of characters, `?` one character) matched against the header in header order — a pattern
//!   never picks a label column or the split column. Every feature value must be a finite number.
//! - **Labels** ([`TableColumns::labels`]): exact names, in the order the labels yield them. A
//!   column whose values are all numbers is numeric. A column with any other value is
//!   *categorical*: its distinct values (trimmed) sorted by byte order (`str`'s `Ord`) are coded
//!   `0, 1, …, n−1` — `sex` with `F` / `M` becomes `F → 0`, `M → 1`. The coding is taken over
//!   every row of the file (all splits), so the splits of one table agree, and it is reported by
//!   [`TableDataset::categories`] (its `Display` reads `sex: F → 0, M → 1`).
//! - **Splits**: [`TableColumns::split`] keeps the rows whose column holds a value (`split =
//!   train`); for separate files, read the training file first and pass its coding to the others
//!   ([`TableColumns::categories`] = `Some(train.categories().to_vec())`), so the same category
//!   gets the same code: with a fixed coding, a value outside it is an error, and so is a
//!   non-numeric value in a column the coding does not list.
//! - The delimiter is a tab for a `.tsv` file, a comma otherwise; the dialect is [`csv`](super::csv)'s.
//!
//! Missing values (an empty field, `NA`, `NaN`, …) in a kept row are errors. Every error names the
//! file, the line and the column.
//!
//! ```
//! use nidl::datasets::loader::Dataset;
//! use nidl::datasets::table::{SplitBy, TableColumns, TableDataset};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::env::temp_dir().join(format!("nidl-table-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let path = dir.join("subjects.csv");
//! std::fs::write(&path, "id,roi_a,roi_b,age,sex,split\n1,0.5,1.5,30,M,train\n2,2,3,40,F,val\n3,4,5,50,F,train\n")?;
//! let columns = TableColumns {
//!     features: vec!["roi_*".into()],
//!     labels: vec!["age".into(), "sex".into()],
//!     split: Some(SplitBy { column: "split".into(), value: "train".into() }),
//!     categories: None,
//! };
//! let train = TableDataset::read(&path, &columns)?;
//! assert_eq!(train.feature_names(), ["roi_a", "roi_b"]);
//! assert_eq!(train.get(1)?, (vec![4.0, 5.0], vec![50.0, 0.0])); // F → 0, M → 1
//! assert_eq!(train.categories()[0].to_string(), "sex: F → 0, M → 1");
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```

use super::array::FeatureArray;
use super::csv::{is_missing_marker, read_text, shorten, Record, Table};
use super::labels::LabelMatrix;
use super::loader::Dataset;
use crate::error::{escape_text, Error, Result};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

/// Which columns of a table make the data set, and which rows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TableColumns {
    /// Feature columns: exact names or glob patterns (`roi_*`), matched in header order; each
    /// column is taken once, at its first match.
    pub features: Vec<String>,
    /// Label columns by exact name, in the order each label lists them.
    pub labels: Vec<String>,
    /// Keep only the rows whose column holds this value; `None` keeps every row.
    pub split: Option<SplitBy>,
    /// The coding of categorical label columns: `None` infers it from this table; `Some` fixes
    /// it (listed columns use these categories, the others must be numeric).
    pub categories: Option<Vec<Categories>>,
}

/// A split by a column's value: the rows whose `column` holds `value` (both trimmed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitBy {
    /// The column holding the split's name (e.g. `split`).
    pub column: String,
    /// The value of the rows kept (e.g. `train`).
    pub value: String,
}

/// The coding of a categorical label column: `values[i]` is coded `i`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Categories {
    /// The label column.
    pub column: String,
    /// Its categories, in code order (sorted, when inferred).
    pub values: Vec<String>,
}

impl Categories {
    /// The code of `value`, or `None` when it is not a category.
    pub fn code(&self, value: &str) -> Option<usize> {
        self.values.iter().position(|v| v == value)
    }
}

impl fmt::Display for Categories {
    /// `column: a → 0, b → 1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.column)?;
        for (i, v) in self.values.iter().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            write!(f, "{sep}{v} → {i}")?;
        }
        Ok(())
    }
}

/// The rows of a table as feature vectors with labels, and what each column is.
#[derive(Clone, Debug)]
pub struct TableDataset {
    data: FeatureArray,
    feature_names: Vec<String>,
    label_names: Vec<String>,
    categories: Vec<Categories>,
}

impl TableDataset {
    /// Reads the table at `path` (tab-separated for `.tsv`, comma-separated otherwise) and keeps
    /// `columns`; see the [module docs](self) for the rules.
    pub fn read(path: impl AsRef<Path>, columns: &TableColumns) -> Result<Self> {
        let path = path.as_ref();
        let text = read_text(path)?;
        let is_tsv = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("tsv"));
        let table = Table::parse(&text, if is_tsv { b'\t' } else { b',' }, path)?;
        read_table(&table, columns)
    }

    /// The same rows with `columns` of the current labels, in that order (indices into
    /// [`TableDataset::label_names`]).
    pub fn select_labels(&self, columns: &[usize]) -> Result<Self> {
        let data = self.data.select_labels(columns)?;
        let label_names = columns
            .iter()
            .map(|&c| self.label_names[c].clone())
            .collect();
        Ok(TableDataset {
            data,
            label_names,
            ..self.clone()
        })
    }

    /// The feature columns, in sample order.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// The label columns, in label order.
    pub fn label_names(&self) -> &[String] {
        &self.label_names
    }

    /// The coding of every categorical label column read (also those since deselected).
    pub fn categories(&self) -> &[Categories] {
        &self.categories
    }

    /// The samples as a [`FeatureArray`].
    pub fn features(&self) -> &FeatureArray {
        &self.data
    }

    /// The labels (with the current selection of columns).
    pub fn labels(&self) -> &LabelMatrix {
        self.data.labels()
    }
}

impl Dataset for TableDataset {
    /// The row's feature values, in [`TableDataset::feature_names`] order.
    type Sample = Vec<f32>;
    /// The row's label values (category codes for categorical columns).
    type Label = Vec<f64>;

    fn len(&self) -> usize {
        self.data.len()
    }

    fn get(&self, index: usize) -> Result<(Vec<f32>, Vec<f64>)> {
        self.data.get(index)
    }
}

/// `*` matches any run of characters, `?` one character, anything else itself.
fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut i, mut j) = (0, 0);
    // The last `*` seen and the name position it was tried at (backtracking point).
    let mut star: Option<(usize, usize)> = None;
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

/// The feature columns `patterns` pick, in order, never one of `excluded`.
fn feature_columns(
    table: &Table<'_>,
    patterns: &[String],
    excluded: &[usize],
) -> Result<Vec<usize>> {
    let path = table.path();
    if patterns.is_empty() {
        return Err(Error::format(path, "no feature columns asked for"));
    }
    let mut out: Vec<usize> = Vec::new();
    for pat in patterns {
        if !pat.contains(['*', '?']) {
            let c = table.column(pat)?;
            if !out.contains(&c) {
                out.push(c);
            }
            continue;
        }
        let matched: Vec<&String> = table
            .header()
            .iter()
            .enumerate()
            .filter(|(i, h)| !excluded.contains(i) && glob_match(pat, h))
            .map(|(_, h)| h)
            .collect();
        if matched.is_empty() {
            return Err(Error::format(
                path,
                format!(
                    "line 1: the feature pattern '{}' matches no column of the header ({})",
                    escape_text(pat),
                    shorten(&table.header().join(", "))
                ),
            ));
        }
        for name in matched {
            // By name, so a duplicated header name is an error.
            let c = table.column(name)?;
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    Ok(out)
}

/// How a label column's values become numbers.
enum Coding {
    /// Parsed as numbers.
    Numeric,
    /// Coded by category.
    Categorical(Categories),
}

/// The coding of the label column `name`: fixed by `given`, else inferred from its `values` on
/// every row (`(record, field)`).
fn label_coding(
    name: &str,
    given: Option<&[Categories]>,
    values: &[(&Record<'_>, Cow<'_, str>)],
) -> Coding {
    if let Some(given) = given {
        return match given.iter().find(|c| c.column == name) {
            Some(c) => Coding::Categorical(c.clone()),
            None => Coding::Numeric,
        };
    }
    let is_number = |s: &str| s.parse::<f64>().is_ok_and(|v| !v.is_nan());
    let mut cats = BTreeSet::new();
    for (_, field) in values {
        let s = field.trim();
        if !is_missing_marker(s) && !is_number(s) {
            cats.insert(s.to_string());
        }
    }
    if cats.is_empty() {
        return Coding::Numeric;
    }
    // A categorical column: numbers in it are categories too.
    for (_, field) in values {
        let s = field.trim();
        if !is_missing_marker(s) {
            cats.insert(s.to_string());
        }
    }
    Coding::Categorical(Categories {
        column: name.to_string(),
        values: cats.into_iter().collect(),
    })
}

/// The data set `columns` select from `table`.
fn read_table(table: &Table<'_>, columns: &TableColumns) -> Result<TableDataset> {
    let path = table.path();
    let label_cols = columns
        .labels
        .iter()
        .map(|l| table.column(l))
        .collect::<Result<Vec<_>>>()?;
    let split_col = match &columns.split {
        Some(s) => Some((table.column(&s.column)?, s.value.trim())),
        None => None,
    };
    let mut excluded = label_cols.clone();
    excluded.extend(split_col.map(|(c, _)| c));
    let feature_cols = feature_columns(table, &columns.features, &excluded)?;

    // One pass over the rows: the kept rows' features, every row's label fields.
    let mut features = Vec::new();
    let mut label_fields: Vec<Vec<(&Record<'_>, Cow<'_, str>)>> =
        vec![Vec::new(); label_cols.len()];
    let mut kept = Vec::new();
    let mut split_values = BTreeSet::new();
    for rec in table.records() {
        let fields = table.fields(rec)?;
        let keep = match split_col {
            Some((c, value)) => {
                let v = fields[c].trim();
                if split_values.len() < 20 {
                    split_values.insert(v.to_string());
                }
                v == value
            }
            None => true,
        };
        for (out, &c) in label_fields.iter_mut().zip(&label_cols) {
            out.push((rec, fields[c].clone()));
        }
        kept.push(keep);
        if keep {
            for &c in &feature_cols {
                features.push(table.number(rec, c, &fields[c])? as f32);
            }
        }
    }
    let n = kept.iter().filter(|&&k| k).count();
    if n == 0 {
        let what = match &columns.split {
            Some(s) => format!(
                "no row has {} = '{}' (values found: {})",
                escape_text(&s.column),
                escape_text(&s.value),
                shorten(&split_values.into_iter().collect::<Vec<_>>().join(", "))
            ),
            None => "no data rows below the header".to_string(),
        };
        return Err(Error::format(path, what));
    }

    // Label values of the kept rows, row-major.
    let k = label_cols.len();
    let mut labels = vec![0.0; n * k];
    let codings: Vec<Coding> = columns
        .labels
        .iter()
        .zip(&label_fields)
        .map(|(name, values)| label_coding(name, columns.categories.as_deref(), values))
        .collect();
    // Row by row, so the first error reported is the first in file order.
    let kept_rows = (0..kept.len()).filter(|&r| kept[r]);
    for (row, r) in kept_rows.enumerate() {
        for (j, (&col, coding)) in label_cols.iter().zip(&codings).enumerate() {
            let (rec, field) = &label_fields[j][r];
            labels[row * k + j] = match coding {
                Coding::Numeric => table.number(rec, col, field)?,
                Coding::Categorical(c) => category_code(table, rec, col, c, field)? as f64,
            };
        }
    }
    let categories = codings
        .into_iter()
        .filter_map(|c| match c {
            Coding::Categorical(c) => Some(c),
            Coding::Numeric => None,
        })
        .collect();
    let labels = LabelMatrix::from_checked(labels, n, k)?;
    let data = FeatureArray::from_parts(features, &[n, feature_cols.len()], labels)
        .map_err(|m| Error::format(path, m))?;
    Ok(TableDataset {
        data,
        feature_names: feature_cols
            .iter()
            .map(|&c| table.header()[c].clone())
            .collect(),
        label_names: columns.labels.clone(),
        categories,
    })
}

/// The code of `field` in `cats`; an error naming the line and column when it is missing or not a
/// category.
fn category_code(
    table: &Table<'_>,
    rec: &Record<'_>,
    col: usize,
    cats: &Categories,
    field: &str,
) -> Result<usize> {
    let s = field.trim();
    if is_missing_marker(s) {
        let what = if s.is_empty() {
            "missing value (empty field)".to_string()
        } else {
            format!("missing value '{}'", shorten(s))
        };
        return Err(table.value_error(rec, col, what));
    }
    cats.code(s).ok_or_else(|| {
        table.value_error(
            rec,
            col,
            format!(
                "'{}' is not one of the categories ({})",
                shorten(s),
                shorten(&cats.values.join(", "))
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        for (p, n, want) in [
            ("roi_*", "roi_1", true),
            ("roi_*", "roi_", true),
            ("roi_*", "xroi_1", false),
            ("*_lh", "thick_lh", true),
            ("*_lh", "thick_rh", false),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
            ("r?i", "roi", true),
            ("r?i", "ri", false),
            ("*", "", true),
            ("", "", true),
            ("", "a", false),
            ("é*", "été", true),
        ] {
            assert_eq!(glob_match(p, n), want, "{p} {n}");
        }
    }
}
