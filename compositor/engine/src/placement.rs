//! Placement capabilities in the negotiation: what the backend that will
//! make the memory can lay out is a constraint like any participant's.
//!
//! Without it, the engine may rank first a pair that every participant
//! accepts but the backend cannot make (a vendor modifier on a backend of
//! linear buffers) and the collection fails at allocation with
//! `unsupported`, although a pair the backend can make (LINEAR) was on
//! every list. So before solving, the caller adds one more participant,
//! named `placement 'NAME'`, that lists the pairs the backend can make of
//! one participant's list (the common pairs are a subset of any
//! participant's, so one is enough: the first in the intersection's
//! canonical order, shortest list then name, so that arrival order changes
//! nothing) and asks for nothing else: no usage, no size or count. Its list
//! keeps that participant's order (which weighs that participant's
//! preference once more in the position sum), a pair the backend cannot
//! make is gone before ranking, and when none is left the failure is
//! `no_common_format` naming the placement, unless the participants fail
//! on their own (that failure comes first, as without placements). When the backend can make every
//! listed pair no participant is added, so the outcome is exactly the one
//! without this step.
//!
//! With several placements ([`Placing`]), the capability is that of the
//! placements still eligible for the participants before solving
//! (`placements::capability_of`: `Any` when one of them is GBM), and the
//! participant is named after every placement (`placement 'a/b'`); after
//! solving, `placements::rank` picks where the memory comes from. The
//! compositor does this for its backends; `accord solve --placement` for
//! a listed set, so that the dry run still gives the compositor's answer.

use crate::placements::{PlacementPolicy, Source, SourceKind};
use crate::policy::Policy;
use crate::types::{
    Constraints, Decision, Failure, FailureReason, FormatModifier, MOD_INVALID, MOD_LINEAR,
};

/// What a backend can lay out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capability {
    /// Any pair (the device decides: GBM); nothing is added.
    Any,
    /// Linear layouts of formats the engine has a plane table for (memfd,
    /// dumb buffers, DMA-BUF heaps, udmabuf): LINEAR, and INVALID laid
    /// out linearly.
    Linear,
}

impl Capability {
    /// Whether a backend of this capability can make `pair`.
    pub fn can_make(self, pair: &FormatModifier) -> bool {
        match self {
            Capability::Any => true,
            Capability::Linear => {
                (pair.modifier == MOD_LINEAR || pair.modifier == MOD_INVALID)
                    && crate::formats::info(pair.format).is_some()
            }
        }
    }

    /// What it makes, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Capability::Any => "any layout",
            Capability::Linear => "linear layouts of known formats",
        }
    }

    /// The capability of a backend named on `accord solve`'s command line.
    ///
    /// ```
    /// use accord_engine::placement::Capability;
    /// assert_eq!(Capability::of_backend("memfd"), Some(Capability::Linear));
    /// assert_eq!(Capability::of_backend("gbm"), Some(Capability::Any));
    /// assert_eq!(Capability::of_backend("floppy"), None);
    /// ```
    pub fn of_backend(kind: &str) -> Option<Capability> {
        match kind {
            "memfd" | "dumb" | "dma-heap" | "udmabuf" => Some(Capability::Linear),
            "gbm" | "any" => Some(Capability::Any),
            _ => None,
        }
    }
}

