//! Seeds every replay runs (`fuzz/regressions/<target>/seed-*`): inputs
//! chosen for what they reach, written by [`write`] and checked by the
//! `accord-scenario` crate's `fuzz_seeded` test (the file on disk is what this module
//! generates, and the input still reaches the outcome it was chosen for).
//!
//! - `engine` and `scenario_raw`: hand-made cases of the hidden-arithmetic
//!   kind (an LCM of alignments past 2^64, a size rounded past 2^32, stride
//!   × height + offset past 2^64, a minimum stride rounded past the 32-bit
//!   field, a byte limit met exactly and missed by one, a huge width that
//!   breaks a stride limit but answers too_large, a stride limit broken at
//!   a size that fits, a collection past the protocol's 1 GiB) and one
//!   case that
//!   reaches the most of the solver at once. The same constraints go to
//!   both targets: bytes through [`super::engine::to_bytes`] (the inverse of
//!   the engine target's decoder) and scenario text through
//!   [`super::scenario::to_scenario`].
//! - `scenario_mutate`: one input per outcome class (rejected at a given
//!   field, failed for a given reason, solved with N planes), found by a
//!   fixed pseudo-random search over the target's own decoder: no corpus
//!   was on disk, and this covers the outcomes the fuzzer's corpus does.

use accord_engine::{
    formats, solve_with, BufferCounts, Constraints, CostEntry, FormatModifier, Policy, Usage,
    MOD_INVALID, MOD_LINEAR,
};
use accord_scenario::parse;

use super::engine::to_bytes;
use super::scenario::{mutated, to_scenario};

/// One seed: its file name (without the `seed-` prefix), why it is there,
/// its input, and a string its outcome ([`outcome`]) must contain.
pub struct Seed {
    pub name: String,
    pub why: String,
    pub data: Vec<u8>,
    pub expect: String,
}

/// What a case comes to, in one line: `ok FORMAT MODIFIER WxH, N planes,
/// B bytes` or `failed REASON: MESSAGE`.
pub fn outcome(ps: &[Constraints], policy: &Policy) -> String {
    match solve_with(ps, policy) {
        Ok(d) => format!(
            "ok {} {} {}x{}, {}",
            formats::name(d.format),
            formats::modifier_name(d.modifier),
            d.width,
            d.height,
            d.layout
                .as_ref()
                .map_or("no layout".to_string(), |l| format!(
                    "{} planes, {} bytes",
                    l.planes.len(),
                    l.size_bytes
                ))
        ),
        Err(f) => format!("failed {}: {}", f.reason.as_str(), f.message),
    }
}

fn fmt(name: &str) -> u32 {
    formats::parse_name(name).expect("known format")
}

fn pair(name: &str, modifier: u64) -> FormatModifier {
    FormatModifier {
        format: fmt(name),
        modifier,
        scanout: false,
    }
}

fn p(name: &str, formats: &[FormatModifier]) -> Constraints {
    Constraints {
        name: name.into(),
        usage: Usage::RENDER,
        formats: formats.to_vec(),
        ..Constraints::default()
    }
}

/// Primes just below 2^32: any two multiply to just below 2^64 (their LCM
/// still fits), a third one does not.
const P1: u32 = 4_294_967_291;
const P2: u32 = 4_294_967_279;
const P3: u32 = 4_294_967_231;

/// A hand-made case: name, why, participants, policy, expected outcome.
type Made = (
    &'static str,
    &'static str,
    Vec<Constraints>,
    Policy,
    &'static str,
);

