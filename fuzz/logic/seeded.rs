//! The `cargo test` side of the fuzz targets: seeded, bounded proptest runs
//! of a target's check, and the replay of saved regression inputs. Included
//! with `#[path]` by the engine's `tests/fuzz_seeded.rs` and by
//! `fuzz/tests/wire_seeded.rs` (both have proptest as a dev-dependency).

use std::path::{Path, PathBuf};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

/// A runner with a fixed seed, so CI runs the same cases every time, and no
/// failure-persistence files.
pub fn runner(cases: u32, seed: u8) -> TestRunner {
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

pub fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

/// Run `check` on `cases` inputs drawn from `inputs`. A failure panics
/// with the shrunk input in hex, ready to be saved under
/// `fuzz/regressions/<target>/` (as bytes: `xxd -r -p`).
pub fn run(
    name: &str,
    cases: u32,
    seed: u8,
    inputs: impl Strategy<Value = Vec<u8>>,
    check: impl Fn(&[u8]) -> Result<(), String>,
) {
    let result = runner(cases, seed).run(&inputs, |data| {
        check(&data).map_err(|e| TestCaseError::fail(format!("{e}\ninput (hex): {}", hex(&data))))
    });
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
}

/// Every saved input of `target` (files in `fuzz/regressions/<target>/`,
/// README excluded), sorted. `fuzz_dir` is the `fuzz/` directory.
pub fn regressions(fuzz_dir: &Path, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(fuzz_dir.join("regressions").join(target)) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file() && !matches!(p.extension(), Some(x) if x == "md"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let data = std::fs::read(&p).expect("readable regression input");
            (p, data)
        })
        .collect()
}
