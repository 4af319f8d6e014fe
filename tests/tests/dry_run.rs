//! The dry run gives the compositor's answer: every scenario goes through
//! the entry `accord solve` uses (`accord_scenario::parse`, then
//! `accord_engine::solve_with`) and through the test compositor over a real
//! Wayland socket (one token per participant, each bound and committed),
//! and the two outcomes are compared: the reason code of a failure, or the
//! format, modifier, size, buffer count and every plane's offset and
//! stride of a decision. A scenario with token groups goes through
//! `accord_engine::groups::solve_groups` and the same tree of tokens over
//! the wire; the selected participants compare as above and the others
//! must get `not_selected`.
//!
//! The test compositor allocates memfds, which hold LINEAR layouts only
//! and are no dma-bufs; that placement takes part in its negotiation
//! (`accord_engine::placement`, `placements`: a scenario naming a device
//! or decoding video fails `unsupported`), and the dry run is given the
//! same one (`accord solve --placement memfd`), so no difference is
//! allowed. The
//! compositor has no cost table, so a scenario's `costs` are left out on
//! both sides.

use std::path::Path;

use accord_client::{Accord, Constraints as ClientConstraints, FailureReason, Usage};
use accord_engine::placement::{solve_placed, Placing};
use accord_engine::{solve_with, Constraints, Decision, Failure, Policy, MOD_INVALID, MOD_LINEAR};
use accord_tests::TestServer;

type Wire = Result<accord_client::Allocation, accord_client::Failure>;

/// The test compositor's allocator, as `accord solve --placement memfd`
/// names it: its linear-only capability and its placement rules (memfd:
/// not a dma-buf) take part on both sides.
fn memfd() -> Placing {
    Placing::parse("memfd").expect("a kind")
}

fn client_constraints(c: &Constraints) -> ClientConstraints {
    ClientConstraints {
        usage: Usage::from_bits_retain(c.usage.0),
        formats: c
            .formats
            .iter()
            .map(|f| (f.format, f.modifier, f.scanout))
            .collect(),
        min_size: c.min_size,
        max_size: c.max_size,
        required_min_size: c.required_min_size,
        required_max_size: c.required_max_size,
        max_area: c.max_area,
        size_alignment: c.size_alignment,
        min_stride: c.min_stride,
        max_stride: c.max_stride,
        stride_alignment: c.stride_alignment,
        offset_alignment: c.offset_alignment,
        base_alignment: c.base_alignment,
        max_bytes: c.max_bytes,
        min_size_bytes: c.min_size_bytes,
        buffer_counts: (
            c.buffers.camping,
            c.buffers.dedicated_slack,
            c.buffers.shared_slack,
            c.buffers.min,
            c.buffers.max,
        ),
        contiguous: c.contiguous,
        devices: c.devices.clone(),
        format_limits: c.format_limits.clone(),
        color_spaces: c.color_spaces.clone(),
        coherency_domains: c.coherency_domains,
        permitted_heaps: c.permitted_heaps.clone(),
    }
}

/// Every participant as a token of one collection, named as in the
/// scenario, bound and committed; each participant's outcome.
fn through_compositor(a: &Accord, parts: &[Constraints]) -> Vec<Wire> {
    let root = a.create_collection();
    let mut tokens = vec![];
    for _ in 1..parts.len() {
        tokens.push(root.duplicate());
    }
    tokens.insert(0, root);
    let collections: Vec<_> = tokens
        .into_iter()
        .zip(parts)
        .map(|(t, p)| {
            t.set_name(&p.name);
            if p.dispensable {
                t.set_dispensable();
            }
            let k = t.bind();
            k.commit(&client_constraints(p));
            k
        })
        .collect();
    collections.iter().map(|k| k.wait_allocated()).collect()
}

