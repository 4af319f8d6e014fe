//! Property tests of the engine (see issue 2's "Done means").

mod common;

use std::collections::HashSet;

use accord_engine::{
    solve, solve_explained, BufferCounts, Constraints, Decision, Failure, FormatLimits,
    FormatModifier, Policy, Usage, MOD_INVALID, MOD_LINEAR,
};
use proptest::prelude::*;

/// A small universe, so that random lists actually intersect.
fn pair() -> impl Strategy<Value = FormatModifier> {
    let formats = prop::sample::select(vec![
        common::fourcc("XRGB8888"),
        common::fourcc("NV12"),
        common::fourcc("YUYV"),
        common::fourcc("RGB565"),
        common::fourcc("YUV420"),
        common::fourcc("ABGR16161616F"),
        0x3531_564e, // NV15: no plane table
    ]);
    let modifiers = prop::sample::select(vec![
        MOD_LINEAR,
        MOD_INVALID,
        0x0100_0000_0000_0002,
        0x0800_0000_0000_0051,
    ]);
    (formats, modifiers, any::<bool>()).prop_map(|(format, modifier, scanout)| FormatModifier {
        format,
        modifier,
        scanout,
    })
}

fn small(max: u32) -> impl Strategy<Value = u32> {
    prop_oneof![Just(0), Just(1), 1..=max]
}

/// A maximum: mostly "no limit".
fn limit(max: u32) -> impl Strategy<Value = u32> {
    prop_oneof![4 => Just(0), 1 => 1..=max]
}

fn alignment() -> impl Strategy<Value = u32> {
    prop_oneof![4 => Just(1u32), 1 => Just(4), 1 => Just(64), 1 => Just(256), 1 => Just(4096), 1 => 1u32..=300]
}

/// Per-format limits for a format of the universe: mostly none.
fn format_limits() -> impl Strategy<Value = Vec<FormatLimits>> {
    let one = (
        pair(),
        (small(4000), small(4000), limit(4000), limit(4000)),
        (alignment(), alignment(), alignment()),
        (limit(20000), limit(40000)),
    )
        .prop_map(|(p, s, a, st)| FormatLimits {
            format: p.format,
            min_size: (s.0, s.1),
            max_size: (s.2, s.3),
            size_alignment: (a.0, a.1),
            stride_alignment: a.2,
            min_stride: st.0,
            max_stride: st.1,
        });
    prop_oneof![2 => Just(Vec::new()), 1 => prop::collection::vec(one, 1..3)]
}

/// Plausible participants: mostly valid, sometimes conflicting.
fn participant() -> impl Strategy<Value = Constraints> {
    (
        "[a-f]{1,3}",
        any::<u16>(),
        prop::collection::vec(pair(), 0..16),
        (small(4000), small(4000), limit(4000), limit(4000)),
        (
            alignment(),
            alignment(),
            alignment(),
            alignment(),
            alignment(),
        ),
        (
            limit(20000),
            limit(40000),
            prop_oneof![4 => Just(0u64), 1 => 1u64..100_000_000],
        ),
        (small(6), small(3), small(4), small(12), limit(40)),
        (any::<bool>(), prop::collection::vec(0u64..4, 0..3)),
        // Required sizes and a maximum area: mostly none.
        prop_oneof![
            3 => Just(((0, 0), (0, 0), 0u64)),
            1 => (
                (small(4000), small(4000)),
                (small(4000), small(4000)),
                prop_oneof![Just(0u64), 1u64..20_000_000],
            ),
        ],
        (
            format_limits(),
            prop_oneof![
                2 => Just(Vec::new()),
                1 => prop::sample::subsequence(
                    accord_engine::ColorSpace::NAMES.iter().map(|(_, c)| *c).collect::<Vec<_>>(),
                    1..4
                )
                .prop_shuffle(),
            ],
            // min_size_bytes: mostly none.
            prop_oneof![4 => Just(0u64), 1 => 1u64..20_000_000],
        ),
    )
        .prop_map(
            |(
                name,
                usage,
                formats,
                sizes,
                aligns,
                strides,
                counts,
                (contiguous, devices),
                (required_min_size, required_max_size, max_area),
                (format_limits, color_spaces, min_size_bytes),
            )| {
                Constraints {
                    name,
                    // Protected one time in sixteen: with CPU usage
                    // (common here) it fails the whole collection.
                    usage: Usage(
                        u32::from(usage)
                            & Usage::ALL.0
                            & if usage % 8 == 0 {
                                u32::MAX
                            } else {
                                !Usage::PROTECTED.0
                            },
                    ),
                    formats,
                    min_size: (sizes.0, sizes.1),
                    max_size: (sizes.2, sizes.3),
                    required_min_size,
                    required_max_size,
                    max_area,
                    size_alignment: (aligns.0, aligns.1),
                    stride_alignment: aligns.2,
                    offset_alignment: aligns.3,
                    base_alignment: aligns.4,
                    min_stride: strides.0,
                    max_stride: strides.1,
                    max_bytes: strides.2,
                    min_size_bytes,
                    buffers: BufferCounts {
                        camping: counts.0,
                        dedicated_slack: counts.1,
                        shared_slack: counts.2,
                        min: counts.3,
                        max: counts.4,
                    },
                    contiguous,
                    devices,
                    scanout_devices: Vec::new(),
                    permitted_heaps: Vec::new(),
                    dispensable: false,
                    format_limits,
                    color_spaces,
                    // One in three: a random non-empty set; else all.
                    coherency_domains: accord_engine::CoherencyDomains(if usage % 3 == 0 {
                        1 + u32::from(usage >> 8) % 7
                    } else {
                        7
                    }),
                }
            },
        )
}

