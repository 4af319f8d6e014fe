//! Fuzz logic for the engine: participants and a cost table built from raw
//! bytes, solved, and the outcome checked against invariants that hold for
//! every input (not just "no panic"):
//!
//! - a decision satisfies every participant: the chosen pair and every
//!   alternative are in each list, sizes, counts, alignments and limits hold;
//! - a layout is sound: strides and offsets are multiples of the combined
//!   alignments, rows fit their strides, planes do not overlap and fit the
//!   buffer, whose size is a multiple of the base alignment;
//! - the alternatives are exactly the common pairs minus the misfits, in the
//!   documented ranking order (`accord_engine::policy`);
//! - the outcome does not depend on the participants' or the cost table's
//!   order, `solve_explained` agrees, every alternative can be re-targeted,
//!   and one participant more never turns a failure into a success (but
//!   for a raw collection whose only `min_size_bytes` the last one gave);
//! - a raw decision (nobody lists a pair) is bytes: one plane, the
//!   smallest size meeting every `min_size_bytes`, base alignment and
//!   byte limit (`check_raw`).

use std::collections::HashSet;

use accord_engine::layout::{self, LayoutParams};
use accord_engine::placement::{solve_placed, Capability, Placing};
use accord_engine::placements::{PlacementPolicy, Source, SourceKind};
use accord_engine::{
    formats, solve_explained, solve_with, BufferCounts, CoherencyDomains, ColorSpace, Constraints,
    CostEntry, Decision, FormatLimits, FormatModifier, Policy, Usage, MOD_INVALID, MOD_LINEAR,
};

use super::bytes::Bytes;

/// Most participants per case: enough for every interaction, small enough
/// for a high exec/s.
pub const MAX_PARTICIPANTS: usize = 6;
/// Most pairs per participant (pairs are drawn from a small universe, so
/// lists overlap).
pub const MAX_PAIRS: usize = 12;

/// A small universe of formats (one, NV15, without a plane table) so that
/// random lists intersect; raw codes come in too.
const FORMATS: [&str; 9] = [
    "XRGB8888",
    "ARGB8888",
    "NV12",
    "YUV420",
    "YUYV",
    "RGB565",
    "P010",
    "ABGR16161616F",
    "R8",
];
const NV15: u32 = 0x3531_564e;
const MODIFIERS: [u64; 4] = [
    MOD_LINEAR,
    MOD_INVALID,
    0x0100_0000_0000_0002,
    0x0800_0000_0000_0051,
];
const NAMES: [&str; 5] = ["", "a", "b", "c", "dec"];

/// One fuzz case.
#[derive(Clone, Debug)]
pub struct Case {
    pub participants: Vec<Constraints>,
    pub policy: Policy,
    /// A permutation of the participants' indices.
    pub permutation: Vec<usize>,
    /// Placements to rank the decision on (`placement_extension`).
    pub placing: Option<Placing>,
}

fn format(b: &mut Bytes, tame: bool) -> u32 {
    match b.below(if tame { 10 } else { 12 }) {
        i @ 0..=8 => formats::parse_name(FORMATS[i]).expect("known format"),
        9 => NV15,
        _ => b.raw_u32(),
    }
}

fn modifier(b: &mut Bytes, tame: bool) -> u64 {
    match b.below(if tame { 4 } else { 6 }) {
        i @ 0..=3 => MODIFIERS[i],
        _ => b.u64_edge(1 << 56),
    }
}

fn usage(b: &mut Bytes) -> Usage {
    // Mostly defined bits; sometimes undefined ones, which must be harmless.
    match b.below(8) {
        0 => Usage(b.raw_u32()),
        _ => Usage(u32::from(b.u16()) & Usage::ALL.0),
    }
}

/// A value that is small and plausible when `tame`, anything otherwise.
fn value(b: &mut Bytes, tame: bool, typical: u32) -> u32 {
    if tame {
        u32::from(b.u16()) % typical.max(1)
    } else {
        b.u32_edge(typical)
    }
}

fn limit(b: &mut Bytes, tame: bool, typical: u32) -> u32 {
    if tame {
        match b.below(4) {
            0 => typical / 2 + value(b, true, typical),
            _ => 0,
        }
    } else {
        b.limit(typical)
    }
}

fn alignment(b: &mut Bytes, tame: bool) -> u32 {
    if tame {
        1 << (b.u8() % 13)
    } else {
        b.alignment()
    }
}

