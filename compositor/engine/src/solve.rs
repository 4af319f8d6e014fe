//! The solver: validate, aggregate, intersect, rank, lay out.

use crate::aggregate::{self, failure, pname, Aggregate};
use crate::color;
use crate::formats;
use crate::intersect::{self, Cand};
use crate::layout::{self, FixedLayout, LayoutError, LayoutParams, SizeLimit};
use crate::per_format::{self, PerFormat};
use crate::policy::{modifier_class, Policy, RankKey};
use crate::{
    Candidate, ColorSpace, Constraints, Decision, Failure, FailureReason, Layout, Usage,
    MOD_INVALID, MOD_LINEAR,
};

/// Solve with the default ranking policy.
pub fn solve(c: &[Constraints]) -> Result<Decision, Failure> {
    solve_with(c, &Policy::default())
}

/// Solve with `policy` (a cost table may override the fixed ranking).
pub fn solve_with(c: &[Constraints], policy: &Policy) -> Result<Decision, Failure> {
    aggregate::validate(c)?;
    if crate::raw::is_raw(c) {
        return crate::raw::solve(c);
    }
    let agg = aggregate::aggregate(c)?;
    let domain = crate::coherency::decide(c, agg.usage)?;
    let cands = intersect::intersect(c)?;
    let (cands, removed) = split_cpu(&agg, cands);
    if cands.is_empty() {
        return Err(cpu_failure(c, &removed));
    }
    let ranked = rank(cands, &agg, policy);
    decide(c, &agg, &ranked, domain)
}

/// Usage bits that map the buffers into a CPU's address space.
const CPU: Usage = Usage(Usage::CPU_READ.0 | Usage::CPU_WRITE.0);

/// Can the CPU address a buffer of this modifier? LINEAR, and INVALID,
/// which the engine lays out as linear (its layout is in the settings) and
/// the GBM backend allocates with `GBM_BO_USE_LINEAR` when the usage has a
/// CPU bit. A vendor modifier (tiled, compressed) is not.
pub(crate) fn cpu_addressable(modifier: u64) -> bool {
    modifier == MOD_LINEAR || modifier == MOD_INVALID
}

/// **CPU usage means a layout the CPU can address**: with `cpu_read` or
/// `cpu_write` in the combined usage, vendor-modifier candidates are
/// removed before ranking (vendor modifiers rank before LINEAR, so left
/// in they would be chosen and the memfd backend would refuse them).
/// Returns (kept, removed). sysmem's equivalent: a participant with CPU
/// usage (`IsCpuUsage`) gets `pixel_format_modifier` LINEAR unless a
/// driver says otherwise; Accord has no per-modifier CPU declaration yet,
/// so only LINEAR and INVALID stay.
pub(crate) fn split_cpu(agg: &Aggregate, cands: Vec<Cand>) -> (Vec<Cand>, Vec<Cand>) {
    if !agg.usage.intersects(CPU) {
        return (cands, Vec::new());
    }
    cands
        .into_iter()
        .partition(|cand| cpu_addressable(cand.modifier))
}

/// Every common pair was a vendor layout and someone wants the CPU: a
/// failure naming the CPU users and the participants listing no
/// CPU-addressable pair.
pub(crate) fn cpu_failure(c: &[Constraints], removed: &[Cand]) -> Failure {
    let cpu_users: Vec<&str> = c
        .iter()
        .filter(|p| p.usage.intersects(CPU))
        .map(pname)
        .collect();
    let without: Vec<&str> = c
        .iter()
        .filter(|p| !p.formats.iter().any(|f| cpu_addressable(f.modifier)))
        .map(pname)
        .collect();
    let mut users = cpu_users.clone();
    users.sort_unstable();
    users.dedup();
    let mut names = cpu_users;
    names.extend(without);
    failure(
        FailureReason::NoCommonFormat,
        format!(
            "cpu_read/cpu_write by {} need a LINEAR or INVALID layout, and the {} common pair{} \
             {} vendor layout{} the CPU cannot address",
            users.join(", "),
            removed.len(),
            if removed.len() == 1 { "" } else { "s" },
            if removed.len() == 1 { "is a" } else { "are" },
            if removed.len() == 1 { "" } else { "s" },
        ),
        names,
    )
}

/// Why one removed candidate was removed (for `--explain`).
pub(crate) fn cpu_misfit(c: &[Constraints], cand: &Cand) -> Failure {
    let users: Vec<&str> = c
        .iter()
        .filter(|p| p.usage.intersects(CPU))
        .map(pname)
        .collect();
    failure(
        FailureReason::NoCommonFormat,
        format!(
            "{} is a vendor layout the CPU cannot address (cpu_read/cpu_write by {})",
            formats::modifier_name(cand.modifier),
            users.join(", ")
        ),
        users,
    )
}

/// The intersection survivors with their rank keys, best first.
pub(crate) fn rank(cands: Vec<Cand>, agg: &Aggregate, policy: &Policy) -> Vec<(RankKey, Cand)> {
    let mut ranked: Vec<(RankKey, Cand)> = cands
        .into_iter()
        .map(|cand| (rank_key(&cand, agg, policy), cand))
        .collect();
    ranked.sort_unstable_by_key(|(k, _)| *k);
    ranked
}