/// The engine's answer against each participant's, with `what` in the
/// messages.
fn compare(what: &str, dry: &Result<Decision, Failure>, wire: &[Wire]) {
    for w in wire {
        match (dry, w) {
            (Ok(d), Ok(alloc)) => {
                assert!(
                    d.modifier == MOD_LINEAR || d.modifier == MOD_INVALID,
                    "{what}"
                );
                assert_eq!(
                    (alloc.format, alloc.width, alloc.height),
                    (d.format, d.width, d.height),
                    "{what}"
                );
                assert_eq!(alloc.buffers.len() as u32, d.buffer_count, "{what}");
                assert_eq!(alloc.color_space, d.color_space, "{what}");
                assert_eq!(alloc.coherency_domain, d.coherency_domain, "{what}");
                let raw_size = d.layout.as_ref().filter(|_| d.raw).map(|l| l.size_bytes);
                assert_eq!(alloc.raw_size, raw_size, "{what}");
                for b in &alloc.buffers {
                    assert_eq!(b.coherency_domain, d.coherency_domain, "{what}");
                }
                let layout = d.layout.as_ref().expect("a linear decision has a layout");
                for b in &alloc.buffers {
                    let planes: Vec<(u64, u32)> =
                        b.planes.iter().map(|p| (p.offset, p.stride)).collect();
                    let want: Vec<(u64, u32)> =
                        layout.planes.iter().map(|p| (p.offset, p.stride)).collect();
                    assert_eq!(planes, want, "{what}");
                    assert_eq!(b.size, layout.size_bytes, "{what}");
                }
            }
            (Ok(d), Err(f)) => panic!("{what}: dry run decided {d:?}, the compositor said {f}"),
            (Err(f), Ok(_)) => panic!("{what}: dry run failed ({f:?}), the compositor allocated"),
            (Err(f), Err(w)) => {
                assert_eq!(
                    f.reason.as_str(),
                    w.reason.as_str(),
                    "{what}: dry run {} ({}), compositor {w}",
                    f.reason,
                    f.message
                );
                // The compositor adds the names a message leaves out.
                assert!(
                    w.message.starts_with(&f.message),
                    "{what}: the same words too: {} / {}",
                    f.message,
                    w.message
                );
            }
        }
    }
}

fn check(server: &TestServer, what: &str, json: &str) {
    let sc = accord_scenario::parse_scenario(json).unwrap_or_else(|e| panic!("{what}: {e}"));
    let (_conn, a) = server.accord();
    if !sc.groups.is_empty() {
        return check_groups(&a, what, &sc);
    }
    let parts = sc.participants;
    let dry = solve_placed(&parts, &Policy::default(), Some(&memfd()));
    let wire = through_compositor(&a, &parts);
    compare(what, &dry, &wire);
}

/// A scenario with token groups: the same tree of tokens made over the
/// wire (a group from a duplicate of the root, or of its child's token
/// when nested), then the dry run's selection against each participant's
/// outcome: the chosen combination's get the decision, the others
/// `not_selected`.
fn check_groups(a: &Accord, what: &str, sc: &accord_scenario::Scenario) {
    use accord_engine::groups::{solve_groups_placed, Branch};
    let root = a.create_collection();
    // Tokens of each group's children, filled as the groups are made (a
    // parent group comes before its nested ones).
    let mut child_tokens: Vec<Vec<accord_client::Token>> = Vec::new();
    let mut groups = Vec::new();
    let token_at = |at: Option<Branch>, children: &Vec<Vec<accord_client::Token>>| match at {
        None => root.duplicate(),
        Some(b) => children[b.group][b.child].duplicate(),
    };
    for g in &sc.groups {
        let group = token_at(g.parent, &child_tokens)
            .create_group()
            .expect("version 2");
        child_tokens.push((0..g.children).map(|_| group.create_child()).collect());
        group.all_children_present();
        groups.push(group);
    }
    let collections: Vec<_> = sc
        .participants
        .iter()
        .zip(&sc.branches)
        .map(|(p, b)| {
            let t = token_at(*b, &child_tokens);
            t.set_name(&p.name);
            let k = t.bind();
            k.commit(&client_constraints(p));
            k
        })
        .collect();
    // The children's own tokens and the root were only duplicated from.
    drop(child_tokens);
    drop(root);
    let dry = solve_groups_placed(
        &sc.participants,
        &sc.branches,
        &sc.groups,
        &Policy::default(),
        Some(&memfd()),
    );
    let wire: Vec<Wire> = collections.iter().map(|k| k.wait_allocated()).collect();
    match &dry {
        Ok((selection, decision)) => {
            let (chosen, others): (Vec<_>, Vec<_>) = wire
                .into_iter()
                .zip(&sc.branches)
                .partition(|(_, b)| selection.includes(**b));
            let chosen: Vec<Wire> = chosen.into_iter().map(|(w, _)| w).collect();
            compare(what, &Ok(decision.clone()), &chosen);
            for (w, _) in others {
                let f = w.expect_err("not selected");
                assert_eq!(f.reason, FailureReason::NotSelected, "{what}: {f}");
            }
        }
        Err(f) => compare(what, &Err(f.clone()), &wire),
    }
}