/// One participant. Three in four are "tame" (plausible values from a small
/// universe, so that collections often succeed and layouts get checked);
/// the rest take edge values anywhere.
fn participant(b: &mut Bytes) -> Constraints {
    let tame = b.below(4) != 0;
    let name = b.pick(&NAMES).to_string();
    let usage = usage(b);
    let n = b.below(MAX_PAIRS + 1);
    let formats = (0..n)
        .map(|_| FormatModifier {
            format: format(b, tame),
            modifier: modifier(b, tame),
            scanout: b.bool(),
        })
        .collect();
    Constraints {
        name,
        usage,
        formats,
        min_size: (value(b, tame, 4096), value(b, tame, 4096)),
        max_size: (limit(b, tame, 8192), limit(b, tame, 8192)),
        // Read at the end of the input (`extension`).
        required_min_size: (0, 0),
        required_max_size: (0, 0),
        max_area: 0,
        size_alignment: (alignment(b, tame), alignment(b, tame)),
        stride_alignment: alignment(b, tame),
        offset_alignment: alignment(b, tame),
        base_alignment: alignment(b, tame),
        min_stride: limit(b, tame, 20000),
        max_stride: limit(b, tame, 40000),
        max_bytes: match b.below(4) {
            0 if tame => u64::from(b.raw_u32()),
            0 => b.u64_edge(1 << 28),
            _ => 0,
        },
        // Read at the end of the input (`raw_extension`).
        min_size_bytes: 0,
        buffers: BufferCounts {
            camping: value(b, tame, 4),
            dedicated_slack: value(b, tame, 3),
            shared_slack: value(b, tame, 3),
            min: value(b, tame, 8),
            max: limit(b, tame, 40),
        },
        contiguous: b.bool(),
        devices: (0..b.below(3)).map(|_| b.u64_edge(4)).collect(),
        scanout_devices: Vec::new(),
        permitted_heaps: Vec::new(),
        dispensable: b.bool(),
        // Read at the end of the input (`extension`).
        format_limits: Vec::new(),
        color_spaces: Vec::new(),
        coherency_domains: CoherencyDomains::ALL,
    }
}

/// Issue 12's fields, read after everything else so that an input made
/// before they existed (the regressions, the seeds) decodes as it did: one
/// that has run out leaves them at their defaults.
fn extension(b: &mut Bytes, p: &mut Constraints) {
    // One participant in four: each field can fail a whole case.
    if b.is_empty() || b.below(4) != 0 {
        return;
    }
    p.required_min_size = (b.limit(4096), b.limit(4096));
    p.required_max_size = (b.limit(8192), b.limit(8192));
    p.max_area = if b.bool() { b.u64_edge(1 << 24) } else { 0 };
    // Per-format limits, mostly for a format the participant lists.
    for _ in 0..b.below(3) {
        let format = match (b.bool(), p.formats.is_empty()) {
            (true, false) => p.formats[b.below(p.formats.len())].format,
            _ => format(b, false),
        };
        p.format_limits.push(FormatLimits {
            format,
            min_size: (b.limit(4096), b.limit(4096)),
            max_size: (b.limit(8192), b.limit(8192)),
            size_alignment: (b.alignment(), b.alignment()),
            min_stride: b.limit(20000),
            max_stride: b.limit(40000),
            stride_alignment: b.alignment(),
        });
    }
    // Coherency domains, for one participant in four: any non-empty set.
    if b.below(4) == 0 {
        p.coherency_domains = CoherencyDomains(1 + b.below(7) as u32);
    }
    // Colour spaces, best first, for one participant in three (lists
    // that share nothing fail the whole case): defined values and
    // sometimes 0 or 10.
    if b.below(3) == 0 {
        for _ in 0..1 + b.below(3) {
            // Mostly BT.709, so that lists overlap.
            p.color_spaces.push(ColorSpace(match b.below(8) {
                0..=3 => 4,
                4 => 1,
                5 => 8,
                6 => 0,
                _ => b.below(11) as u32,
            }));
        }
    }
}

/// Raw buffers (`min_size_bytes`), read after `extension` for the same
/// reason: one case in six is made raw (every pair list emptied and, for
/// seven participants in eight, every image field reset, so that most
/// raw cases get past the image-field rule), and one participant in four
/// (in a raw case one in two) states a `min_size_bytes`.
fn raw_extension(b: &mut Bytes, ps: &mut [Constraints]) {
    if b.is_empty() {
        return;
    }
    let raw = b.below(6) == 0;
    for p in ps {
        if raw {
            p.formats.clear();
            if b.below(8) != 0 {
                *p = Constraints {
                    name: std::mem::take(&mut p.name),
                    usage: p.usage,
                    base_alignment: p.base_alignment,
                    max_bytes: p.max_bytes,
                    buffers: p.buffers,
                    contiguous: p.contiguous,
                    devices: std::mem::take(&mut p.devices),
                    dispensable: p.dispensable,
                    coherency_domains: p.coherency_domains,
                    ..Constraints::default()
                };
            }
        }
        if b.below(if raw { 2 } else { 4 }) == 0 {
            // Mostly a plausible size; sometimes an edge value.
            p.min_size_bytes = match b.below(4) {
                0 => b.u64_edge(1 << 22),
                _ => u64::from(b.u16()) * 64,
            };
        }
    }
}

/// The gate of `placement_extension`: an input made before it existed
/// (every stored regression and seed) goes on past `raw_extension` with
/// another byte, or none, so its case is unchanged.
const PLACEMENT_GATE: u8 = 0xac;
/// Devices the placements and participants share, so that they meet.
const DEVICES: [u64; 3] = [0xe200, 0xe280, 0xe201];
const HEAPS: [&str; 4] = ["system", "linux,cma", "secure_video", "restricted_mtk_cm"];
/// Permitted-heaps entries: kinds, single heaps, and a name that is
/// neither (a misuse the limits check must refuse).
const PERMITTED: [&str; 8] = [
    "dma-heap",
    "udmabuf",
    "gbm",
    "dumb",
    "memfd",
    "dma-heap:system",
    "dma-heap:secure_video",
    "floppy",
];

