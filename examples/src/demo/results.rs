//! `key=value` result lines: how the demo processes report to the runner,
//! and how the runner reports to scripts and tests
//! (`<program>: result k=v k=v ...`).

use std::collections::BTreeMap;

/// An ordered set of `key=value` pairs (values without spaces).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Results(BTreeMap<String, String>);

impl Results {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set(&mut self, key: &str, value: impl std::fmt::Display) -> &mut Self {
        let value = value.to_string().replace(char::is_whitespace, "_");
        self.0.insert(key.to_owned(), value);
        self
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The value parsed as `T`, or an error naming the key.
    pub fn parse<T: std::str::FromStr>(&self, key: &str) -> Result<T, String> {
        let v = self.get(key).ok_or(format!("result has no {key:?}"))?;
        v.parse()
            .map_err(|_| format!("result {key}={v:?} is not a valid value"))
    }

    /// The line `<program>: result k=v ...`.
    pub fn line(&self, program: &str) -> String {
        let pairs: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{program}: result {}", pairs.join(" "))
    }

    /// Parses a line written by [`Results::line`] for `program`.
    pub fn from_line(program: &str, line: &str) -> Option<Results> {
        let rest = line
            .trim()
            .strip_prefix(program)?
            .strip_prefix(": result")?;
        let mut out = Results::new();
        for pair in rest.split_whitespace() {
            let (k, v) = pair.split_once('=')?;
            out.0.insert(k.to_owned(), v.to_owned());
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        let mut r = Results::new();
        r.set("frames", 3).set("memory", "mem fd");
        let line = r.line("p");
        assert_eq!(line, "p: result frames=3 memory=mem_fd");
        let back = Results::from_line("p", &line).expect("parses");
        assert_eq!(back.parse::<u32>("frames"), Ok(3));
        assert!(back.parse::<u32>("memory").is_err());
        assert!(back.parse::<u32>("absent").is_err());
        assert_eq!(Results::from_line("q", &line), None);
    }
}