fn made() -> Vec<Made> {
    let xr = [pair("XRGB8888", MOD_LINEAR)];
    let nv12 = [pair("NV12", MOD_LINEAR)];
    let three = |set: fn(&mut Constraints, u32)| -> Vec<Constraints> {
        ["a", "b", "c"]
            .iter()
            .zip([P1, P2, P3])
            .map(|(n, v)| {
                let mut c = p(n, &xr);
                set(&mut c, v);
                c
            })
            .collect()
    };
    let none = Policy::default();
    let mut out: Vec<Made> = vec![
        (
            "stride-alignment-lcm-overflow",
            "three stride alignments, primes near 2^32: the LCM of two fits in u64, the third overflows it (math::lcm's checked_mul)",
            three(|c, v| c.stride_alignment = v),
            none.clone(),
            "failed stride_conflict: the stride alignments combine to more than 2^64",
        ),
        (
            "offset-alignment-lcm-overflow",
            "as above for offset alignments, reported as too_large",
            three(|c, v| c.offset_alignment = v),
            none.clone(),
            "failed too_large: the offset alignments combine to more than 2^64",
        ),
        (
            "base-alignment-lcm-overflow",
            "as above for base alignments",
            three(|c, v| c.base_alignment = v),
            none.clone(),
            "failed too_large: the base alignments combine to more than 2^64",
        ),
        (
            "width-alignment-lcm-overflow",
            "as above for the width alignment (a size conflict)",
            three(|c, v| c.size_alignment.0 = v),
            none.clone(),
            "failed size_conflict: the width alignments combine to more than 2^64",
        ),
    ];
    let mut wide = p("a", &xr);
    wide.min_size = (u32::MAX, 1);
    wide.size_alignment = (2, 1);
    out.push((
        "width-rounds-past-u32",
        "minimum width 2^32-1 rounded up to an alignment of 2 leaves the 32-bit size field",
        vec![wide],
        none.clone(),
        "failed too_large: width 4294967295 rounded up to a multiple of 2 exceeds 2^32",
    ));
    let mut huge = p("a", &nv12);
    huge.min_size = (u32::MAX - 1, u32::MAX);
    out.push((
        "nv12-plane-end-past-u64",
        "NV12 at (2^32-2)x(2^32-1): plane 0 ends just below 2^64, plane 1 past it; the layout's u128 arithmetic reports the exact byte count against the protocol's 512 MiB",
        vec![huge],
        none.clone(),
        "failed too_large: NV12 LINEAR at 4294967294x4294967295: needs 27670116097679425536 bytes per buffer, the limit is 536870912 (the protocol's)",
    ));
    let mut tall = p("a", &xr);
    tall.min_size = ((1 << 30) - 1, u32::MAX);
    let mut based = p("b", &xr);
    based.base_alignment = P1;
    let mut based2 = p("c", &xr);
    based2.base_alignment = P2;
    out.push((
        "size-rounds-past-u64",
        "XRGB8888 at (2^30-1)x(2^32-1) ends at 2^64-5*2^32+4; rounding it up to a base alignment of two primes (LCM just below 2^64) passes 2^64, which the layout's u128 arithmetic holds and reports",
        vec![tall, based, based2],
        none.clone(),
        "failed too_large: XRGB8888 LINEAR at 1073741823x4294967295: needs 36893487958440542378 bytes per buffer, the limit is 536870912 (the protocol's)",
    ));
    let mut strided = p("a", &xr);
    strided.min_stride = u32::MAX;
    strided.stride_alignment = 2;
    out.push((
        "min-stride-rounds-past-u32",
        "a minimum stride of 2^32-1 rounded up to an alignment of 2 is 2^32, past the 32-bit stride field; that one row is 4 GiB, and the size is checked before the stride",
        vec![strided],
        none.clone(),
        "failed too_large: XRGB8888 LINEAR at 1x1: needs 4294967296 bytes per buffer, the limit is 536870912 (the protocol's)",
    ));
    let mut wide = p("a", &xr);
    wide.min_size = (1 << 30, 1);
    let mut display = p("b", &xr);
    display.max_stride = 4096;
    out.push((
        "width-2-pow-30-too-large-before-stride",
        "width 2^30 breaks b's max_stride of 4096 and the 32-bit stride field, and is 4 GiB: too_large, as the protocol documents",
        vec![wide, display],
        none.clone(),
        "failed too_large: XRGB8888 LINEAR at 1073741824x1: needs 4294967296 bytes per buffer, the limit is 536870912 (the protocol's)",
    ));
    let mut rows = p("a", &xr);
    rows.min_size = (4096, 16);
    let mut narrow = p("b", &xr);
    narrow.max_stride = 8192;
    out.push((
        "stride-over-max-stride-size-fine",
        "4096x16 XRGB8888 needs stride 16384 against b's max_stride of 8192, and 256 KiB fits every byte limit: the layout's stride check answers",
        vec![rows, narrow],
        none.clone(),
        "failed stride_conflict: XRGB8888 LINEAR at 4096x16: plane 0 needs stride 16384, above the maximum 8192 (limit of b)",
    ));
    let mut many = p("a", &xr);
    many.min_size = (1024, 2049);
    many.buffers.min = 128;
    out.push((
        "collection-past-1-gib",
        "128 buffers of 1024x2049 XRGB8888 (8 MiB and a row each) pass the protocol's 1 GiB per collection",
        vec![many],
        none.clone(),
        "failed too_large: XRGB8888 LINEAR at 1024x2049: 128 buffers of 8392704 bytes need 1074266112 bytes, above the collection limit of 1073741824 bytes",
    ));
    for (name, why, max_bytes, expect) in [
        (
            "max-bytes-met-exactly",
            "640x480 XRGB8888 with stride alignment 256 is 1,228,800 bytes, and that is the byte limit: the boundary is inclusive",
            1_228_800u64,
            "ok XRGB8888 LINEAR 640x480, 1 planes, 1228800 bytes",
        ),
        (
            "max-bytes-missed-by-one",
            "the same one byte under the limit: too_large",
            1_228_799,
            "failed too_large: XRGB8888 LINEAR at 640x480: needs 1228800 bytes per buffer, above the maximum 1228799",
        ),
    ] {
        let mut a = p("a", &xr);
        a.min_size = (640, 480);
        a.stride_alignment = 256;
        let mut b = p("b", &xr);
        b.max_bytes = max_bytes;
        out.push((name, why, vec![a, b], none.clone(), expect));
    }
    let camping: Vec<Constraints> = ["a", "b", "c", "dec", "", "a"]
        .iter()
        .map(|n| {
            let mut c = p(n, &xr);
            c.buffers = BufferCounts {
                camping: u32::MAX,
                dedicated_slack: u32::MAX,
                shared_slack: u32::MAX,
                min: u32::MAX,
                max: 0,
            };
            c
        })
        .collect();
    out.push((
        "buffer-counts-at-u32-max",
        "six participants camping, with slack and minimum, all 2^32-1: the sums need 64 bits",
        camping,
        none.clone(),
        "failed count_conflict: 55834574835 buffers needed (camping 25769803770 + dedicated slack 25769803770 + shared slack 4294967295, minimum 4294967295), above the hard cap 128",
    ));
    let mut zero = p("a", &xr);
    zero.stride_alignment = 0;
    zero.min_size = (10, 10);
    zero.max_size = (5, 0);
    out.push((
        "zero-alignment-and-min-above-max",
        "a zero alignment and a minimum above the maximum in one participant: both named",
        vec![zero],
        none.clone(),
        "failed invalid_constraint: a: min width 10 > max 5; a: stride_alignment is 0 (use 1 for none)",
    ));
    // The widest reach: three participants (one dispensable, one needing
    // contiguous memory on a device), planar and packed pairs, vendor and
    // implicit modifiers, scanout flags, a cost table, every alignment.
    let yuv = |scanout| FormatModifier {
        format: fmt("YUV420"),
        modifier: MOD_LINEAR,
        scanout,
    };
    let mut dec = p(
        "dec",
        &[
            yuv(false),
            pair("NV12", MOD_LINEAR),
            pair("NV12", 0x0100_0000_0000_0002),
        ],
    );
    dec.usage = Usage::VIDEO_DECODE;
    dec.min_size = (1920, 1080);
    dec.size_alignment = (16, 16);
    dec.stride_alignment = 64;
    dec.offset_alignment = 4096;
    dec.buffers = BufferCounts {
        camping: 4,
        dedicated_slack: 1,
        shared_slack: 0,
        min: 6,
        max: 0,
    };
    dec.contiguous = true;
    dec.devices = vec![0xe200];
    let mut comp = p(
        "a",
        &[
            pair("NV12", 0x0100_0000_0000_0002),
            yuv(true),
            pair("NV12", MOD_LINEAR),
            pair("XRGB8888", MOD_INVALID),
        ],
    );
    comp.usage = Usage(Usage::SCANOUT.0 | Usage::SAMPLE.0);
    comp.max_size = (4096, 4096);
    comp.stride_alignment = 256;
    comp.base_alignment = 4096;
    comp.max_stride = 32768;
    comp.buffers.camping = 2;
    comp.devices = vec![0xe280];
    let mut enc = p(
        "b",
        &[
            pair("NV12", MOD_LINEAR),
            yuv(false),
            pair("NV12", 0x0100_0000_0000_0002),
        ],
    );
    enc.usage = Usage::VIDEO_ENCODE;
    enc.min_stride = 2048;
    enc.buffers = BufferCounts {
        camping: 1,
        dedicated_slack: 0,
        shared_slack: 2,
        min: 0,
        max: 16,
    };
    enc.dispensable = true;
    enc.max_bytes = 1 << 24;
    let costs = Policy {
        costs: vec![
            CostEntry {
                format: Some(fmt("NV12")),
                modifier: Some(0x0100_0000_0000_0002),
                usage: Usage::SCANOUT,
                cost: 100,
            },
            CostEntry {
                format: Some(fmt("YUV420")),
                modifier: None,
                usage: Usage::empty(),
                cost: 5,
            },
            CostEntry {
                format: None,
                modifier: Some(MOD_LINEAR),
                usage: Usage::VIDEO_ENCODE,
                cost: 7,
            },
        ],
    };
    out.push((
        "widest-reach",
        "three participants with every kind of constraint and a cost table; the chosen pair is planar (3 planes with aligned offsets), the others rank behind it",
        vec![dec, comp, enc],
        costs,
        "ok YUV420 LINEAR 1920x1088, 3 planes,",
    ));
    out
}

