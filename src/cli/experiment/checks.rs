//! Small checks the experiment's defaults and method modules share: the method's name, keys
//! that do not apply, and numeric ranges — each error naming the key.

use super::schema::Method;

/// The method's name as written in the file.
pub(super) fn method_name(m: Method) -> &'static str {
    match m {
        Method::Simclr => "simclr",
        Method::Yaware => "yaware",
        Method::Barlow => "barlow",
        Method::Dcl => "dcl",
        Method::Vae => "vae",
        Method::Dino => "dino",
    }
}

/// Fails on the first key of `set` (`(key, is set)`) not in `allowed`, naming it and `owner`.
pub(super) fn only_allowed(
    set: &[(&str, bool)],
    allowed: &[&str],
    table: &str,
    owner: &str,
) -> Result<(), String> {
    match set.iter().find(|(k, on)| *on && !allowed.contains(k)) {
        Some((k, _)) => Err(format!("{table}.{k}: does not apply to {owner}")),
        None => Ok(()),
    }
}

/// Fails unless `v ≥ min`, naming `key`.
pub(super) fn at_least(key: &str, v: usize, min: usize) -> Result<(), String> {
    if v >= min {
        Ok(())
    } else {
        Err(format!("{key}: must be at least {min}, got {v}"))
    }
}

/// Fails unless `v` is finite and `> 0` (`positive`) or `≥ 0`, naming `key`.
pub(super) fn number(key: &str, v: Option<f64>, positive: bool) -> Result<(), String> {
    match v {
        Some(v) if !v.is_finite() || v < 0.0 || (positive && v == 0.0) => Err(format!(
            "{key}: must be a {} number, got {v}",
            if positive {
                "positive"
            } else {
                "finite, non-negative"
            }
        )),
        _ => Ok(()),
    }
}