#[test]
fn the_example_scenarios_get_the_same_answer() {
    let server = TestServer::start();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/scenarios");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let json = std::fs::read_to_string(&path).unwrap();
        check(&server, &path.display().to_string(), &json);
        n += 1;
    }
    assert!(n >= 10, "only {n} scenarios");
}

/// One participant listing XRGB8888 under `modifier` at `w`x`h`,
/// `min` buffers.
fn one(name: &str, modifier: &str, w: u32, h: u32, min: u32) -> String {
    format!(
        r#"{{"name": "{name}", "formats": [{{"format": "XRGB8888", "modifiers": ["{modifier}"]}}],
            "min_size": [{w}, {h}], "buffers": {{"min": {min}}}}}"#
    )
}

fn scenario(parts: &[String]) -> String {
    format!(r#"{{"participants": [{}]}}"#, parts.join(","))
}

#[test]
fn the_limits_answer_the_same() {
    let server = TestServer::start();
    let cases = [
        // 512 MiB fit; a row more does not.
        ("512 MiB", scenario(&[one("a", "LINEAR", 8192, 16384, 1)])),
        ("512 MiB + 1 row", scenario(&[one("a", "LINEAR", 8192, 16385, 1)])),
        // 4 x 256 MiB = 1 GiB fit; 5 do not.
        ("1 GiB", scenario(&[one("a", "LINEAR", 8192, 8192, 4)])),
        ("1.25 GiB", scenario(&[one("a", "LINEAR", 8192, 8192, 5)])),
        // 128 buffers of an enormous size: too large, not an overflow.
        ("128 x 2^32 wide", scenario(&[one("a", "LINEAR", u32::MAX, u32::MAX, 128)])),
        ("128 x 64 MiB", scenario(&[one("a", "LINEAR", 4096, 4096, 128)])),
        // A vendor modifier at a size no layout fits.
        (
            "X-tiled 65536 square",
            scenario(&[one("a", "0x0100000000000001", 65536, 65536, 128)]),
        ),
        // Two participants: counts summed over the cap, sizes crossed.
        (
            "count conflict",
            scenario(&[one("a", "LINEAR", 16, 16, 100), {
                r#"{"name": "b", "formats": [{"format": "XRGB8888"}], "buffers": {"camping": 100, "dedicated_slack": 29}}"#.to_string()
            }]),
        ),
        (
            "size conflict",
            scenario(&[one("a", "LINEAR", 64, 64, 1), {
                r#"{"name": "b", "formats": [{"format": "XRGB8888"}], "max_size": [32, 32]}"#.to_string()
            }]),
        ),
        (
            "stride conflict",
            scenario(&[one("a", "LINEAR", 4096, 16, 1), {
                r#"{"name": "b", "formats": [{"format": "XRGB8888"}], "max_stride": 8192}"#.to_string()
            }]),
        ),
        (
            "no common format",
            scenario(&[one("a", "LINEAR", 16, 16, 1), one("b", "INVALID", 16, 16, 1)]),
        ),
        (
            "protected and cpu_read",
            r#"{"participants": [
                {"name": "player", "usage": ["protected", "sample"], "formats": [{"format": "XRGB8888"}]},
                {"name": "thumbnailer", "usage": ["cpu_read"], "formats": [{"format": "XRGB8888"}]}]}"#
                .to_string(),
        ),
        (
            // Issue 12's report: LINEAR first, X-tiled second, cpu_write;
            // the tiled pair used to win and memfd refused it.
            "cpu_write LINEAR over X-tiled",
            r#"{"participants": [
                {"name": "client", "usage": ["cpu_write"], "formats": [{"format": "XRGB8888", "modifiers": ["LINEAR", "0x0100000000000001"]}], "min_size": [64, 64]},
                {"name": "display", "usage": ["scanout"], "formats": [{"format": "XRGB8888", "modifiers": ["0x0100000000000001", "LINEAR"], "scanout": true}]}]}"#
                .to_string(),
        ),
        (
            "NV12 odd size",
            r#"{"participants": [{"name": "a", "formats": [{"format": "NV12"}], "min_size": [641, 481], "offset_alignment": 4096}]}"#.to_string(),
        ),
    ];
    for (what, json) in &cases {
        check(&server, what, json);
    }
}

