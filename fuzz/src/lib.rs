//! Accord's fuzz logic: what each `cargo fuzz` target checks, as plain
//! functions over bytes that return `Err(description)` when an invariant
//! breaks. See FUZZING.md.
//!
//! `logic/` (engine, scenario parser) is also included with `#[path]` by
//! `accord-scenario`'s seeded tests, so stable CI runs the same checks; `wire/`
//! needs the Smithay module and lives apart.

#[path = "../logic/mod.rs"]
mod logic;
pub use logic::{bytes, engine, scenario, seeds};

#[path = "../wire/mod.rs"]
pub mod wire;
