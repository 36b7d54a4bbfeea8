//! Several runs side by side, for `nidl plot`: each run directory's `metrics.csv` and
//! `hparams.yaml` read back ([`Run`]), and one [`Figure`] with a panel per tag and a curve per
//! run ([`comparison`]), drawn by [`plot::write_figure`](super::plot::write_figure) like any
//! run's `metrics.png`.
//!
//! A curve's legend is the run's name ([`run_names`]: its folder, or `parent/folder` when two
//! runs share a folder name) and the hyper-parameters whose values differ between the runs
//! ([`differing_hparams`]). A panel's y axis follows its tag's [`MetricKind`] as in a run's own
//! figure; `loss/train` is drawn raw (faint) under its TensorBoard smoothing.

use std::path::{Path, PathBuf};

use super::figure::{smoothed, Figure, Panel, Series, TRAIN_LOSS_TAG};
use super::metric_kind::MetricKind;
use super::{
    FigureNames, Metrics, EPOCH_TAG, FIGURE_DATA_KEY, FIGURE_PANEL_KEY, FIGURE_SHORT_KEY,
    FIGURE_YAML, HPARAMS_YAML, METRICS_CSV,
};
use crate::error::{Error, Result};
use crate::input_file::read_regular;

/// One run directory read back.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// The directory as given.
    pub dir: PathBuf,
    /// Its scalars (`metrics.csv`).
    pub metrics: Metrics,
    /// Its hyper-parameters (`hparams.yaml`, in file order; empty when the run has none).
    pub hparams: Vec<(String, String)>,
    /// Its figure's names (`figure.yaml`; none when the run has no such file).
    pub names: FigureNames,
    /// The steps whose `loss/train` came from a short last batch (`figure.yaml`).
    pub short_steps: Vec<u64>,
}

impl Run {
    /// Reads the run in `dir`: its `metrics.csv` (required), `hparams.yaml` and `figure.yaml`
    /// (each if present).
    ///
    /// Errors name `dir` when it is missing, not a directory, or holds no `metrics.csv`; a bad
    /// `metrics.csv` or `hparams.yaml` gives the reader's error naming that file and line.
    pub fn read(dir: &Path) -> Result<Run> {
        if !dir.is_dir() {
            let what = if dir.exists() {
                "is not a directory"
            } else {
                "does not exist"
            };
            return Err(Error::format(
                dir,
                format!("{what}; expected a run directory"),
            ));
        }
        let csv = dir.join(METRICS_CSV);
        if !csv.exists() {
            return Err(Error::format(
                dir,
                format!(
                    "not a run directory: no {METRICS_CSV} in it (nidl writes one into each \
                     <log-dir>/version_<N>/)"
                ),
            ));
        }
        let metrics = Metrics::read(&csv)?;
        let yaml = dir.join(HPARAMS_YAML);
        let hparams = if yaml.exists() {
            read_hparams(&yaml)?
        } else {
            Vec::new()
        };
        let figure = dir.join(FIGURE_YAML);
        let (names, short_steps) = if figure.exists() {
            read_figure_yaml(&figure)?
        } else {
            (FigureNames::default(), Vec::new())
        };
        Ok(Run {
            dir: dir.to_path_buf(),
            metrics,
            hparams,
            names,
            short_steps,
        })
    }

