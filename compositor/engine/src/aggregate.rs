//! Combining the scalar constraints of every participant (usage OR, alignments LCM, minimums max, maximums min, counts summed as sysmem does)
//! and checking the result for contradictions. Format intersection lives in
//! `intersect.rs`.
//!
//! Every participant named in a failure is chosen order-independently: the
//! binding one is the one with the extreme value, ties broken by name.

use std::cmp::Reverse;

use crate::layout::LayoutParams;
use crate::math::{lcm, round_up};
use crate::{Constraints, Failure, FailureReason, Usage, MAX_BUFFERS};

/// The combined scalar constraints of a collection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Aggregate {
    pub usage: Usage,
    /// Size, alignments and stride/byte limits: what a layout depends on.
    pub params: LayoutParams,
    pub buffer_count: u32,
    pub contiguous: bool,
    pub devices: Vec<u64>,
    /// How many participants asked for scanout usage.
    pub scanout_participants: usize,
    /// Who set the binding values, for failure messages.
    pub width_by: usize,
    pub height_by: usize,
    pub max_stride_by: Option<usize>,
    pub max_bytes_by: Option<usize>,
    pub min_bytes_by: Option<usize>,
    pub stride_alignment_by: Option<usize>,
}

/// The name used in messages (a participant may leave it empty).
pub(crate) fn pname(c: &Constraints) -> &str {
    if c.name.is_empty() {
        "(unnamed)"
    } else {
        &c.name
    }
}

/// A failure naming `names`, sorted and deduplicated.
pub(crate) fn failure(reason: FailureReason, message: String, names: Vec<&str>) -> Failure {
    let mut participants: Vec<String> = names.into_iter().map(str::to_string).collect();
    participants.sort();
    participants.dedup();
    Failure {
        reason,
        message,
        participants,
    }
}

/// The participant with the largest `key` (ties: smallest name); `None` when
/// no participant has a key.
fn binding<K: Ord>(c: &[Constraints], key: impl Fn(&Constraints) -> Option<K>) -> Option<usize> {
    let mut best: Option<(K, usize)> = None;
    for (i, p) in c.iter().enumerate() {
        let Some(k) = key(p) else { continue };
        let better = match &best {
            None => true,
            Some((bk, bi)) => k > *bk || (k == *bk && pname(p) < pname(&c[*bi])),
        };
        if better {
            best = Some((k, i));
        }
    }
    best.map(|(_, i)| i)
}

/// A limit where 0 means "none".
fn limit<T: Copy + PartialEq + Default>(v: T) -> Option<T> {
    (v != T::default()).then_some(v)
}

