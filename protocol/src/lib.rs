//! Generated bindings for the Accord protocol (filled in by the slice).
