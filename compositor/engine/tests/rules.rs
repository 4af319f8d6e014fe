//! One test per aggregation, contradiction and ranking rule.

mod common;

use accord_engine::{
    solve, solve_explained, solve_with, Candidate, CostEntry, FailureReason, FormatLimits, Policy,
    Usage, MAX_BUFFERS, MOD_INVALID, MOD_LINEAR,
};
use common::{fourcc, participant};

const Y_TILED: u64 = 0x0100_0000_0000_0002;
const RC_CCS: u64 = 0x0100_0000_0000_0006;
const AFBC: u64 = 0x0800_0000_0000_0051;

fn xrgb(name: &str, modifiers: &[u64]) -> accord_engine::Constraints {
    let pairs: Vec<(&str, u64, bool)> = modifiers.iter().map(|&m| ("XRGB8888", m, false)).collect();
    participant(name, &pairs)
}

fn reason(
    r: Result<accord_engine::Decision, accord_engine::Failure>,
) -> (FailureReason, Vec<String>) {
    let f = r.expect_err("should fail");
    (f.reason, f.participants)
}

// ---- aggregation ----

#[test]
fn usage_is_ored() {
    let mut a = xrgb("a", &[MOD_LINEAR]);
    let mut b = xrgb("b", &[MOD_LINEAR]);
    a.usage = Usage::RENDER;
    b.usage = Usage::SCANOUT | Usage::CPU_READ;
    let d = solve(&[a, b]).unwrap();
    assert_eq!(d.usage, Usage::RENDER | Usage::SCANOUT | Usage::CPU_READ);
}

#[test]
fn formats_are_intersected_in_preference_order() {
    let a = participant(
        "a",
        &[
            ("NV12", Y_TILED, false),
            ("XRGB8888", MOD_LINEAR, false),
            ("NV12", MOD_LINEAR, false),
        ],
    );
    let b = participant(
        "b",
        &[("NV12", MOD_LINEAR, false), ("XRGB8888", MOD_LINEAR, false)],
    );
    let d = solve(&[a, b]).unwrap();
    let got: Vec<(u32, u64)> = d
        .alternatives
        .iter()
        .map(|c| (c.format, c.modifier))
        .collect();
    // XRGB8888 (positions 1+1) ties NV12 (2+0); NV12 has fewer bits per pixel.
    assert_eq!(
        got,
        vec![
            (fourcc("NV12"), MOD_LINEAR),
            (fourcc("XRGB8888"), MOD_LINEAR)
        ]
    );
}

#[test]
fn invalid_survives_only_if_everyone_accepts_it() {
    let a = xrgb("a", &[MOD_INVALID, MOD_LINEAR]);
    let b = xrgb("b", &[MOD_LINEAR]);
    let d = solve(&[a.clone(), b]).unwrap();
    assert_eq!(d.modifier, MOD_LINEAR);
    assert_eq!(d.alternatives.len(), 1);
    let c = xrgb("c", &[MOD_INVALID]);
    let d = solve(&[a, c]).unwrap();
    assert_eq!(d.modifier, MOD_INVALID);
    assert!(d.layout.is_some(), "INVALID is laid out as linear");
}

#[test]
fn vendor_modifiers_are_opaque_and_get_no_layout() {
    let a = xrgb("a", &[0x0123_4567_89ab_cdef]);
    let d = solve(&[a.clone(), a]).unwrap();
    assert_eq!(d.modifier, 0x0123_4567_89ab_cdef);
    assert_eq!(d.layout, None);
}

#[test]
fn sizes_take_the_largest_min_rounded_to_the_lcm_of_alignments() {
    let mut a = xrgb("a", &[MOD_LINEAR]);
    let mut b = xrgb("b", &[MOD_LINEAR]);
    a.min_size = (1000, 700);
    a.size_alignment = (16, 4);
    b.min_size = (1920, 1080);
    b.size_alignment = (24, 6);
    let d = solve(&[a, b]).unwrap();
    assert_eq!((d.width, d.height), (1920, 1080)); // lcm 48 | 1920, lcm 12 | 1080
    let mut c = xrgb("c", &[MOD_LINEAR]);
    c.min_size = (1921, 1081);
    c.size_alignment = (16, 16);
    let d = solve(&[c]).unwrap();
    assert_eq!((d.width, d.height), (1936, 1088));
}

// ---- raw buffers (min_size_bytes) ----

/// A bitstream participant: no pairs, a byte size.
fn bytes(name: &str, min: u64) -> accord_engine::Constraints {
    accord_engine::Constraints {
        name: name.into(),
        min_size_bytes: min,
        ..Default::default()
    }
}

#[test]
fn a_collection_nobody_lists_a_pair_for_is_raw_bytes() {
    use accord_engine::{BufferCounts, PlaneLayout, FORMAT_RAW};
    // A V4L2 stateful decoder's OUTPUT queue (sizeimage 1 MiB + a bit,
    // page-aligned) and a demuxer writing into it.
    let mut decoder = bytes("decoder", (1 << 20) + 100);
    decoder.usage = Usage::VIDEO_DECODE;
    decoder.base_alignment = 4096;
    decoder.buffers = BufferCounts {
        camping: 2,
        ..Default::default()
    };
    let mut demuxer = bytes("demuxer", 65536);
    demuxer.usage = Usage::CPU_WRITE;
    demuxer.base_alignment = 64;
    demuxer.buffers.camping = 1;
    let d = solve(&[decoder.clone(), demuxer.clone()]).unwrap();
    assert!(d.raw);
    assert_eq!(
        (d.format, d.modifier, d.width, d.height),
        (FORMAT_RAW, MOD_LINEAR, 0, 0)
    );
    assert_eq!(d.buffer_count, 3);
    assert_eq!(d.usage, Usage::VIDEO_DECODE | Usage::CPU_WRITE);
    let l = d.layout.clone().unwrap();
    assert_eq!(
        l.planes,
        vec![PlaneLayout {
            offset: 0,
            stride: 0
        }]
    );
    assert_eq!(
        l.size_bytes,
        (1 << 20) + 4096,
        "the largest minimum, rounded to the LCM of 4096 and 64"
    );
    assert_eq!(d.min_size_bytes, (1 << 20) + 100);
    // The order of participants changes nothing.
    assert_eq!(solve(&[demuxer, decoder]).unwrap(), d);
}

