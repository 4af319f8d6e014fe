//! Intersection of the participants' (format, modifier) lists.
//!
//! Participants are visited in a canonical order (shortest list first, then
//! name, then the list itself) so that neither the result nor the names in a
//! failure depend on the order they were given in. The shortest list seeds an
//! open-addressing hash table (one allocation per solve, none per candidate);
//! every other list is streamed through it once: O(total pairs).
//!
//! After each list the table is rebuilt for the survivors whenever any
//! candidate was eliminated (O(candidates), no more than the list just
//! read): a pair left in the table after it was eliminated passes the bit
//! filter and costs a probe at every later step. With lists that overlap
//! much (issue 12's sweep: 8 lists of 4096 pairs from a universe of 4544,
//! each covering 60 % of it) most lookups are hits, and a hit costs about
//! ten filtered misses; the hit path has no data-dependent branches for
//! that reason. The work is linear in the pairs listed; how much of it is
//! hits depends on the overlap (BENCHMARKS.md, "Pair sweep"): 8 × 4096
//! pairs take ×4.8–5.0 the time of 8 × 1024, ×3.7–3.9 at equal overlap.

use std::sync::OnceLock;

use crate::aggregate::{failure, pname};
use crate::{Constraints, Failure, FailureReason, FormatModifier, Usage};

/// A (format, modifier) pair that is still in the running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cand {
    pub format: u32,
    pub modifier: u64,
    /// Sum of the pair's first position in each participant's list.
    pub position_sum: u64,
    /// Scanout participants that marked the pair scanout-capable.
    pub scanout_marks: u32,
    /// Step of the last participant that listed the pair.
    seen: u32,
    /// Step of the last scanout participant that marked it.
    marked_at: u32,
}

const EMPTY: u32 = u32::MAX;

/// Per-process random seed: results never depend on it (candidates are
/// sorted afterwards), but crafted modifiers cannot force collisions.
fn seed() -> (u64, u64) {
    static SEED: OnceLock<(u64, u64)> = OnceLock::new();
    *SEED.get_or_init(|| {
        use std::hash::{BuildHasher, RandomState};
        let s = RandomState::new();
        (s.hash_one(1u8) | 1, s.hash_one(2u8) | 1)
    })
}

#[inline]
fn fold_mul(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

#[inline]
fn hash(format: u32, modifier: u64, seed: (u64, u64)) -> u64 {
    // One folded multiply of the seeded modifier by the seeded format: each
    // lookup waits on the hash, and a second multiply cost 12-18 % of a
    // solve (BENCHMARKS.md, "Pair sweep, fifth look"). Without the seeds,
    // crafted pairs still cannot aim at one slot.
    fold_mul(modifier ^ seed.0, u64::from(format) ^ seed.1)
}

/// Open addressing with linear probing over indices into the candidate
/// vector, plus a bit filter (about 32 bits per live candidate) that answers
/// most misses with one well-predicted branch: once the intersection is
/// small, nearly every pair of a long list is a miss.
struct Table {
    slots: Vec<u32>,
    mask: usize,
    filter: Vec<u64>,
    filter_mask: usize,
    seed: (u64, u64),
}

fn table_size(n: usize) -> usize {
    n.saturating_mul(2).max(8).next_power_of_two()
}

fn filter_bits(n: usize) -> usize {
    n.saturating_mul(32).max(1024).next_power_of_two()
}

impl Table {
    fn with_capacity(n: usize) -> Table {
        let size = table_size(n);
        let bits = filter_bits(n);
        Table {
            slots: vec![EMPTY; size],
            mask: size - 1,
            filter: vec![0; bits / 64],
            filter_mask: bits - 1,
            seed: seed(),
        }
    }

    #[inline]
    fn hash(&self, format: u32, modifier: u64) -> u64 {
        hash(format, modifier, self.seed)
    }

    /// Slot index and filter bit come from different halves of the hash.
    #[inline]
    fn filter_bit(&self, h: u64) -> usize {
        (h >> 32) as usize & self.filter_mask
    }

    /// The index of `(format, modifier)` in `cands`, or the empty slot where
    /// it would go.
    #[inline]
    fn find(&self, cands: &[Cand], h: u64, format: u32, modifier: u64) -> Result<usize, usize> {
        let mut i = h as usize & self.mask;
        loop {
            match self.slots[i] {
                EMPTY => return Err(i),
                ci => {
                    let c = &cands[ci as usize];
                    if c.format == format && c.modifier == modifier {
                        return Ok(ci as usize);
                    }
                }
            }
            i = (i + 1) & self.mask;
        }
    }

    fn insert(&mut self, slot: usize, ci: usize, h: u64) {
        self.slots[slot] = ci as u32;
        let bit = self.filter_bit(h);
        self.filter[bit / 64] |= 1 << (bit % 64);
    }

    /// The candidate index of `(format, modifier)`, if present.
    #[inline]
    fn lookup(&self, cands: &[Cand], format: u32, modifier: u64) -> Option<usize> {
        let h = self.hash(format, modifier);
        let bit = self.filter_bit(h);
        if self.filter[bit / 64] & (1 << (bit % 64)) == 0 {
            return None;
        }
        self.find(cands, h, format, modifier).ok()
    }

    /// Keep only the candidates seen at `step` and re-index them in a table
    /// sized for them, reusing the allocations: a small table and filter
    /// stay in L1. One pass, no branch on whether a candidate survives
    /// (that is random once many do), and no key comparison: the survivors
    /// are distinct, so each takes the first empty slot of its probe.
    fn shrink(&mut self, cands: &mut Vec<Cand>, step: u32, alive: usize) {
        let size = table_size(alive);
        self.slots.clear();
        self.slots.resize(size, EMPTY);
        self.mask = size - 1;
        // Shrinking never grows either vector, so no allocation here.
        let bits = filter_bits(alive);
        self.filter.clear();
        self.filter.resize(bits / 64, 0);
        self.filter_mask = bits - 1;
        // Compact first, without a branch on survival (random while many
        // survive), then index the survivors.
        let mut w = 0;
        for r in 0..cands.len() {
            let cand = cands[r];
            cands[w] = cand;
            w += usize::from(cand.seen == step);
        }
        cands.truncate(w);
        for (ci, cand) in cands.iter().enumerate() {
            let h = hash(cand.format, cand.modifier, self.seed);
            let mut i = h as usize & self.mask;
            while self.slots[i] != EMPTY {
                i = (i + 1) & self.mask;
            }
            self.slots[i] = ci as u32;
            let bit = self.filter_bit(h);
            self.filter[bit / 64] |= 1 << (bit % 64);
        }
    }
}

/// Participant indices in canonical order.
pub(crate) fn canonical_order(c: &[Constraints]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..c.len()).collect();
    let key = |f: &FormatModifier| (f.format, f.modifier, f.scanout);
    order.sort_by(|&a, &b| {
        let (pa, pb) = (&c[a], &c[b]);
        pa.formats
            .len()
            .cmp(&pb.formats.len())
            .then_with(|| pname(pa).cmp(pname(pb)))
            .then_with(|| pa.formats.iter().map(key).cmp(pb.formats.iter().map(key)))
    });
    order
}