/// The participant that stands for placement `name` of capability `cap`
/// among `parts`: `Ok(None)` when it can make every pair the first
/// participant lists (then nothing changes); a `no_common_format` failure
/// naming the placement and that participant when it can make none.
///
/// ```
/// use accord_engine::placement::{placement_participant, Capability};
/// use accord_engine::{solve, Constraints, FormatModifier, MOD_LINEAR};
/// let xr24 = accord_engine::formats::parse_name("XRGB8888").unwrap();
/// let tiled = FormatModifier { format: xr24, modifier: 0x0100000000000001, scanout: false };
/// let linear = FormatModifier { format: xr24, modifier: MOD_LINEAR, scanout: false };
/// let client = Constraints { name: "client".into(), formats: vec![tiled, linear], ..Default::default() };
/// let mut parts = vec![client];
/// parts.extend(placement_participant("memfd", &parts, Capability::Linear).unwrap());
/// assert_eq!(solve(&parts).unwrap().modifier, MOD_LINEAR);
/// ```
pub fn placement_participant(
    name: &str,
    parts: &[Constraints],
    cap: Capability,
) -> Result<Option<Constraints>, Failure> {
    // The participant whose pairs are listed is chosen as the intersection
    // orders them (shortest list, then name, then the list), not by
    // arrival, so that neither the ranking nor a failure depends on the
    // order participants came in (found by the engine fuzz target).
    let Some(first) = parts.iter().min_by(|a, b| {
        (a.formats.len(), &a.name)
            .cmp(&(b.formats.len(), &b.name))
            .then_with(|| pair_keys(a).cmp(pair_keys(b)))
    }) else {
        return Ok(None);
    };
    if first.formats.iter().all(|p| cap.can_make(p)) {
        return Ok(None);
    }
    let mut formats: Vec<FormatModifier> = Vec::new();
    for p in first.formats.iter().filter(|p| cap.can_make(p)) {
        if !formats
            .iter()
            .any(|q| (q.format, q.modifier) == (p.format, p.modifier))
        {
            formats.push(FormatModifier {
                scanout: false,
                ..*p
            });
        }
    }
    let placement = format!("placement '{name}'");
    if formats.is_empty() {
        // What is wrong with the participants themselves comes first, as
        // it would without placements.
        crate::solve(parts)?;
        return Err(Failure {
            reason: FailureReason::NoCommonFormat,
            message: format!(
                "{placement} can make none of the {} pairs '{}' lists (it makes {} only)",
                first.formats.len(),
                first.name,
                cap.describe()
            ),
            participants: vec![placement.clone(), first.name.clone()],
        });
    }
    Ok(Some(Constraints {
        name: placement,
        formats,
        ..Default::default()
    }))
}

/// A participant's pairs as (format, modifier), for ordering.
fn pair_keys(p: &Constraints) -> impl Iterator<Item = (u32, u64)> + '_ {
    p.formats.iter().map(|f| (f.format, f.modifier))
}

/// The placements a collection may land on and their order: what the
/// compositor detected, or what `accord solve --placement` names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Placing {
    /// Every source, in detection order.
    pub sources: Vec<Source>,
    /// The kind order (the per-platform override).
    pub policy: PlacementPolicy,
}

impl Placing {
    /// One source of `kind` (a set of one, like the old single allocator).
    pub fn single(source: Source) -> Placing {
        Placing {
            sources: vec![source],
            policy: PlacementPolicy::default(),
        }
    }

    /// Sources from a comma-separated list of `KIND[:HEAP][@DEV]`
    /// (`memfd`, `dma-heap:system`, `dumb@0xe200`, `any`), as `accord
    /// solve --placement` takes it.
    ///
    /// ```
    /// use accord_engine::placement::Placing;
    /// use accord_engine::placements::SourceKind;
    /// let p = Placing::parse("dumb@0xe200,dma-heap:linux,cma,memfd").unwrap_err();
    /// assert!(p.contains("'cma'"), "a heap name with a comma cannot be listed: {p}");
    /// let p = Placing::parse("dumb@0xe200,dma-heap:system,memfd").unwrap();
    /// assert_eq!(p.sources[0].device, vec![0xe200]);
    /// assert_eq!(p.sources[1].kind, SourceKind::DmaHeap);
    /// ```
    pub fn parse(list: &str) -> Result<Placing, String> {
        let mut sources = Vec::new();
        for entry in list.split(',') {
            let (spec, dev) = match entry.split_once('@') {
                Some((s, d)) => {
                    let parsed = match d.strip_prefix("0x") {
                        Some(hex) => u64::from_str_radix(hex, 16),
                        None => d.parse(),
                    };
                    let dev = parsed.map_err(|_| format!("'{entry}': bad device number '{d}'"))?;
                    (s, vec![dev])
                }
                None => (entry, Vec::new()),
            };
            let (kind, heap) = match spec.split_once(':') {
                Some((k, h)) => (k, Some(h)),
                None => (spec, None),
            };
            let kind = match kind {
                "any" => SourceKind::Other,
                k => SourceKind::from_name(k).ok_or_else(|| {
                    format!(
                        "'{entry}': expected gbm, dumb, dma-heap[:NAME], udmabuf, memfd or any, \
                         with @DEV for device memory"
                    )
                })?,
            };
            if heap.is_some() && kind != SourceKind::DmaHeap {
                return Err(format!("'{entry}': only dma-heap takes a heap name"));
            }
            let heap = heap.or((kind == SourceKind::DmaHeap).then_some("system"));
            let mut source = Source::of_kind(kind, heap, dev);
            if !source.device.is_empty() {
                source.name = entry.to_string(); // which device: `dumb@0xe201`
            }
            sources.push(source);
        }
        Ok(Placing {
            sources,
            policy: PlacementPolicy::default(),
        })
    }