#[test]
fn a_raw_collection_needs_a_size_and_no_image_field() {
    let (r, who) = reason(solve(&[bytes("a", 0), bytes("b", 0)]));
    assert_eq!(
        (r, who),
        (FailureReason::NoCommonFormat, vec!["a".into(), "b".into()])
    );
    let mut b = bytes("b", 0);
    b.min_size = (64, 64);
    b.color_spaces = vec![accord_engine::ColorSpace::BT709];
    let f = solve(&[bytes("a", 4096), b]).unwrap_err();
    assert_eq!(f.reason, FailureReason::InvalidConstraint);
    assert_eq!(f.participants, ["b"]);
    assert_eq!(
        f.message,
        "a raw collection (no participant lists a format) has no image: b sets size, color_spaces"
    );
    // Bytes and images do not mix: the pair list of one is empty.
    let (r, who) = reason(solve(&[bytes("a", 4096), xrgb("b", &[MOD_LINEAR])]));
    assert_eq!((r, who), (FailureReason::NoCommonFormat, vec!["a".into()]));
}

#[test]
fn raw_sizes_meet_every_byte_limit() {
    let mut small = bytes("small", 0);
    small.max_bytes = 4096;
    let (r, who) = reason(solve(&[bytes("big", 4097), small]));
    assert_eq!(
        (r, who),
        (FailureReason::TooLarge, vec!["big".into(), "small".into()])
    );
    // The protocol's 512 MiB a buffer and 1 GiB a collection.
    let (r, _) = reason(solve(&[bytes("a", (512 << 20) + 1)]));
    assert_eq!(r, FailureReason::TooLarge);
    let mut three = bytes("a", 512 << 20);
    three.buffers.min = 2;
    assert!(solve(&[three.clone()]).is_ok());
    three.buffers.min = 3;
    let f = solve(&[three]).unwrap_err();
    assert_eq!(f.reason, FailureReason::TooLarge);
    assert!(f.message.contains("collection limit"), "{}", f.message);
    // A base alignment that rounds past u64 is a failure, not a wrap.
    let mut wide = bytes("a", u64::MAX);
    wide.base_alignment = 3;
    assert_eq!(reason(solve(&[wide])).0, FailureReason::TooLarge);
}

#[test]
fn min_size_bytes_raises_an_image_buffer() {
    let mut a = xrgb("a", &[MOD_LINEAR]);
    a.min_size = (64, 64);
    let image = solve(&[a.clone()]).unwrap().layout.unwrap().size_bytes;
    assert_eq!(image, 64 * 64 * 4);
    // A V4L2 capture queue whose sizeimage exceeds the image (sysmem:
    // size_bytes = max(min_size_bytes, image size)).
    let mut b = xrgb("b", &[MOD_LINEAR]);
    b.min_size_bytes = 20_000;
    b.base_alignment = 4096;
    let d = solve(&[a.clone(), b.clone()]).unwrap();
    assert!(!d.raw);
    assert_eq!(d.layout.unwrap().size_bytes, 20_480);
    // Above another's max_bytes: too_large naming both.
    a.max_bytes = 16_384;
    let (r, who) = reason(solve(&[a, b]));
    assert_eq!(
        (r, who),
        (FailureReason::TooLarge, vec!["a".into(), "b".into()])
    );
}

#[test]
fn a_participant_cannot_list_format_zero_or_a_minimum_above_its_maximum() {
    use accord_engine::limits::{check_participant, MisuseKind};
    let mut p = participant("p", &[("XRGB8888", MOD_LINEAR, false)]);
    p.formats[0].format = accord_engine::FORMAT_RAW;
    let e = check_participant(&p).unwrap_err();
    assert_eq!((e.kind, e.field), (MisuseKind::FormatTable, "formats"));
    let mut q = bytes("q", 4097);
    q.max_bytes = 4096;
    let e = check_participant(&q).unwrap_err();
    assert_eq!((e.kind, e.field), (MisuseKind::Value, "min_size_bytes"));
    assert_eq!(reason(solve(&[q])).0, FailureReason::InvalidConstraint);
}

#[test]
fn a_late_participant_of_raw_buffers_joins_on_bytes() {
    use accord_engine::{check_late_join, AllocatedLayout};
    let d = solve(&[bytes("decoder", 10_000)]).unwrap();
    let l = d.layout.clone().unwrap();
    let layout = AllocatedLayout {
        planes: l.planes,
        size_bytes: l.size_bytes,
    };
    check_late_join(&d, &layout, &bytes("reader", 10_000)).unwrap();
    let f = check_late_join(&d, &layout, &bytes("reader", 10_001)).unwrap_err();
    assert_eq!(f.reason, FailureReason::SizeConflict);
    let f = check_late_join(&d, &layout, &xrgb("viewer", &[MOD_LINEAR])).unwrap_err();
    assert_eq!(f.reason, FailureReason::NoCommonFormat);
    let mut picky = bytes("picky", 0);
    picky.stride_alignment = 64;
    let f = check_late_join(&d, &layout, &picky).unwrap_err();
    assert_eq!(f.reason, FailureReason::InvalidConstraint);
}

// ---- coherency domains ----