/// The pairs every participant accepts, in no particular order.
pub(crate) fn intersect(c: &[Constraints]) -> Result<Vec<Cand>, Failure> {
    let order = canonical_order(c);
    let Some(&first) = order.first() else {
        return Err(failure(
            FailureReason::InvalidConstraint,
            "no participants".into(),
            vec![],
        ));
    };
    let base = &c[first];
    if base.formats.is_empty() {
        return Err(failure(
            FailureReason::NoCommonFormat,
            format!("{} accepts no (format, modifier) pair", pname(base)),
            vec![pname(base)],
        ));
    }
    let mut cands: Vec<Cand> = Vec::with_capacity(base.formats.len());
    let mut table = Table::with_capacity(base.formats.len());
    let base_scans = base.usage.contains(Usage::SCANOUT);
    for (pos, f) in base.formats.iter().enumerate() {
        let h = table.hash(f.format, f.modifier);
        match table.find(&cands, h, f.format, f.modifier) {
            Ok(ci) => {
                // A repeated pair keeps its first position; any copy may mark
                // it scanout-capable.
                let cand = &mut cands[ci];
                if base_scans && f.scanout && cand.scanout_marks == 0 {
                    cand.scanout_marks = 1;
                    cand.marked_at = 0;
                }
            }
            Err(slot) => {
                table.insert(slot, cands.len(), h);
                let marked = base_scans && f.scanout;
                cands.push(Cand {
                    format: f.format,
                    modifier: f.modifier,
                    position_sum: pos as u64,
                    scanout_marks: u32::from(marked),
                    seen: 0,
                    marked_at: if marked { 0 } else { EMPTY },
                });
            }
        }
    }
    for (step, &pi) in order.iter().enumerate().skip(1) {
        let step = step as u32;
        let p = &c[pi];
        // Only a scanout participant marks pairs: the others take a loop
        // without that work.
        let alive = if p.usage.contains(Usage::SCANOUT) {
            visit::<true>(&table, &mut cands, &p.formats, step)
        } else {
            visit::<false>(&table, &mut cands, &p.formats, step)
        };
        if alive == 0 {
            return Err(no_common_format(c, &order[..=step as usize]));
        }
        // The table holds only the live candidates: an eliminated pair
        // would pass the filter and be probed for nothing at every later
        // step. Rebuilding costs O(candidates), at most the length of the
        // shortest list, so no more than reading this list did.
        if alive < cands.len() {
            table.shrink(&mut cands, step, alive);
        }
    }
    let last = (order.len() - 1) as u32;
    cands.retain(|cand| cand.seen == last);
    Ok(cands)
}

