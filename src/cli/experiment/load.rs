//! Reading an experiment: the file (errors name the file, line and key), `--set key=value`
//! overrides (errors name the argument), relative paths resolved, and the resolved experiment
//! printed back as TOML.

use super::schema::Experiment;
use std::path::{Path, PathBuf};

/// The experiment in the file at `path`, with its relative paths resolved against the file's
/// folder, then the `sets` overrides applied in order (their relative paths stay relative to the
/// current folder).
pub fn read(path: &Path, sets: &[String]) -> Result<Experiment, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the experiment file {}: {e}", path.display()))?;
    let folder = std::path::absolute(path)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    parse(&text, &path.display().to_string(), &folder, sets)
}

/// The experiment in `text` (named `file` in messages), paths resolved against `folder`, then
/// the `sets` applied.
pub fn parse(text: &str, file: &str, folder: &Path, sets: &[String]) -> Result<Experiment, String> {
    let mut exp = match cv_lists(text) {
        Some((table, swept)) => {
            let mut exp: Experiment = toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| format!("{file}: {}", e.message().trim()))?;
            exp.sweep.extend(swept);
            exp
        }
        None => toml::from_str(text).map_err(|e| located(file, text, &e))?,
    };
    exp.resolve_paths(folder);
    for arg in sets {
        exp = apply_set(exp, arg)?;
    }
    Ok(exp)
}

/// nidl 0.0.1's sweep syntax: string values `"cv|[v1, v2]"` anywhere in `text`. `None` when
/// there is none; else the document with each replaced by its first value, and the sweep
/// entries (`dotted key = [v1, v2]`). A `cv|` value that is not a non-empty list stays a string
/// (and fails as one).
fn cv_lists(text: &str) -> Option<(toml::Table, toml::Table)> {
    fn walk(v: &mut toml::Value, path: &str, out: &mut toml::Table) {
        match v {
            toml::Value::String(s) => {
                if let Some(toml::Value::Array(a)) = s.strip_prefix("cv|").map(parse_value) {
                    if let Some(first) = a.first().cloned() {
                        out.insert(path.to_string(), toml::Value::Array(a));
                        *v = first;
                    }
                }
            }
            toml::Value::Table(t) => {
                for (k, x) in t.iter_mut() {
                    walk(x, &join(path, k), out);
                }
            }
            toml::Value::Array(a) => {
                for (i, x) in a.iter_mut().enumerate() {
                    walk(x, &join(path, &i.to_string()), out);
                }
            }
            _ => {}
        }
    }
    fn join(path: &str, key: &str) -> String {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    }
    let mut doc = toml::Value::Table(toml::from_str::<toml::Table>(text).ok()?);
    let mut swept = toml::Table::new();
    walk(&mut doc, "", &mut swept);
    match doc {
        toml::Value::Table(t) if !swept.is_empty() => Some((t, swept)),
        _ => None,
    }
}

/// `file:LINE:COL: [table] key: message` for a TOML or schema error in `text`.
fn located(file: &str, text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace('\n', " ");
    let Some(span) = e.span() else {
        return format!("{file}: {message}");
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    let line_text = text.lines().nth(line - 1).unwrap_or("");
    let table = before
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| {
            l.trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim()
        });
    let key = line_text
        .split_once('=')
        .map(|(k, _)| k.trim())
        .filter(|k| !k.is_empty() && !k.starts_with('['));
    let at = match (table, key) {
        (Some(t), Some(k)) => format!(" key {t}.{k}:"),
        (None, Some(k)) => format!(" key {k}:"),
        (Some(t), None) => format!(" [{t}]:"),
        (None, None) => String::new(),
    };
    format!("{file}:{line}:{col}:{at} {message}")
}

/// `exp` with `arg` (`key=value`, the key dotted, the value a TOML value or else a bare string)
/// applied; errors name `--set arg`.
pub fn apply_set(exp: Experiment, arg: &str) -> Result<Experiment, String> {
    let fail = |why: String| format!("--set {arg}: {why}");
    let (key, raw) = arg
        .split_once('=')
        .ok_or_else(|| fail("expected key=value, e.g. run.epochs=2".into()))?;
    let value = parse_value(raw.trim());
    set_value(exp, key.trim(), value).map_err(fail)
}

/// A `--set` value: a TOML value (`2`, `1e-4`, `true`, `[64, 16]`, `"x"`), or else the text as a
/// string (`logs`, `data/x.npy`).
pub fn parse_value(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

/// `exp` with the dotted `key` set to `value` (a number segment indexes a list: `probe.0.kind`;
/// `sweep.<dotted key>` is one key of `[sweep]`). Errors say what is wrong with the key or value.
pub fn set_value(exp: Experiment, key: &str, value: toml::Value) -> Result<Experiment, String> {
    let mut doc = toml::Value::try_from(&exp).map_err(|e| e.to_string())?;
    let segments: Vec<&str> = match key.split_once('.') {
        Some(("sweep", rest)) => vec!["sweep", rest],
        _ => key.split('.').collect(),
    };
    if segments.iter().any(|s| s.is_empty()) {
        return Err(format!("empty part in the key '{key}'"));
    }
    let mut at = &mut doc;
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        let walked = segments[..=i].join(".");
        at = match at {
            toml::Value::Table(t) => {
                if last {
                    t.insert(seg.to_string(), value);
                    break;
                }
                t.entry(seg.to_string())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            }
            toml::Value::Array(a) => {
                let n = a.len();
                let idx: usize = seg
                    .parse()
                    .ok()
                    .filter(|&j| j < n)
                    .ok_or_else(|| format!("{walked}: no item {seg} in a list of {n}"))?;
                if last {
                    a[idx] = value;
                    break;
                }
                &mut a[idx]
            }
            _ => return Err(format!("{}: is not a table", segments[..i].join("."))),
        };
    }
    let out: Experiment = doc.try_into().map_err(|e: toml::de::Error| {
        let m = e.message().trim().replace('\n', " ");
        format!("{m} (key {key})")
    })?;
    Ok(out)
}

/// The experiment as TOML, which `nidl fit` reads back to the same experiment.
pub fn to_toml(exp: &Experiment) -> Result<String, String> {
    toml::to_string(exp).map_err(|e| format!("cannot print the experiment: {e}"))
}

/// `p` resolved against `folder` when relative.
fn resolve(p: &mut PathBuf, folder: &Path) {
    if p.is_relative() {
        *p = folder.join(&*p);
    }
}

impl Experiment {
    /// Resolves every relative path against `folder` (the experiment file's).
    pub fn resolve_paths(&mut self, folder: &Path) {
        let d = &mut self.data;
        let paths = [
            &mut d.dir,
            &mut d.train_x,
            &mut d.train_y,
            &mut d.val_x,
            &mut d.val_y,
            &mut d.probe_train_x,
            &mut d.probe_train_y,
            &mut d.probe_test_x,
            &mut d.probe_test_y,
            &mut d.file,
            &mut d.train_file,
            &mut d.val_file,
            &mut self.run.resume,
            &mut self.run.log_dir,
        ];
        for p in paths.into_iter().flatten() {
            resolve(p, folder);
        }
    }
}