/// Per-participant sanity: zero alignments and min > max within one
/// participant are `invalid_constraint`.
pub(crate) fn validate(c: &[Constraints]) -> Result<(), Failure> {
    if c.is_empty() {
        return Err(failure(
            FailureReason::InvalidConstraint,
            "no participants".into(),
            vec![],
        ));
    }
    let mut problems: Vec<(&str, String)> = Vec::new();
    for p in c {
        let name = pname(p);
        let zero = [
            ("size_alignment width", u64::from(p.size_alignment.0)),
            ("size_alignment height", u64::from(p.size_alignment.1)),
            ("stride_alignment", u64::from(p.stride_alignment)),
            ("offset_alignment", u64::from(p.offset_alignment)),
            ("base_alignment", u64::from(p.base_alignment)),
        ];
        for (field, v) in zero {
            if v == 0 {
                problems.push((name, format!("{name}: {field} is 0 (use 1 for none)")));
            }
        }
        let ranges = [
            ("width", u64::from(p.min_size.0), u64::from(p.max_size.0)),
            ("height", u64::from(p.min_size.1), u64::from(p.max_size.1)),
            (
                "required width",
                u64::from(p.required_min_size.0),
                u64::from(p.required_max_size.0),
            ),
            (
                "required height",
                u64::from(p.required_min_size.1),
                u64::from(p.required_max_size.1),
            ),
            ("stride", u64::from(p.min_stride), u64::from(p.max_stride)),
            ("bytes", p.min_size_bytes, p.max_bytes),
            (
                "buffer count",
                u64::from(p.buffers.min),
                u64::from(p.buffers.max),
            ),
        ];
        for (field, min, max) in ranges {
            if max != 0 && min > max {
                problems.push((name, format!("{name}: min {field} {min} > max {max}")));
            }
        }
        // What it needs must be within what it can do.
        for (dim, need, max) in [
            (
                "width",
                p.required_max_size.0.max(p.required_min_size.0),
                p.max_size.0,
            ),
            (
                "height",
                p.required_max_size.1.max(p.required_min_size.1),
                p.max_size.1,
            ),
        ] {
            if max != 0 && need > max {
                problems.push((
                    name,
                    format!("{name}: required {dim} {need} > its max {dim} {max}"),
                ));
            }
        }
    }
    // Each per-format entry on its own, as a participant with only its
    // limits would be.
    for p in c {
        for l in &p.format_limits {
            if let Err(f) = validate(&[crate::per_format::limits_only(p, l)]) {
                problems.push((
                    pname(p),
                    format!("{} limits of {}", crate::formats::name(l.format), f.message),
                ));
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    problems.sort();
    let message = problems
        .iter()
        .map(|(_, m)| m.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    Err(failure(
        FailureReason::InvalidConstraint,
        message,
        problems.into_iter().map(|(n, _)| n).collect(),
    ))
}

/// LCM of one alignment over every participant.
fn combined_alignment(
    c: &[Constraints],
    what: &str,
    reason: FailureReason,
    get: impl Fn(&Constraints) -> u64,
) -> Result<u64, Failure> {
    let mut acc: u64 = 1;
    for p in c {
        acc = match lcm(acc, get(p)) {
            Some(v) => v,
            None => {
                let names = c.iter().filter(|p| get(p) > 1).map(pname).collect();
                return Err(failure(
                    reason,
                    format!("the {what}s combine to more than 2^64"),
                    names,
                ));
            }
        };
    }
    Ok(acc)
}

/// One participant's need in one dimension: its minimum (capability) and
/// its required sizes, whichever is largest. sysmem keeps capability
/// (`min_size`) and need (`required_min_size`, `required_max_size`) apart
/// and sizes the buffers for `required_max_size`; Accord allocates one
/// size, so all three raise it. Departure: sysmem also fails when a
/// participant's `min_size` is above another's `required_min_size` (the
/// stream's small frames would not fit that participant); Accord's
/// `min_size` is also a need that raises the size, so the larger one just
/// wins.
pub(crate) fn need(min: u32, required_min: u32, required_max: u32) -> u32 {
    min.max(required_min).max(required_max)
}

/// One dimension: the largest need (at least 1), rounded up to the LCM
/// of the size alignments, within every maximum.
fn dimension(
    c: &[Constraints],
    what: &str,
    get: impl Fn(&Constraints) -> (u32, u32, u32),
) -> Result<(u32, usize), Failure> {
    // `validate` ran: there is at least one participant.
    let min_by = binding(c, |p| Some(get(p).0)).unwrap_or(0);
    let min = u64::from(get(&c[min_by]).0.max(1));
    let align = combined_alignment(
        c,
        &format!("{what} alignment"),
        FailureReason::SizeConflict,
        |p| u64::from(get(p).2),
    )?;
    let align_by = binding(c, |p| Some(get(p).2)).unwrap_or(0);
    let value = round_up(min, align).filter(|&v| v <= u64::from(u32::MAX));
    let Some(value) = value else {
        return Err(failure(
            FailureReason::TooLarge,
            format!("{what} {min} rounded up to a multiple of {align} exceeds 2^32"),
            vec![pname(&c[min_by]), pname(&c[align_by])],
        ));
    };
    if let Some(max_by) = binding(c, |p| limit(get(p).1).map(Reverse)) {
        let max = u64::from(get(&c[max_by]).1);
        if value > max {
            let mut names = vec![pname(&c[min_by]), pname(&c[max_by])];
            let message = if min > max {
                format!(
                    "{what} {min} required by {} exceeds the maximum {max} of {}",
                    pname(&c[min_by]),
                    pname(&c[max_by])
                )
            } else {
                names.push(pname(&c[align_by]));
                format!(
                    "{what} {min} rounded up to the alignment {align} ({value}) exceeds the maximum {max} of {}",
                    pname(&c[max_by])
                )
            };
            return Err(failure(FailureReason::SizeConflict, message, names));
        }
    }
    Ok((value as u32, min_by))
}

/// The allocated width × height within every participant's `max_area`
/// (sysmem's `max_width_times_height`, checked on the coded size: here the
/// aligned size buffers are allocated for): `size_conflict` naming the
/// smallest limit's owner and the participants that set the size.
fn max_area(
    c: &[Constraints],
    width: u32,
    height: u32,
    width_by: usize,
    height_by: usize,
) -> Result<(), Failure> {
    let Some(by) = binding(c, |p| limit(p.max_area).map(Reverse)) else {
        return Ok(());
    };
    let area = u64::from(width) * u64::from(height);
    let max = c[by].max_area;
    if area <= max {
        return Ok(());
    }
    Err(failure(
        FailureReason::SizeConflict,
        format!(
            "{width}x{height} is {area} pixels, above the maximum area {max} of {}",
            pname(&c[by])
        ),
        vec![pname(&c[by]), pname(&c[width_by]), pname(&c[height_by])],
    ))
}

/// `protected` content with CPU access, in one participant or across
/// two: `invalid_constraint`, naming every participant on each side.
/// Protected memory is what the CPU may not read or write; sysmem reaches
/// the same end through coherency domains (secure memory is only in the
/// INACCESSIBLE domain, and a participant with CPU usage
/// (`IsCpuUsage`, sysmem's `utils.cc`) supports only the CPU and RAM
/// domains, so `logical_buffer_collection.cc` finds no domain left).
/// Accord has no domains (yet), so it says it directly.
fn protected_and_cpu(c: &[Constraints]) -> Result<(), Failure> {
    let cpu = Usage::CPU_READ | Usage::CPU_WRITE;
    let protected: Vec<&str> = c
        .iter()
        .filter(|p| p.usage.contains(Usage::PROTECTED))
        .map(pname)
        .collect();
    let cpu_users: Vec<&str> = c
        .iter()
        .filter(|p| p.usage.intersects(cpu))
        .map(pname)
        .collect();
    if protected.is_empty() || cpu_users.is_empty() {
        return Ok(());
    }
    let list = |names: &[&str]| {
        let mut v = names.to_vec();
        v.sort_unstable();
        v.dedup();
        v.join(", ")
    };
    let message = format!(
        "protected content cannot be CPU-accessed: protected usage by {}, cpu_read/cpu_write by {}",
        list(&protected),
        list(&cpu_users)
    );
    let mut names = protected;
    names.extend(cpu_users);
    Err(failure(FailureReason::InvalidConstraint, message, names))
}

/// sysmem's count (`logical_buffer_collection.cc`): the camping buffers
/// and dedicated slack of every participant summed, plus the largest
/// shared slack, at least the largest minimum, at most the smallest
/// maximum and the hard cap of 128. **A total of zero is one buffer**:
/// Accord's documented default (a participant that states no count wants
/// a buffer to draw into), not a failure.
fn buffer_count(c: &[Constraints]) -> Result<u32, Failure> {
    let camping: u64 = c.iter().map(|p| u64::from(p.buffers.camping)).sum();
    let dedicated: u64 = c.iter().map(|p| u64::from(p.buffers.dedicated_slack)).sum();
    let shared = c.iter().map(|p| p.buffers.shared_slack).max().unwrap_or(0);
    let min = c.iter().map(|p| p.buffers.min).max().unwrap_or(0);
    let needed = camping + dedicated + u64::from(shared);
    let count = needed.max(u64::from(min)).max(1);
    let contributors = || -> Vec<&str> {
        c.iter()
            .filter(|p| {
                p.buffers.camping > 0
                    || p.buffers.dedicated_slack > 0
                    || (p.buffers.shared_slack == shared && shared > 0)
                    || (p.buffers.min == min && min > 0)
            })
            .map(pname)
            .collect()
    };
    let detail = format!(
        "camping {camping} + dedicated slack {dedicated} + shared slack {shared}, minimum {min}"
    );
    if count > u64::from(MAX_BUFFERS) {
        return Err(failure(
            FailureReason::CountConflict,
            format!("{count} buffers needed ({detail}), above the hard cap {MAX_BUFFERS}"),
            contributors(),
        ));
    }
    if let Some(max_by) = binding(c, |p| limit(p.buffers.max).map(Reverse)) {
        let max = c[max_by].buffers.max;
        if count > u64::from(max) {
            let mut names = contributors();
            names.push(pname(&c[max_by]));
            return Err(failure(
                FailureReason::CountConflict,
                format!(
                    "{count} buffers needed ({detail}), above the maximum {max} of {}",
                    pname(&c[max_by])
                ),
                names,
            ));
        }
    }
    Ok(count as u32)
}

/// Combine every scalar constraint. Call after [`validate`].
pub(crate) fn aggregate(c: &[Constraints]) -> Result<Aggregate, Failure> {
    protected_and_cpu(c)?;
    let (width, width_by) = dimension(c, "width", |p| {
        (
            need(p.min_size.0, p.required_min_size.0, p.required_max_size.0),
            p.max_size.0,
            p.size_alignment.0,
        )
    })?;
    let (height, height_by) = dimension(c, "height", |p| {
        (
            need(p.min_size.1, p.required_min_size.1, p.required_max_size.1),
            p.max_size.1,
            p.size_alignment.1,
        )
    })?;
    max_area(c, width, height, width_by, height_by)?;
    let buffer_count = buffer_count(c)?;
    let stride_alignment =
        combined_alignment(c, "stride alignment", FailureReason::StrideConflict, |p| {
            u64::from(p.stride_alignment)
        })?;
    let offset_alignment =
        combined_alignment(c, "offset alignment", FailureReason::TooLarge, |p| {
            u64::from(p.offset_alignment)
        })?;
    let base_alignment = combined_alignment(c, "base alignment", FailureReason::TooLarge, |p| {
        u64::from(p.base_alignment)
    })?;
    let min_stride_by = binding(c, |p| limit(p.min_stride));
    let max_stride_by = binding(c, |p| limit(p.max_stride).map(Reverse));
    let min_stride = min_stride_by.map_or(0, |i| c[i].min_stride);
    let max_stride = max_stride_by.map_or(0, |i| c[i].max_stride);
    let stride_alignment_by = binding(c, |p| limit(p.stride_alignment).filter(|&a| a > 1));
    if let Some(max_by) = max_stride_by {
        if let Some(min_by) = min_stride_by.filter(|_| min_stride > max_stride) {
            return Err(failure(
                FailureReason::StrideConflict,
                format!(
                    "minimum stride {min_stride} of {} exceeds the maximum stride {max_stride} of {}",
                    pname(&c[min_by]),
                    pname(&c[max_by])
                ),
                vec![pname(&c[min_by]), pname(&c[max_by])],
            ));
        }
        if stride_alignment > u64::from(max_stride) {
            let mut names: Vec<&str> = c
                .iter()
                .filter(|p| p.stride_alignment > 1)
                .map(pname)
                .collect();
            names.push(pname(&c[max_by]));
            return Err(failure(
                FailureReason::StrideConflict,
                format!(
                    "stride alignment {stride_alignment} exceeds the maximum stride {max_stride} of {}",
                    pname(&c[max_by])
                ),
                names,
            ));
        }
    }
    let max_bytes_by = binding(c, |p| limit(p.max_bytes).map(Reverse));
    let min_bytes_by = binding(c, |p| limit(p.min_size_bytes));
    let mut devices: Vec<u64> = c.iter().flat_map(|p| p.devices.iter().copied()).collect();
    devices.sort_unstable();
    devices.dedup();
    let mut usage = Usage::empty();
    for p in c {
        usage |= p.usage;
    }
    Ok(Aggregate {
        usage,
        params: LayoutParams {
            width,
            height,
            stride_alignment,
            offset_alignment,
            base_alignment,
            min_stride,
            max_stride,
            max_bytes: max_bytes_by.map_or(0, |i| c[i].max_bytes),
            min_bytes: min_bytes_by.map_or(0, |i| c[i].min_size_bytes),
            buffer_count,
        },
        buffer_count,
        contiguous: c.iter().any(|p| p.contiguous),
        devices,
        scanout_participants: c
            .iter()
            .filter(|p| p.usage.contains(Usage::SCANOUT))
            .count(),
        width_by,
        height_by,
        max_stride_by,
        max_bytes_by,
        min_bytes_by,
        stride_alignment_by,
    })
}
