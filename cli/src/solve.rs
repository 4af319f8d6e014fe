//! `accord solve`: read scenarios, solve, print outcomes.

use std::io::Read;
use std::process::ExitCode;

use accord_engine::groups::{combinations, solve_groups_placed};
use accord_engine::placement::{solve_placed, Placing};
use accord_engine::{solve_explained, Policy};
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
    /// The placements that may make the memory, as the compositor detects
    /// them: a comma-separated list of `KIND[:HEAP][@DEV]`, KIND one of
    /// gbm, dumb (device memory of DEV, a dev_t), dma-heap (HEAP, default
    /// system; a name with cma is contiguous, with secure/protected/
    /// restricted protected), udmabuf, memfd (linear layouts only but
    /// gbm) or any. Their capabilities take part as a participant named
    /// `placement 'NAMES'`, the ranking of the README's backend section
    /// picks one (printed as "placement"), and a collection no placement
    /// suits fails `unsupported` naming the participants. It replaces a
    /// scenario's own `placement`; without either no placement is
    /// considered.
    #[arg(long, value_name = "LIST", value_parser = Placing::parse)]
    placement: Option<Placing>,
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
        let code = solve_one(
            path,
            many,
            args.explain,
            override_policy.as_ref(),
            args.placement.as_ref(),
        );
        worst = worst.max(code);
    }
    ExitCode::from(worst)
}

/// Solve one scenario file; returns its exit code.
fn solve_one(
    path: &str,
    many: bool,
    explain: bool,
    costs: Option<&Policy>,
    placement: Option<&Placing>,
) -> u8 {
    let parsed =
        read(path).and_then(|s| scenario::parse_scenario(&s).map_err(|e| format!("{path}: {e}")));
    let sc = match parsed {
        Ok(p) => p,
        Err(e) => {
            eprintln!("accord solve: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    // A --costs table replaces the scenario's own, a --placement list its
    // placements.
    let policy = costs.unwrap_or(&sc.policy);
    let placement = placement.or(sc.placement.as_ref());
    // With token groups, the combination the compositor would allocate
    // (the engine's order and cap); the explanation is that combination's
    // (or, when none negotiates, the first one's).
    let (result, selection) = if sc.groups.is_empty() {
        (solve_placed(&sc.participants, policy, placement), None)
    } else {
        match solve_groups_placed(
            &sc.participants,
            &sc.branches,
            &sc.groups,
            policy,
            placement,
        ) {
            Ok((selection, d)) => (Ok(d), Some(selection)),
            Err(f) => (Err(f), None),
        }
    };
    let shown = selection
        .clone()
        .or_else(|| combinations(&sc.groups).ok()?.into_iter().next());
    let active: Vec<_> = sc
        .participants
        .iter()
        .zip(&sc.branches)
        .filter(|(_, b)| shown.as_ref().is_none_or(|s| s.includes(**b)))
        .map(|(p, _)| p.clone())
        .collect();
    if explain {
        let mut explained = active.clone();
        if let Some(placing) = placement {
            if let Ok(all) = placing.with_participant(&active) {
                explained = all;
            }
        }
        let (_, explanation) = solve_explained(&explained, policy);
        if many {
            eprintln!("== {path}");
        }
        eprint!("{explanation}");
        if let (Some(placing), Ok(d)) = (placement, &result) {
            eprint!("{}", placement_explanation(placing, &active, d));
        } else if let (Some(_), Err(f)) = (placement, &result) {
            if f.message.starts_with("no placement") {
                eprintln!("placement: {}", f.message);
            }
        }
    }
    let mut json = scenario::outcome_to_json(&result);
    if let (Some(placing), Ok(d)) = (placement, &result) {
        if let Some(first) = placing
            .rank(&active, d)
            .ok()
            .and_then(|o| o.first().copied())
        {
            json["placement"] = placing.sources[first].name.clone().into();
        }
    }
    if let Some(selection) = &selection {
        json["groups"] = scenario::selection_to_json(&sc, selection);
    }
    // Late participants are checked against the decision, as the
    // compositor does when they commit after allocation; their failures
    // are theirs alone and do not change the exit code.
    if let (Ok(d), false) = (&result, sc.late.is_empty()) {
        json["late"] = scenario::late_to_json(d, &sc.late);
    }
    if many {
        json["file"] = path.into();
    }
    println!("{json}");
    u8::from(result.is_err())
}

/// `--explain`'s placement lines: the eligible placements in rank order.
fn placement_explanation(
    placing: &Placing,
    parts: &[accord_engine::Constraints],
    d: &accord_engine::Decision,
) -> String {
    match placing.rank(parts, d) {
        Ok(order) => {
            let mut out = String::from("placements, best first:\n");
            for (n, i) in order.iter().enumerate() {
                let s = &placing.sources[*i];
                out.push_str(&format!("  {}. {} ({})\n", n + 1, s.name, s.describe()));
            }
            out
        }
        Err(f) => format!("placement: {}\n", f.message),
    }
}
