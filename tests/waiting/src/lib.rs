//! Waiting for something another thread or process makes true: the one
//! poll-until-deadline loop of Accord's tests. The test kit re-exports it
//! (`accord_tests::waiting`); the fd census (`accord-fd-census`) waits for a
//! baseline with it; the real-kernel tier and the reference compositor's
//! tests use it through the kit.
//!
//! A predicate says whether the condition holds: `bool`, `Option<T>` (the
//! value once there) or `Result<T, String>` (the value once there, else
//! what the state still is, for the message if it never settles).

use std::fmt::Display;
use std::time::{Duration, Instant};

/// How often a predicate is polled.
pub const POLL: Duration = Duration::from_millis(5);

/// What a predicate returns: settled (with a value), or not yet (with what
/// the state still is).
pub trait Check {
    /// What a settled check gives back.
    type Value;
    /// `Ok` once the condition holds; otherwise what the state still is.
    fn settled(self) -> Result<Self::Value, String>;
}

impl Check for bool {
    type Value = ();
    fn settled(self) -> Result<(), String> {
        if self {
            Ok(())
        } else {
            Err("still false".into())
        }
    }
}

impl<T> Check for Option<T> {
    type Value = T;
    fn settled(self) -> Result<T, String> {
        self.ok_or_else(|| "still nothing".into())
    }
}

impl<T> Check for Result<T, String> {
    type Value = T;
    fn settled(self) -> Result<T, String> {
        self
    }
}

/// Polls `predicate` (every [`POLL`]) until it settles or `timeout` has
/// passed; it is always polled once more after the deadline, so a timeout
/// of zero polls once. `Err` says what the predicate said last.
pub fn within<C: Check>(
    timeout: Duration,
    predicate: impl FnMut() -> C,
) -> Result<C::Value, String> {
    within_every(timeout, POLL, predicate)
}

/// [`within`], polling every `period` instead of [`POLL`] (the benchmarks
/// wait for a process to go idle at a finer grain).
pub fn within_every<C: Check>(
    timeout: Duration,
    period: Duration,
    mut predicate: impl FnMut() -> C,
) -> Result<C::Value, String> {
    let deadline = Instant::now() + timeout;
    loop {
        let past = Instant::now() >= deadline;
        match predicate().settled() {
            Ok(value) => return Ok(value),
            Err(last) if past => return Err(format!("not within {timeout:?}: {last}")),
            Err(_) => std::thread::sleep(period),
        }
    }
}

/// [`within`] that panics, naming `what` was awaited and the last state,
/// if the predicate does not settle in time (at the caller's location).
#[track_caller]
pub fn eventually<C: Check>(
    timeout: Duration,
    what: impl Display,
    predicate: impl FnMut() -> C,
) -> C::Value {
    match within(timeout, predicate) {
        Ok(value) => value,
        Err(e) => panic!("{what}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settles_with_the_value() {
        let mut n = 0;
        let v = eventually(Duration::from_secs(5), "three polls", || {
            n += 1;
            (n == 3).then_some(n * 10)
        });
        assert_eq!((v, n), (30, 3));
    }

    #[test]
    fn times_out_with_the_last_state() {
        let mut n = 0;
        let err = within(Duration::from_millis(20), || {
            n += 1;
            Err::<(), _>(format!("poll {n}"))
        })
        .unwrap_err();
        assert!(n >= 2, "polled {n} times");
        assert_eq!(err, format!("not within 20ms: poll {n}"));
    }

    #[test]
    fn zero_timeout_polls_once() {
        let mut n = 0;
        assert!(within(Duration::ZERO, || {
            n += 1;
            false
        })
        .is_err());
        assert_eq!(n, 1);
    }

    #[test]
    #[should_panic(expected = "the flag: not within 10ms: still false")]
    fn eventually_panics_naming_what() {
        eventually(Duration::from_millis(10), "the flag", || false);
    }
}
