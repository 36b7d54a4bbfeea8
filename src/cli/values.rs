//! The value parsers of the command line's options: each accepts what its option allows and
//! otherwise says what that is, in clap's `invalid value '-1' for '--epochs <N>': …` line
//! (`allowed: a whole number ≥ 1`).

use std::fmt::Display;
use std::str::FromStr;

/// A whole number `≥ min` (of type `T`: `usize`, `u64`).
pub fn whole<T>(min: T) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: FromStr + PartialOrd + Display + Copy + Send + Sync + 'static,
{
    move |s: &str| match s.parse::<T>() {
        Ok(v) if v >= min => Ok(v),
        Err(_) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => Err(format!(
            "allowed: a whole number ≥ {min} that fits in 64 bits"
        )),
        _ => Err(format!("allowed: a whole number ≥ {min}")),
    }
}

/// A finite number `> 0`.
pub fn positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err("allowed: a finite number > 0".into()),
    }
}

/// A finite number `≥ 0`.
pub fn non_negative(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v >= 0.0 && v.is_finite() => Ok(v),
        _ => Err("allowed: a finite number ≥ 0".into()),
    }
}

/// A probability: a number from 0 to 1.
pub fn probability(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err("allowed: a number from 0 to 1".into()),
    }
}

/// A number as `--help` shows it: `1e-4` rather than `0.0001`, `0.1` rather than `1e-1`.
pub fn shown(v: f64) -> String {
    let (plain, exp) = (v.to_string(), format!("{v:e}"));
    if exp.len() < plain.len() {
        exp
    } else {
        plain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_say_what_is_allowed() {
        let epochs = whole(1usize);
        assert_eq!(epochs("3"), Ok(3));
        for bad in ["0", "-1", "abc", "1.5", ""] {
            assert_eq!(
                epochs(bad),
                Err("allowed: a whole number ≥ 1".into()),
                "{bad}"
            );
        }
        assert!(epochs("99999999999999999999")
            .unwrap_err()
            .contains("64 bits"));
        assert_eq!(whole(0u64)("0"), Ok(0));
    }

    #[test]
    fn numbers_say_what_is_allowed() {
        assert_eq!(positive("1e-4"), Ok(1e-4));
        for bad in ["0", "-1", "inf", "NaN", "x"] {
            assert!(positive(bad).unwrap_err().contains("> 0"), "{bad}");
        }
        assert_eq!(non_negative("0"), Ok(0.0));
        assert!(non_negative("-0.1").unwrap_err().contains("≥ 0"));
        assert_eq!(probability("1"), Ok(1.0));
        for bad in ["2", "-0.5", "NaN"] {
            assert!(
                probability(bad).unwrap_err().contains("from 0 to 1"),
                "{bad}"
            );
        }
    }

    #[test]
    fn shown_numbers_are_short() {
        assert_eq!(shown(1e-4), "1e-4");
        assert_eq!(shown(0.1), "0.1");
        assert_eq!(shown(5e-3), "5e-3");
        assert_eq!(shown(4.0), "4");
        assert_eq!(shown(0.8), "0.8");
    }
}
