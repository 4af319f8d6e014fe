//! Warnings about collections that wait too long for their participants,
//! naming the slots that are neither committed nor released, the way
//! sysmem reports blocking participants.
//!
//! The collections wait in a queue in creation order (a collection's
//! deadline is its creation time plus the threshold, so creation order is
//! deadline order whatever the threshold): a check pops only the
//! collections whose deadline has passed, and never walks the others.
//! Each collection is queued once and popped once.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::collection::{Collection, Phase};
use crate::log_limit::LogLimiter;

/// How long a collection may wait for its participants before one warning
/// names the slots it waits for (sysmem's 5 s).
pub const DEFAULT_STALL_WARNING: Duration = Duration::from_secs(5);

/// A collection that has waited longer than the stall threshold, and the
/// slots it waits for (neither committed nor released).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stalled {
    /// The collection's id.
    pub collection: u64,
    /// How long it has waited.
    pub waited: Duration,
    /// `'name' (slot i, what it has not done)` for every blocking slot.
    pub blocking: Vec<String>,
}

/// Warn once about `coll` if it has waited longer than `threshold`.
pub(crate) fn check<O>(
    id: u64,
    coll: &mut Collection<O>,
    now: Instant,
    threshold: Duration,
    limit: &mut LogLimiter,
) -> Option<Stalled> {
    let Phase::Negotiating {
        failure: None,
        created,
        warned,
    } = &mut coll.phase
    else {
        return None;
    };
    let waited = now.saturating_duration_since(*created);
    if *warned || waited < threshold {
        return None;
    }
    *warned = true;
    let blocking: Vec<String> = coll
        .slots
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some(format!("'{}' (slot {i}, {})", s.name(i), s.blocking()?)))
        .collect();
    let _entered = coll.span.enter();
    let blocking_list = blocking.join(", ");
    crate::warn_limited!(
        limit,
        "a collection waits for participants that are neither committed nor released",
        collection = id,
        waited_s = waited.as_secs_f64(),
        blocking = %blocking_list
    );
    Some(Stalled {
        collection: id,
        waited,
        blocking,
    })
}

/// Collections by creation time, oldest first.
#[derive(Debug, Default)]
pub(crate) struct StallQueue {
    queue: VecDeque<(Instant, u64)>,
    /// Entries looked at by the last [`StallQueue::due`] (for tests: a
    /// check costs what is due, not what is queued).
    pub(crate) last_visits: usize,
}

impl StallQueue {
    pub(crate) fn push(&mut self, created: Instant, id: u64) {
        self.queue.push_back((created, id));
    }

    /// The collections whose deadline (`created + threshold`) has passed,
    /// taken out of the queue: at most `max`, so one event-loop turn does
    /// bounded work; the rest stay queued for the next turn.
    pub(crate) fn due(&mut self, now: Instant, threshold: Duration, max: usize) -> Vec<u64> {
        let mut out = Vec::new();
        while let Some(&(created, id)) = self.queue.front() {
            if out.len() >= max || now.saturating_duration_since(created) < threshold {
                break;
            }
            self.queue.pop_front();
            out.push(id);
        }
        self.last_visits = out.len();
        out
    }

    /// Whether a collection's deadline has passed and it is still queued.
    pub(crate) fn is_due(&self, now: Instant, threshold: Duration) -> bool {
        self.queue
            .front()
            .is_some_and(|&(created, _)| now.saturating_duration_since(created) >= threshold)
    }
}