#[test]
fn coherency_is_decided_with_the_usage() {
    use accord_engine::CoherencyDomains as D;
    let mut a = xrgb("a", &[MOD_LINEAR]);
    let mut b = xrgb("b", &[MOD_LINEAR]);
    assert_eq!(
        solve(&[a.clone(), b.clone()]).unwrap().coherency_domain,
        D::CPU
    );
    b.coherency_domains = D(D::RAM.0 | D::INACCESSIBLE.0);
    assert_eq!(
        solve(&[a.clone(), b.clone()]).unwrap().coherency_domain,
        D::RAM
    );
    // Protected content: only inaccessible memory.
    a.usage = Usage::PROTECTED;
    assert_eq!(
        solve(&[a.clone(), b.clone()]).unwrap().coherency_domain,
        D::INACCESSIBLE
    );
    b.coherency_domains = D::RAM;
    let (r, who) = reason(solve(&[a.clone(), b.clone()]));
    assert_eq!(
        (r, who),
        (
            FailureReason::InvalidConstraint,
            vec!["a".into(), "b".into()]
        )
    );
    // CPU access to memory only inaccessible to it: a named failure.
    a.usage = Usage::CPU_READ;
    b.coherency_domains = D::INACCESSIBLE;
    let f = solve(&[a, b]).unwrap_err();
    assert_eq!(f.reason, FailureReason::InvalidConstraint);
    assert_eq!(f.participants, ["a", "b"]);
    assert_eq!(
        f.message,
        "cpu_read/cpu_write by a need a CPU-accessible coherency domain (cpu or ram); b supports only inaccessible memory"
    );
}

// ---- colour spaces ----

#[test]
fn colour_spaces_are_intersected_and_ranked_by_position_sums() {
    use accord_engine::ColorSpace;
    let mut dec = participant("decoder", &[("NV12", MOD_LINEAR, false)]);
    dec.color_spaces = vec![ColorSpace::BT2020, ColorSpace::BT709, ColorSpace::BT601];
    let mut disp = participant("display", &[("NV12", MOD_LINEAR, false)]);
    disp.color_spaces = vec![ColorSpace::BT709, ColorSpace::BT601];
    let d = solve(&[dec.clone(), disp.clone()]).unwrap();
    assert_eq!(d.color_space, Some(ColorSpace::BT709));
    // A participant without a list takes any.
    let any = participant("any", &[("NV12", MOD_LINEAR, false)]);
    assert_eq!(
        solve(&[dec.clone(), any.clone()]).unwrap().color_space,
        Some(ColorSpace::BT2020)
    );
    assert_eq!(solve(&[any]).unwrap().color_space, None);
    // Nothing in common: a named failure, not wrong colours.
    disp.color_spaces = vec![ColorSpace::SRGB];
    let f = solve(&[dec, disp]).unwrap_err();
    assert_eq!(f.reason, FailureReason::NoCommonFormat);
    assert_eq!(f.participants, ["decoder", "display"]);
    assert_eq!(
        f.message,
        "no colour space in common: decoder [bt2020, bt709, bt601], display [srgb]"
    );
}

#[test]
fn a_format_takes_only_the_colour_spaces_it_can_carry() {
    use accord_engine::ColorSpace;
    // An RGB format cannot carry BT.709 YCbCr; sRGB is no YUV space.
    let mut a = participant(
        "a",
        &[("XRGB8888", MOD_LINEAR, false), ("NV12", MOD_LINEAR, false)],
    );
    a.color_spaces = vec![ColorSpace::BT709, ColorSpace::SRGB];
    let d = solve(&[a.clone()]).unwrap();
    assert_eq!(
        (d.format, d.color_space),
        (fourcc("XRGB8888"), Some(ColorSpace::SRGB))
    );
    // NV12 needs another colour space: not a fallback of XRGB8888.
    assert_eq!(d.alternatives.len(), 1);
    a.color_spaces = vec![ColorSpace::SRGB];
    a.formats.remove(0);
    let f = solve(&[a]).unwrap_err();
    assert_eq!(
        f.message,
        "NV12 can carry none of the common colour spaces [srgb]"
    );
    let mut bad = participant("bad", &[("NV12", MOD_LINEAR, false)]);
    bad.color_spaces = vec![ColorSpace::BT709, ColorSpace(42)];
    assert_eq!(
        accord_engine::limits::check_participant(&bad)
            .unwrap_err()
            .to_string(),
        "color_spaces: unknown colour space 42; defined values are 1..=9"
    );
}

// ---- per-format limits ----

fn limits(format: &str) -> FormatLimits {
    FormatLimits::new(fourcc(format))
}

#[test]
fn a_format_limit_applies_to_that_format_only() {
    // A plane that scans NV12 out up to 1920 wide, XRGB8888 up to 4096.
    let mut plane = participant(
        "plane",
        &[("NV12", MOD_LINEAR, false), ("XRGB8888", MOD_LINEAR, false)],
    );
    plane.max_size = (4096, 4096);
    plane.format_limits = vec![FormatLimits {
        max_size: (1920, 4096),
        ..limits("NV12")
    }];
    let mut src = participant(
        "source",
        &[("NV12", MOD_LINEAR, false), ("XRGB8888", MOD_LINEAR, false)],
    );
    src.min_size = (1920, 1080);
    let d = solve(&[plane.clone(), src.clone()]).unwrap();
    assert_eq!((d.format, d.width), (fourcc("NV12"), 1920));
    src.min_size = (3840, 2160);
    let d = solve(&[plane.clone(), src.clone()]).unwrap();
    assert_eq!((d.format, d.width), (fourcc("XRGB8888"), 3840));
    // NV12 does not fit, so it is no fallback.
    assert_eq!(d.alternatives.len(), 1);
    // Only NV12 left: a size conflict naming both, from NV12's limits.
    src.formats.truncate(1);
    let f = solve(&[plane, src]).unwrap_err();
    assert_eq!(f.reason, FailureReason::SizeConflict);
    assert_eq!(f.participants, ["plane", "source"]);
    assert!(f.message.contains("maximum 1920 of plane"), "{}", f.message);
}

