//! Option checks the training subcommands share (their progress bar and epoch lines are the
//! library's [`ConsoleReporter`](nidl::train::console::ConsoleReporter)).

use super::args::Args;

/// A positive, finite `f64` option.
pub fn positive(args: &mut Args, name: &str, default: f64) -> Result<f64, String> {
    let v: f64 = args.get_or(name, default)?;
    if v > 0.0 && v.is_finite() {
        Ok(v)
    } else {
        Err(format!(
            "option --{name}: must be a positive number, got {v}"
        ))
    }
}

/// A finite `f64` option `≥ 0`.
pub fn non_negative(args: &mut Args, name: &str, default: f64) -> Result<f64, String> {
    let v: f64 = args.get_or(name, default)?;
    if v >= 0.0 && v.is_finite() {
        Ok(v)
    } else {
        Err(format!(
            "option --{name}: must be a finite number ≥ 0, got {v}"
        ))
    }
}

/// A `usize` option `≥ min`.
pub fn count(args: &mut Args, name: &str, default: usize, min: usize) -> Result<usize, String> {
    let v: usize = args.get_or(name, default)?;
    if v >= min {
        Ok(v)
    } else {
        Err(format!("option --{name}: must be at least {min}, got {v}"))
    }
}

/// An optional `usize` option `≥ min`.
pub fn opt_count(args: &mut Args, name: &str, min: usize) -> Result<Option<usize>, String> {
    match args.get::<usize>(name)? {
        Some(v) if v < min => Err(format!("option --{name}: must be at least {min}, got {v}")),
        v => Ok(v),
    }
}