/// Issue 12's vocabulary (version-2 requests): the same answers over the
/// wire as from the engine.
#[test]
fn the_new_vocabulary_answers_the_same() {
    let server = TestServer::start();
    let decoder = |required: &str, area: u64| {
        format!(
            r#"{{"name": "decoder", "formats": [{{"format": "NV12"}}], "min_size": [16, 16],
                "max_size": [4096, 4096], "size_alignment": [16, 16],
                "required_min_size": [1920, 1080], "required_max_size": {required},
                "max_area": {area}}}"#
        )
    };
    let plane = r#"{"name": "plane", "formats": [{"format": "NV12"}], "max_size": [2048, 2048]}"#;
    let cases = [
        (
            "required 1080p",
            scenario(&[decoder("[0, 0]", 0), plane.into()]),
        ),
        (
            "required up to 1440p",
            scenario(&[decoder("[2560, 1440]", 0), plane.into()]),
        ),
        (
            "area of level 4",
            scenario(&[decoder("[0, 0]", 8192 * 256), plane.into()]),
        ),
        (
            "area too small",
            scenario(&[decoder("[0, 0]", 1920 * 1080), plane.into()]),
        ),
        (
            "required above own max",
            scenario(&[decoder("[8192, 4096]", 0), plane.into()]),
        ),
        (
            "per-format width: NV12 does not fit, XRGB8888 does",
            r#"{"participants": [
                {"name": "plane", "formats": [{"format": "NV12"}, {"format": "XRGB8888"}], "max_size": [4096, 4096],
                 "format_limits": [{"format": "NV12", "max_size": [1920, 0]}]},
                {"name": "src", "formats": [{"format": "NV12"}, {"format": "XRGB8888"}], "min_size": [3840, 2160]}]}"#
                .to_string(),
        ),
        (
            "per-format stride alignment",
            r#"{"participants": [
                {"name": "camera", "formats": [{"format": "NV12"}, {"format": "YUYV"}], "min_size": [640, 480],
                 "format_limits": [{"format": "NV12", "stride_alignment": 256}, {"format": "YUYV", "stride_alignment": 32}]},
                {"name": "viewer", "formats": [{"format": "NV12"}, {"format": "YUYV"}]}]}"#
                .to_string(),
        ),
        (
            "colour spaces: BT.709 by position sums",
            r#"{"participants": [
                {"name": "decoder", "formats": [{"format": "NV12"}], "color_spaces": ["bt2020", "bt709", "bt601"]},
                {"name": "display", "formats": [{"format": "NV12"}], "color_spaces": ["bt709", "bt601"]}]}"#
                .to_string(),
        ),
        (
            "colour spaces: none in common",
            r#"{"participants": [
                {"name": "decoder", "formats": [{"format": "NV12"}], "color_spaces": ["bt709"]},
                {"name": "display", "formats": [{"format": "NV12"}], "color_spaces": ["srgb"]}]}"#
                .to_string(),
        ),
        (
            "colour spaces: sRGB picks the RGB pair",
            r#"{"participants": [
                {"name": "a", "formats": [{"format": "NV12"}, {"format": "XRGB8888"}], "color_spaces": ["srgb", "bt709"]},
                {"name": "b", "formats": [{"format": "NV12"}, {"format": "XRGB8888"}]}]}"#
                .to_string(),
        ),
        (
            "coherency: RAM when someone cannot do CPU",
            r#"{"participants": [
                {"name": "writer", "usage": ["cpu_write"], "formats": [{"format": "XRGB8888"}]},
                {"name": "gpu", "formats": [{"format": "XRGB8888"}], "coherency_domains": ["ram", "inaccessible"]}]}"#
                .to_string(),
        ),
        (
            "coherency: CPU access to inaccessible memory",
            r#"{"participants": [
                {"name": "reader", "usage": ["cpu_read"], "formats": [{"format": "XRGB8888"}]},
                {"name": "secure", "formats": [{"format": "XRGB8888"}], "coherency_domains": ["inaccessible"]}]}"#
                .to_string(),
        ),
        (
            "raw: a bitstream queue sized by the decoder, page-aligned",
            r#"{"participants": [
                {"name": "decoder", "usage": ["video_decode"], "formats": [], "min_size_bytes": 1048676,
                 "base_alignment": 4096, "buffers": {"camping": 2}},
                {"name": "demuxer", "usage": ["cpu_write"], "formats": [], "min_size_bytes": 65536,
                 "buffers": {"camping": 1}}]}"#
                .to_string(),
        ),
        (
            "raw: nobody states a size",
            r#"{"participants": [{"name": "a", "formats": []}, {"name": "b", "formats": []}]}"#
                .to_string(),
        ),
        (
            "raw: an image field",
            r#"{"participants": [
                {"name": "a", "formats": [], "min_size_bytes": 4096},
                {"name": "b", "formats": [], "stride_alignment": 64}]}"#
                .to_string(),
        ),
        (
            "raw: bytes and images do not mix",
            r#"{"participants": [
                {"name": "bytes", "formats": [], "min_size_bytes": 4096},
                {"name": "image", "formats": [{"format": "XRGB8888"}]}]}"#
                .to_string(),
        ),
        (
            "raw: above another's max_bytes",
            r#"{"participants": [
                {"name": "big", "formats": [], "min_size_bytes": 4097},
                {"name": "small", "formats": [], "max_bytes": 4096}]}"#
                .to_string(),
        ),
        (
            "raw: above the collection limit",
            r#"{"participants": [
                {"name": "big", "formats": [], "min_size_bytes": 536870912, "buffers": {"min": 3}}]}"#
                .to_string(),
        ),
        (
            "min_size_bytes raises an image buffer",
            r#"{"participants": [
                {"name": "camera", "formats": [{"format": "YUYV"}], "min_size": [640, 480],
                 "min_size_bytes": 1000000, "base_alignment": 4096},
                {"name": "viewer", "formats": [{"format": "YUYV"}]}]}"#
                .to_string(),
        ),
        (
            "per-format limits contradict for the only format",
            r#"{"participants": [
                {"name": "plane", "formats": [{"format": "NV12"}], "format_limits": [{"format": "NV12", "max_size": [1920, 0]}]},
                {"name": "src", "formats": [{"format": "NV12"}], "min_size": [3840, 2160]}]}"#
                .to_string(),
        ),
    ];
    for (what, json) in &cases {
        check(&server, what, json);
    }
}