#[test]
fn per_format_stride_alignment_sets_the_decision_of_that_format() {
    // A camera whose bytesperline rules differ: YUYV in steps of 32 bytes,
    // NV12 in steps of 256.
    let mut cam = participant(
        "camera",
        &[("NV12", MOD_LINEAR, false), ("YUYV", MOD_LINEAR, false)],
    );
    cam.min_size = (640, 480);
    cam.format_limits = vec![
        FormatLimits {
            stride_alignment: 256,
            ..limits("NV12")
        },
        FormatLimits {
            stride_alignment: 32,
            ..limits("YUYV")
        },
    ];
    let viewer = participant(
        "viewer",
        &[("NV12", MOD_LINEAR, false), ("YUYV", MOD_LINEAR, false)],
    );
    let d = solve(&[cam.clone(), viewer.clone()]).unwrap();
    assert_eq!((d.format, d.stride_alignment), (fourcc("NV12"), 256));
    assert_eq!(d.layout.unwrap().planes[0].stride, 768);
    // YUYV's buffers would be aligned otherwise: not a fallback of NV12.
    assert_eq!(d.alternatives.len(), 1);
    let mut yuyv_first = viewer;
    yuyv_first.formats.reverse();
    cam.formats.reverse();
    let d = solve(&[cam, yuyv_first]).unwrap();
    assert_eq!((d.format, d.stride_alignment), (fourcc("YUYV"), 32));
}

#[test]
fn contradictory_or_repeated_format_limits_are_refused() {
    let mut a = xrgb("a", &[MOD_LINEAR]);
    a.format_limits = vec![FormatLimits {
        size_alignment: (0, 1),
        ..limits("XRGB8888")
    }];
    let f = solve(&[a.clone()]).unwrap_err();
    assert_eq!(f.reason, FailureReason::InvalidConstraint);
    assert!(
        f.message.starts_with("XRGB8888 limits of a: "),
        "{}",
        f.message
    );
    a.format_limits = vec![limits("XRGB8888"), limits("NV12"), limits("XRGB8888")];
    let m = accord_engine::limits::check_participant(&a).unwrap_err();
    assert_eq!(
        m.to_string(),
        "format_limits: XRGB8888 given limits twice (entries 0, 2); one entry per format"
    );
}

#[test]
fn required_sizes_raise_the_size_and_capability_bounds_it() {
    // A decoder that can do 16..4096 and needs 1920x1088 now, up to
    // 2560x1440 later (sysmem's required_min/max_size).
    let mut dec = xrgb("decoder", &[MOD_LINEAR]);
    dec.min_size = (16, 16);
    dec.max_size = (4096, 4096);
    dec.required_min_size = (1920, 1088);
    let mut plane = xrgb("plane", &[MOD_LINEAR]);
    plane.max_size = (2048, 2048);
    let d = solve(&[dec.clone(), plane.clone()]).unwrap();
    assert_eq!((d.width, d.height), (1920, 1088));
    dec.required_max_size = (2560, 1440);
    let f = solve(&[dec.clone(), plane.clone()]).unwrap_err();
    assert_eq!(f.reason, FailureReason::SizeConflict);
    assert_eq!(f.participants, ["decoder", "plane"]);
    assert!(
        f.message.contains("width 2560 required by decoder"),
        "{}",
        f.message
    );
    plane.max_size = (0, 0);
    let d = solve(&[dec.clone(), plane]).unwrap();
    assert_eq!((d.width, d.height), (2560, 1440));
    // Within one participant: need above capability is invalid.
    dec.max_size = (2048, 4096);
    let (r, who) = reason(solve(&[dec]));
    assert_eq!(
        (r, who),
        (FailureReason::InvalidConstraint, vec!["decoder".into()])
    );
}

#[test]
fn a_required_min_above_the_required_max_is_invalid() {
    let mut a = xrgb("a", &[MOD_LINEAR]);
    a.required_min_size = (1920, 1080);
    a.required_max_size = (1280, 1080);
    let f = solve(&[a]).unwrap_err();
    assert_eq!(f.reason, FailureReason::InvalidConstraint);
    assert!(
        f.message.contains("required width 1920 > max 1280"),
        "{}",
        f.message
    );
}

#[test]
fn max_area_is_the_smallest_and_checks_the_aligned_size() {
    // H.264 level 4 (MaxFS 8192 macroblocks = 2,097,152 pixels): 1920x1088
    // fits, 2048x1088 does not.
    let mut dec = xrgb("h264-l4", &[MOD_LINEAR]);
    dec.max_area = 8192 * 256;
    dec.size_alignment = (16, 16);
    let mut src = xrgb("source", &[MOD_LINEAR]);
    src.min_size = (1920, 1080);
    let d = solve(&[dec.clone(), src.clone()]).unwrap();
    assert_eq!((d.width, d.height), (1920, 1088));
    let mut other = xrgb("other", &[MOD_LINEAR]);
    other.max_area = 4_000_000;
    src.min_size = (2048, 1080);
    let f = solve(&[dec, src, other]).unwrap_err();
    assert_eq!(f.reason, FailureReason::SizeConflict);
    assert_eq!(f.participants, ["h264-l4", "source"]);
    assert_eq!(
        f.message,
        "2048x1088 is 2228224 pixels, above the maximum area 2097152 of h264-l4"
    );
}

#[test]
fn max_size_is_the_smallest_max() {
    let mut a = xrgb("a", &[MOD_LINEAR]);
    let mut b = xrgb("b", &[MOD_LINEAR]);
    a.min_size = (600, 600);
    a.max_size = (4096, 0);
    b.max_size = (599, 8192);
    assert_eq!(
        reason(solve(&[a.clone(), b.clone()])),
        (FailureReason::SizeConflict, vec!["a".into(), "b".into()])
    );
    b.max_size = (600, 600);
    assert!(solve(&[a.clone(), b.clone()]).is_ok());
    // Rounding up to the alignment may push past the max.
    a.size_alignment = (64, 1);
    let f = solve(&[a, b]).unwrap_err();
    assert_eq!(f.reason, FailureReason::SizeConflict);
    assert!(f.message.contains("640"), "{}", f.message);
}

