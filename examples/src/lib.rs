//! Shared code of the reference compositor and the demo clients.

pub mod refcomp;