/// Placement (issue 14), read last and only after [`PLACEMENT_GATE`]: 1 to
/// 5 sources of any kind on a small set of devices, sometimes a shuffled
/// kind order, and per participant (one in three each) scanout devices, a
/// permitted-heaps list, devices from the same set, protected usage.
fn placement_extension(b: &mut Bytes, ps: &mut [Constraints]) -> Option<Placing> {
    if b.u8() != PLACEMENT_GATE {
        return None;
    }
    let sources = (0..1 + b.below(5))
        .map(|_| match b.below(5) {
            0 => Source::of_kind(SourceKind::Gbm, None, vec![b.pick(&DEVICES)]),
            1 => Source::of_kind(SourceKind::Dumb, None, vec![b.pick(&DEVICES)]),
            2 => Source::of_kind(SourceKind::DmaHeap, Some(b.pick(&HEAPS)), vec![]),
            3 => Source::of_kind(SourceKind::Udmabuf, None, vec![]),
            _ => Source::of_kind(SourceKind::Memfd, None, vec![]),
        })
        .collect();
    let mut order = SourceKind::ALL.to_vec();
    if b.below(4) == 0 {
        for i in (1..order.len()).rev() {
            order.swap(i, b.below(i + 1));
        }
        order.truncate(1 + b.below(order.len()));
    }
    for p in ps {
        if b.below(3) == 0 {
            p.scanout_devices = (0..1 + b.below(2)).map(|_| b.pick(&DEVICES)).collect();
        }
        if b.below(3) == 0 {
            p.permitted_heaps = (0..1 + b.below(2))
                .map(|_| b.pick(&PERMITTED).to_string())
                .collect();
        }
        if b.below(3) == 0 {
            p.devices = (0..b.below(3)).map(|_| b.pick(&DEVICES)).collect();
        }
        if b.below(6) == 0 {
            p.usage |= Usage::PROTECTED;
        }
    }
    Some(Placing {
        sources,
        policy: PlacementPolicy { order },
    })
}

fn cost_entry(b: &mut Bytes) -> CostEntry {
    CostEntry {
        format: b.bool().then(|| format(b, true)),
        modifier: b.bool().then(|| modifier(b, true)),
        usage: usage(b),
        cost: b.u32_edge(2000),
    }
}

impl Case {
    pub fn from_bytes(data: &[u8]) -> Case {
        let mut b = Bytes::new(data);
        // Mostly two or three participants; sometimes none or many.
        let n = match b.below(8) {
            0 => b.below(MAX_PARTICIPANTS + 1),
            i => 1 + i % 3,
        };
        let participants: Vec<Constraints> = (0..n).map(|_| participant(&mut b)).collect();
        let costs = (0..b.below(4)).map(|_| cost_entry(&mut b)).collect();
        // Fisher-Yates driven by the remaining bytes.
        let mut permutation: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            permutation.swap(i, b.below(i + 1));
        }
        let mut participants = participants;
        for p in &mut participants {
            extension(&mut b, p);
        }
        raw_extension(&mut b, &mut participants);
        let placing = placement_extension(&mut b, &mut participants);
        Case {
            participants,
            policy: Policy { costs },
            permutation,
            placing,
        }
    }
}

/// Run one case; `Err` describes the first broken invariant.
pub fn check(data: &[u8]) -> Result<(), String> {
    let case = Case::from_bytes(data);
    check_case(&case)
}

