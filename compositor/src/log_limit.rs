//! Rate-limited warnings, so that a hostile or broken client cannot make
//! the compositor write more than a few lines a second about one cause.
//!
//! Each cause has a one-second window: the first [`LogLimiter::BURST`]
//! warnings in it are written, the rest only counted; the first warning of
//! the next window says how many were left out ("N more like this in the
//! last second"). Causes are static strings, so the table stays as small
//! as the code's list of warnings.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// What to do with one warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Write it; `suppressed` warnings of this cause were left out in the
    /// window before (say so in the line).
    Write {
        /// Warnings of this cause counted but not written since the last
        /// written one.
        suppressed: u64,
    },
    /// Leave it out (it is counted).
    Suppress,
}

#[derive(Debug)]
struct Window {
    start: Instant,
    written: u32,
    suppressed: u64,
}

/// Per-cause warning budget.
///
/// ```
/// use std::time::{Duration, Instant};
/// use accord_smithay::log_limit::{LogLimiter, Verdict};
/// let mut limit = LogLimiter::default();
/// let t = Instant::now();
/// let written = (0..100)
///     .filter(|_| matches!(limit.check("accept failed", t), Verdict::Write { .. }))
///     .count();
/// assert_eq!(written, LogLimiter::BURST as usize);
/// let next = limit.check("accept failed", t + Duration::from_secs(1));
/// assert_eq!(next, Verdict::Write { suppressed: 100 - u64::from(LogLimiter::BURST) });
/// ```
#[derive(Debug, Default)]
pub struct LogLimiter {
    windows: HashMap<&'static str, Window>,
}

impl LogLimiter {
    /// Warnings written per cause per second.
    pub const BURST: u32 = 5;
    /// The window.
    pub const WINDOW: Duration = Duration::from_secs(1);

    /// Whether to write a warning about `cause` at `now`.
    pub fn check(&mut self, cause: &'static str, now: Instant) -> Verdict {
        let w = self.windows.entry(cause).or_insert(Window {
            start: now,
            written: 0,
            suppressed: 0,
        });
        let mut carried = 0;
        if now.saturating_duration_since(w.start) >= Self::WINDOW {
            carried = std::mem::take(&mut w.suppressed);
            w.start = now;
            w.written = 0;
        }
        if w.written < Self::BURST {
            w.written += 1;
            Verdict::Write {
                suppressed: carried,
            }
        } else {
            w.suppressed = w.suppressed.saturating_add(1).saturating_add(carried);
            Verdict::Suppress
        }
    }
}

/// Write a `tracing` warning about `cause` unless its budget is spent:
/// `warn_limited!(limiter, "cause", field = value, ...)`; the cause is the
/// message.
#[macro_export]
macro_rules! warn_limited {
    ($limiter:expr, $cause:literal $(, $($field:tt)*)?) => {
        match $limiter.check($cause, ::std::time::Instant::now()) {
            $crate::log_limit::Verdict::Write { suppressed: 0 } => {
                $crate::reexports::tracing::warn!($($($field)*,)? $cause)
            }
            $crate::log_limit::Verdict::Write { suppressed } => {
                $crate::reexports::tracing::warn!(
                    $($($field)*,)? "{} ({suppressed} more like this in the last second)",
                    $cause
                )
            }
            $crate::log_limit::Verdict::Suppress => {}
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_writes_a_burst_per_second_and_says_how_many_it_left_out() {
        let mut l = LogLimiter::default();
        let t0 = Instant::now();
        let mut written = 0;
        // 10,000 warnings a second for 10 seconds.
        for i in 0..100_000u64 {
            let now = t0 + Duration::from_micros(i * 100);
            if let Verdict::Write { .. } = l.check("flood", now) {
                written += 1;
            }
        }
        assert!(
            written <= 10 * LogLimiter::BURST + LogLimiter::BURST,
            "{written}"
        );
        assert!(written >= 10 * LogLimiter::BURST, "{written}");
    }

    #[test]
    fn causes_have_their_own_budget() {
        let mut l = LogLimiter::default();
        let t = Instant::now();
        for _ in 0..LogLimiter::BURST {
            assert!(matches!(l.check("a", t), Verdict::Write { .. }));
        }
        assert_eq!(l.check("a", t), Verdict::Suppress);
        assert_eq!(l.check("b", t), Verdict::Write { suppressed: 0 });
    }
}
