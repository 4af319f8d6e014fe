//! Accord client library (filled in by the slice).