/// Seeds of `target` (`engine`, `scenario_raw` or `scenario_mutate`).
pub fn seeds(target: &str) -> Vec<Seed> {
    match target {
        "engine" => made()
            .into_iter()
            .map(|(name, why, ps, policy, expect)| Seed {
                name: name.into(),
                why: why.into(),
                data: to_bytes(&ps, &policy).expect("expressible in the engine target's bytes"),
                expect: expect.into(),
            })
            .collect(),
        "scenario_raw" => made()
            .into_iter()
            .map(|(name, why, ps, policy, expect)| {
                let mut text =
                    serde_json::to_string_pretty(&to_scenario(&ps, &policy)).expect("JSON");
                text.push('\n');
                // What the wire refuses, the scenario front end refuses
                // too (accord_engine::limits::check_participant).
                let refused = ps.iter().enumerate().find_map(|(i, p)| {
                    accord_engine::limits::check_participant(p)
                        .err()
                        .map(|m| format!("rejected participants[{i}].{m}"))
                });
                Seed {
                    name: format!("{name}.json"),
                    why: why.into(),
                    data: text.into_bytes(),
                    expect: refused.unwrap_or_else(|| expect.into()),
                }
            })
            .collect(),
        "scenario_mutate" => mutate_seeds(),
        _ => Vec::new(),
    }
}