pub fn check_case(case: &Case) -> Result<(), String> {
    let ps = &case.participants;
    let result = solve_with(ps, &case.policy);

    let permuted: Vec<Constraints> = case.permutation.iter().map(|&i| ps[i].clone()).collect();
    let mut reversed_costs = case.policy.clone();
    reversed_costs.costs.reverse();
    let again = solve_with(&permuted, &reversed_costs);
    if again != result {
        return Err(format!(
            "participant/cost order changed the outcome:\n{result:?}\nvs\n{again:?}"
        ));
    }
    let (explained, _) = solve_explained(ps, &case.policy);
    if explained != result {
        return Err(format!(
            "solve_explained disagrees:\n{result:?}\nvs\n{explained:?}"
        ));
    }

    if let Ok(d) = &result {
        check_decision(ps, &case.policy, d)?;
        for &c in d.alternatives.iter().take(4) {
            let d2 = d
                .for_candidate(c)
                .map_err(|f| format!("re-targeting at {c:?} failed: {f:?}"))?;
            if (d2.format, d2.modifier, d2.scanout) != (c.format, c.modifier, c.scanout) {
                return Err(format!("re-targeted decision is not {c:?}: {d2:?}"));
            }
            check_satisfies(ps, &d2)?;
        }
    }

    if let Some(placing) = &case.placing {
        check_placed(case, placing, &result)?;
    }

    // Monotonicity: without the last participant, a success stays a success
    // with at least the same candidates.
    if ps.len() > 1 {
        let fewer = solve_with(&ps[..ps.len() - 1], &case.policy);
        match (&result, &fewer) {
            (Ok(all), Ok(some)) => {
                let some: HashSet<_> = pairs(some).collect();
                // With per-format limits the alternatives are those of the
                // chosen format's limits, which one participant may change.
                if !any_format_limits(ps) && !pairs(all).all(|p| some.contains(&p)) {
                    return Err("one participant more added candidates".into());
                }
            }
            // A raw collection's size comes from someone: without the
            // only participant stating min_size_bytes there is none
            // (sysmem fails a size of 0 too).
            (Ok(d), Err(_))
                if d.raw && ps[..ps.len() - 1].iter().all(|p| p.min_size_bytes == 0) => {}
            (Ok(_), Err(f)) => {
                return Err(format!(
                    "fails with one participant fewer ({f:?}), succeeds with all"
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Placement: the placed outcome does not depend on the participants' or
/// the cost table's order; a placed decision satisfies every participant,
/// is a success only where the unplaced solve is one, and its ranked
/// sources are exactly those [`eligible`] says, in the policy's order.
fn check_placed(
    case: &Case,
    placing: &Placing,
    unplaced: &Result<Decision, accord_engine::Failure>,
) -> Result<(), String> {
    let ps = &case.participants;
    let placed = solve_placed(ps, &case.policy, Some(placing));
    let permuted: Vec<Constraints> = case.permutation.iter().map(|&i| ps[i].clone()).collect();
    let mut reversed = case.policy.clone();
    reversed.costs.reverse();
    let again = solve_placed(&permuted, &reversed, Some(placing));
    ensure(again == placed, || {
        format!("participant order changed the placed outcome:\n{placed:?}\nvs\n{again:?}")
    })?;
    let Ok(d) = &placed else {
        return Ok(());
    };
    ensure(unplaced.is_ok(), || {
        format!("placed solve succeeds where the unplaced one fails: {unplaced:?}")
    })?;
    check_satisfies(ps, d)?;
    let order = placing
        .rank(ps, d)
        .map_err(|f| format!("solve_placed succeeded but rank fails: {f:?}"))?;
    let expected: Vec<usize> = (0..placing.sources.len())
        .filter(|&i| eligible(ps, d, &placing.sources[i]))
        .collect();
    let mut got = order.clone();
    got.sort_unstable();
    ensure(got == expected, || {
        format!(
            "ranked sources {order:?}, eligible by the rules {expected:?} (sources {:?})",
            placing.sources.iter().map(|s| &s.name).collect::<Vec<_>>()
        )
    })?;
    // Best first: memory of a device nobody named last, then the kind
    // order (a kind not listed after every listed one), then detection.
    let named: Vec<u64> = ps
        .iter()
        .flat_map(|p| p.devices.iter().chain(&p.scanout_devices).copied())
        .collect();
    let key = |i: usize| {
        let s = &placing.sources[i];
        let unnamed = !s.device.is_empty() && !s.device.iter().any(|d| named.contains(d));
        let kind = placing.policy.order.iter().position(|k| *k == s.kind);
        (unnamed, kind.unwrap_or(placing.policy.order.len()), i)
    };
    ensure(order.windows(2).all(|w| key(w[0]) < key(w[1])), || {
        format!("ranked sources {order:?} are not in the documented order")
    })
}

/// The placement rules of `accord_engine::placements`, restated: whether
/// `s` may hold the buffers of `d` for `ps`.
fn eligible(ps: &[Constraints], d: &Decision, s: &Source) -> bool {
    let usage = ps.iter().fold(Usage::empty(), |u, p| u | p.usage);
    // A participant naming scanout devices (the compositor) needs them on
    // scanout, and its other devices (its renderer) otherwise.
    let needed: Vec<u64> = ps
        .iter()
        .flat_map(|p| {
            if d.scanout && !p.scanout_devices.is_empty() {
                p.scanout_devices.clone()
            } else {
                p.devices.clone()
            }
        })
        .collect();
    let reaches = |dev: &u64| {
        if s.device.is_empty() {
            s.dmabuf
        } else {
            s.device.contains(dev)
        }
    };
    let displays: Vec<u64> = ps.iter().flat_map(|p| p.scanout_devices.clone()).collect();
    let on_display =
        !d.scanout || displays.is_empty() || displays.iter().any(|x| s.device.contains(x));
    let hardware = Usage::VIDEO_DECODE | Usage::VIDEO_ENCODE | Usage::CAPTURE;
    let dmabuf_ok = s.dmabuf || (needed.is_empty() && !d.scanout && !usage.intersects(hardware));
    let permitted = ps.iter().all(|p| {
        p.permitted_heaps.is_empty()
            || p.permitted_heaps.iter().any(|e| {
                e == s.kind.as_str()
                    || s.heap
                        .as_deref()
                        .is_some_and(|h| *e == format!("dma-heap:{h}"))
            })
    });
    let makes = if d.raw {
        s.capability == Capability::Linear
    } else {
        s.capability.can_make(&FormatModifier {
            format: d.format,
            modifier: d.modifier,
            scanout: false,
        })
    };
    needed.iter().all(reaches)
        && on_display
        && dmabuf_ok
        && (s.mappable || !usage.intersects(Usage::CPU_READ | Usage::CPU_WRITE))
        && (s.contiguous || !d.contiguous)
        && (s.protected || !usage.contains(Usage::PROTECTED))
        && permitted
        && makes
}

/// Per-format limits or colour spaces: the alternatives are then the
/// pairs that give the chosen pair's buffers and colour space.
fn any_format_limits(ps: &[Constraints]) -> bool {
    ps.iter()
        .any(|p| !p.format_limits.is_empty() || !p.color_spaces.is_empty())
}

fn pairs(d: &Decision) -> impl Iterator<Item = (u32, u64)> + '_ {
    d.alternatives.iter().map(|a| (a.format, a.modifier))
}

fn lists(p: &Constraints, format: u32, modifier: u64) -> bool {
    p.formats
        .iter()
        .any(|f| f.format == format && f.modifier == modifier)
}

/// `a` divides `v` (false for `a == 0`).
fn divides(a: u64, v: u64) -> bool {
    v.checked_rem(a) == Some(0)
}

fn ensure(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what())
    }
}

/// The candidate is scanout-capable: some participant wants scanout and
/// every such participant marked the pair.
fn scanout_capable(ps: &[Constraints], format: u32, modifier: u64) -> bool {
    let mut scanners = ps.iter().filter(|p| p.usage.contains(Usage::SCANOUT));
    let mut any = false;
    let all = scanners.all(|p| {
        any = true;
        p.formats
            .iter()
            .any(|f| f.format == format && f.modifier == modifier && f.scanout)
    });
    any && all
}

/// Everything a decision owes each participant (also for re-targeted ones).
pub fn check_satisfies(ps: &[Constraints], d: &Decision) -> Result<(), String> {
    if d.raw {
        return check_raw(ps, d);
    }
    ensure(
        d.alternatives
            .first()
            .is_some_and(|a| (a.format, a.modifier) == (d.format, d.modifier)),
        || "alternatives[0] is not the chosen pair".into(),
    )?;
    ensure(
        d.scanout == scanout_capable(ps, d.format, d.modifier),
        || format!("scanout flag {} is wrong", d.scanout),
    )?;
    for p in ps {
        let who = &p.name;
        ensure(lists(p, d.format, d.modifier), || {
            format!("{who:?} does not list the chosen pair")
        })?;
        for a in &d.alternatives {
            ensure(lists(p, a.format, a.modifier), || {
                format!("{who:?} does not list alternative {a:?}")
            })?;
        }
        ensure(d.width >= p.min_size.0 && d.height >= p.min_size.1, || {
            format!("size {}x{} below {who:?}'s minimum", d.width, d.height)
        })?;
        ensure(
            d.width >= p.required_min_size.0.max(p.required_max_size.0)
                && d.height >= p.required_min_size.1.max(p.required_max_size.1),
            || {
                format!(
                    "size {}x{} below {who:?}'s required sizes",
                    d.width, d.height
                )
            },
        )?;
        ensure(
            p.max_area == 0 || u64::from(d.width) * u64::from(d.height) <= p.max_area,
            || format!("size {}x{} above {who:?}'s maximum area", d.width, d.height),
        )?;
        ensure(
            p.coherency_domains.contains(d.coherency_domain)
                && d.coherency_domain.0.count_ones() == 1,
            || {
                format!(
                    "coherency domain {:?} is not one of {who:?}'s",
                    d.coherency_domain
                )
            },
        )?;
        if !p.color_spaces.is_empty() {
            ensure(
                d.color_space.is_some_and(|cs| p.color_spaces.contains(&cs)),
                || format!("colour space {:?} is not in {who:?}'s list", d.color_space),
            )?;
        }
        for l in p.format_limits.iter().filter(|l| l.format == d.format) {
            ensure(
                d.width >= l.min_size.0
                    && d.height >= l.min_size.1
                    && (l.max_size.0 == 0 || d.width <= l.max_size.0)
                    && (l.max_size.1 == 0 || d.height <= l.max_size.1)
                    && divides(l.size_alignment.0.into(), d.width.into())
                    && divides(l.size_alignment.1.into(), d.height.into()),
                || {
                    format!(
                        "size {}x{} breaks {who:?}'s limits for its format",
                        d.width, d.height
                    )
                },
            )?;
            if let Some(layout) = &d.layout {
                ensure(
                    layout.planes.iter().all(|pl| {
                        divides(l.stride_alignment.into(), pl.stride.into())
                            && (l.max_stride == 0 || pl.stride <= l.max_stride)
                    }) && layout.planes[0].stride >= l.min_stride,
                    || format!("a stride breaks {who:?}'s limits for its format"),
                )?;
            }
        }
        ensure(
            (p.max_size.0 == 0 || d.width <= p.max_size.0)
                && (p.max_size.1 == 0 || d.height <= p.max_size.1),
            || format!("size {}x{} above {who:?}'s maximum", d.width, d.height),
        )?;
        ensure(
            divides(p.size_alignment.0.into(), d.width.into())
                && divides(p.size_alignment.1.into(), d.height.into()),
            || {
                format!(
                    "size {}x{} breaks {who:?}'s size alignment",
                    d.width, d.height
                )
            },
        )?;
        ensure(
            d.buffer_count >= p.buffers.min.max(1)
                && (p.buffers.max == 0 || d.buffer_count <= p.buffers.max),
            || format!("{} buffers break {who:?}'s range", d.buffer_count),
        )?;
        for (combined, own, what) in [
            (d.stride_alignment, p.stride_alignment, "stride"),
            (d.offset_alignment, p.offset_alignment, "offset"),
            (d.base_alignment, p.base_alignment, "base"),
        ] {
            ensure(divides(own.into(), combined), || {
                format!("combined {what} alignment {combined} is not a multiple of {who:?}'s {own}")
            })?;
        }
        ensure(d.usage.contains(p.usage), || {
            format!("usage lacks {who:?}'s bits")
        })?;
        ensure(!p.contiguous || d.contiguous, || {
            format!("{who:?} wants contiguous memory")
        })?;
        ensure(p.devices.iter().all(|x| d.devices.contains(x)), || {
            format!("devices lack one of {who:?}'s")
        })?;
        if let Some(l) = &d.layout {
            for plane in &l.planes {
                ensure(p.max_stride == 0 || plane.stride <= p.max_stride, || {
                    format!("stride {} above {who:?}'s maximum", plane.stride)
                })?;
            }
            ensure(l.planes[0].stride >= p.min_stride, || {
                format!("stride below {who:?}'s minimum")
            })?;
            ensure(p.max_bytes == 0 || l.size_bytes <= p.max_bytes, || {
                format!("{} bytes above {who:?}'s maximum", l.size_bytes)
            })?;
            ensure(l.size_bytes >= p.min_size_bytes, || {
                format!("{} bytes below {who:?}'s min_size_bytes", l.size_bytes)
            })?;
        }
    }
    ensure(d.buffer_count <= accord_engine::MAX_BUFFERS, || {
        "buffer count above the hard cap".into()
    })?;
    ensure(d.devices.windows(2).all(|w| w[0] < w[1]), || {
        "devices not sorted and deduplicated".into()
    })?;
    check_layout(d)
}

/// A raw decision (`accord_engine::raw`): nobody lists a pair or sets an
/// image field; one plane of bytes, at least every `min_size_bytes` and
/// the smallest such size, within every byte limit, a multiple of every
/// base alignment; counts, usage, domain as for images.
fn check_raw(ps: &[Constraints], d: &Decision) -> Result<(), String> {
    ensure(
        (d.format, d.modifier, d.width, d.height, d.scanout)
            == (accord_engine::FORMAT_RAW, MOD_LINEAR, 0, 0, false)
            && d.alternatives.len() == 1
            && d.color_space.is_none(),
        || format!("raw decision has image settings: {d:?}"),
    )?;
    let Some(l) = &d.layout else {
        return Err("raw decision without its layout".into());
    };
    ensure(l.planes == [accord_engine::PlaneLayout::default()], || {
        format!("raw planes {:?}", l.planes)
    })?;
    ensure(
        l.size_bytes > 0
            && l.size_bytes <= accord_engine::limits::MAX_BUFFER_BYTES
            && u128::from(l.size_bytes) * u128::from(d.buffer_count)
                <= u128::from(accord_engine::limits::MAX_COLLECTION_BYTES),
        || {
            format!(
                "raw size {} x {} breaks a protocol limit",
                l.size_bytes, d.buffer_count
            )
        },
    )?;
    for p in ps {
        let who = &p.name;
        ensure(p.formats.is_empty(), || {
            format!("{who:?} lists pairs in a raw collection")
        })?;
        ensure(accord_engine::raw::image_fields(p).is_empty(), || {
            format!("{who:?} sets image fields in a raw collection")
        })?;
        ensure(
            l.size_bytes >= p.min_size_bytes
                && (p.max_bytes == 0 || l.size_bytes <= p.max_bytes)
                && divides(p.base_alignment.into(), l.size_bytes)
                && divides(p.base_alignment.into(), d.base_alignment),
            || {
                format!(
                    "raw size {} breaks {who:?}'s byte constraints",
                    l.size_bytes
                )
            },
        )?;
        ensure(
            d.buffer_count >= p.buffers.min.max(1)
                && (p.buffers.max == 0 || d.buffer_count <= p.buffers.max)
                && d.usage.contains(p.usage)
                && (!p.contiguous || d.contiguous)
                && p.coherency_domains.contains(d.coherency_domain)
                && p.devices.iter().all(|x| d.devices.contains(x)),
            || format!("raw decision breaks {who:?}'s counts, usage or placement"),
        )?;
    }
    // The smallest such size: one base-alignment step less breaks a minimum.
    ensure(
        l.size_bytes >= d.base_alignment
            && ps
                .iter()
                .any(|p| l.size_bytes - d.base_alignment < p.min_size_bytes),
        || format!("raw size {} is not the smallest", l.size_bytes),
    )
}

/// A layout is present exactly for LINEAR/INVALID of a known format, and
/// sound on its own terms.
fn check_layout(d: &Decision) -> Result<(), String> {
    let lays_out = (d.modifier == MOD_LINEAR || d.modifier == MOD_INVALID)
        && formats::info(d.format).is_some();
    let (Some(l), Some(info)) = (&d.layout, formats::info(d.format)) else {
        return ensure(!lays_out && d.layout.is_none(), || {
            format!(
                "layout presence wrong for {:#x}/{:#x}",
                d.format, d.modifier
            )
        });
    };
    ensure(lays_out, || "layout for a vendor modifier".into())?;
    ensure(l.planes.len() == info.planes.len(), || {
        format!(
            "{} planes, format has {}",
            l.planes.len(),
            info.planes.len()
        )
    })?;
    let mut end = 0u64;
    for (i, (plane, pi)) in l.planes.iter().zip(info.planes).enumerate() {
        let stride = u64::from(plane.stride);
        ensure(divides(d.stride_alignment, stride), || {
            format!(
                "plane {i} stride {stride} not a multiple of {}",
                d.stride_alignment
            )
        })?;
        ensure(divides(d.offset_alignment, plane.offset), || {
            format!(
                "plane {i} offset {} not a multiple of {}",
                plane.offset, d.offset_alignment
            )
        })?;
        let w = u64::from(d.width).div_ceil(u64::from(pi.hsub));
        let h = u64::from(d.height).div_ceil(u64::from(pi.vsub));
        let row = w.div_ceil(u64::from(pi.block_width)) * u64::from(pi.block_bytes);
        ensure(stride >= row, || {
            format!("plane {i} stride {stride} < row {row}")
        })?;
        ensure(plane.offset >= end, || {
            format!("plane {i} overlaps plane {}", i.saturating_sub(1))
        })?;
        end = plane.offset + stride * h;
    }
    ensure(l.planes[0].stride >= d.min_stride, || {
        "stride below min".into()
    })?;
    ensure(l.size_bytes >= end, || {
        format!("size {} < end of planes {end}", l.size_bytes)
    })?;
    ensure(divides(d.base_alignment, l.size_bytes), || {
        format!(
            "size {} not a multiple of {}",
            l.size_bytes, d.base_alignment
        )
    })?;
    ensure(d.max_bytes == 0 || l.size_bytes <= d.max_bytes, || {
        "size above max".into()
    })
}

/// The documented ranking key (see `accord_engine::policy`), recomputed
/// naively from the participants' lists.
fn rank_key(
    ps: &[Constraints],
    policy: &Policy,
    d: &Decision,
    format: u32,
    modifier: u64,
) -> impl Ord {
    let wants_scanout = ps.iter().any(|p| p.usage.contains(Usage::SCANOUT));
    let not_scanout = wants_scanout && !scanout_capable(ps, format, modifier);
    let cost = if policy.costs.is_empty() {
        0
    } else {
        policy.cost(format, modifier, d.usage)
    };
    let class = match modifier {
        MOD_LINEAR => 1,
        MOD_INVALID => 2,
        _ => 0,
    };
    let position_sum: u64 = ps
        .iter()
        .map(|p| {
            p.formats
                .iter()
                .position(|f| f.format == format && f.modifier == modifier)
                .map_or(0, |i| i as u64)
        })
        .sum();
    let bpp = formats::info(format).map_or(u32::MAX, |i| i.bits_per_pixel_x4());
    (
        not_scanout,
        cost,
        class,
        position_sum,
        bpp,
        format,
        modifier,
    )
}

/// The decision of `solve_with(ps, policy)`: satisfies everyone, and its
/// alternatives are every common pair except the misfits, ranked.
fn check_decision(ps: &[Constraints], policy: &Policy, d: &Decision) -> Result<(), String> {
    check_satisfies(ps, d)?;
    let chosen: HashSet<(u32, u64)> = pairs(d).collect();
    ensure(chosen.len() == d.alternatives.len(), || {
        "duplicate alternatives".into()
    })?;
    for a in &d.alternatives {
        ensure(
            a.scanout == scanout_capable(ps, a.format, a.modifier),
            || format!("alternative {a:?} has the wrong scanout flag"),
        )?;
    }
    let params = LayoutParams::of(d);
    for f in &ps[0].formats {
        let pair = (f.format, f.modifier);
        if chosen.contains(&pair)
            || !ps.iter().all(|p| lists(p, f.format, f.modifier))
            || any_format_limits(ps)
        {
            // (With per-format limits, a common pair may be left out for
            // its format's limits or for giving other buffers: each
            // alternative is checked against its format's limits when it
            // is re-targeted instead.)
            continue;
        }
        // A common pair was dropped: only a layout misfit may do that (a
        // vendor pair's by its packed size, `layout::check_minimum`).
        let laid_out = (f.modifier == MOD_LINEAR || f.modifier == MOD_INVALID)
            && formats::info(f.format).is_some();
        // With CPU usage a vendor pair is removed before ranking
        // (accord_engine's CPU rule).
        let cpu = d.usage.intersects(Usage::CPU_READ | Usage::CPU_WRITE);
        let misfit = if cpu && f.modifier != MOD_LINEAR && f.modifier != MOD_INVALID {
            true
        } else if laid_out {
            layout::compute(f.format, &params).is_err()
        } else {
            layout::check_minimum(f.format, &params).is_err()
        };
        ensure(misfit, || {
            format!(
                "common pair {:#x}/{:#x} is missing from the alternatives",
                f.format, f.modifier
            )
        })?;
    }
    let keys: Vec<_> = d
        .alternatives
        .iter()
        .map(|a| rank_key(ps, policy, d, a.format, a.modifier))
        .collect();
    ensure(keys.windows(2).all(|w| w[0] < w[1]), || {
        format!(
            "alternatives are not in ranking order: {:?}",
            d.alternatives
        )
    })
}

/// The inverse of [`Case::from_bytes`] for hand-made seeds
/// (`fuzz/regressions/engine/`): bytes that decode to exactly
/// `participants` and `policy` (identity permutation). Every participant
/// is encoded as "wild", which reads each value in full; names must be
/// among [`NAMES`] and cost entries' formats and modifiers among the tame
/// universes. `None` if the case cannot be expressed.
pub fn to_bytes(participants: &[Constraints], policy: &Policy) -> Option<Vec<u8>> {
    let mut out = Enc(Vec::new());
    if participants.len() > MAX_PARTICIPANTS || policy.costs.len() > 3 {
        return None;
    }
    // Placement needs are not encoded (`placement_extension` reads them
    // only after its gate).
    if participants
        .iter()
        .any(|p| !p.scanout_devices.is_empty() || !p.permitted_heaps.is_empty())
    {
        return None;
    }
    // `below(8) == 0`: the participant count follows, `below(7)`.
    out.u8(0);
    out.u8(participants.len() as u8);
    for p in participants {
        out.u8(0); // wild
        out.u8(NAMES.iter().position(|n| *n == p.name)? as u8);
        out.u8(0); // usage as a raw u32
        out.u32(p.usage.0);
        if p.formats.len() > MAX_PAIRS {
            return None;
        }
        out.u8(p.formats.len() as u8);
        for f in &p.formats {
            out.u8(10); // raw format code
            out.u32(f.format);
            out.u8(4); // modifier as u64_edge ...
            out.u8(4); // ... raw
            out.u64(f.modifier);
            out.u8(u8::from(f.scanout));
        }
        out.edge(p.min_size.0);
        out.edge(p.min_size.1);
        out.limit(p.max_size.0);
        out.limit(p.max_size.1);
        for a in [
            p.size_alignment.0,
            p.size_alignment.1,
            p.stride_alignment,
            p.offset_alignment,
            p.base_alignment,
        ] {
            out.u8(7); // alignment as u32_edge
            out.edge(a);
        }
        out.limit(p.min_stride);
        out.limit(p.max_stride);
        if p.max_bytes == 0 {
            out.u8(1);
        } else {
            out.u8(0);
            out.u8(4); // u64_edge, raw
            out.u64(p.max_bytes);
        }
        for v in [
            p.buffers.camping,
            p.buffers.dedicated_slack,
            p.buffers.shared_slack,
            p.buffers.min,
        ] {
            out.edge(v);
        }
        out.limit(p.buffers.max);
        out.u8(u8::from(p.contiguous));
        if p.devices.len() > 2 {
            return None;
        }
        out.u8(p.devices.len() as u8);
        for &d in &p.devices {
            out.u8(4);
            out.u64(d);
        }
        out.u8(u8::from(p.dispensable));
    }
    out.u8(policy.costs.len() as u8);
    for c in &policy.costs {
        out.u8(u8::from(c.format.is_some()));
        if let Some(f) = c.format {
            let i = FORMATS
                .iter()
                .position(|n| formats::parse_name(n) == Some(f))
                .or((f == NV15).then_some(9))?;
            out.u8(i as u8);
        }
        out.u8(u8::from(c.modifier.is_some()));
        if let Some(m) = c.modifier {
            out.u8(MODIFIERS.iter().position(|&x| x == m)? as u8);
        }
        out.u8(0);
        out.u32(c.usage.0);
        out.edge(c.cost);
    }
    // The permutation: `swap(i, i)` for every step keeps the identity.
    for i in (1..participants.len()).rev() {
        out.u8(i as u8);
    }
    // `extension`, up to the last participant that sets a field of it.
    let set = |p: &Constraints| {
        p.required_min_size != (0, 0)
            || p.required_max_size != (0, 0)
            || p.max_area != 0
            || !p.format_limits.is_empty()
            || !p.color_spaces.is_empty()
            || p.coherency_domains != CoherencyDomains::ALL
    };
    let raw_section = participants.iter().any(|p| p.min_size_bytes != 0);
    let last = if raw_section {
        participants.len()
    } else {
        participants.iter().rposition(set).map_or(0, |i| i + 1)
    };
    for p in &participants[..last] {
        out.u8(if set(p) { 0 } else { 1 });
        if set(p) {
            out.limit(p.required_min_size.0);
            out.limit(p.required_min_size.1);
            out.limit(p.required_max_size.0);
            out.limit(p.required_max_size.1);
            out.u8(u8::from(p.max_area != 0));
            if p.max_area != 0 {
                out.u8(4); // u64_edge, raw
                out.u64(p.max_area);
            }
            if p.format_limits.len() > 2 {
                return None;
            }
            out.u8(p.format_limits.len() as u8);
            for l in &p.format_limits {
                out.u8(0); // not from the list: a format code ...
                out.u8(10); // ... raw
                out.u32(l.format);
                for v in [l.min_size.0, l.min_size.1, l.max_size.0, l.max_size.1] {
                    out.limit(v);
                }
                for a in [l.size_alignment.0, l.size_alignment.1] {
                    out.u8(7); // alignment as u32_edge
                    out.edge(a);
                }
                out.limit(l.min_stride);
                out.limit(l.max_stride);
                out.u8(7);
                out.edge(l.stride_alignment);
            }
            if p.coherency_domains == CoherencyDomains::ALL {
                out.u8(1);
            } else if (1..7).contains(&p.coherency_domains.0) {
                out.u8(0);
                out.u8(p.coherency_domains.0 as u8 - 1);
            } else {
                return None;
            }
            if p.color_spaces.len() > 3 || p.color_spaces.iter().any(|c| c.0 > 10) {
                return None;
            }
            if p.color_spaces.is_empty() {
                out.u8(1);
            } else {
                out.u8(0);
                out.u8(p.color_spaces.len() as u8 - 1);
                for c in &p.color_spaces {
                    match c.0 {
                        4 => out.u8(0),
                        1 => out.u8(4),
                        8 => out.u8(5),
                        0 => out.u8(6),
                        v => {
                            out.u8(7);
                            out.u8(v as u8);
                        }
                    }
                }
            }
        }
    }
    // `raw_extension`: not a raw case (the lists are given as they are),
    // then each participant's `min_size_bytes`.
    if raw_section {
        out.u8(1);
        for p in participants {
            if p.min_size_bytes == 0 {
                out.u8(1);
            } else {
                out.u8(0);
                out.u8(4); // u64_edge, raw
                out.u64(p.min_size_bytes);
            }
        }
    }
    Some(out.0)
}

/// Bytes for [`Bytes`]' readers (little-endian, as they read).
struct Enc(Vec<u8>);

impl Enc {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    /// `u32_edge`, raw branch.
    fn edge(&mut self, v: u32) {
        self.u8(5);
        self.u32(v);
    }
    /// `Bytes::limit`: 0 is "none".
    fn limit(&mut self, v: u32) {
        if v == 0 {
            self.u8(1);
        } else {
            self.u8(0);
            self.edge(v);
        }
    }
}