fn edge_u32() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0),
        Just(1),
        Just(u32::MAX),
        Just(u32::MAX - 1),
        any::<u32>()
    ]
}

fn edge_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0),
        Just(1),
        Just(u64::MAX),
        Just(MOD_INVALID),
        any::<u64>()
    ]
}

/// Anything at all, with 0 and MAX favoured.
fn wild_participant() -> impl Strategy<Value = Constraints> {
    (
        prop::collection::vec(
            prop_oneof![
                pair(),
                (edge_u32(), edge_u64(), any::<bool>()).prop_map(|(format, modifier, scanout)| {
                    FormatModifier {
                        format,
                        modifier,
                        scanout,
                    }
                })
            ],
            0..6,
        ),
        any::<u32>(),
        [
            edge_u32(),
            edge_u32(),
            edge_u32(),
            edge_u32(),
            edge_u32(),
            edge_u32(),
        ],
        [edge_u32(), edge_u32(), edge_u32(), edge_u32(), edge_u32()],
        [edge_u32(), edge_u32(), edge_u32(), edge_u32(), edge_u32()],
        edge_u64(),
        prop::collection::vec(edge_u64(), 0..3),
        ([edge_u32(), edge_u32(), edge_u32(), edge_u32()], edge_u64()),
        prop::collection::vec(
            (
                pair(),
                [
                    edge_u32(),
                    edge_u32(),
                    edge_u32(),
                    edge_u32(),
                    edge_u32(),
                    edge_u32(),
                ],
                [edge_u32(), edge_u32(), edge_u32()],
            ),
            0..3,
        ),
        prop::collection::vec(edge_u32(), 0..3),
    )
        .prop_map(
            |(formats, usage, s, a, b, max_bytes, devices, (r, max_area), limits, spaces)| {
                Constraints {
                    // Any bits, including none and undefined ones.
                    coherency_domains: accord_engine::CoherencyDomains(usage.rotate_left(7)),
                    color_spaces: spaces.into_iter().map(accord_engine::ColorSpace).collect(),
                    format_limits: limits
                        .into_iter()
                        .map(|(p, s, t)| FormatLimits {
                            format: p.format,
                            min_size: (s[0], s[1]),
                            max_size: (s[2], s[3]),
                            size_alignment: (s[4], s[5]),
                            min_stride: t[0],
                            max_stride: t[1],
                            stride_alignment: t[2],
                        })
                        .collect(),
                    name: String::new(),
                    usage: Usage(usage),
                    formats,
                    min_size: (s[0], s[1]),
                    max_size: (s[2], s[3]),
                    required_min_size: (r[0], r[1]),
                    required_max_size: (r[2], r[3]),
                    max_area,
                    size_alignment: (s[4], s[5]),
                    stride_alignment: a[0],
                    offset_alignment: a[1],
                    base_alignment: a[2],
                    min_stride: a[3],
                    max_stride: a[4],
                    max_bytes,
                    // Any value, from the edge values of another field.
                    min_size_bytes: max_area.rotate_left(3),
                    buffers: BufferCounts {
                        camping: b[0],
                        dedicated_slack: b[1],
                        shared_slack: b[2],
                        min: b[3],
                        max: b[4],
                    },
                    contiguous: false,
                    devices,
                    scanout_devices: Vec::new(),
                    permitted_heaps: Vec::new(),
                    dispensable: true,
                }
            },
        )
}

fn pairs_of(d: &Decision) -> HashSet<(u32, u64)> {
    d.alternatives
        .iter()
        .map(|c| (c.format, c.modifier))
        .collect()
}

