//! The fuzz targets' checks under `cargo test` on stable: seeded, bounded
//! proptest runs over the same byte-driven logic the `cargo fuzz` targets
//! use (`fuzz/logic/`, included below), plus a replay of every input the
//! fuzzers ever crashed on (`fuzz/regressions/<target>/`). See FUZZING.md.

#[path = "../../../fuzz/logic/mod.rs"]
#[allow(dead_code)]
mod fuzz_logic;
#[path = "../../../fuzz/logic/seeded.rs"]
mod seeded;

use std::cell::Cell;
use std::path::Path;

use fuzz_logic::{engine, scenario};
use proptest::prelude::*;

fn fuzz_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz"))
}

/// Also proves the cases are not vacuous: they reach decisions, layouts
/// and failures.
#[test]
fn engine_target_seeded() {
    let (ok, laid_out, failed) = (Cell::new(0), Cell::new(0), Cell::new(0));
    seeded::run(
        "engine",
        6_000,
        1,
        prop::collection::vec(any::<u8>(), 0..700),
        |data| {
            let case = engine::Case::from_bytes(data);
            match accord_engine::solve_with(&case.participants, &case.policy) {
                Ok(d) => {
                    ok.set(ok.get() + 1);
                    laid_out.set(laid_out.get() + usize::from(d.layout.is_some()));
                }
                Err(_) => failed.set(failed.get() + 1),
            }
            engine::check_case(&case)
        },
    );
    let (ok, laid_out, failed) = (ok.get(), laid_out.get(), failed.get());
    eprintln!("ok {ok}, laid out {laid_out}, failed {failed}");
    assert!(
        ok >= 600 && laid_out >= 100 && failed >= 600,
        "ok {ok}, laid out {laid_out}, failed {failed}"
    );
}

/// Mutated scenarios must often still parse and solve, or the structured
/// target would only test the parser's error paths.
#[test]
fn scenario_mutate_target_seeded() {
    let (parsed, solved) = (Cell::new(0), Cell::new(0));
    seeded::run(
        "scenario_mutate",
        1500,
        2,
        prop::collection::vec(any::<u8>(), 0..160),
        |data| {
            let (text, _) = scenario::mutated(data);
            if let Ok((ps, policy)) = accord_engine::scenario::parse(&text) {
                parsed.set(parsed.get() + 1);
                let ok = accord_engine::solve_with(&ps, &policy).is_ok();
                solved.set(solved.get() + usize::from(ok));
            }
            scenario::check_mutated(data)
        },
    );
    let (parsed, solved) = (parsed.get(), solved.get());
    eprintln!("parsed {parsed}, solved {solved} of 1500");
    assert!(
        parsed >= 150 && solved >= 75,
        "parsed {parsed}, solved {solved}"
    );
}

/// Raw text: an example scenario with a few bytes overwritten, truncated
/// or not (random bytes alone almost never reach past the JSON parser).
#[test]
fn scenario_raw_target_seeded() {
    let edited = (
        0..scenario::SEEDS.len(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(|(seed, edits, cut, truncate)| {
            let mut text = scenario::SEEDS[seed].1.as_bytes().to_vec();
            for (at, byte) in edits {
                let i = at.index(text.len());
                text[i] = byte;
            }
            if truncate {
                text.truncate(cut.index(text.len()));
            }
            text
        });
    let inputs = prop_oneof![1 => prop::collection::vec(any::<u8>(), 0..64), 4 => edited];
    seeded::run("scenario_raw", 1500, 3, inputs, scenario::check_text);
}

#[test]
fn every_example_scenario_is_a_fuzz_seed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/scenarios");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("examples/scenarios")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".json"))
        .collect();
    on_disk.sort();
    let seeds: Vec<&str> = scenario::SEEDS.iter().map(|(n, _)| *n).collect();
    assert_eq!(on_disk, seeds, "update SEEDS in fuzz/logic/scenario.rs");
    for (name, text) in scenario::SEEDS {
        scenario::check_text(text.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

/// A target's check.
type Check = fn(&[u8]) -> Result<(), String>;

#[test]
fn fuzz_regressions_stay_fixed() {
    let targets: [(&str, Check); 3] = [
        ("engine", engine::check),
        ("scenario_raw", scenario::check_text),
        ("scenario_mutate", scenario::check_mutated),
    ];
    for (target, check) in targets {
        for (file, data) in seeded::regressions(fuzz_dir(), target) {
            check(&data).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        }
    }
}