/// Late participants: `accord solve`'s `late` list (checked against the
/// decision with `check_late_join`) gives each the answer the compositor
/// gives when it commits after allocation (`attach_token`).
#[test]
fn late_participants_get_the_same_answer() {
    let json = r#"{"participants": [{"name": "producer", "usage": ["cpu_write", "sample"],
            "formats": [{"format": "XRGB8888", "modifiers": ["LINEAR"]}],
            "min_size": [640, 480], "stride_alignment": 256, "buffers": {"camping": 3}}],
        "late": [
            {"name": "viewer", "usage": ["sample"], "formats": [{"format": "XRGB8888", "modifiers": ["LINEAR"]}]},
            {"name": "big", "formats": [{"format": "XRGB8888", "modifiers": ["LINEAR"]}], "min_size": [1280, 720]},
            {"name": "argb", "formats": [{"format": "ARGB8888", "modifiers": ["LINEAR"]}]},
            {"name": "scanner", "usage": ["scanout"], "formats": [{"format": "XRGB8888", "modifiers": ["LINEAR"], "scanout": true}]},
            {"name": "aligned", "formats": [{"format": "XRGB8888", "modifiers": ["LINEAR"]}], "stride_alignment": 1024},
            {"name": "greedy", "formats": [{"format": "XRGB8888", "modifiers": ["LINEAR"]}], "buffers": {"camping": 4}}
        ]}"#;
    let reasons = late_answers(json);
    assert_eq!(
        reasons,
        [
            "ok",
            "size_conflict",
            "no_common_format",
            "invalid_constraint",
            "stride_conflict",
            "count_conflict"
        ],
        "every rule is exercised"
    );
}

