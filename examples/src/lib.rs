//! Shared code of the reference compositor and the demo clients.

pub mod demo;
pub mod refcomp;