#[test]
fn alignments_combine_by_lcm() {
    let mut a = participant("a", &[("NV12", MOD_LINEAR, false)]);
    let mut b = participant("b", &[("NV12", MOD_LINEAR, false)]);
    a.min_size = (100, 100);
    a.stride_alignment = 64;
    a.offset_alignment = 4096;
    a.base_alignment = 4096;
    b.stride_alignment = 96;
    b.offset_alignment = 6144;
    b.base_alignment = 1 << 16;
    let d = solve(&[a, b]).unwrap();
    assert_eq!(
        (d.stride_alignment, d.offset_alignment, d.base_alignment),
        (192, 12288, 1 << 16)
    );
    let l = d.layout.unwrap();
    assert_eq!(l.planes[0].stride, 192);
    assert_eq!(l.planes[1].offset, 12288 * 2); // 192*100 = 19200 -> 24576
    assert_eq!(l.size_bytes, 1 << 16);
}

#[test]
fn alignment_overflow_is_an_error_not_a_panic() {
    let mut ps = Vec::new();
    for (i, prime) in [4_294_967_291u32, 4_294_967_279, 4_294_967_231]
        .into_iter()
        .enumerate()
    {
        let mut p = xrgb(&format!("p{i}"), &[MOD_LINEAR]);
        p.offset_alignment = prime;
        ps.push(p);
    }
    let f = solve(&ps).unwrap_err();
    assert_eq!(f.reason, FailureReason::TooLarge);
    assert_eq!(f.participants.len(), 3);
}

#[test]
fn strides_take_max_of_mins_and_min_of_maxes() {
    let mut a = xrgb("a", &[MOD_LINEAR]);
    let mut b = xrgb("b", &[MOD_LINEAR]);
    a.min_stride = 1024;
    a.max_stride = 8192;
    b.min_stride = 2048;
    b.max_stride = 4096;
    let d = solve(&[a.clone(), b.clone()]).unwrap();
    assert_eq!((d.min_stride, d.max_stride), (2048, 4096));
    assert_eq!(d.layout.unwrap().planes[0].stride, 2048);
    b.min_stride = 0;
    b.max_stride = 512;
    assert_eq!(
        reason(solve(&[a, b])),
        (FailureReason::StrideConflict, vec!["a".into(), "b".into()])
    );
}

#[test]
fn stride_alignment_beyond_max_stride_conflicts() {
    let mut a = xrgb("a", &[MOD_LINEAR]);
    let mut b = xrgb("b", &[MOD_LINEAR]);
    a.stride_alignment = 8192;
    b.max_stride = 4096;
    assert_eq!(
        reason(solve(&[a, b])),
        (FailureReason::StrideConflict, vec!["a".into(), "b".into()])
    );
}

#[test]
fn layout_stride_beyond_max_stride_conflicts_and_falls_back() {
    let mut display = participant(
        "display",
        &[
            ("XRGB8888", MOD_LINEAR, false),
            ("RGB565", MOD_LINEAR, false),
        ],
    );
    display.max_stride = 4096;
    let mut client = participant(
        "client",
        &[
            ("XRGB8888", MOD_LINEAR, false),
            ("RGB565", MOD_LINEAR, false),
        ],
    );
    client.min_size = (1920, 1080);
    // XRGB8888 needs 7680 bytes per row; RGB565 fits in 3840.
    let d = solve(&[display.clone(), client.clone()]).unwrap();
    assert_eq!(d.format, fourcc("RGB565"));
    assert_eq!(d.alternatives.len(), 1);
    display.formats.truncate(1);
    client.formats.truncate(1);
    assert_eq!(
        reason(solve(&[display, client])),
        (
            FailureReason::StrideConflict,
            vec!["client".into(), "display".into()]
        )
    );
}

/// A vendor layout is at least its samples packed: a size past the byte
/// limits there is too large on every device, and the dry run says so
/// (the compositor would only find out after allocating).
#[test]
fn a_vendor_modifier_at_an_impossible_size_is_too_large() {
    const X_TILED: u64 = 0x0100_0000_0000_0001;
    let mut a = xrgb("a", &[X_TILED]);
    a.min_size = (65536, 65536);
    let f = solve(&[a.clone()]).unwrap_err();
    assert_eq!(f.reason, FailureReason::TooLarge, "{}", f.message);
    assert!(
        f.message.contains("the limit is 536870912"),
        "{}",
        f.message
    );
    // 8192x16384 XRGB8888 is 512 MiB packed: allowed, the device decides.
    a.min_size = (8192, 16384);
    assert!(solve(&[a.clone()]).is_ok());
    // ... but not 3 of them (1.5 GiB).
    a.buffers.min = 3;
    let f = solve(&[a.clone()]).unwrap_err();
    assert!(f.message.contains("collection limit"), "{}", f.message);
    // A participant's max_bytes below the packed size.
    a.buffers.min = 1;
    a.min_size = (64, 64);
    a.max_bytes = 64 * 64 * 4 - 1;
    assert_eq!(solve(&[a]).unwrap_err().reason, FailureReason::TooLarge);
}

#[test]
fn max_bytes_is_the_smallest_and_too_large_fails() {
    let mut a = xrgb("a", &[MOD_LINEAR]);
    let mut b = xrgb("b", &[MOD_LINEAR]);
    a.min_size = (1024, 1024);
    a.max_bytes = 8 << 20;
    b.max_bytes = 4 << 20;
    let d = solve(&[a.clone(), b.clone()]).unwrap();
    assert_eq!(d.max_bytes, 4 << 20);
    assert_eq!(d.layout.unwrap().size_bytes, 4 << 20);
    b.max_bytes = (4 << 20) - 1;
    assert_eq!(
        reason(solve(&[a, b])),
        (FailureReason::TooLarge, vec!["a".into(), "b".into()])
    );
}

