//! Accord's negotiation engine.
//!
//! Pure: no Wayland, no Smithay, no I/O. It takes every participant's
//! [`Constraints`] and returns one allocatable [`Decision`] or a [`Failure`]
//! that names the participants in conflict. The aggregation rules are the table
//! in DESIGN.md ("Constraint vocabulary and aggregation").

mod types;

pub use types::*;
