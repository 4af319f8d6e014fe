//! The ranking policy among candidates that survive the intersection, and
//! the per-platform cost table that can override it (sysmem's approach).
//!
//! Candidates are sorted by this key, smallest first:
//! 1. when any participant wants scanout: candidates every scanout
//!    participant marked scanout-capable first;
//! 2. the cost-table cost (only when a table is given; unlisted pairs cost
//!    [`DEFAULT_COST`]);
//! 3. vendor (tiled/compressed) modifiers, then LINEAR, then INVALID;
//! 4. the lowest sum of the candidate's positions in the participants' lists;
//! 5. fewer bits per pixel;
//! 6. format code, then modifier value.
//!
//! Every key is a property of the candidate or a symmetric function of the
//! participants (a sum, an "every"), so the order of participants never
//! changes the result.

use crate::{Usage, MOD_INVALID, MOD_LINEAR};

/// Cost of a candidate no cost-table entry matches.
pub const DEFAULT_COST: u32 = 1000;

/// One cost-table entry: candidates matching `format`/`modifier` (`None` =
/// any) cost `cost` when the collection's usage includes `usage`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CostEntry {
    pub format: Option<u32>,
    pub modifier: Option<u64>,
    pub usage: Usage,
    pub cost: u32,
}

impl CostEntry {
    fn matches(&self, format: u32, modifier: u64, usage: Usage) -> bool {
        !matches!(self.format, Some(f) if f != format)
            && !matches!(self.modifier, Some(m) if m != modifier)
            && usage.contains(self.usage)
    }

    /// More usage bits, then a fixed format, then a fixed modifier.
    fn specificity(&self) -> (u32, bool, bool) {
        (
            self.usage.0.count_ones(),
            self.format.is_some(),
            self.modifier.is_some(),
        )
    }
}

/// Ranking policy: the fixed rules above plus an optional cost table.
/// Built in code, or read from a JSON cost-table file by the
/// `accord-scenario` crate (`accord_scenario::PolicyJson`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    pub costs: Vec<CostEntry>,
}

impl Policy {
    /// The cost of a candidate: the most specific matching entry wins, ties
    /// go to the lower cost (so the table's own order does not matter).
    pub fn cost(&self, format: u32, modifier: u64, usage: Usage) -> u32 {
        self.costs
            .iter()
            .filter(|e| e.matches(format, modifier, usage))
            .max_by(|a, b| {
                a.specificity()
                    .cmp(&b.specificity())
                    .then(b.cost.cmp(&a.cost))
            })
            .map_or(DEFAULT_COST, |e| e.cost)
    }
}

/// Rule 3: vendor modifiers before LINEAR before INVALID.
pub(crate) fn modifier_class(modifier: u64) -> u8 {
    match modifier {
        MOD_LINEAR => 1,
        MOD_INVALID => 2,
        _ => 0,
    }
}

/// The sort key of one candidate, smallest first (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RankKey {
    pub not_scanout: bool,
    pub cost: u32,
    pub class: u8,
    pub position_sum: u64,
    pub bits_per_pixel_x4: u32,
    pub format: u32,
    pub modifier: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_specific_entry_wins() {
        let p = Policy {
            costs: vec![
                CostEntry {
                    format: None,
                    modifier: Some(MOD_LINEAR),
                    usage: Usage::empty(),
                    cost: 2000,
                },
                CostEntry {
                    format: Some(1),
                    modifier: Some(MOD_LINEAR),
                    usage: Usage::SCANOUT,
                    cost: 10,
                },
            ],
        };
        assert_eq!(p.cost(1, MOD_LINEAR, Usage::SCANOUT), 10);
        assert_eq!(p.cost(1, MOD_LINEAR, Usage::RENDER), 2000);
        assert_eq!(p.cost(1, 5, Usage::RENDER), DEFAULT_COST);
        assert_eq!(Policy::default().cost(1, 5, Usage::ALL), DEFAULT_COST);
    }

    #[test]
    fn modifier_classes() {
        assert!(modifier_class(0x0100000000000002) < modifier_class(MOD_LINEAR));
        assert!(modifier_class(MOD_LINEAR) < modifier_class(MOD_INVALID));
    }
}
