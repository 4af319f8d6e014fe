//! The engine and scenario targets' saved inputs (findings and seeds,
//! `fuzz/regressions/{engine,scenario_raw,scenario_mutate}/`) replayed
//! under this crate's `cargo test` too; `accord-scenario`'s `fuzz_seeded` test
//! replays them as well and checks each seed's outcome.

#[path = "../logic/seeded.rs"]
#[allow(dead_code)]
mod seeded;

use std::path::Path;

use accord_fuzz::{engine, scenario};

/// A target's check.
type Check = fn(&[u8]) -> Result<(), String>;

#[test]
fn logic_regressions_stay_fixed() {
    let fuzz_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let targets: [(&str, Check); 3] = [
        ("engine", engine::check),
        ("scenario_raw", scenario::check_text),
        ("scenario_mutate", scenario::check_mutated),
    ];
    for (target, check) in targets {
        let inputs = seeded::regressions(fuzz_dir, target);
        for (file, data) in &inputs {
            check(data).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        }
        seeded::report(target, &inputs);
        assert!(
            !inputs.is_empty(),
            "fuzz/regressions/{target}/ holds no input"
        );
    }
}
