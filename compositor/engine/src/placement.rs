//! Placement capabilities in the negotiation: what the backend that will
//! make the memory can lay out is a constraint like any participant's.
//!
//! Without it, the engine may rank first a pair that every participant
//! accepts but the backend cannot make (a vendor modifier on a backend of
//! linear buffers) and the collection fails at allocation with
//! `unsupported`, although a pair the backend can make (LINEAR) was on
//! every list. So before solving, the caller adds one more participant,
//! named `placement 'NAME'`, that lists the pairs of the first participant
//! the backend can make (the common pairs are a subset of the first
//! participant's, so nothing else matters) and asks for nothing else: no
//! usage, no size or count. The ranking is unchanged (the first
//! participant's order still decides), a pair the backend cannot make is
//! gone before ranking, and when none is left the failure is
//! `no_common_format` naming the placement. When the backend can make every
//! listed pair no participant is added, so the outcome is exactly the one
//! without this step.
//!
//! The compositor adds it for its allocator; `accord solve --placement`
//! for a named backend kind, so that the dry run still gives the
//! compositor's answer.

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
    let Some(first) = parts.first() else {
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

/// Solve `parts` under `policy`, with placement `(name, capability)`
/// taking part when given (what `accord solve --placement` runs).
pub fn solve_placed(
    parts: &[Constraints],
    policy: &Policy,
    placement: Option<(&str, Capability)>,
) -> Result<Decision, Failure> {
    let extra = match placement {
        Some((name, cap)) => placement_participant(name, parts, cap)?,
        None => None,
    };
    match extra {
        None => crate::solve_with(parts, policy),
        Some(p) => {
            let mut all = parts.to_vec();
            all.push(p);
            crate::solve_with(&all, policy)
        }
    }
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