#[test]
fn huge_sizes_are_too_large_before_stride_limits() {
    // Width 2^30 and u32::MAX: the 32-bit stride field and the display's
    // max_stride are both broken, but the size is checked first.
    for width in [1 << 30, u32::MAX] {
        let mut display = xrgb("display", &[MOD_LINEAR]);
        display.max_stride = 4096;
        let mut client = xrgb("client", &[MOD_LINEAR]);
        client.min_size = (width, 1);
        for ps in [vec![client.clone()], vec![display, client]] {
            let f = solve(&ps).expect_err("too large");
            assert_eq!(f.reason, FailureReason::TooLarge, "{}", f.message);
            assert!(
                f.message.contains("the limit is 536870912"),
                "{}",
                f.message
            );
        }
    }
    // A huge height.
    let mut tall = xrgb("tall", &[MOD_LINEAR]);
    tall.min_size = (1, u32::MAX);
    assert_eq!(
        reason(solve(&[tall])),
        (FailureReason::TooLarge, vec!["tall".into()])
    );
    // 128 buffers of 8 MiB + one row: past the 1 GiB collection limit.
    let mut many = xrgb("many", &[MOD_LINEAR]);
    many.min_size = (1024, 2049);
    many.buffers.min = MAX_BUFFERS;
    let f = solve(std::slice::from_ref(&many)).expect_err("collection too large");
    assert_eq!(f.reason, FailureReason::TooLarge);
    assert!(
        f.message.contains("collection limit of 1073741824 bytes"),
        "{}",
        f.message
    );
    many.min_size = (1024, 2048);
    assert_eq!(solve(&[many]).unwrap().buffer_count, MAX_BUFFERS);
    // A stride over max_stride whose size is fine: still a stride conflict.
    let mut display = xrgb("display", &[MOD_LINEAR]);
    display.max_stride = 4096;
    let mut client = xrgb("client", &[MOD_LINEAR]);
    client.min_size = (4096, 16);
    assert_eq!(
        reason(solve(&[display, client])).0,
        FailureReason::StrideConflict
    );
}

#[test]
fn buffer_counts_follow_the_camping_slack_model() {
    let mut a = xrgb("a", &[MOD_LINEAR]);
    let mut b = xrgb("b", &[MOD_LINEAR]);
    a.buffers.camping = 3;
    a.buffers.dedicated_slack = 1;
    a.buffers.shared_slack = 2;
    b.buffers.camping = 2;
    b.buffers.dedicated_slack = 2;
    b.buffers.shared_slack = 1;
    // 3+2 camping, 1+2 dedicated, max(2,1) shared
    assert_eq!(solve(&[a.clone(), b.clone()]).unwrap().buffer_count, 10);
    b.buffers.min = 12;
    assert_eq!(solve(&[a.clone(), b.clone()]).unwrap().buffer_count, 12);
    a.buffers.max = 11;
    assert_eq!(
        reason(solve(&[a.clone(), b.clone()])),
        (FailureReason::CountConflict, vec!["a".into(), "b".into()])
    );
    a.buffers.max = 0;
    b.buffers.min = 0;
    a.buffers.camping = MAX_BUFFERS - 5;
    let f = solve(&[a, b]).unwrap_err();
    assert_eq!(f.reason, FailureReason::CountConflict);
    assert!(f.message.contains("hard cap 128"), "{}", f.message);
}

/// A total of zero buffers (no participant states a count) is one
/// buffer: Accord's documented default, not a failure.
#[test]
fn at_least_one_buffer() {
    assert_eq!(solve(&[xrgb("a", &[MOD_LINEAR])]).unwrap().buffer_count, 1);
    let mut a = xrgb("a", &[MOD_LINEAR]);
    a.buffers.max = 1; // a maximum alone does not make it zero either
    assert_eq!(
        solve(&[a, xrgb("b", &[MOD_LINEAR])]).unwrap().buffer_count,
        1
    );
}

#[test]
fn protected_with_cpu_access_fails_naming_both() {
    // Across participants.
    let mut player = xrgb("player", &[MOD_LINEAR]);
    player.usage = Usage::PROTECTED | Usage::SAMPLE;
    let mut thumbs = xrgb("thumbnailer", &[MOD_LINEAR]);
    thumbs.usage = Usage::CPU_READ;
    let f = solve(&[player.clone(), thumbs.clone()]).unwrap_err();
    assert_eq!(f.reason, FailureReason::InvalidConstraint);
    assert_eq!(f.participants, vec!["player", "thumbnailer"]);
    assert_eq!(
        f.message,
        "protected content cannot be CPU-accessed: protected usage by player, \
         cpu_read/cpu_write by thumbnailer"
    );
    // In one participant.
    let mut both = xrgb("both", &[MOD_LINEAR]);
    both.usage = Usage::PROTECTED | Usage::CPU_WRITE;
    let f = solve(&[both]).unwrap_err();
    assert_eq!(f.participants, vec!["both"]);
    assert!(f
        .message
        .contains("protected usage by both, cpu_read/cpu_write by both"));
    // Protected alone, and CPU alone, are fine.
    assert!(solve(&[player, xrgb("display", &[MOD_LINEAR])]).is_ok());
    assert!(solve(&[thumbs]).is_ok());
}

#[test]
fn contiguous_is_ored_and_devices_are_united() {
    let mut a = xrgb("a", &[MOD_LINEAR]);
    let mut b = xrgb("b", &[MOD_LINEAR]);
    a.contiguous = true;
    a.devices = vec![57984, 57856];
    b.devices = vec![57856, 57857];
    let d = solve(&[a, b]).unwrap();
    assert!(d.contiguous);
    assert_eq!(d.devices, vec![57856, 57857, 57984]);
}

// ---- contradictions ----