pub(crate) fn is_scanout(cand: &Cand, agg: &Aggregate) -> bool {
    agg.scanout_participants > 0 && cand.scanout_marks as usize == agg.scanout_participants
}

fn rank_key(cand: &Cand, agg: &Aggregate, policy: &Policy) -> RankKey {
    RankKey {
        not_scanout: agg.scanout_participants > 0 && !is_scanout(cand, agg),
        cost: if policy.costs.is_empty() {
            0
        } else {
            policy.cost(cand.format, cand.modifier, agg.usage)
        },
        class: modifier_class(cand.modifier),
        position_sum: cand.position_sum,
        bits_per_pixel_x4: formats::info(cand.format).map_or(u32::MAX, |i| i.bits_per_pixel_x4()),
        format: cand.format,
        modifier: cand.modifier,
    }
}

/// The engine lays out LINEAR and INVALID buffers of formats it has a plane
/// table for; anything else is the allocating device's business.
pub(crate) fn engine_lays_out(format: u32, modifier: u64) -> bool {
    (modifier == MOD_LINEAR || modifier == MOD_INVALID) && formats::info(format).is_some()
}

/// One candidate's layout, checked against every limit. `Ok(None)`: no
/// layout from the engine (vendor modifier or unknown format); a known
/// format under a vendor modifier still has its packed size checked
/// ([`layout::check_minimum`]): no layout is smaller, so what breaks a
/// byte limit there breaks it on every device, and `accord solve` says
/// `too_large` where the compositor would after allocating.
pub(crate) fn candidate_layout(
    format: u32,
    modifier: u64,
    params: &LayoutParams,
) -> Result<Option<FixedLayout>, LayoutError> {
    if engine_lays_out(format, modifier) {
        return layout::compute_fixed(format, params).map(Some);
    }
    layout::check_minimum(format, params)?;
    Ok(None)
}

fn layout_failure(
    c: &[Constraints],
    agg: &Aggregate,
    format: u32,
    modifier: u64,
    e: LayoutError,
) -> Failure {
    let what = format!(
        "{} {} at {}x{}",
        formats::name(format),
        formats::modifier_name(modifier),
        agg.params.width,
        agg.params.height
    );
    let sizers = [pname(&c[agg.width_by]), pname(&c[agg.height_by])];
    match e {
        LayoutError::StrideTooLarge { .. } => {
            let mut names = sizers.to_vec();
            names.extend(agg.max_stride_by.map(|i| pname(&c[i])));
            names.extend(agg.stride_alignment_by.map(|i| pname(&c[i])));
            let by = agg
                .max_stride_by
                .map_or("the 32-bit stride field", |i| pname(&c[i]));
            failure(
                FailureReason::StrideConflict,
                format!("{what}: {e} (limit of {by})"),
                names,
            )
        }
        LayoutError::TooLarge { limit, bytes, .. } => {
            let mut names = sizers.to_vec();
            if limit == SizeLimit::MaxBytes {
                names.extend(agg.max_bytes_by.map(|i| pname(&c[i])));
            }
            // The size came from min_size_bytes, not the image.
            let min = crate::math::round_up_wide(
                u128::from(agg.params.min_bytes),
                agg.params.base_alignment,
            );
            if agg.params.min_bytes != 0 && bytes <= min {
                names.extend(agg.min_bytes_by.map(|i| pname(&c[i])));
            }
            failure(FailureReason::TooLarge, format!("{what}: {e}"), names)
        }
        // Aggregation rejects zero alignments and `engine_lays_out` unknown
        // formats; keep a clear message anyway.
        LayoutError::ZeroAlignment | LayoutError::UnknownFormat(_) => failure(
            FailureReason::InvalidConstraint,
            format!("{what}: {e}"),
            c.iter().map(pname).collect(),
        ),
    }
}

/// A candidate's fit under the limits of its format
/// ([`PerFormat`](crate::per_format::PerFormat)): its layout and the
/// aggregate it was computed with, or why it does not fit.
pub(crate) fn fit<'p>(
    per: &'p mut PerFormat<'_>,
    format: u32,
    modifier: u64,
) -> Result<(Option<FixedLayout>, &'p Aggregate), Failure> {
    let (view, fagg) = per.get(format).map_err(Clone::clone)?;
    match candidate_layout(format, modifier, &fagg.params) {
        Ok(l) => Ok((l, fagg)),
        Err(e) => Err(layout_failure(view, fagg, format, modifier, e)),
    }
}