    /// The value of hyper-parameter `key`, if the run has it.
    pub fn hparam(&self, key: &str) -> Option<&str> {
        self.hparams
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The `key: value` lines of the `hparams.yaml` at `path`, as
/// [`hparams_yaml`](super::hparams_yaml) writes them: keys and values plain or double-quoted
/// (quotes removed, `\"` and `\\` unescaped). Blank lines and `#` comments are skipped.
///
/// Errors: the file cannot be read, is not UTF-8, or a line has no `: ` ([`Error::Format`]
/// naming the file and the line).
pub fn read_hparams(path: &Path) -> Result<Vec<(String, String)>> {
    let bytes = read_regular(path)?;
    let text = String::from_utf8(bytes)
        .map_err(|e| Error::format(path, format!("not UTF-8 text: {e}")))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let split = split_key(line)
            .ok_or_else(|| Error::format(path, format!("line {}: expected 'key: value'", i + 1)))?;
        out.push((unquote(split.0), unquote(split.1)));
    }
    Ok(out)
}

/// The names and short-batch steps in the `figure.yaml` at `path`, as
/// [`figure_yaml`](super::figure_yaml) writes them; unknown keys are skipped (a later nidl may
/// add some).
///
/// Errors: as [`read_hparams`], and a step that is not a whole number (naming the file).
pub fn read_figure_yaml(path: &Path) -> Result<(FigureNames, Vec<u64>)> {
    let mut names = FigureNames::default();
    let mut short = Vec::new();
    for (k, v) in read_hparams(path)? {
        if k == FIGURE_DATA_KEY {
            names.data = Some(v);
        } else if let Some(prefix) = k.strip_prefix(FIGURE_PANEL_KEY) {
            names.panels.push((prefix.to_string(), v));
        } else if k == FIGURE_SHORT_KEY {
            for step in v.split_whitespace() {
                short.push(step.parse().map_err(|_| {
                    Error::format(
                        path,
                        format!("{FIGURE_SHORT_KEY}: '{step}' is not a step number"),
                    )
                })?);
            }
        }
    }
    Ok((names, short))
}

/// `(key, value)` of a `key: value` line; the key may be double-quoted (and hold `: `).
fn split_key(line: &str) -> Option<(&str, &str)> {
    let key_end = if line.starts_with('"') {
        closing_quote(line)? + 1
    } else {
        line.find(':')?
    };
    let rest = line[key_end..].strip_prefix(':')?;
    Some((&line[..key_end], rest.trim_start()))
}

/// The byte index of the quote closing the double-quoted scalar `s` starts with.
fn closing_quote(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

/// A YAML scalar as text: a double-quoted one without its quotes and with the escapes
/// [`yaml_quote`](super::yaml_quote) writes undone (`\"`, `\\`, `\n`, `\r`, `\t`, `\0`,
/// `\xNN`, `\uNNNN`; an unknown or broken escape kept as written); a plain one as is.
fn unquote(s: &str) -> String {
    let Some(inner) = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
        return s.to_string();
    };
    let mut out = String::new();
    let mut rest = inner;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let esc = &rest[i + 1..];
        let hex = |n: usize| {
            esc.get(1..=n)
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .and_then(char::from_u32)
        };
        let (c, used) = match esc.chars().next() {
            Some(c @ ('"' | '\\')) => (Some(c), 1),
            Some('n') => (Some('\n'), 1),
            Some('r') => (Some('\r'), 1),
            Some('t') => (Some('\t'), 1),
            Some('0') => (Some('\0'), 1),
            Some('x') => (hex(2), 3),
            Some('u') => (hex(4), 5),
            _ => (None, 0),
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &esc[used..];
            }
            None => {
                out.push('\\');
                rest = esc;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Each run's name: its folder's name (`version_3`), or `parent/folder` for every run when
/// two runs would otherwise share a name (two log dirs' `version_0`), or the whole path when
/// even that repeats.
pub fn run_names(runs: &[Run]) -> Vec<String> {
    let full = |r: &Run| r.dir.canonicalize().unwrap_or_else(|_| r.dir.clone());
    let last = |r: &Run, n: usize| {
        let path = full(r);
        let parts: Vec<String> = path
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        parts[parts.len().saturating_sub(n)..].join("/")
    };
    let unique = |names: &[String]| {
        names
            .iter()
            .enumerate()
            .all(|(i, n)| !names[..i].contains(n))
    };
    for n in [1, 2] {
        let names: Vec<String> = runs.iter().map(|r| last(r, n)).collect();
        if unique(&names) {
            return names;
        }
    }
    runs.iter().map(|r| r.dir.display().to_string()).collect()
}

/// The hyper-parameter keys whose values differ between `runs` (a key some runs lack counts as
/// differing), in the order they first appear.
pub fn differing_hparams(runs: &[Run]) -> Vec<String> {
    let mut keys: Vec<&str> = Vec::new();
    for r in runs {
        for (k, _) in &r.hparams {
            if !keys.contains(&k.as_str()) {
                keys.push(k);
            }
        }
    }
    keys.into_iter()
        .filter(|k| runs.iter().any(|r| r.hparam(k) != runs[0].hparam(k)))
        .map(str::to_string)
        .collect()
}

/// Whether `text` matches the glob `pattern`: `*` any run of characters (also none), `?` one
/// character, anything else itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Classic backtracking over the last `*`.
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Whether `tag` matches one of the comma-separated [`glob_match`] patterns of `globs`
/// (`task0/R2,loss/*`).
pub fn matches_any(globs: &str, tag: &str) -> bool {
    globs.split(',').any(|g| glob_match(g.trim(), tag))
}

/// The tags of `runs` in first-logged order (over the runs in order), [`EPOCH_TAG`] left out.
pub fn all_tags(runs: &[Run]) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for r in runs {
        for t in r.metrics.tags() {
            if t != EPOCH_TAG && !tags.iter().any(|x| x == t) {
                tags.push(t.to_string());
            }
        }
    }
    tags
}

/// The comparison figure of `runs`: one panel per tag matching `tags` (comma-separated
/// [`glob_match`] patterns, [`matches_any`]; `None`: every tag but [`EPOCH_TAG`]), in first-logged order with `loss/*` last, and
/// in each a curve per run that logged the tag, labelled by [`run_names`] and the
/// [`differing_hparams`] (`version_1 (random_state=2)`). `loss/train` is smoothed with weight
/// `smoothing`. The title names the method when all runs share one; the x axis gives the batch
/// size when all runs share one.
///
/// Errors: no runs, or no tag matches (the error lists the tags the runs have).
pub fn comparison(runs: &[Run], tags: Option<&str>, smoothing: f64) -> Result<Figure> {
    if runs.is_empty() {
        return Err(Error::invalid("nidl plot", "no run directories given"));
    }
    let found = all_tags(runs);
    let mut chosen: Vec<&String> = found
        .iter()
        .filter(|t| tags.is_none_or(|g| matches_any(g, t)))
        .collect();
    if chosen.is_empty() {
        return Err(Error::invalid(
            "--tags",
            format!(
                "no tag matches '{}'; the runs have: {}",
                tags.unwrap_or("*"),
                if found.is_empty() {
                    "none".to_string()
                } else {
                    found.join(", ")
                }
            ),
        ));
    }
    chosen.sort_by_key(|t| MetricKind::of(t) == MetricKind::Loss);
    let names = run_names(runs);
    let differing = differing_hparams(runs);
    let labels: Vec<String> = runs
        .iter()
        .zip(&names)
        .map(|(r, name)| {
            let hp: Vec<String> = differing
                .iter()
                .map(|k| format!("{k}={}", r.hparam(k).unwrap_or("-")))
                .collect();
            if hp.is_empty() {
                name.clone()
            } else {
                format!("{name} ({})", hp.join(", "))
            }
        })
        .collect();
    let panels = chosen
        .into_iter()
        .map(|tag| Panel {
            title: panel_title(runs, tag),
            kind: MetricKind::of(tag),
            series: runs
                .iter()
                .zip(&labels)
                .filter(|(r, _)| !r.metrics.tag(tag).is_empty())
                .map(|(r, label)| {
                    let is_short = |s: &u64| tag == TRAIN_LOSS_TAG && r.short_steps.contains(s);
                    let all = r.metrics.tag(tag).iter().map(|&(s, _, v)| (s, v));
                    let (short, points): (Vec<_>, Vec<_>) = all.partition(|(s, _)| is_short(s));
                    Series {
                        label: label.clone(),
                        smoothed: (tag == TRAIN_LOSS_TAG)
                            .then(|| smoothed(&points, smoothing))
                            .flatten(),
                        points,
                        short,
                    }
                })
                .collect(),
        })
        .collect();
    let shared = |key: &str| {
        let first = runs[0].hparam(key)?;
        runs.iter()
            .all(|r| r.hparam(key) == Some(first))
            .then_some(first)
    };
    let title = match shared("estimator") {
        Some(m) => format!("{m} · {} runs", runs.len()),
        None => format!("{} runs", runs.len()),
    };
    Ok(Figure {
        title,
        x_label: match shared("batch_size") {
            Some(b) => format!("step (batch size {b})"),
            None => "step".to_string(),
        },
        panels,
    })
}

/// The title of `tag`'s panel: `<name>: <metric>` when the runs that name the tag's prefix in
/// their `figure.yaml` all give it the same name (`task0/R2` → `age (Ridge): R2`), else the tag
/// (runs that probed differently under one prefix are not titled by one of them).
fn panel_title(runs: &[Run], tag: &str) -> String {
    let Some((prefix, metric)) = tag.split_once('/') else {
        return tag.to_string();
    };
    let mut names = runs
        .iter()
        .filter_map(|r| r.names.panels.iter().find(|(p, _)| p == prefix))
        .map(|(_, name)| name);
    match names.next() {
        Some(first) if names.all(|n| n == first) => format!("{first}: {metric}"),
        _ => tag.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_shells_do() {
        assert!(glob_match("*", "loss/train"));
        assert!(glob_match("task?/R2", "task0/R2"));
        assert!(!glob_match("task?/R2", "task10/R2"));
        assert!(glob_match("*/acc*", "LogisticRegression/accuracy"));
        assert!(!glob_match("loss", "loss/train"));
        assert!(glob_match("a*b*c", "aXXbYbc"));
        assert!(!glob_match("a*b*c", "aXXbY"));
        assert!(matches_any("task0/R2, loss/*", "loss/val"));
        assert!(matches_any("task0/R2, loss/*", "task0/R2"));
        assert!(!matches_any("task0/R2, loss/*", "task0/MAE"));
    }

    #[test]
    fn a_panel_is_titled_by_its_name_only_when_the_runs_agree() {
        let run = |name: &str| Run {
            dir: PathBuf::from("r"),
            metrics: Metrics::default(),
            hparams: Vec::new(),
            names: FigureNames {
                data: None,
                panels: vec![("task0".into(), name.into())],
            },
            short_steps: Vec::new(),
        };
        let ridge = [run("age (Ridge)"), run("age (Ridge)")];
        assert_eq!(panel_title(&ridge, "task0/R2"), "age (Ridge): R2");
        let mixed = [run("age (Ridge)"), run("age (KNeighborsRegressor)")];
        assert_eq!(panel_title(&mixed, "task0/R2"), "task0/R2");
        assert_eq!(panel_title(&ridge, "task1/R2"), "task1/R2");
    }

    #[test]
    fn hparams_lines_are_read_back_as_written() {
        let hp = vec![
            ("estimator".to_string(), "SimCLR".to_string()),
            ("head".to_string(), "[64, 32]".to_string()),
            ("odd: key".to_string(), "say \"hi\" \\ there".to_string()),
            (
                "controls".to_string(),
                "tab\there\nnew line\r\0 bell\u{7} nel\u{85} sep\u{2028} bom\u{feff} é".to_string(),
            ),
            ("backslash-n".to_string(), "a\\nb \\x41".to_string()),
        ];
        let dir = std::env::temp_dir().join(format!("nidl-compare-hp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(HPARAMS_YAML);
        std::fs::write(&path, super::super::hparams_yaml(&hp).unwrap()).unwrap();
        assert_eq!(read_hparams(&path).unwrap(), hp);
        // Broken escapes are kept as written.
        std::fs::write(&path, "a: \"\\q \\x4 \\u12 end\"\n").unwrap();
        let kept = read_hparams(&path).unwrap();
        assert_eq!(kept[0].1, "\\q \\x4 \\u12 end", "{kept:?}");
        std::fs::write(&path, "a: 1\nno colon here\n").unwrap();
        let err = read_hparams(&path).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