#[test]
fn no_common_format_names_the_pair_in_conflict() {
    let a = xrgb("a", &[MOD_LINEAR, Y_TILED]);
    let b = xrgb("b", &[Y_TILED, RC_CCS]);
    let c = xrgb("c", &[MOD_LINEAR, RC_CCS]);
    let f = solve(&[a, b, c]).unwrap_err();
    assert_eq!(f.reason, FailureReason::NoCommonFormat);
    // Every pair overlaps; only all three together are empty.
    assert_eq!(f.participants, vec!["a", "b", "c"]);
    let d = participant("display", &[("XRGB8888", MOD_LINEAR, true)]);
    let cam = participant("camera", &[("YUYV", MOD_LINEAR, false)]);
    let e = xrgb("e", &[MOD_LINEAR]);
    assert_eq!(
        reason(solve(&[d, e, cam])),
        (
            FailureReason::NoCommonFormat,
            vec!["camera".into(), "display".into()]
        )
    );
    let empty = participant("empty", &[]);
    assert_eq!(
        reason(solve(&[xrgb("a", &[MOD_LINEAR]), empty])),
        (FailureReason::NoCommonFormat, vec!["empty".into()])
    );
}

#[test]
fn invalid_constraints_name_the_offenders() {
    let zero_fields: [fn(&mut accord_engine::Constraints); 5] = [
        |p| p.size_alignment.0 = 0,
        |p| p.size_alignment.1 = 0,
        |p| p.stride_alignment = 0,
        |p| p.offset_alignment = 0,
        |p| p.base_alignment = 0,
    ];
    for set in zero_fields {
        let mut bad = xrgb("bad", &[MOD_LINEAR]);
        set(&mut bad);
        assert_eq!(
            reason(solve(&[xrgb("good", &[MOD_LINEAR]), bad])),
            (FailureReason::InvalidConstraint, vec!["bad".into()])
        );
    }
    let min_gt_max: [fn(&mut accord_engine::Constraints); 4] = [
        |p| (p.min_size.0, p.max_size.0) = (10, 9),
        |p| (p.min_size.1, p.max_size.1) = (10, 9),
        |p| (p.min_stride, p.max_stride) = (10, 9),
        |p| (p.buffers.min, p.buffers.max) = (10, 9),
    ];
    for set in min_gt_max {
        let mut bad = xrgb("bad", &[MOD_LINEAR]);
        set(&mut bad);
        let f = solve(&[bad]).unwrap_err();
        assert_eq!(f.reason, FailureReason::InvalidConstraint);
        assert!(f.message.contains("bad: min"), "{}", f.message);
    }
    assert_eq!(reason(solve(&[])).0, FailureReason::InvalidConstraint);
}

// ---- ranking ----

#[test]
fn rank_1_scanout_capable_first_when_scanout_is_wanted() {
    let mut display = participant(
        "display",
        &[("XRGB8888", Y_TILED, false), ("XRGB8888", MOD_LINEAR, true)],
    );
    let client = xrgb("client", &[Y_TILED, MOD_LINEAR]);
    display.usage = Usage::SCANOUT;
    let d = solve(&[display.clone(), client.clone()]).unwrap();
    assert_eq!((d.modifier, d.scanout), (MOD_LINEAR, true));
    assert_eq!(
        d.alternatives[1],
        Candidate {
            format: fourcc("XRGB8888"),
            modifier: Y_TILED,
            scanout: false
        }
    );
    // Without scanout usage the marks do not matter: vendor first.
    display.usage = Usage::SAMPLE;
    let d = solve(&[display, client]).unwrap();
    assert_eq!((d.modifier, d.scanout), (Y_TILED, false));
}

#[test]
fn scanout_needs_every_scanout_participant() {
    let mut p1 = participant(
        "plane-a",
        &[("XRGB8888", MOD_LINEAR, true), ("XRGB8888", Y_TILED, true)],
    );
    let mut p2 = participant(
        "plane-b",
        &[("XRGB8888", MOD_LINEAR, true), ("XRGB8888", Y_TILED, false)],
    );
    p1.usage = Usage::SCANOUT;
    p2.usage = Usage::SCANOUT;
    let d = solve(&[p1, p2]).unwrap();
    assert_eq!((d.modifier, d.scanout), (MOD_LINEAR, true));
    assert!(!d.alternatives[1].scanout);
}

#[test]
fn rank_2_vendor_before_linear_before_invalid() {
    let a = xrgb("a", &[MOD_INVALID, MOD_LINEAR, AFBC]);
    let d = solve(&[a.clone(), a]).unwrap();
    let mods: Vec<u64> = d.alternatives.iter().map(|c| c.modifier).collect();
    assert_eq!(mods, vec![AFBC, MOD_LINEAR, MOD_INVALID]);
}

#[test]
fn rank_3_lowest_position_sum() {
    let a = xrgb("a", &[Y_TILED, RC_CCS, AFBC]);
    let b = xrgb("b", &[AFBC, RC_CCS, Y_TILED]);
    let c = xrgb("c", &[RC_CCS, AFBC, Y_TILED]);
    // sums: Y 0+2+2=4, RC 1+1+0=2, AFBC 2+0+1=3
    let d = solve(&[a, b, c]).unwrap();
    let mods: Vec<u64> = d.alternatives.iter().map(|c| c.modifier).collect();
    assert_eq!(mods, vec![RC_CCS, AFBC, Y_TILED]);
}

#[test]
fn rank_4_fewer_bits_per_pixel_then_5_format_code() {
    let a = participant(
        "a",
        &[
            ("ABGR16161616F", MOD_LINEAR, false),
            ("XRGB8888", MOD_LINEAR, false),
            ("ARGB8888", MOD_LINEAR, false),
        ],
    );
    let b = participant(
        "b",
        &[
            ("ARGB8888", MOD_LINEAR, false),
            ("XRGB8888", MOD_LINEAR, false),
            ("ABGR16161616F", MOD_LINEAR, false),
        ],
    );
    // Position sums all 2; 64 bpp last; ARGB8888 ('AR24') < XRGB8888 ('XR24').
    let d = solve(&[a, b]).unwrap();
    let got: Vec<u32> = d.alternatives.iter().map(|c| c.format).collect();
    assert_eq!(
        got,
        vec![
            fourcc("ARGB8888"),
            fourcc("XRGB8888"),
            fourcc("ABGR16161616F")
        ]
    );
}

