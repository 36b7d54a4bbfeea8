//! A small command-line option parser: `--name value`, `--name=value` and `--flag`, with
//! errors that name the option at fault. Only list options ([`Args::list`]) may be repeated.

use std::collections::BTreeMap;
use std::str::FromStr;

/// The options of one subcommand, consumed as they are read; [`Args::finish`] rejects leftovers.
#[derive(Debug)]
pub struct Args {
    /// Each option's values, one per occurrence (`None`: a bare flag).
    values: BTreeMap<String, Vec<Option<String>>>,
    order: Vec<String>,
}

impl Args {
    /// Parses `--name value`, `--name=value` and bare `--flag` tokens. A token after `--name`
    /// that does not start with `--` is its value (negative numbers included). An option given
    /// twice is an error when it is read, unless it is read as a list.
    pub fn parse(tokens: &[String]) -> Result<Args, String> {
        let mut values: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
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
            values.entry(name.clone()).or_default().push(value);
            order.push(name);
            i += 1;
        }
        Ok(Args { values, order })
    }

    /// The one occurrence of `--name` (`Some(None)`: a bare flag); an error if given twice.
    fn single(&mut self, name: &str) -> Result<Option<Option<String>>, String> {
        match self.values.remove(name) {
            None => Ok(None),
            Some(mut v) if v.len() == 1 => Ok(v.pop()),
            Some(_) => Err(format!("option --{name} given twice")),
        }
    }

    /// The value of `--name`, parsed; `None` when absent.
    pub fn get<T: FromStr>(&mut self, name: &str) -> Result<Option<T>, String>
    where
        T::Err: std::fmt::Display,
    {
        match self.single(name)? {
            None => Ok(None),
            Some(None) => Err(format!("option --{name} needs a value")),
            Some(Some(v)) => v
                .parse()
                .map(Some)
                .map_err(|e| format!("option --{name}: cannot parse '{v}': {e}")),
        }
    }

    /// The items of a list option, from every occurrence of `--name`, each split at commas
    /// (`--probe logreg,knn` and `--probe logreg --probe knn` are the same); `None` when absent.
    /// An empty item is an error naming the option.
    pub fn list(&mut self, name: &str) -> Result<Option<Vec<String>>, String> {
        let Some(occurrences) = self.values.remove(name) else {
            return Ok(None);
        };
        let mut items = Vec::new();
        for v in occurrences {
            let v = v.ok_or_else(|| format!("option --{name} needs a value"))?;
            for item in v.split(',') {
                let item = item.trim();
                if item.is_empty() {
                    return Err(format!("option --{name}: empty item in '{v}'"));
                }
                items.push(item.to_string());
            }
        }
        Ok(Some(items))
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
        match self.single(name)? {
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
        let mut twice = parse("--k 1 --k 2 --json --json").unwrap();
        assert!(twice
            .get::<u8>("k")
            .unwrap_err()
            .contains("--k given twice"));
        assert!(twice
            .flag("json")
            .unwrap_err()
            .contains("--json given twice"));
        assert!(parse("stray").unwrap_err().contains("stray"));
        assert!(parse("--x")
            .unwrap()
            .require::<u8>("x")
            .unwrap_err()
            .contains("needs a value"));
    }

    #[test]
    fn lists_split_commas_and_collect_repeats() {
        let mut a = parse("--probe logreg,knn --probe ridge --other x").unwrap();
        assert_eq!(
            a.list("probe").unwrap(),
            Some(vec!["logreg".into(), "knn".into(), "ridge".into()])
        );
        assert_eq!(a.list("absent").unwrap(), None);
        assert_eq!(a.list("other").unwrap(), Some(vec!["x".into()]));
        assert!(parse("--probe a,,b")
            .unwrap()
            .list("probe")
            .unwrap_err()
            .contains("--probe: empty item"));
        assert!(parse("--probe")
            .unwrap()
            .list("probe")
            .unwrap_err()
            .contains("--probe needs a value"));
    }
}
