//! Per-format limits (sysmem's list of `ImageFormatConstraints`, one per
//! pixel format): the combined limits, and so the size and layout, of a
//! candidate depend on its format when a participant gave limits for it.
//!
//! How: for a format F, every participant's entry for F becomes an extra
//! participant of the aggregation with only those limits and its owner's
//! name, so the scalar rules of `aggregate.rs` (minimums max, maximums
//! min, alignments LCM, checked) combine them with everyone's general
//! limits and a failure names the owner. Aggregation is per distinct
//! format among the candidates, and only when some participant has
//! entries; without any, the collection's one aggregate is used as
//! before.
//!
//! sysmem keeps the whole `ImageFormatConstraints` per format (there are
//! no general image limits) and picks a format first, then combines that
//! format's entries. Accord keeps general limits for the common case and
//! lets an entry tighten them for one format; a candidate whose format's
//! limits contradict is a misfit, and the next candidate is tried, as for
//! a layout that breaks a byte limit.

use std::collections::HashMap;

use crate::aggregate::{self, Aggregate};
use crate::{BufferCounts, Constraints, Failure, FormatLimits, Usage};

/// Does any participant give per-format limits?
pub(crate) fn any(c: &[Constraints]) -> bool {
    c.iter().any(|p| !p.format_limits.is_empty())
}

/// A participant that carries only `l`'s limits, named after `owner`.
pub(crate) fn limits_only(owner: &Constraints, l: &FormatLimits) -> Constraints {
    Constraints {
        name: owner.name.clone(),
        usage: Usage::empty(),
        formats: Vec::new(),
        min_size: l.min_size,
        max_size: l.max_size,
        required_min_size: (0, 0),
        required_max_size: (0, 0),
        max_area: 0,
        size_alignment: l.size_alignment,
        stride_alignment: l.stride_alignment,
        offset_alignment: 1,
        base_alignment: 1,
        min_stride: l.min_stride,
        max_stride: l.max_stride,
        max_bytes: 0,
        min_size_bytes: 0,
        buffers: BufferCounts::default(),
        contiguous: false,
        devices: Vec::new(),
        scanout_devices: Vec::new(),
        permitted_heaps: Vec::new(),
        dispensable: owner.dispensable,
        format_limits: Vec::new(),
        color_spaces: Vec::new(),
        coherency_domains: crate::CoherencyDomains::ALL,
    }
}

/// The participants as the aggregation sees them for `format`: `c`, plus
/// one limits-only participant per entry for `format`. `None` when no
/// participant has an entry for it.
pub(crate) fn view(c: &[Constraints], format: u32) -> Option<Vec<Constraints>> {
    let extra: Vec<Constraints> = c
        .iter()
        .flat_map(|p| {
            p.format_limits
                .iter()
                .filter(move |l| l.format == format)
                .map(move |l| limits_only(p, l))
        })
        .collect();
    if extra.is_empty() {
        return None;
    }
    let mut v: Vec<Constraints> = c
        .iter()
        .map(|p| Constraints {
            formats: Vec::new(),
            format_limits: Vec::new(),
            color_spaces: Vec::new(),
            name: p.name.clone(),
            devices: p.devices.clone(),
            scanout_devices: p.scanout_devices.clone(),
            permitted_heaps: p.permitted_heaps.clone(),
            ..*p
        })
        .collect();
    v.extend(extra);
    Some(v)
}

/// The aggregate of each format's view, computed once per format.
pub(crate) struct PerFormat<'a> {
    c: &'a [Constraints],
    general: &'a Aggregate,
    enabled: bool,
    cache: HashMap<u32, Result<(Vec<Constraints>, Aggregate), Failure>>,
}

impl<'a> PerFormat<'a> {
    pub(crate) fn new(c: &'a [Constraints], general: &'a Aggregate) -> PerFormat<'a> {
        PerFormat {
            c,
            general,
            enabled: any(c),
            cache: HashMap::new(),
        }
    }

    /// The participants and aggregate that apply to `format`: the
    /// collection's own unless someone has an entry for it; `Err` when
    /// that format's limits contradict (its candidates are misfits).
    pub(crate) fn get(&mut self, format: u32) -> Result<(&[Constraints], &Aggregate), &Failure> {
        if !self.enabled {
            return Ok((self.c, self.general));
        }
        let (c, general) = (self.c, self.general);
        let entry = self
            .cache
            .entry(format)
            .or_insert_with(|| match view(c, format) {
                None => Ok((Vec::new(), general.clone())),
                Some(v) => aggregate::validate(&v)
                    .and_then(|()| aggregate::aggregate(&v))
                    .map(|a| (v, a)),
            });
        match &*entry {
            Ok((v, a)) => Ok((if v.is_empty() { c } else { v.as_slice() }, a)),
            Err(f) => Err(f),
        }
    }
}