#[test]
fn cost_table_overrides_rules_2_to_5() {
    let a = xrgb("a", &[Y_TILED, MOD_LINEAR]);
    let mut b = xrgb("b", &[Y_TILED, MOD_LINEAR]);
    b.usage = Usage::SAMPLE;
    let policy = Policy {
        costs: vec![CostEntry {
            format: None,
            modifier: Some(MOD_LINEAR),
            usage: Usage::SAMPLE,
            cost: 1,
        }],
    };
    assert_eq!(
        solve_with(&[a.clone(), b.clone()], &policy)
            .unwrap()
            .modifier,
        MOD_LINEAR
    );
    assert_eq!(solve(&[a.clone(), b.clone()]).unwrap().modifier, Y_TILED);
    // The entry's usage is not wanted: no effect.
    b.usage = Usage::RENDER;
    assert_eq!(solve_with(&[a, b], &policy).unwrap().modifier, Y_TILED);
    // The same table as a JSON file: accord-scenario's tests/scenario.rs.
}

// ---- re-targeting and explain ----

#[test]
fn for_candidate_retargets_and_recomputes_the_layout() {
    let mut a = participant(
        "a",
        &[("XRGB8888", Y_TILED, false), ("NV12", MOD_LINEAR, false)],
    );
    a.min_size = (64, 64);
    a.stride_alignment = 256;
    let d = solve(&[a.clone(), a]).unwrap();
    assert_eq!((d.modifier, d.layout.clone()), (Y_TILED, None));
    let nv12 = d.alternatives[1];
    let d2 = d.for_candidate(nv12).unwrap();
    assert_eq!((d2.format, d2.modifier), (fourcc("NV12"), MOD_LINEAR));
    assert_eq!(d2.alternatives[0], nv12);
    assert_eq!(d2.alternatives.len(), 2);
    let l = d2.layout.unwrap();
    assert_eq!(l.planes.len(), 2);
    assert_eq!(l.planes[0].stride, 256);
    assert_eq!((d2.width, d2.buffer_count), (d.width, d.buffer_count));
    let bogus = Candidate {
        format: fourcc("YUYV"),
        modifier: MOD_LINEAR,
        scanout: false,
    };
    assert!(d.for_candidate(bogus).is_err());
}

#[test]
fn explain_matches_solve_and_names_the_eliminators() {
    let mut a = participant(
        "decoder",
        &[("NV12", Y_TILED, false), ("NV12", MOD_LINEAR, false)],
    );
    a.min_size = (1920, 1080);
    let b = participant(
        "display",
        &[("NV12", MOD_LINEAR, true), ("XRGB8888", MOD_LINEAR, true)],
    );
    let cs = [a, b];
    let (r, e) = solve_explained(&cs, &Policy::default());
    assert_eq!(r, solve(&cs));
    let text = e.to_string();
    assert!(text.contains("#0 NV12 LINEAR: CHOSEN"), "{text}");
    assert!(
        text.contains("NV12 0x0100000000000002 (I915_Y_TILED): eliminated: not listed by display"),
        "{text}"
    );
    assert!(
        text.contains("XRGB8888 LINEAR: eliminated: not listed by decoder"),
        "{text}"
    );
}

/// The regression of issue 12: a client with cpu_write lists XR24/LINEAR
/// first and Intel X-tiled second; vendor modifiers rank before LINEAR, so
/// the tiled pair won and the memfd backend then refused it. CPU usage
/// removes the vendor layout before ranking.
#[test]
fn cpu_write_chooses_linear_over_x_tiled() {
    const X_TILED: u64 = 0x0100_0000_0000_0001;
    let mut client = xrgb("client", &[MOD_LINEAR, X_TILED]);
    client.usage = Usage::CPU_WRITE;
    let display = xrgb("display", &[X_TILED, MOD_LINEAR]);
    let d = solve(&[client.clone(), display.clone()]).unwrap();
    assert_eq!(d.modifier, MOD_LINEAR);
    assert_eq!(d.alternatives.len(), 1, "the tiled pair is gone");
    // Without CPU usage the tiled pair wins, as before.
    let mut gpu = client.clone();
    gpu.usage = Usage::RENDER;
    assert_eq!(solve(&[gpu, display.clone()]).unwrap().modifier, X_TILED);
    // INVALID stays (laid out as linear).
    let mut implicit = xrgb("client", &[MOD_INVALID, X_TILED]);
    implicit.usage = Usage::CPU_READ;
    let d = solve(&[implicit, xrgb("display", &[X_TILED, MOD_INVALID])]).unwrap();
    assert_eq!(d.modifier, MOD_INVALID);
    // Only vendor layouts in common: a failure naming the CPU user.
    let mut tiled_only = xrgb("client", &[X_TILED]);
    tiled_only.usage = Usage::CPU_WRITE;
    let f = solve(&[tiled_only, display.clone()]).unwrap_err();
    assert_eq!(f.reason, FailureReason::NoCommonFormat);
    assert_eq!(f.participants, vec!["client"]);
    assert_eq!(
        f.message,
        "cpu_read/cpu_write by client need a LINEAR or INVALID layout, and the 1 common pair \
         is a vendor layout the CPU cannot address"
    );
    // --explain says why the tiled pair went.
    let (_, e) = solve_explained(&[client, display], &Policy::default());
    assert!(
        e.to_string()
            .contains("vendor layout the CPU cannot address (cpu_read/cpu_write by client)"),
        "{e}"
    );
}
