//! `accord solve`: read scenarios, solve, print outcomes.

use std::io::Read;
use std::process::ExitCode;

use accord_engine::{solve_explained, solve_with, Policy};
use accord_scenario as scenario;
use accord_scenario::PolicyJson;

use crate::EXIT_BAD_INPUT;

/// Negotiate the participants of each JSON scenario and print one JSON
/// object per line (with a "file" field when there are several files).
///
/// Exit code: 0 every scenario decided, 1 a negotiation failed, 2 bad input.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Trace every candidate (format, modifier) pair, with its rank or why it
    /// was eliminated, to stderr.
    #[arg(long)]
    explain: bool,
    /// A cost table (JSON) that replaces each scenario's own.
    #[arg(long, value_name = "FILE")]
    costs: Option<String>,
    /// Scenario files (JSON); - reads standard input.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<String>,
}

fn read(path: &str) -> Result<String, String> {
    let mut s = String::new();
    let r = if path == "-" {
        std::io::stdin().read_to_string(&mut s).map(|_| ())
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut s).map(|_| ()))
    };
    r.map(|()| s).map_err(|e| format!("{path}: {e}"))
}

pub fn run(args: &Args) -> ExitCode {
    let override_policy = match &args.costs {
        None => None,
        Some(path) => match read(path)
            .and_then(|s| Policy::from_json(&s).map_err(|e| format!("{path}: {e}")))
        {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("accord solve: {e}");
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        },
    };
    let many = args.files.len() > 1;
    let mut worst = 0u8;
    for path in &args.files {
        let code = solve_one(path, many, args.explain, override_policy.as_ref());
        worst = worst.max(code);
    }
    ExitCode::from(worst)
}

/// Solve one scenario file; returns its exit code.
fn solve_one(path: &str, many: bool, explain: bool, costs: Option<&Policy>) -> u8 {
    let parsed =
        read(path).and_then(|s| scenario::parse_with_late(&s).map_err(|e| format!("{path}: {e}")));
    let (participants, late, policy) = match parsed {
        Ok(p) => p,
        Err(e) => {
            eprintln!("accord solve: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    // A --costs table replaces the scenario's own.
    let policy = costs.unwrap_or(&policy);
    let result = if explain {
        let (result, explanation) = solve_explained(&participants, policy);
        if many {
            eprintln!("== {path}");
        }
        eprint!("{explanation}");
        result
    } else {
        solve_with(&participants, policy)
    };
    let mut json = scenario::outcome_to_json(&result);
    // Late participants are checked against the decision, as the
    // compositor does when they commit after allocation; their failures
    // are theirs alone and do not change the exit code.
    if let (Ok(d), false) = (&result, late.is_empty()) {
        json["late"] = scenario::late_to_json(d, &late);
    }
    if many {
        json["file"] = path.into();
    }
    println!("{json}");
    u8::from(result.is_err())
}
