//! Warnings about collections that wait too long for their participants,
//! naming the slots that are neither committed nor released, the way
//! sysmem reports blocking participants.

use std::time::{Duration, Instant};

use super::collection::{Collection, Phase};

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
    tracing::warn!(
        "collection {id} has waited {:.1} s for participants that are neither committed nor \
         released: {}",
        waited.as_secs_f64(),
        blocking.join(", ")
    );
    Some(Stalled {
        collection: id,
        waited,
        blocking,
    })
}
