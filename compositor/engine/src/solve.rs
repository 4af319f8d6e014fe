//! The solver: validate, aggregate, intersect, rank, lay out.

use crate::aggregate::{self, failure, pname, Aggregate};
use crate::formats;
use crate::intersect::{self, Cand};
use crate::layout::{self, FixedLayout, LayoutError, LayoutParams, SizeLimit};
use crate::policy::{modifier_class, Policy, RankKey};
use crate::{
    Candidate, Constraints, Decision, Failure, FailureReason, Layout, MOD_INVALID, MOD_LINEAR,
};

/// Solve with the default ranking policy.
pub fn solve(c: &[Constraints]) -> Result<Decision, Failure> {
    solve_with(c, &Policy::default())
}

/// Solve with `policy` (a cost table may override the fixed ranking).
pub fn solve_with(c: &[Constraints], policy: &Policy) -> Result<Decision, Failure> {
    aggregate::validate(c)?;
    let agg = aggregate::aggregate(c)?;
    let cands = intersect::intersect(c)?;
    let ranked = rank(cands, &agg, policy);
    decide(c, &agg, &ranked)
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

/// [`candidate_layout`] with a failure naming the participants.
pub(crate) fn check_layout(
    c: &[Constraints],
    agg: &Aggregate,
    format: u32,
    modifier: u64,
) -> Result<Option<FixedLayout>, Failure> {
    candidate_layout(format, modifier, &agg.params)
        .map_err(|e| layout_failure(c, agg, format, modifier, e))
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
        LayoutError::TooLarge { limit, .. } => {
            let mut names = sizers.to_vec();
            if limit == SizeLimit::MaxBytes {
                names.extend(agg.max_bytes_by.map(|i| pname(&c[i])));
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

fn decide(
    c: &[Constraints],
    agg: &Aggregate,
    ranked: &[(RankKey, Cand)],
) -> Result<Decision, Failure> {
    // Only the first misfit gets a message: no allocation per candidate.
    let mut first_misfit: Option<(&Cand, LayoutError)> = None;
    let mut chosen: Option<(Candidate, Option<FixedLayout>)> = None;
    let mut alternatives = Vec::with_capacity(ranked.len());
    for (_, cand) in ranked {
        let layout = match candidate_layout(cand.format, cand.modifier, &agg.params) {
            Ok(l) => l,
            Err(e) => {
                first_misfit.get_or_insert((cand, e));
                continue;
            }
        };
        let candidate = Candidate {
            format: cand.format,
            modifier: cand.modifier,
            scanout: is_scanout(cand, agg),
        };
        if chosen.is_none() {
            chosen = Some((candidate, layout));
        }
        alternatives.push(candidate);
    }
    let Some((first, layout)) = chosen else {
        let first_failure =
            first_misfit.map(|(cand, e)| layout_failure(c, agg, cand.format, cand.modifier, e));
        let mut f = first_failure.unwrap_or_else(|| {
            failure(
                FailureReason::NoCommonFormat,
                "no candidate".into(),
                c.iter().map(pname).collect(),
            )
        });
        if ranked.len() > 1 {
            f.message = format!(
                "{} (and the {} other common candidates do not fit either)",
                f.message,
                ranked.len() - 1
            );
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
        contiguous: agg.contiguous,
        devices: agg.devices.clone(),
        scanout: first.scanout,
        layout: layout.map(FixedLayout::to_layout),
        alternatives,
    })
}

impl Decision {
    /// The same decision re-targeted at `c`, one of its `alternatives`
    /// (which then comes first): used when a device rejects the first choice.
    pub fn for_candidate(&self, c: Candidate) -> Result<Decision, Failure> {
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
