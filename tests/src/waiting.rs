//! Waiting: the one poll-until-deadline loop (`eventually`, and `within`
//! that returns an error instead of panicking), from the `accord-waiting`
//! crate, which the fd census shares. The waits on the test server's state
//! are [`TestServer`](crate::TestServer) methods built on it.

pub use accord_waiting::{eventually, within, within_every, Check, POLL};
