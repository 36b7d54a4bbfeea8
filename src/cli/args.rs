//! A small command-line option parser: `--name value`, `--name=value` and `--flag`, with
//! errors that name the option at fault.

use std::collections::BTreeMap;
use std::str::FromStr;

/// The options of one subcommand, consumed as they are read; [`Args::finish`] rejects leftovers.
#[derive(Debug)]
pub struct Args {
    values: BTreeMap<String, Option<String>>,
    order: Vec<String>,
}

impl Args {
    /// Parses `--name value`, `--name=value` and bare `--flag` tokens. A token after `--name`
    /// that does not start with `--` is its value (negative numbers included).
    pub fn parse(tokens: &[String]) -> Result<Args, String> {
        let mut values = BTreeMap::new();
        let mut order = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            let t = &tokens[i];
            let Some(body) = t.strip_prefix("--") else {
                return Err(format!("unexpected argument '{t}' (options start with --)"));
            };
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => match tokens.get(i + 1) {
                    Some(next) if !next.starts_with("--") => {
                        i += 1;
                        (body.to_string(), Some(next.clone()))
                    }
                    _ => (body.to_string(), None),
                },
            };
            if values.insert(name.clone(), value).is_some() {
                return Err(format!("option --{name} given twice"));
            }
            order.push(name);
            i += 1;
        }
        Ok(Args { values, order })
    }

    /// The value of `--name`, parsed; `None` when absent.
    pub fn get<T: FromStr>(&mut self, name: &str) -> Result<Option<T>, String>
    where
        T::Err: std::fmt::Display,
    {
        match self.values.remove(name) {
            None => Ok(None),
            Some(None) => Err(format!("option --{name} needs a value")),
            Some(Some(v)) => v
                .parse()
                .map(Some)
                .map_err(|e| format!("option --{name}: cannot parse '{v}': {e}")),
        }
    }

    /// The value of `--name`, or `default` when absent.
    pub fn get_or<T: FromStr>(&mut self, name: &str, default: T) -> Result<T, String>
    where
        T::Err: std::fmt::Display,
    {
        Ok(self.get(name)?.unwrap_or(default))
    }

    /// The value of a required `--name`.
    pub fn require<T: FromStr>(&mut self, name: &str) -> Result<T, String>
    where
        T::Err: std::fmt::Display,
    {
        self.get(name)?
            .ok_or_else(|| format!("missing required option --{name}"))
    }

    /// Whether the bare flag `--name` is present.
    pub fn flag(&mut self, name: &str) -> Result<bool, String> {
        match self.values.remove(name) {
            None => Ok(false),
            Some(None) => Ok(true),
            Some(Some(v)) => Err(format!("option --{name} takes no value, got '{v}'")),
        }
    }

    /// Errors on the first option that no reader consumed.
    pub fn finish(self) -> Result<(), String> {
        match self.order.iter().find(|n| self.values.contains_key(*n)) {
            Some(n) => Err(format!("unknown option --{n}")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Args, String> {
        Args::parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn values_flags_and_errors() {
        let mut a = parse("--k 5 --c=0.5 --json --shift -3").unwrap();
        assert_eq!(a.get::<usize>("k").unwrap(), Some(5));
        assert_eq!(a.get_or("c", 1.0).unwrap(), 0.5);
        assert!(a.flag("json").unwrap());
        assert_eq!(a.require::<i32>("shift").unwrap(), -3);
        assert!(a.finish().is_ok());
        let mut a = parse("--k five --extra").unwrap();
        assert!(a.get::<usize>("k").unwrap_err().contains("--k"));
        assert!(a.finish().unwrap_err().contains("--extra"));
        assert!(parse("--k 1 --k 2").unwrap_err().contains("twice"));
        assert!(parse("stray").unwrap_err().contains("stray"));
        assert!(parse("--x")
            .unwrap()
            .require::<u8>("x")
            .unwrap_err()
            .contains("needs a value"));
    }
}
