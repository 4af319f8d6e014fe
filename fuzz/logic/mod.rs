//! What Accord's fuzz targets check, as plain functions over bytes that
//! return `Err(description)` when an invariant breaks.
//!
//! Two users, one code: the `cargo fuzz` targets in `fuzz_targets/` (this
//! file is the `accord-fuzz` library) and the seeded tests of the scenario
//! crate (`scenario/tests/fuzz_seeded.rs`, which includes this file with
//! `#[path]` so stable CI runs the same checks). Keep it dependent on
//! `accord-engine`, `accord-scenario` and `serde_json` only, and refer to siblings with
//! `super::`, so both inclusions compile.

pub mod bytes;
pub mod engine;
pub mod scenario;
pub mod seeds;