fn decide(
    c: &[Constraints],
    agg: &Aggregate,
    ranked: &[(RankKey, Cand)],
    coherency_domain: crate::CoherencyDomains,
) -> Result<Decision, Failure> {
    let mut per = PerFormat::new(c, agg);
    let common = color::common(c)?;
    // Only the first misfit gets a message: no allocation per candidate
    // (without per-format limits).
    let mut first_misfit: Option<(&Cand, LayoutError)> = None;
    let mut first_failure: Option<Failure> = None;
    let mut chosen: Option<(
        Candidate,
        Option<FixedLayout>,
        Aggregate,
        Option<ColorSpace>,
    )> = None;
    let mut alternatives = Vec::with_capacity(ranked.len());
    for (_, cand) in ranked {
        let (layout, fagg) = if per_format::any(c) {
            match fit(&mut per, cand.format, cand.modifier) {
                Ok((l, a)) => (l, a),
                Err(f) => {
                    first_failure.get_or_insert(f);
                    continue;
                }
            }
        } else {
            match candidate_layout(cand.format, cand.modifier, &agg.params) {
                Ok(l) => (l, agg),
                Err(e) => {
                    first_misfit.get_or_insert((cand, e));
                    continue;
                }
            }
        };
        let cs = match color::choose(c, common.as_deref(), cand.format) {
            Ok(cs) => cs,
            Err(f) => {
                first_failure.get_or_insert(f);
                continue;
            }
        };
        let candidate = Candidate {
            format: cand.format,
            modifier: cand.modifier,
            scanout: is_scanout(cand, agg),
        };
        match &chosen {
            None => {
                chosen = Some((candidate, layout, fagg.clone(), cs));
                alternatives.push(candidate);
            }
            // A fallback must give the same buffers but for the pair:
            // with per-format limits, one whose format's limits give
            // another size or alignment is not one, nor one whose format
            // needs another colour space.
            Some((_, _, a, chosen_cs)) if a.params == fagg.params && *chosen_cs == cs => {
                alternatives.push(candidate)
            }
            Some(_) => {}
        }
    }
    let Some((first, layout, agg, color_space)) = chosen else {
        let first_failure = first_failure.or_else(|| {
            first_misfit.map(|(cand, e)| layout_failure(c, agg, cand.format, cand.modifier, e))
        });
        let mut f = first_failure.unwrap_or_else(|| {
            failure(
                FailureReason::NoCommonFormat,
                "no candidate".into(),
                c.iter().map(pname).collect(),
            )
        });
        if ranked.len() > 1 {
            f.message = if ranked.len() == 2 {
                format!(
                    "{} (and the other common candidate does not fit either)",
                    f.message
                )
            } else {
                format!(
                    "{} (and the {} other common candidates do not fit either)",
                    f.message,
                    ranked.len() - 1
                )
            };
        }
        return Err(f);
    };
    Ok(Decision {
        format: first.format,
        modifier: first.modifier,
        width: agg.params.width,
        height: agg.params.height,
        buffer_count: agg.buffer_count,
        usage: agg.usage,
        stride_alignment: agg.params.stride_alignment,
        offset_alignment: agg.params.offset_alignment,
        base_alignment: agg.params.base_alignment,
        min_stride: agg.params.min_stride,
        max_stride: agg.params.max_stride,
        max_bytes: agg.params.max_bytes,
        min_size_bytes: agg.params.min_bytes,
        raw: false,
        contiguous: agg.contiguous,
        devices: agg.devices.clone(),
        scanout: first.scanout,
        layout: layout.map(FixedLayout::to_layout),
        color_space,
        coherency_domain,
        alternatives,
    })
}

impl Decision {
    /// The same decision re-targeted at `c`, one of its `alternatives`
    /// (which then comes first): used when a device rejects the first choice.
    pub fn for_candidate(&self, c: Candidate) -> Result<Decision, Failure> {
        if self.raw && (c.format, c.modifier) == (self.format, self.modifier) {
            return Ok(self.clone());
        }
        let Some(pos) = self
            .alternatives
            .iter()
            .position(|a| a.format == c.format && a.modifier == c.modifier)
        else {
            return Err(Failure {
                reason: FailureReason::NoCommonFormat,
                message: format!(
                    "{} {} is not among this decision's alternatives",
                    formats::name(c.format),
                    formats::modifier_name(c.modifier)
                ),
                participants: Vec::new(),
            });
        };
        let chosen = self.alternatives[pos];
        let layout = if engine_lays_out(chosen.format, chosen.modifier) {
            let l: Layout =
                layout::compute(chosen.format, &LayoutParams::of(self)).map_err(|e| Failure {
                    reason: match e {
                        LayoutError::StrideTooLarge { .. } => FailureReason::StrideConflict,
                        LayoutError::TooLarge { .. } => FailureReason::TooLarge,
                        _ => FailureReason::InvalidConstraint,
                    },
                    message: e.to_string(),
                    participants: Vec::new(),
                })?;
            Some(l)
        } else {
            None
        };
        let mut alternatives = Vec::with_capacity(self.alternatives.len());
        alternatives.push(chosen);
        alternatives.extend(
            self.alternatives
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != pos)
                .map(|(_, a)| *a),
        );
        Ok(Decision {
            format: chosen.format,
            modifier: chosen.modifier,
            scanout: chosen.scanout,
            layout,
            alternatives,
            devices: self.devices.clone(),
            ..*self
        })
    }
}
