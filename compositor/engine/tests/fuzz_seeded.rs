//! The fuzz targets' checks under `cargo test` on stable: seeded, bounded
//! proptest runs over the same byte-driven logic the `cargo fuzz` targets
//! use (`fuzz/logic/`, included below), plus a replay of every input the
//! fuzzers ever crashed on (`fuzz/regressions/<target>/`). See FUZZING.md.

#[path = "../../../fuzz/logic/mod.rs"]
#[allow(dead_code)]
mod fuzz_logic;

use std::path::{Path, PathBuf};

use fuzz_logic::{engine, scenario};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// A runner with a fixed seed, so CI runs the same cases every time, and no
/// failure-persistence files.
fn runner(cases: u32, seed: u8) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
    )
}

/// Run `check` on `cases` generated inputs; a failure is reported with the
/// shrunk input in hex, ready to be saved under `fuzz/regressions/`.
fn run(name: &str, cases: u32, seed: u8, inputs: impl Strategy<Value = Vec<u8>>, check: Check) {
    let result = runner(cases, seed).run(&inputs, |data| {
        check(&data).map_err(|e| TestCaseError::fail(format!("{e}\ninput (hex): {}", hex(&data))))
    });
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
}

/// A target's check.
type Check = fn(&[u8]) -> Result<(), String>;

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn engine_target_seeded() {
    run(
        "engine",
        6_000,
        1,
        prop::collection::vec(any::<u8>(), 0..700),
        engine::check,
    );
}

#[test]
fn scenario_mutate_target_seeded() {
    run(
        "scenario_mutate",
        1500,
        2,
        prop::collection::vec(any::<u8>(), 0..160),
        scenario::check_mutated,
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
    run("scenario_raw", 1500, 3, inputs, scenario::check_text);
}

/// The seeded runs must reach both outcomes, or the invariants are vacuous.
#[test]
fn seeded_engine_cases_reach_decisions_and_failures() {
    let mut runner = runner(1, 1);
    let strategy = prop::collection::vec(any::<u8>(), 0..700);
    let (mut ok, mut laid_out, mut failed) = (0, 0, 0);
    for _ in 0..1000 {
        let data = strategy.new_tree(&mut runner).unwrap().current();
        let case = engine::Case::from_bytes(&data);
        match accord_engine::solve_with(&case.participants, &case.policy) {
            Ok(d) => {
                ok += 1;
                laid_out += usize::from(d.layout.is_some());
            }
            Err(_) => failed += 1,
        }
    }
    eprintln!("ok {ok}, laid out {laid_out}, failed {failed}");
    assert!(
        ok >= 20 && laid_out >= 10 && failed >= 100,
        "ok {ok}, laid out {laid_out}, failed {failed}"
    );
}

/// Likewise, mutated scenarios must often still parse (and solve).
#[test]
fn seeded_mutations_often_still_parse() {
    let mut runner = runner(1, 2);
    let strategy = prop::collection::vec(any::<u8>(), 0..160);
    let (mut parsed, mut solved) = (0, 0);
    for _ in 0..400 {
        let data = strategy.new_tree(&mut runner).unwrap().current();
        let (text, _) = scenario::mutated(&data);
        if let Ok((ps, policy)) = accord_engine::scenario::parse(&text) {
            parsed += 1;
            solved += usize::from(accord_engine::solve_with(&ps, &policy).is_ok());
        }
    }
    eprintln!("parsed {parsed}, solved {solved} of 400");
    assert!(
        parsed >= 40 && solved >= 20,
        "parsed {parsed}, solved {solved}"
    );
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

/// Files under `fuzz/regressions/<target>/`, each an input that once broke
/// an invariant or crashed.
fn regressions(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file() && !matches!(p.extension(), Some(x) if x == "md"))
        .collect();
    files.sort();
    files
}

#[test]
fn fuzz_regressions_stay_fixed() {
    let targets: [(&str, Check); 3] = [
        ("engine", engine::check),
        ("scenario_raw", scenario::check_text),
        ("scenario_mutate", scenario::check_mutated),
    ];
    for (target, check) in targets {
        for file in regressions(target) {
            let data = std::fs::read(&file).expect("readable regression input");
            check(&data).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        }
    }
}
