//! Command-line pieces shared by the example programs (their parsers are
//! `clap` derives in `src/bin/`): the `WxH` value format, and the check the
//! programs' tests (and `accord-bench`'s) make on their `--help` text.

use std::fmt;

/// A `WxH` size in pixels, as `--size` takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    pub width: u32,
    pub height: u32,
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

/// `WxH` with both sides in `1..=i32::MAX` (Wayland sizes are `i32`), e.g.
/// `1280x720`. A `clap` value parser: the error names the expected form.
pub fn parse_size(s: &str) -> Result<Size, String> {
    let side = |v: &str| {
        v.parse::<u32>()
            .ok()
            .filter(|n| (1..=i32::MAX as u32).contains(n))
    };
    s.split_once('x')
        .and_then(|(w, h)| {
            Some(Size {
                width: side(w)?,
                height: side(h)?,
            })
        })
        .ok_or_else(|| "expected WxH, e.g. 1280x720".to_owned())
}

/// `WxH` for a demo window: width 64..=4096, height 32..=4096.
pub fn parse_window_size(s: &str) -> Result<Size, String> {
    const FORM: &str = "expected WxH, 64..=4096 x 32..=4096";
    let size = parse_size(s).map_err(|_| FORM.to_owned())?;
    if (64..=4096).contains(&size.width) && (32..=4096).contains(&size.height) {
        Ok(size)
    } else {
        Err(FORM.to_owned())
    }
}

/// The entries of a `clap` help text (`Commands:`, `Arguments:` and
/// `Options:` sections, short or long form) as (name, description) pairs:
/// the name is an entry's first line up to two spaces (`solve`,
/// `-h, --help`, `--size <WxH>`, `<FILE>...`), the description the rest of the entry
/// without clap's own `[default: ..]` / `[possible values: ..]` notes.
pub fn help_entries(help: &str) -> Vec<(String, String)> {
    let mut entries: Vec<(String, String)> = Vec::new();
    let mut in_list = false;
    for line in help.lines() {
        let indent = line.len() - line.trim_start().len();
        let text = line.trim();
        if indent == 0 && !text.is_empty() {
            // A section heading ("Options:") or the text around the lists.
            in_list = text.ends_with(':') && !text.contains(' ');
            continue;
        }
        if !in_list || text.is_empty() {
            continue;
        }
        // clap indents an entry by 2 (or 6: a long flag without a short
        // one) and the rest of its description further.
        if indent <= 6 {
            let (arg, rest) = text.split_once("  ").unwrap_or((text, ""));
            entries.push((arg.to_owned(), rest.trim().to_owned()));
        } else if let Some((_, description)) = entries.last_mut() {
            description.push(' ');
            description.push_str(text);
        }
    }
    for (_, description) in &mut entries {
        let mut d = description.as_str();
        while let Some(start) = d.rfind(" [default: ").or(d.rfind(" [possible values: ")) {
            d = d[..start].trim_end();
        }
        if d.starts_with("[default: ") || d.starts_with("[possible values: ") {
            d = "";
        }
        *description = d.trim().to_owned();
    }
    entries
}

/// What is wrong with `help` as documentation of `flags` (each a long
/// flag like `--size`, a positional's value name like `FILE`, or a
/// subcommand): each
/// flag must have an entry, and each entry (these and clap's own) a
/// description. Empty when all is well.
pub fn help_problems(help: &str, flags: &[&str]) -> Vec<String> {
    let entries = help_entries(help);
    let mut problems = Vec::new();
    for flag in flags {
        let named = |arg: &str| {
            arg.split([',', ' ', '<', '>', '[', ']', '.'])
                .any(|word| word == *flag)
        };
        if !entries.iter().any(|(arg, _)| named(arg)) {
            problems.push(format!("{flag} is not listed"));
        }
    }
    for (arg, description) in &entries {
        if description.is_empty() {
            problems.push(format!("{arg} has no description"));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        let s = parse_size("640x480").expect("valid");
        assert_eq!((s.width, s.height), (640, 480));
        assert_eq!(s.to_string(), "640x480");
        for bad in [
            "640",
            "ax480",
            "0x480",
            "640x",
            "-5x10",
            "640x480x2",
            "3000000000x1",
        ] {
            assert!(parse_size(bad).is_err(), "{bad} accepted");
        }
        assert!(parse_window_size("64x32").is_ok());
        assert!(parse_window_size("4096x4096").is_ok());
        for bad in ["63x32", "64x31", "4097x100", "10x10"] {
            assert!(parse_window_size(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn help_check_reads_short_and_long_forms() {
        let short = "\
About

Usage: x [OPTIONS] [FILE]...

Commands:
  run   Run it
  help  Print this message or the help of the given subcommand(s)

Arguments:
  [FILE]...  Files to read

Options:
      --size <WxH>  Output size [default: 1280x720]
      --bare <N>    [default: 3]
  -h, --help        Print help
";
        assert_eq!(
            help_problems(
                short,
                &["run", "--size", "FILE", "--bare", "--gone", "Usage"]
            ),
            [
                "--gone is not listed",
                "Usage is not listed",
                "--bare <N> has no description"
            ]
        );
        let long = "\
Options:
      --drm <DEVICE>
          Run on this KMS device
          (as root)

      --quiet

  -h, --help
          Print help (see a summary with '-h')
";
        assert_eq!(
            help_problems(long, &["--drm", "--quiet", "--help"]),
            ["--quiet has no description"]
        );
        assert_eq!(help_entries(long)[0].1, "Run on this KMS device (as root)");
    }
}