/// The outcome class of a `scenario_mutate` input: where the parser
/// rejected it (the field, indices dropped), or the solver's reason, or the
/// number of planes it laid out.
pub fn mutate_class(data: &[u8]) -> String {
    let (text, _) = mutated(data);
    match parse(&text) {
        Err(e) => {
            let field = e.path.rsplit('.').next().unwrap_or("");
            let field = field.split('[').next().unwrap_or("");
            format!(
                "rejected at {}",
                if field.is_empty() { "top" } else { field }
            )
        }
        Ok((ps, policy)) => match solve_with(&ps, &policy) {
            Ok(d) => match d.layout {
                Some(l) => format!("solved with {} planes", l.planes.len()),
                None => "solved without a layout".into(),
            },
            Err(f) => format!("failed {}", f.reason.as_str()),
        },
    }
}

/// The search behind the `scenario_mutate` seeds: 40,000 inputs of 8 to 71
/// bytes from a fixed xorshift stream, the first input of each class kept.
fn mutate_seeds() -> Vec<Seed> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut found: Vec<(String, Vec<u8>)> = Vec::new();
    for _ in 0..40_000 {
        let len = 8 + (next() % 64) as usize;
        let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let class = mutate_class(&data);
        if !found.iter().any(|(c, _)| *c == class) {
            found.push((class, data));
        }
    }
    found.sort();
    found
        .into_iter()
        .map(|(class, data)| Seed {
            name: class.replace(' ', "-"),
            why: format!("first input of the search that is {class}"),
            data,
            expect: class,
        })
        .collect()
}

/// The `seeds.md` of a target's directory: one line per seed.
pub fn index(target: &str, seeds: &[Seed]) -> String {
    let mut s = format!(
        "# Seeds of `{target}`\n\nGenerated by `fuzz/logic/seeds.rs` (rewrite with \
         `ACCORD_WRITE_SEEDS=1 cargo test -p accord-scenario --test fuzz_seeded seeds`); \
         the test checks each file against it and that its outcome still contains the \
         expected text.\n\n| file | why | outcome contains |\n| --- | --- | --- |\n"
    );
    for seed in seeds {
        s.push_str(&format!(
            "| `seed-{}` | {} | `{}` |\n",
            seed.name, seed.why, seed.expect
        ));
    }
    s
}