    /// The eligible sources for `decision` made from `parts`, best first
    /// ([`crate::placements::rank`]).
    pub fn rank(&self, parts: &[Constraints], decision: &Decision) -> Result<Vec<usize>, Failure> {
        crate::placements::rank(parts, decision, &self.sources, &self.policy)
    }

    /// `parts` plus the participant that stands for the sources still
    /// eligible before solving (see the module docs), or the failure when
    /// none is.
    pub fn with_participant(&self, parts: &[Constraints]) -> Result<Vec<Constraints>, Failure> {
        let cap = crate::placements::capability_of(parts, &self.sources)?;
        let name = self
            .sources
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join("/");
        let mut all = parts.to_vec();
        all.extend(placement_participant(&name, parts, cap)?);
        Ok(all)
    }
}

/// Solve `parts` under `policy` on the placements of `placing` when given
/// (what `accord solve --placement` runs): their capabilities take part,
/// and the decision must have an eligible placement.
pub fn solve_placed(
    parts: &[Constraints],
    policy: &Policy,
    placing: Option<&Placing>,
) -> Result<Decision, Failure> {
    let Some(placing) = placing else {
        return crate::solve_with(parts, policy);
    };
    let all = placing.with_participant(parts)?;
    let d = crate::solve_with(&all, policy)?;
    placing.rank(parts, &d)?;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solve;

    fn pair(format: &str, modifier: u64) -> FormatModifier {
        FormatModifier {
            format: crate::formats::parse_name(format).unwrap(),
            modifier,
            scanout: false,
        }
    }

    #[test]
    fn nothing_is_added_when_every_pair_can_be_made() {
        let parts = vec![Constraints {
            name: "a".into(),
            formats: vec![pair("XRGB8888", MOD_LINEAR), pair("NV12", MOD_INVALID)],
            ..Default::default()
        }];
        assert_eq!(
            placement_participant("memfd", &parts, Capability::Linear),
            Ok(None)
        );
    }

    #[test]
    fn a_vendor_modifier_first_no_longer_wins_on_a_linear_backend() {
        let mut formats: Vec<FormatModifier> = (1..1024)
            .map(|i| pair("XRGB8888", (0x01 << 56) | i))
            .collect();
        formats.push(pair("XRGB8888", MOD_LINEAR));
        let mut parts = vec![Constraints {
            name: "client".into(),
            formats,
            ..Default::default()
        }];
        assert_ne!(solve(&parts).unwrap().modifier, MOD_LINEAR);
        let placement = placement_participant("memfd", &parts, Capability::Linear)
            .unwrap()
            .expect("restricted");
        assert_eq!(placement.formats, vec![pair("XRGB8888", MOD_LINEAR)]);
        parts.push(placement);
        assert_eq!(solve(&parts).unwrap().modifier, MOD_LINEAR);
    }

    #[test]
    fn nothing_makeable_fails_naming_the_placement() {
        let parts = vec![Constraints {
            name: "client".into(),
            formats: vec![pair("XRGB8888", 0x0100000000000002)],
            ..Default::default()
        }];
        let f = placement_participant("memfd", &parts, Capability::Linear).unwrap_err();
        assert_eq!(f.reason, FailureReason::NoCommonFormat);
        assert!(f.message.contains("'client'"), "{}", f.message);
        assert!(f.message.contains("placement 'memfd'"), "{}", f.message);
    }
}
