//! `[sweep]`: a table of lists (`"run.lr" = [1e-4, 3e-4]`) runs one experiment per combination
//! of values — the cartesian product, keys in file order, the first key varying slowest (nested
//! loops) — each into its own `version_<N>` whose `hparams.yaml` records the swept values; then
//! a table of the last value of every probe metric, one row per run.

use super::schema::Experiment;
use super::{build, load, resolved};
use crate::cli::stdout::{outln, Stdout};
use crate::cli::train_common::OptionSource;
use nidl::log::Metrics;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The sweep's keys and their values, in file order; errors name a key whose value is no list.
fn axes(sweep: &toml::Table) -> Result<Vec<(String, Vec<toml::Value>)>, String> {
    sweep
        .iter()
        .map(|(k, v)| match v {
            toml::Value::Array(a) if !a.is_empty() => Ok((k.clone(), a.clone())),
            _ => Err(format!(
                "sweep.\"{k}\": expected a non-empty list of values, e.g. \"{k}\" = [1, 2]"
            )),
        })
        .collect()
}

/// Every combination of the `axes`' values, the first axis varying slowest.
fn combinations(axes: &[(String, Vec<toml::Value>)]) -> Vec<Vec<(String, toml::Value)>> {
    let mut out = vec![Vec::new()];
    for (key, values) in axes {
        out = out
            .into_iter()
            .flat_map(|prefix: Vec<(String, toml::Value)>| {
                values.iter().map(move |v| {
                    let mut c = prefix.clone();
                    c.push((key.clone(), v.clone()));
                    c
                })
            })
            .collect();
    }
    out
}

/// A swept value as `hparams.yaml` and the table show it (strings without quotes).
fn shown(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Runs every combination of `exp`'s `[sweep]` (each checked before the first run starts), then
/// prints the table of final probe scores; `origin` names the experiment file in messages.
pub fn run(mut exp: Experiment, origin: &str) -> Result<(), String> {
    let sweep = std::mem::take(&mut exp.sweep);
    let axes = axes(&sweep)?;
    let mut runs = Vec::new();
    for combo in combinations(&axes) {
        let mut e = exp.clone();
        for (key, value) in &combo {
            e = load::set_value(e, key, value.clone())
                .map_err(|why| format!("sweep.\"{key}\" = {value}: {why}"))?;
        }
        let at = |why: String| {
            let values: Vec<String> = combo.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            format!("sweep ({}): {why}", values.join(", "))
        };
        runs.push((resolved(e, origin).map_err(at)?, combo));
    }
    let mut rows = Vec::new();
    for (i, (e, combo)) in runs.iter().enumerate() {
        let values: Vec<String> = combo.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        outln!("sweep run {}/{}: {}", i + 1, runs.len(), values.join(", "));
        let mut hparams: Vec<_> = combo.iter().map(|(k, v)| (k.clone(), shown(v))).collect();
        hparams.extend(build::views_hparams(e));
        let dir = build::run(e, hparams, OptionSource::Experiment)?;
        rows.push((dir, combo.iter().map(|(_, v)| shown(v)).collect::<Vec<_>>()));
    }
    let keys: Vec<&str> = axes.iter().map(|(k, _)| k.as_str()).collect();
    let table = table(&keys, &rows)?;
    // `Stdout` never fails: written, or dropped on a closed stdout.
    let _ = write!(Stdout, "{table}");
    Ok(())
}

/// Whether `tag` is a probe metric (`<Probe>/<metric>`), not a loss, the epoch or a rate.
fn is_probe_tag(tag: &str) -> bool {
    tag.contains('/') && !tag.starts_with("loss/") && !tag.starts_with("lr")
}

/// The last value of each probe tag of the run in `dir` (its `metrics.csv`), tags in the order
/// they first appear.
fn last_probe_values(dir: &Path) -> Result<Vec<(String, String)>, String> {
    let metrics = Metrics::read(dir.join("metrics.csv")).map_err(|e| e.to_string())?;
    Ok(metrics
        .tags()
        .into_iter()
        .filter(|t| is_probe_tag(t))
        .filter_map(|t| metrics.last(t).map(|v| (t.to_string(), v.to_string())))
        .collect())
}

/// The results table: a header (`version`, the swept keys, the probe tags), then one row per
/// run, columns padded to their widest cell.
fn table(keys: &[&str], rows: &[(PathBuf, Vec<String>)]) -> Result<String, String> {
    let scores = rows
        .iter()
        .map(|(dir, _)| last_probe_values(dir))
        .collect::<Result<Vec<_>, _>>()?;
    let mut tags: Vec<String> = Vec::new();
    for t in scores.iter().flatten().map(|(t, _)| t) {
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    let mut cells = vec![std::iter::once("version".to_string())
        .chain(keys.iter().map(|k| k.to_string()))
        .chain(tags.iter().cloned())
        .collect::<Vec<_>>()];
    for ((dir, values), s) in rows.iter().zip(&scores) {
        let version = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let score = |t: &String| {
            s.iter()
                .find(|(tag, _)| tag == t)
                .map_or("-".to_string(), |(_, v)| v.clone())
        };
        cells.push(
            std::iter::once(version)
                .chain(values.iter().cloned())
                .chain(tags.iter().map(score))
                .collect(),
        );
    }
    let widths: Vec<usize> = (0..cells[0].len())
        .map(|j| {
            cells
                .iter()
                .map(|r| r[j].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::from("sweep results (last value of each probe metric):\n");
    for row in &cells {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    Ok(out)
}