fn lists(p: &Constraints, format: u32, modifier: u64) -> bool {
    p.formats
        .iter()
        .any(|f| f.format == format && f.modifier == modifier)
}

fn check_invariants(ps: &[Constraints], d: &Decision) -> Result<(), TestCaseError> {
    if d.raw {
        return check_raw(ps, d);
    }
    for p in ps {
        prop_assert!(d
            .layout
            .as_ref()
            .is_none_or(|l| l.size_bytes >= p.min_size_bytes));
        prop_assert!(
            lists(p, d.format, d.modifier),
            "{} lacks the result",
            p.name
        );
        for a in &d.alternatives {
            prop_assert!(lists(p, a.format, a.modifier));
        }
        prop_assert!(d.width >= p.min_size.0 && d.height >= p.min_size.1);
        // Required sizes: the buffers hold the stream now and at its
        // largest; the area is within every maximum area.
        prop_assert!(d.width >= p.required_min_size.0.max(p.required_max_size.0));
        prop_assert!(d.height >= p.required_min_size.1.max(p.required_max_size.1));
        prop_assert!(p.max_area == 0 || u64::from(d.width) * u64::from(d.height) <= p.max_area);
        // The coherency domain is one every participant supports, and
        // protected or CPU usage got what it needs.
        prop_assert!(p.coherency_domains.contains(d.coherency_domain));
        if d.usage.contains(Usage::PROTECTED) {
            prop_assert_eq!(
                d.coherency_domain,
                accord_engine::CoherencyDomains::INACCESSIBLE
            );
        }
        if d.usage
            .intersects(Usage(Usage::CPU_READ.0 | Usage::CPU_WRITE.0))
        {
            prop_assert_ne!(
                d.coherency_domain,
                accord_engine::CoherencyDomains::INACCESSIBLE
            );
        }
        // The chosen colour space is in every list (an empty list takes
        // any), and someone listing one means one is chosen.
        if !p.color_spaces.is_empty() {
            prop_assert!(d.color_space.is_some_and(|cs| p.color_spaces.contains(&cs)));
        }
        // Within its limits for the chosen format.
        for l in p.format_limits.iter().filter(|l| l.format == d.format) {
            prop_assert!(d.width >= l.min_size.0 && d.height >= l.min_size.1);
            prop_assert!(l.max_size.0 == 0 || d.width <= l.max_size.0);
            prop_assert!(l.max_size.1 == 0 || d.height <= l.max_size.1);
            prop_assert_eq!(d.width % l.size_alignment.0, 0);
            prop_assert_eq!(d.height % l.size_alignment.1, 0);
            if let Some(layout) = &d.layout {
                for plane in &layout.planes {
                    prop_assert_eq!(plane.stride % l.stride_alignment, 0);
                    prop_assert!(l.max_stride == 0 || plane.stride <= l.max_stride);
                }
                prop_assert!(layout.planes[0].stride >= l.min_stride);
            }
        }
        prop_assert!(p.max_size.0 == 0 || d.width <= p.max_size.0);
        prop_assert!(p.max_size.1 == 0 || d.height <= p.max_size.1);
        prop_assert_eq!(d.width % p.size_alignment.0, 0);
        prop_assert_eq!(d.height % p.size_alignment.1, 0);
        prop_assert!(d.buffer_count >= p.buffers.min.max(1));
        prop_assert!(p.buffers.max == 0 || d.buffer_count <= p.buffers.max);
        if let Some(l) = &d.layout {
            for plane in &l.planes {
                prop_assert_eq!(plane.stride % p.stride_alignment, 0);
                prop_assert_eq!(plane.offset % u64::from(p.offset_alignment), 0);
                prop_assert!(p.max_stride == 0 || plane.stride <= p.max_stride);
            }
            prop_assert!(l.planes[0].stride >= p.min_stride);
            prop_assert_eq!(l.size_bytes % u64::from(p.base_alignment), 0);
            prop_assert!(p.max_bytes == 0 || l.size_bytes <= p.max_bytes);
        }
    }
    prop_assert!(d.buffer_count <= accord_engine::MAX_BUFFERS);
    Ok(())
}

