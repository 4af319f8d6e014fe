//! The fuzz targets' checks under `cargo test` on stable: seeded, bounded
//! proptest runs over the same byte-driven logic the `cargo fuzz` targets
//! use (`fuzz/logic/`, included below), plus a replay of every input the
//! fuzzers ever crashed on (`fuzz/regressions/<target>/`). See FUZZING.md.

#[path = "../../fuzz/logic/mod.rs"]
#[allow(dead_code)]
mod fuzz_logic;
#[path = "../../fuzz/logic/seeded.rs"]
mod seeded;

use std::cell::Cell;
use std::path::Path;

use fuzz_logic::{engine, scenario};
use proptest::prelude::*;

fn fuzz_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz"))
}

/// Also proves the cases are not vacuous: they reach decisions, layouts
/// and failures.
#[test]
fn engine_target_seeded() {
    let (ok, laid_out, failed) = (Cell::new(0), Cell::new(0), Cell::new(0));
    let raw = Cell::new(0);
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
                    raw.set(raw.get() + usize::from(d.raw));
                }
                Err(_) => failed.set(failed.get() + 1),
            }
            engine::check_case(&case)
        },
    );
    let (ok, laid_out, failed, raw) = (ok.get(), laid_out.get(), failed.get(), raw.get());
    eprintln!("ok {ok}, laid out {laid_out}, failed {failed}, raw {raw}");
    assert!(
        ok >= 600 && laid_out >= 100 && failed >= 600 && raw >= 20,
        "ok {ok}, laid out {laid_out}, failed {failed}, raw {raw}"
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
            if let Ok((ps, policy)) = accord_scenario::parse(&text) {
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
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/scenarios");
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

/// Every input under `fuzz/regressions/{engine,scenario_raw,scenario_mutate}/`
/// (findings and seeds) still passes its target's check. Each directory
/// must exist and hold inputs; the counts are printed.
#[test]
fn fuzz_regressions_stay_fixed() {
    let targets: [(&str, Check); 3] = [
        ("engine", engine::check),
        ("scenario_raw", scenario::check_text),
        ("scenario_mutate", scenario::check_mutated),
    ];
    for (target, check) in targets {
        let inputs = seeded::regressions(fuzz_dir(), target);
        for (file, data) in &inputs {
            check(data).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        }
        seeded::report(target, &inputs);
        assert!(
            !inputs.is_empty(),
            "fuzz/regressions/{target}/ holds no input: the replay replayed nothing"
        );
    }
}

/// The seed files are what `fuzz/logic/seeds.rs` generates, `seeds.md`
/// lists them, and each still reaches the outcome it was chosen for.
/// `ACCORD_WRITE_SEEDS=1` rewrites the files first.
#[test]
fn seeds_are_what_they_claim() {
    for target in ["engine", "scenario_raw", "scenario_mutate"] {
        let dir = fuzz_dir().join("regressions").join(target);
        let seeds = fuzz_logic::seeds::seeds(target);
        let index = fuzz_logic::seeds::index(target, &seeds);
        if std::env::var_os("ACCORD_WRITE_SEEDS").is_some() {
            std::fs::create_dir_all(&dir).expect("create the seeds directory");
            for (file, _) in seeded::regressions(fuzz_dir(), target) {
                if seeded::is_seed(&file) {
                    std::fs::remove_file(&file).expect("remove an old seed");
                }
            }
            for seed in &seeds {
                std::fs::write(dir.join(format!("seed-{}", seed.name)), &seed.data)
                    .expect("write a seed");
            }
            std::fs::write(dir.join("seeds.md"), &index).expect("write seeds.md");
        }
        let on_disk: Vec<(std::path::PathBuf, Vec<u8>)> = seeded::regressions(fuzz_dir(), target)
            .into_iter()
            .filter(|(f, _)| seeded::is_seed(f))
            .collect();
        let names: Vec<String> = on_disk
            .iter()
            .map(|(f, _)| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        let mut expected: Vec<String> = seeds.iter().map(|s| format!("seed-{}", s.name)).collect();
        expected.sort();
        assert_eq!(
            names, expected,
            "{target}: seed files differ from fuzz/logic/seeds.rs (ACCORD_WRITE_SEEDS=1 rewrites them)"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("seeds.md"))
                .ok()
                .as_deref(),
            Some(index.as_str()),
            "{target}/seeds.md is stale (ACCORD_WRITE_SEEDS=1 rewrites it)"
        );
        for seed in &seeds {
            let file = dir.join(format!("seed-{}", seed.name));
            let data = std::fs::read(&file).expect("seed file");
            assert!(
                data == seed.data,
                "{}: not what seeds.rs generates",
                file.display()
            );
            let got = match target {
                "engine" => {
                    let case = engine::Case::from_bytes(&data);
                    fuzz_logic::seeds::outcome(&case.participants, &case.policy)
                }
                "scenario_raw" => {
                    let text = std::str::from_utf8(&data).expect("UTF-8");
                    let (ps, policy) = match accord_scenario::parse(text) {
                        Ok(parsed) => parsed,
                        // Constraints the wire refuses are bad input.
                        Err(e) => {
                            let got = format!("rejected {e}");
                            assert!(got.contains(&seed.expect), "{}: {got}", file.display());
                            continue;
                        }
                    };
                    // The same constraints as the engine seed of that name:
                    // the byte encoder and the printed scenario agree.
                    let bytes = std::fs::read(dir.join(format!(
                        "../engine/seed-{}",
                        seed.name.trim_end_matches(".json")
                    )))
                    .expect("engine seed of the same name");
                    let case = engine::Case::from_bytes(&bytes);
                    assert_eq!(
                        (&case.participants, &case.policy),
                        (&ps, &policy),
                        "{}: engine bytes and scenario text differ",
                        seed.name
                    );
                    fuzz_logic::seeds::outcome(&ps, &policy)
                }
                _ => fuzz_logic::seeds::mutate_class(&data),
            };
            assert!(
                got.contains(&seed.expect),
                "{}: outcome {got:?} does not contain {:?}",
                file.display(),
                seed.expect
            );
            eprintln!("{target}/seed-{}: {got}", seed.name);
        }
        eprintln!("{target}: {} seeds checked", seeds.len());
    }
}