/// Stream one participant's list (visited at `step`) through the table:
/// a found pair is marked seen at `step` (its first position added to the
/// sum) and, for a scanout participant (`SCANS`), marked scanout-capable
/// if this participant says so. Returns the candidates seen at `step`.
fn visit<const SCANS: bool>(
    table: &Table,
    cands: &mut [Cand],
    list: &[FormatModifier],
    step: u32,
) -> usize {
    let mut alive = 0usize;
    for (pos, f) in list.iter().enumerate() {
        let Some(ci) = table.lookup(cands, f.format, f.modifier) else {
            continue;
        };
        // Without branches: once many pairs survive, whether a found
        // pair is fresh, repeated or already eliminated is random, and a
        // branch on it mispredicts.
        let cand = &mut cands[ci];
        let fresh = cand.seen.wrapping_add(1) == step;
        cand.seen = if fresh { step } else { cand.seen };
        cand.position_sum += u64::from(fresh) * pos as u64;
        alive += usize::from(fresh);
        if SCANS {
            let mark = f.scanout && cand.seen == step && cand.marked_at != step;
            cand.marked_at = if mark { step } else { cand.marked_at };
            cand.scanout_marks += u32::from(mark);
        }
    }
    alive
}

/// Does `a` share any pair with `b`? (failure path only)
fn overlaps(a: &Constraints, b: &Constraints) -> bool {
    let set: std::collections::HashSet<(u32, u64)> =
        a.formats.iter().map(|f| (f.format, f.modifier)).collect();
    b.formats
        .iter()
        .any(|f| set.contains(&(f.format, f.modifier)))
}

/// The running intersection became empty at the last of `visited`. Name the
/// smallest conflict we can find cheaply: the first earlier participant that
/// shares nothing with it, else everyone visited so far.
fn no_common_format(c: &[Constraints], visited: &[usize]) -> Failure {
    let (&last, earlier) = visited.split_last().expect("at least two visited");
    let lp = &c[last];
    if lp.formats.is_empty() {
        return failure(
            FailureReason::NoCommonFormat,
            format!("{} accepts no (format, modifier) pair", pname(lp)),
            vec![pname(lp)],
        );
    }
    if let Some(&other) = earlier.iter().find(|&&o| !overlaps(&c[o], lp)) {
        return failure(
            FailureReason::NoCommonFormat,
            format!(
                "{} and {} accept no (format, modifier) pair in common",
                pname(&c[other]),
                pname(lp)
            ),
            vec![pname(&c[other]), pname(lp)],
        );
    }
    let names: Vec<&str> = visited.iter().map(|&i| pname(&c[i])).collect();
    let mut sorted = names.clone();
    sorted.sort();
    failure(
        FailureReason::NoCommonFormat,
        format!(
            "no (format, modifier) pair is accepted by all of {}",
            sorted.join(", ")
        ),
        names,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeSet, HashSet};

    /// What `intersect` must return, computed the slow way: the pairs of
    /// the first list that every list has, each with the sum of its first
    /// positions and the number of scanout participants listing a
    /// scanout-capable copy.
    fn naive(c: &[Constraints]) -> BTreeSet<(u32, u64, u64, u32)> {
        let first_pos = |p: &Constraints, key: (u32, u64)| {
            p.formats.iter().position(|f| (f.format, f.modifier) == key)
        };
        let keys: HashSet<(u32, u64)> = c[0]
            .formats
            .iter()
            .map(|f| (f.format, f.modifier))
            .collect();
        keys.into_iter()
            .filter_map(|key| {
                let sum = c
                    .iter()
                    .map(|p| first_pos(p, key).map(|i| i as u64))
                    .sum::<Option<u64>>()?;
                let marks = c
                    .iter()
                    .filter(|p| {
                        p.usage.contains(Usage::SCANOUT)
                            && p.formats
                                .iter()
                                .any(|f| (f.format, f.modifier) == key && f.scanout)
                    })
                    .count() as u32;
                Some((key.0, key.1, sum, marks))
            })
            .collect()
    }

    fn participant() -> impl Strategy<Value = Constraints> {
        // A universe of 12 pairs: lists of up to 40 overlap much, repeat
        // pairs, and eliminate a few candidates per step, so the table is
        // rebuilt at most steps.
        let pair = (0u32..3, 0u64..4, any::<bool>()).prop_map(|(f, m, scanout)| FormatModifier {
            format: 0x3432_5258 + f,
            modifier: m << 56 | m,
            scanout,
        });
        (prop::collection::vec(pair, 0..40), any::<bool>(), "[a-d]").prop_map(
            |(formats, scans, name)| Constraints {
                name,
                usage: if scans { Usage::SCANOUT } else { Usage::SAMPLE },
                formats,
                ..Default::default()
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// Positions and scanout marks, not only the set of pairs (the
        /// properties test that), through rebuilds and repeated pairs.
        #[test]
        fn intersect_matches_the_naive_intersection(
            c in prop::collection::vec(participant(), 1..7)
        ) {
            let want = naive(&c);
            match intersect(&c) {
                Ok(cands) => {
                    let got: BTreeSet<_> = cands
                        .iter()
                        .map(|k| (k.format, k.modifier, k.position_sum, k.scanout_marks))
                        .collect();
                    prop_assert_eq!(got.len(), cands.len(), "a pair twice");
                    prop_assert_eq!(got, want);
                }
                Err(f) => {
                    prop_assert!(want.is_empty(), "{:?}", f);
                    prop_assert_eq!(f.reason, FailureReason::NoCommonFormat);
                }
            }
        }
    }
}