/// A raw decision: nobody lists a pair or sets an image field; one plane
/// of bytes at least every minimum, within every maximum, a multiple of
/// every base alignment; counts and domain as for images.
fn check_raw(ps: &[Constraints], d: &Decision) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        (d.format, d.modifier),
        (accord_engine::FORMAT_RAW, MOD_LINEAR)
    );
    prop_assert_eq!((d.width, d.height, d.scanout), (0, 0, false));
    prop_assert_eq!(d.alternatives.len(), 1);
    prop_assert_eq!(d.color_space, None);
    let l = d.layout.as_ref().expect("a raw decision has its layout");
    prop_assert_eq!(
        &l.planes,
        &vec![accord_engine::PlaneLayout {
            offset: 0,
            stride: 0
        }]
    );
    prop_assert!(l.size_bytes > 0);
    prop_assert!(l.size_bytes <= accord_engine::limits::MAX_BUFFER_BYTES);
    prop_assert!(
        u128::from(l.size_bytes) * u128::from(d.buffer_count)
            <= u128::from(accord_engine::limits::MAX_COLLECTION_BYTES)
    );
    for p in ps {
        prop_assert!(p.formats.is_empty());
        prop_assert!(accord_engine::raw::image_fields(p).is_empty());
        prop_assert!(l.size_bytes >= p.min_size_bytes);
        prop_assert!(p.max_bytes == 0 || l.size_bytes <= p.max_bytes);
        prop_assert_eq!(l.size_bytes % u64::from(p.base_alignment), 0);
        prop_assert!(p.coherency_domains.contains(d.coherency_domain));
        prop_assert!(d.buffer_count >= p.buffers.min.max(1));
        prop_assert!(p.buffers.max == 0 || d.buffer_count <= p.buffers.max);
        prop_assert!(d.usage.contains(p.usage));
    }
    // The smallest such size: one alignment step less breaks a minimum.
    let step = ps
        .iter()
        .fold(1u64, |a, p| num_lcm(a, u64::from(p.base_alignment)));
    prop_assert!(ps.iter().any(|p| l.size_bytes - step < p.min_size_bytes));
    Ok(())
}

fn num_lcm(a: u64, b: u64) -> u64 {
    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    a / gcd(a, b) * b
}