/// Each late participant of `json` through `check_late_join` and through
/// the compositor (`attach_token` on a held allocation of the first
/// participant): the same reason and message; the reasons, `ok` for a join.
fn late_answers(json: &str) -> Vec<String> {
    let (parts, late, policy) = accord_scenario::parse_with_late(json).unwrap();
    let decision = solve_with(&parts, &policy).expect("the producer alone");
    let dry = accord_scenario::late_to_json(&decision, &late);
    let server = TestServer::start();
    let (_pc, p) = server.accord();
    let held = p.create_collection().bind();
    held.commit(&client_constraints(&parts[0]));
    held.wait_allocated().expect("allocated");
    let (_lc, l) = server.accord();
    let mut reasons = Vec::new();
    for (c, d) in late.iter().zip(dry.as_array().unwrap()) {
        let token = l.import(&held.attach_token().unwrap().export().unwrap());
        token.set_name(&c.name);
        let k = token.bind();
        k.commit(&client_constraints(c));
        let wire = k.wait_allocated();
        let wire_reason = wire.as_ref().err().map(|f| f.reason.as_str().to_owned());
        let dry_reason = d["reason"].as_str().map(str::to_owned);
        assert_eq!(
            wire_reason, dry_reason,
            "{}: wire {wire:?}, dry {d}",
            c.name
        );
        if let (Err(f), Some(m)) = (&wire, d["message"].as_str()) {
            assert_eq!(f.message, m, "{}", c.name);
        }
        reasons.push(dry_reason.unwrap_or_else(|| "ok".into()));
    }
    reasons
}

/// Late participants of a raw collection: bytes only.
#[test]
fn late_participants_of_raw_bytes_get_the_same_answer() {
    let json = r#"{"participants": [{"name": "decoder", "usage": ["cpu_read"], "formats": [],
            "min_size_bytes": 10000, "buffers": {"camping": 2}}],
        "late": [
            {"name": "reader", "usage": ["cpu_read"], "formats": [], "min_size_bytes": 10000},
            {"name": "bigger", "formats": [], "min_size_bytes": 10001},
            {"name": "viewer", "formats": [{"format": "XRGB8888", "modifiers": ["LINEAR"]}]},
            {"name": "picky", "formats": [], "stride_alignment": 64}
        ]}"#;
    assert_eq!(
        late_answers(json),
        [
            "ok",
            "size_conflict",
            "no_common_format",
            "invalid_constraint"
        ],
        "every raw rule is exercised"
    );
}