/// A participant of a bitstream queue: no pairs, mostly a byte size,
/// sometimes an image field by mistake.
fn raw_participant() -> impl Strategy<Value = Constraints> {
    (
        "[a-f]{1,3}",
        any::<u16>(),
        prop_oneof![1 => Just(0u64), 4 => 1u64..4_000_000, 1 => Just(u64::from(u32::MAX))],
        prop_oneof![4 => Just(0u64), 1 => 1u64..8_000_000],
        alignment(),
        (small(6), small(3), small(4), small(12), limit(40)),
        prop_oneof![6 => Just(None), 1 => Just(Some(64u32)), 1 => Just(Some(0))],
    )
        .prop_map(|(name, usage, min, max, base, counts, image)| Constraints {
            name,
            usage: Usage(u32::from(usage) & Usage::ALL.0 & !Usage::PROTECTED.0),
            min_size_bytes: min,
            max_bytes: max,
            base_alignment: base,
            buffers: BufferCounts {
                camping: counts.0,
                dedicated_slack: counts.1,
                shared_slack: counts.2,
                min: counts.3,
                max: counts.4,
            },
            // An image field: a stride alignment, or a size range.
            stride_alignment: image.filter(|&a| a > 0).unwrap_or(1),
            max_size: if image == Some(0) { (64, 64) } else { (0, 0) },
            ..Default::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn raw_collections_follow_the_byte_rules(ps in prop::collection::vec(raw_participant(), 1..5)) {
        let r = solve(&ps);
        let mut rev = ps.clone();
        rev.reverse();
        prop_assert_eq!(&r, &solve(&rev), "participant order matters");
        match r {
            Ok(d) => {
                prop_assert!(d.raw);
                check_raw(&ps, &d)?;
                prop_assert_eq!(d.for_candidate(d.alternatives[0]), Ok(d.clone()));
            }
            Err(f) => {
                let image = ps.iter().any(|p| !accord_engine::raw::image_fields(p).is_empty());
                let sized = ps.iter().any(|p| p.min_size_bytes > 0);
                prop_assert!(
                    image || !sized || matches!(
                        f.reason,
                        accord_engine::FailureReason::TooLarge
                            | accord_engine::FailureReason::CountConflict
                            | accord_engine::FailureReason::InvalidConstraint
                    ),
                    "{:?}", f
                );
                // A participant's own contradiction (min count above max)
                // is found before the missing size.
                let bad_counts = ps
                    .iter()
                    .any(|p| p.buffers.max != 0 && p.buffers.min > p.buffers.max);
                if image || bad_counts {
                    prop_assert_eq!(f.reason, accord_engine::FailureReason::InvalidConstraint);
                } else if !sized {
                    prop_assert_eq!(f.reason, accord_engine::FailureReason::NoCommonFormat);
                }
            }
        }
    }

    #[test]
    fn result_satisfies_every_participant(ps in prop::collection::vec(participant(), 1..5)) {
        if let Ok(d) = solve(&ps) {
            check_invariants(&ps, &d)?;
            // Every alternative is allocatable: re-targeting never fails.
            for &c in &d.alternatives {
                let r = d.for_candidate(c);
                prop_assert!(r.is_ok(), "{:?}", r);
                let d2 = r.unwrap();
                prop_assert_eq!((d2.format, d2.modifier, d2.scanout), (c.format, c.modifier, c.scanout));
                check_invariants(&ps, &d2)?;
            }
        }
    }

    #[test]
    fn alternatives_are_exactly_the_common_pairs(
        mut ps in prop::collection::vec(
            (prop::collection::vec(pair(), 0..200), "[a-c]{1,2}"),
            1..8,
        ).prop_map(|v| v.into_iter().map(|(formats, name)| Constraints { name, formats, ..Default::default() }).collect::<Vec<_>>())
    ) {
        // No limits: every common pair is allocatable, so the engine's
        // alternatives must be the naive intersection, no more, no less.
        let common: HashSet<(u32, u64)> = ps[0]
            .formats
            .iter()
            .map(|f| (f.format, f.modifier))
            .filter(|&(f, m)| ps.iter().all(|p| lists(p, f, m)))
            .collect();
        ps.reverse();
        match solve(&ps) {
            Ok(d) => {
                prop_assert_eq!(d.alternatives.len(), common.len());
                prop_assert_eq!(pairs_of(&d), common);
            }
            Err(f) => {
                prop_assert!(common.is_empty(), "{:?}", f);
                prop_assert_eq!(f.reason, accord_engine::FailureReason::NoCommonFormat);
            }
        }
    }

    #[test]
    fn adding_a_participant_never_adds_candidates(
        ps in prop::collection::vec(participant(), 1..4),
        extra in participant(),
    ) {
        let before = solve(&ps);
        let mut more = ps.clone();
        more.push(extra);
        let after = solve(&more);
        // The pairs that fit (explain ranks them): with per-format limits
        // the alternatives are those of the chosen pair's limits, which
        // one more participant may change.
        let fitting = |ps: &[Constraints]| -> HashSet<(u32, u64)> {
            solve_explained(ps, &Policy::default())
                .1
                .candidates
                .iter()
                .filter(|t| matches!(t.fate, accord_engine::explain::Fate::Ranked { .. }))
                .map(|t| (t.format, t.modifier))
                .collect()
        };
        match (before, after) {
            (Ok(b), Ok(a)) => {
                prop_assert!(fitting(&more).is_subset(&fitting(&ps)));
                // (Colour spaces likewise: the alternatives share the
                // chosen pair's.)
                if ps
                    .iter()
                    .chain(&more)
                    .all(|p| p.format_limits.is_empty() && p.color_spaces.is_empty())
                {
                    prop_assert!(pairs_of(&a).is_subset(&pairs_of(&b)));
                }
            }
            (Err(_), Ok(_)) => prop_assert!(false, "a failing collection cannot succeed with one more participant"),
            _ => {}
        }
    }

    #[test]
    fn permuting_participants_never_changes_the_output(
        (ps, shuffled) in prop::collection::vec(participant(), 1..6)
            .prop_flat_map(|ps| (Just(ps.clone()), Just(ps).prop_shuffle()))
    ) {
        let a: Result<Decision, Failure> = solve(&ps);
        prop_assert_eq!(a, solve(&shuffled));
    }

    #[test]
    fn no_decision_with_cpu_usage_has_a_vendor_layout(
        ps in prop::collection::vec(participant(), 1..5)
    ) {
        if let Ok(d) = solve(&ps) {
            if d.usage.intersects(Usage::CPU_READ | Usage::CPU_WRITE) {
                for c in &d.alternatives {
                    prop_assert!(
                        c.modifier == MOD_LINEAR || c.modifier == MOD_INVALID,
                        "{:#x} with usage {:?}", c.modifier, d.usage
                    );
                }
            }
        }
    }

    #[test]
    fn arbitrary_values_never_panic(ps in prop::collection::vec(wild_participant(), 0..4)) {
        let r = solve(&ps);
        if let Ok(d) = &r {
            check_invariants(&ps, d)?;
            for c in &d.alternatives {
                let _ = d.for_candidate(*c);
            }
        }
        let (explained, _) = solve_explained(&ps, &Policy::default());
        prop_assert_eq!(r, explained);
    }
}

/// The sizes of a decision, recomputed in u128 (which no u32/u64 input
/// can overflow): the buffer within 512 MiB, the collection within 1 GiB,
/// every plane inside its buffer. A wrapped u64 anywhere in the engine
/// would show here as a size that breaks them.
fn check_sizes(d: &Decision) -> Result<(), TestCaseError> {
    use accord_engine::limits::{MAX_BUFFER_BYTES, MAX_COLLECTION_BYTES};
    let count = u128::from(d.buffer_count);
    match &d.layout {
        Some(l) => {
            let size = u128::from(l.size_bytes);
            prop_assert!(size <= u128::from(MAX_BUFFER_BYTES));
            prop_assert!(size * count <= u128::from(MAX_COLLECTION_BYTES));
            let info = accord_engine::formats::info(d.format).expect("laid out");
            for (plane, p) in l.planes.iter().zip(info.planes) {
                let rows = u128::from(d.height).div_ceil(u128::from(p.vsub));
                let end = u128::from(plane.offset) + u128::from(plane.stride) * rows;
                prop_assert!(end <= size, "plane ends at {} past {}", end, size);
            }
        }
        None => {
            // A vendor layout holds at least the packed samples.
            if let Some(info) = accord_engine::formats::info(d.format) {
                let packed: u128 = info
                    .planes
                    .iter()
                    .map(|p| {
                        u128::from(d.width).div_ceil(u128::from(p.hsub * p.block_width))
                            * u128::from(p.block_bytes)
                            * u128::from(d.height).div_ceil(u128::from(p.vsub))
                    })
                    .sum();
                prop_assert!(packed * count <= u128::from(MAX_COLLECTION_BYTES));
            }
        }
    }
    Ok(())
}

/// One participant at any size, any buffer count up to the cap, any
/// alignment: where sizes and counts multiply.
fn huge_participant() -> impl Strategy<Value = Constraints> {
    (
        pair(),
        (edge_u32(), edge_u32()),
        0..=accord_engine::MAX_BUFFERS,
        (edge_u32(), edge_u32(), edge_u32()),
    )
        .prop_map(|(pair, size, count, (sa, oa, ba))| Constraints {
            name: "huge".into(),
            formats: vec![pair],
            min_size: size,
            stride_alignment: sa.max(1),
            offset_alignment: oa.max(1),
            base_alignment: ba.max(1),
            buffers: BufferCounts {
                min: count,
                ..Default::default()
            },
            ..Default::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn sizes_never_overflow(
        ps in prop_oneof![
            prop::collection::vec(huge_participant(), 1..3),
            prop::collection::vec(wild_participant(), 1..4),
        ]
    ) {
        match solve(&ps) {
            Ok(d) => {
                check_sizes(&d)?;
                for c in &d.alternatives {
                    if let Ok(d2) = d.for_candidate(*c) {
                        check_sizes(&d2)?;
                    }
                }
            }
            Err(f) => prop_assert!(!f.message.is_empty()),
        }
    }
}

/// 128 buffers of an enormous size: too large, linear or vendor.
#[test]
fn one_hundred_and_twenty_eight_enormous_buffers_are_too_large() {
    for modifier in [MOD_LINEAR, MOD_INVALID, 0x0100_0000_0000_0002] {
        let c = Constraints {
            name: "a".into(),
            formats: vec![FormatModifier {
                format: common::fourcc("XRGB8888"),
                modifier,
                scanout: false,
            }],
            min_size: (u32::MAX, u32::MAX),
            buffers: BufferCounts {
                min: 128,
                ..Default::default()
            },
            ..Default::default()
        };
        let f = solve(&[c]).unwrap_err();
        assert_eq!(f.reason, accord_engine::FailureReason::TooLarge, "{f:?}");
    }
}

/// Every plane of a layout of `info` at `w`x`h` under `p`: whole samples
/// (the coded size a multiple of the format's block, every row of every
/// plane covering the image), every offset and stride a multiple of the
/// asked alignment and of its samples, plane strides in sysmem's fixed
/// ratio to plane 0's, planes in order without overlap, inside the size.
fn check_planes(
    info: &accord_engine::formats::FormatInfo,
    p: &accord_engine::layout::LayoutParams,
    l: &accord_engine::Layout,
) -> Result<(), TestCaseError> {
    let (bw, bh) = info.block();
    let coded_w = u128::from(p.width).div_ceil(u128::from(bw)) * u128::from(bw);
    let coded_h = u128::from(p.height).div_ceil(u128::from(bh)) * u128::from(bh);
    prop_assert_eq!(l.planes.len(), info.planes.len());
    let mut end = 0u128;
    for (i, (plane, fp)) in l.planes.iter().zip(info.planes).enumerate() {
        let sample = u64::from(fp.sample_alignment());
        let stride = u64::from(plane.stride);
        prop_assert_eq!(
            stride % p.stride_alignment,
            0,
            "{} plane {} stride",
            info.name,
            i
        );
        prop_assert_eq!(
            stride % sample,
            0,
            "{} plane {} stride vs samples",
            info.name,
            i
        );
        prop_assert_eq!(
            plane.offset % p.offset_alignment,
            0,
            "{} plane {} offset",
            info.name,
            i
        );
        prop_assert_eq!(
            plane.offset % sample,
            0,
            "{} plane {} offset vs samples",
            info.name,
            i
        );
        // Whole samples: the coded width and height divide by the
        // plane's subsampling, and its rows hold the coded width.
        prop_assert_eq!(coded_w % u128::from(fp.hsub * fp.block_width), 0);
        prop_assert_eq!(coded_h % u128::from(fp.vsub), 0);
        let row = coded_w / u128::from(fp.hsub * fp.block_width) * u128::from(fp.block_bytes);
        prop_assert!(
            u128::from(stride) >= row,
            "{} plane {} stride {} < row {}",
            info.name,
            i,
            stride,
            row
        );
        let (num, den) = info.stride_ratio(i);
        prop_assert_eq!(
            u128::from(stride) * u128::from(den),
            u128::from(l.planes[0].stride) * u128::from(num),
            "{} plane {} stride out of ratio",
            info.name,
            i
        );
        prop_assert!(
            u128::from(plane.offset) >= end,
            "{} plane {} overlaps",
            info.name,
            i
        );
        end = u128::from(plane.offset) + u128::from(stride) * (coded_h / u128::from(fp.vsub));
    }
    prop_assert!(u128::from(l.size_bytes) >= end);
    prop_assert_eq!(l.size_bytes % p.base_alignment, 0);
    prop_assert!(l.planes[0].stride >= p.min_stride);
    Ok(())
}

fn any_alignment() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(1u64),
        Just(2),
        Just(3),
        Just(4),
        Just(6),
        Just(64),
        Just(256),
        Just(4096),
        1u64..=300
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn every_plane_of_every_format_has_whole_samples(
        index in 0..accord_engine::formats::all().len(),
        w in prop_oneof![1u32..=8, 1u32..=5000],
        h in prop_oneof![1u32..=8, 1u32..=5000],
        (sa, oa, ba) in (any_alignment(), any_alignment(), any_alignment()),
        min_stride in prop_oneof![Just(0u32), 0u32..=20000],
    ) {
        let info = &accord_engine::formats::all()[index];
        let mut p = accord_engine::layout::LayoutParams::new(w, h);
        p.stride_alignment = sa;
        p.offset_alignment = oa;
        p.base_alignment = ba;
        p.min_stride = min_stride;
        let l = accord_engine::layout::compute(info.fourcc, &p);
        prop_assert!(l.is_ok(), "{} {}x{}: {:?}", info.name, w, h, l);
        check_planes(info, &p, &l.unwrap())?;
    }
}

/// The layout tables cover every format the engine knows: each lays out
/// at odd sizes, with a block that is a whole number of every plane's
/// samples, plane 0 as the stride reference.
#[test]
fn every_known_format_has_a_plane_table() {
    for info in accord_engine::formats::all() {
        assert_eq!(accord_engine::formats::info(info.fourcc), Some(info));
        assert_eq!(info.stride_ratio(0), (1, 1), "{}", info.name);
        assert_eq!((info.planes[0].hsub, info.planes[0].vsub), (1, 1));
        for (w, h) in [(1, 1), (3, 5), (641, 481)] {
            let p = accord_engine::layout::LayoutParams::new(w, h);
            let l = accord_engine::layout::compute(info.fourcc, &p).expect(info.name);
            let mut strict = p;
            strict.stride_alignment = 1;
            check_planes(info, &strict, &l).unwrap();
        }
    }
    let name = |n| accord_engine::formats::info(common::fourcc(n)).unwrap();
    assert_eq!(name("NV12").block(), (2, 2));
    assert_eq!(name("NV16").block(), (2, 1));
    assert_eq!(name("YUYV").block(), (2, 1));
    assert_eq!(name("YUV444").block(), (1, 1));
    assert_eq!(name("YUV420").stride_ratio(1), (1, 2));
    assert_eq!(name("NV24").stride_ratio(1), (2, 1));
    assert_eq!(name("P010").stride_ratio(1), (1, 1));
}

/// Guard against vacuous properties: the generator must produce both
/// decisions (with layouts) and failures.
#[test]
fn generator_yields_decisions_and_failures() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = prop::collection::vec(participant(), 1..5);
    let (mut ok, mut laid_out, mut failed) = (0, 0, 0);
    for _ in 0..400 {
        let ps = strategy.new_tree(&mut runner).unwrap().current();
        match solve(&ps) {
            Ok(d) => {
                ok += 1;
                laid_out += usize::from(d.layout.is_some());
            }
            Err(_) => failed += 1,
        }
    }
    eprintln!("ok {ok}, laid out {laid_out}, failed {failed}");
    assert!(
        ok >= 40 && laid_out >= 20 && failed >= 40,
        "ok {ok}, laid out {laid_out}, failed {failed}"
    );
}

/// A random tree of token groups: each group's parent is a child of an
/// earlier group (or none), 1 to 4 children, some failed.
fn group_tree() -> impl Strategy<Value = Vec<accord_engine::groups::Group>> {
    use accord_engine::groups::{Branch, Group};
    prop::collection::vec((1usize..5, any::<u8>(), any::<u8>(), any::<u8>()), 0..5).prop_map(
        |specs| {
            let mut groups: Vec<Group> = Vec::new();
            for (i, (children, parent_pick, failed_bits, top)) in specs.into_iter().enumerate() {
                let parent = (i > 0 && top % 2 == 1).then(|| {
                    let g = parent_pick as usize % i;
                    Branch {
                        group: g,
                        child: (parent_pick as usize / 7) % groups[g].children,
                    }
                });
                groups.push(Group {
                    name: format!("g{i}"),
                    parent,
                    children,
                    failed_children: (0..children)
                        .filter(|c| failed_bits & (1 << c) != 0 && failed_bits % 3 == 0)
                        .collect(),
                    present: true,
                });
            }
            groups
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Selection depends on the children's order, not on the order the
    /// participants are listed in.
    #[test]
    fn group_selection_is_independent_of_participant_order(
        groups in group_tree(),
        ps in prop::collection::vec((participant(), any::<u8>()), 1..8),
        seed in any::<u64>(),
    ) {
        use accord_engine::groups::{solve_groups, Branch};
        // Place each participant outside the groups or in some child.
        let branches: Vec<Option<Branch>> = ps
            .iter()
            .map(|(_, pick)| {
                let g = *pick as usize % (groups.len() + 1);
                (g < groups.len()).then(|| Branch { group: g, child: (*pick as usize / 5) % groups[g].children })
            })
            .collect();
        let parts: Vec<Constraints> = ps.iter().enumerate().map(|(i, (p, _))| Constraints { name: format!("p{i}"), ..p.clone() }).collect();
        let mut order: Vec<usize> = (0..parts.len()).collect();
        // A deterministic shuffle from the seed.
        let mut x = seed | 1;
        for i in (1..order.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            order.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let p2: Vec<Constraints> = order.iter().map(|&i| parts[i].clone()).collect();
        let b2: Vec<Option<Branch>> = order.iter().map(|&i| branches[i]).collect();
        let policy = Policy::default();
        let a = solve_groups(&parts, &branches, &groups, &policy);
        let b = solve_groups(&p2, &b2, &groups, &policy);
        match (a, b) {
            (Ok((sa, da)), Ok((sb, db))) => {
                prop_assert_eq!(sa, sb);
                prop_assert_eq!(da, db);
            }
            (Err(fa), Err(fb)) => prop_assert_eq!(fa.reason, fb.reason),
            (a, b) => prop_assert!(false, "{:?} / {:?}", a.map(|x| x.0), b.map(|x| x.0)),
        }
    }

    /// The search never tries more than the cap, each combination once,
    /// and the selection it returns is the first that succeeds.
    #[test]
    fn group_search_never_exceeds_the_cap(groups in group_tree(), accept in any::<u64>()) {
        use accord_engine::groups::{first_combination, Branch};
        let branches: Vec<Option<Branch>> = Vec::new();
        let mut tried = Vec::new();
        let r = first_combination(&groups, &branches, |a| {
            tried.push(a.selection.clone());
            if accept & (1 << (tried.len() % 64)) != 0 { Ok(()) } else {
                Err(Failure { reason: accord_engine::FailureReason::SizeConflict, message: "no".into(), participants: vec![] })
            }
        });
        prop_assert!(tried.len() <= 64);
        let distinct: HashSet<_> = tried.iter().cloned().collect();
        prop_assert_eq!(distinct.len(), tried.len());
        if let Ok((sel, ())) = r {
            prop_assert_eq!(Some(&sel), tried.last());
        }
        // Every selection is consistent: a chosen group's parent chose
        // its child, failed children are never chosen.
        for s in &tried {
            for (g, c) in s.chosen.iter().enumerate() {
                if let Some(c) = c {
                    prop_assert!(!groups[g].failed_children.contains(c));
                    if let Some(p) = groups[g].parent {
                        prop_assert_eq!(s.chosen[p.group], Some(p.child));
                    }
                }
            }
        }
    }
}
