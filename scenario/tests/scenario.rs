//! The JSON scenario format: defaults, field paths, bounds, output shape, and
//! "never panics" on arbitrary input (it is a fuzz target).

use accord_engine::{solve_with, CostEntry, Policy, Usage, MOD_INVALID, MOD_LINEAR};
use accord_scenario::{self as scenario, decision_to_json, failure_to_json, parse, PolicyJson};
use proptest::prelude::*;

#[test]
fn only_name_and_formats_are_required() {
    let (ps, policy) =
        parse(r#"{"participants": [{"name": "a", "formats": [{"format": "nv12"}]}]}"#).unwrap();
    let p = &ps[0];
    assert_eq!(p.name, "a");
    assert_eq!(p.formats.len(), 1);
    assert_eq!(
        p.formats[0].modifier, MOD_LINEAR,
        "modifiers default to LINEAR"
    );
    assert!(!p.formats[0].scanout);
    assert_eq!(
        *p,
        accord_engine::Constraints {
            name: "a".into(),
            formats: p.formats.clone(),
            ..Default::default()
        }
    );
    assert!(policy.costs.is_empty());
}

#[test]
fn every_field_is_read() {
    let text = r#"{"description": "d", "expect": {"anything": [1, 2]},
      "costs": [{"format": "XRGB8888", "modifier": "INVALID", "usage": ["scanout"], "cost": 7}],
      "participants": [{"name": "p", "usage": ["cpu_read", "protected"],
        "formats": [{"format": "XRGB8888", "modifiers": ["INVALID", "0x0100000000000002", "linear"], "scanout": true}],
        "min_size": [1, 2], "max_size": [3, 4], "size_alignment": [5, 6],
        "stride_alignment": 7, "offset_alignment": 8, "base_alignment": 9,
        "min_stride": 10, "max_stride": 11, "max_bytes": 18446744073709551615,
        "buffers": {"camping": 12, "dedicated_slack": 13, "shared_slack": 14, "min": 15, "max": 16},
        "contiguous": true, "devices": [57856, "226:128", "259:1048577"], "dispensable": true}]}"#;
    let (ps, policy) = parse(text).unwrap();
    let p = &ps[0];
    assert_eq!(p.usage, Usage::CPU_READ | Usage::PROTECTED);
    let mods: Vec<u64> = p.formats.iter().map(|f| f.modifier).collect();
    assert_eq!(mods, vec![MOD_INVALID, 0x0100000000000002, MOD_LINEAR]);
    assert!(p.formats.iter().all(|f| f.scanout));
    assert_eq!(
        (p.min_size, p.max_size, p.size_alignment),
        ((1, 2), (3, 4), (5, 6))
    );
    assert_eq!(
        (p.stride_alignment, p.offset_alignment, p.base_alignment),
        (7, 8, 9)
    );
    assert_eq!(
        (p.min_stride, p.max_stride, p.max_bytes),
        (10, 11, u64::MAX)
    );
    let b = p.buffers;
    assert_eq!(
        (b.camping, b.dedicated_slack, b.shared_slack, b.min, b.max),
        (12, 13, 14, 15, 16)
    );
    assert!(p.contiguous && p.dispensable);
    // glibc makedev: 226:128 = 0xe280; 259:1048577 splits the minor.
    assert_eq!(
        p.devices,
        vec![57856, 0xe280, (0x10_0000 << 12) | (0x103 << 8) | 0x01]
    );
    assert_eq!(policy.costs.len(), 1);
    assert_eq!(policy.costs[0].cost, 7);
    assert_eq!(policy.costs[0].modifier, Some(MOD_INVALID));
}

#[test]
fn errors_name_the_field() {
    let cases = [
        ("[]", "expected an object"),
        (r#"{}"#, "participants: required field is missing"),
        (
            r#"{"participants": []}"#,
            "participants: at least one participant is required",
        ),
        (
            r#"{"participants": [], "extra": 1}"#,
            "unknown field \"extra\"",
        ),
        (
            r#"{"participants": [{"name": 1, "formats": []}]}"#,
            "participants[0].name: expected a string",
        ),
        (
            r#"{"participants": [{"name": "a"}]}"#,
            "participants[0].formats: required field is missing",
        ),
        (
            r#"{"participants": [{"name": "a", "formats": [{"modifiers": []}]}]}"#,
            "participants[0].formats[0].format: required field is missing",
        ),
        (
            r#"{"participants": [{"name": "a", "formats": [], "max_bytes": -1}]}"#,
            "participants[0].max_bytes: expected an integer",
        ),
        (
            r#"{"participants": [{"name": "a", "formats": [], "stride_alignment": 4294967296}]}"#,
            "participants[0].stride_alignment: expected an integer in 0..=4294967295",
        ),
        (
            r#"{"participants": [{"name": "a", "formats": [], "min_size": [1]}]}"#,
            "participants[0].min_size: expected [width, height]",
        ),
        (
            r#"{"participants": [{"name": "a", "formats": [], "contiguous": 1}]}"#,
            "participants[0].contiguous: expected true or false",
        ),
        (
            r#"{"participants": [{"name": "a", "formats": [], "devices": ["226"]}]}"#,
            "participants[0].devices[0]: expected \"major:minor\"",
        ),
        (
            r#"{"participants": [{"name": "a", "formats": []}], "costs": [{"cost": 1, "usage": ["x"]}]}"#,
            "costs[0].usage[0]: unknown usage \"x\"",
        ),
        (
            r#"{"participants": [{"name": "a", "formats": []}], "costs": [{"format": "*"}]}"#,
            "costs[0].cost: required field is missing",
        ),
    ];
    for (input, want) in cases {
        let e = parse(input).unwrap_err().to_string();
        assert!(e.contains(want), "{input}: {e:?} lacks {want:?}");
    }
}

/// serde's derived structs would read a list as the fields in order; the
/// format takes objects only. Unknown keys are named at the path of the
/// object that has them, with the keys it knows.
#[test]
fn objects_are_objects_and_unknown_keys_are_named() {
    for (input, path, message) in [
        (
            r#"{"participants": [{"name": "a", "formats": [], "buffers": [1, 2, 3, 4, 5]}]}"#,
            "participants[0].buffers",
            "expected an object",
        ),
        (
            r#"{"participants": [{"name": "a", "formats": [["NV12", ["LINEAR"], false]]}]}"#,
            "participants[0].formats[0]",
            "expected an object",
        ),
        (
            r#"{"provenance": ["hand-written", "x"], "participants": [{"name": "a", "formats": []}]}"#,
            "provenance",
            "expected an object",
        ),
        (
            r#"{"participants": [{"name": "a", "formats": [{"format": "NV12", "modifier": "LINEAR"}]}]}"#,
            "participants[0].formats[0]",
            "unknown field \"modifier\" (known: format, modifiers, scanout)",
        ),
        (
            r#"{"participants": [{"name": "a", "formats": [], "buffers": {"camping`, expected `x": 1}}]}"#,
            "participants[0].buffers",
            "unknown field \"camping`, expected `x\" (known: camping, dedicated_slack, shared_slack, min, max)",
        ),
        (
            r#"{"participants": [{"name": "a", "formats": [], "min_size": {"w": 1}}]}"#,
            "participants[0].min_size",
            "expected [width, height]",
        ),
        (
            r#"{"participants": {"name": "a"}}"#,
            "participants",
            "expected a list",
        ),
    ] {
        let e = parse(input).unwrap_err();
        assert_eq!((e.path.as_str(), e.message.as_str()), (path, message), "{input}");
    }
    let e = Policy::from_json(r#"{"costs": [], "cost": 1}"#).unwrap_err();
    assert_eq!(e.to_string(), "unknown field \"cost\" (known: costs)");
    let e = Policy::from_json(r#"{"costs": {"format": "*", "cost": 1}}"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "costs: expected a list of {format, modifier, usage, cost}"
    );
}

/// The cost table of the engine's `cost_table_overrides_rules_2_to_5`
/// (tests/rules.rs) as a JSON file.
#[test]
fn policy_from_json() {
    let policy = Policy {
        costs: vec![CostEntry {
            format: None,
            modifier: Some(MOD_LINEAR),
            usage: Usage::SAMPLE,
            cost: 1,
        }],
    };
    let json = r#"[{"format": "*", "modifier": "LINEAR", "usage": ["sample"], "cost": 1}]"#;
    assert_eq!(Policy::from_json(json).unwrap(), policy);
    let err = Policy::from_json(r#"[{"format": "NV13", "cost": 1}]"#).unwrap_err();
    assert_eq!(err.to_string(), "[0].format: unknown fourcc \"NV13\"");
}

#[test]
fn lists_are_bounded() {
    let many: Vec<String> = (0..=scenario::MAX_PARTICIPANTS)
        .map(|i| format!(r#"{{"name": "p{i}", "formats": []}}"#))
        .collect();
    let text = format!(r#"{{"participants": [{}]}}"#, many.join(","));
    let e = parse(&text).unwrap_err();
    assert_eq!(e.path, "participants");
}

/// What the compositor refuses with a protocol error is bad input here,
/// by the engine's `limits::check_participant` (the compositor's check at
/// commit).
#[test]
fn the_wire_limits_are_bad_input() {
    let one = |extra: &str| {
        format!(
            r#"{{"participants": [{{"name": "a", "formats": [{{"format": "XRGB8888"}}]{extra}}}]}}"#
        )
    };
    assert_eq!(scenario::MAX_PARTICIPANTS, 64);
    assert_eq!(scenario::MAX_PAIRS, 1024);
    let e = parse(&one(r#", "buffers": {"camping": 129}"#)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "participants[0].buffers.camping: 129; a collection has at most 128 buffers"
    );
    assert!(parse(&one(r#", "buffers": {"camping": 128}"#)).is_ok());
    // A pair listed twice: the wire's invalid_format_table.
    let e = parse(
        r#"{"participants": [{"name": "a", "formats": [{"format": "XRGB8888", "modifiers": ["LINEAR", "0x1"]}, {"format": "XRGB8888", "scanout": true}]}]}"#,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "participants[0].formats: XRGB8888 LINEAR listed twice (entries 0, 2); list each pair once"
    );
    let devices = vec!["1"; 65].join(",");
    let e = parse(&one(&format!(r#", "devices": [{devices}]"#))).unwrap_err();
    assert_eq!(e.path, "participants[0].devices");
    let e = parse(&format!(
        r#"{{"participants": [{{"name": "{}", "formats": []}}]}}"#,
        "n".repeat(64)
    ))
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "participants[0].name: 64 bytes; at most 63 allowed"
    );
    // 1024 pairs fit, 1025 do not.
    let mods: Vec<String> = (1..=1024).map(|m| format!(r#""{m:x}""#)).collect();
    let text = format!(
        r#"{{"participants": [{{"name": "a", "formats": [{{"format": "XRGB8888", "modifiers": [{}]}}]}}]}}"#,
        mods.join(",")
    );
    assert!(parse(&text).is_ok());
    let mut more = mods.clone();
    more.push(r#""LINEAR""#.into());
    let e = parse(&format!(
        r#"{{"participants": [{{"name": "a", "formats": [{{"format": "XRGB8888", "modifiers": [{}]}}]}}]}}"#,
        more.join(",")
    ))
    .unwrap_err();
    assert!(e.path.starts_with("participants[0].formats"), "{e}");
    // Over two entries: the total counts.
    let e = parse(&format!(
        r#"{{"participants": [{{"name": "a", "formats": [{{"format": "XRGB8888", "modifiers": [{}]}}, {{"format": "NV12"}}]}}]}}"#,
        mods.join(",")
    ))
    .unwrap_err();
    assert_eq!(e.path, "participants[0].formats", "{e}");
}

#[test]
fn outcomes_have_the_documented_json_shape() {
    let (ps, policy) = parse(
        r#"{"participants": [{"name": "a", "formats": [{"format": "XRGB8888", "modifiers": ["INVALID"]}], "min_size": [2, 2]}]}"#,
    )
    .unwrap();
    let d = solve_with(&ps, &policy).unwrap();
    let v = decision_to_json(&d);
    assert_eq!(v["ok"], true);
    assert_eq!(v["format"], "XRGB8888");
    assert_eq!(v["modifier"], "0x00ffffffffffffff");
    assert_eq!(v["layout"]["planes"][0]["stride"], 8);
    assert_eq!(v["layout"]["size_bytes"], 16);
    assert_eq!(v["alternatives"].as_array().unwrap().len(), 1);
    let (ps, policy) =
        parse(r#"{"participants": [{"name": "a", "formats": [], "stride_alignment": 0}]}"#)
            .unwrap();
    let f = solve_with(&ps, &policy).unwrap_err();
    let v = failure_to_json(&f);
    assert_eq!(v["ok"], false);
    assert_eq!(v["reason"], "invalid_constraint");
    assert_eq!(v["participants"], serde_json::json!(["a"]));
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("stride_alignment is 0"));
}

proptest! {
    #[test]
    fn parse_never_panics_on_arbitrary_text(s in "\\PC{0,200}") {
        let _ = parse(&s);
        let _ = Policy::from_json(&s);
    }

    #[test]
    fn parse_never_panics_on_mutated_scenarios(
        cut in 0usize..600,
        insert in prop::sample::select(vec!["-1", "1e99", "18446744073709551616", "\"NV13\"", "[]", "{}", "null", "\"0x\"", "\"1:\""]),
    ) {
        let base = r#"{"participants": [{"name": "a", "usage": ["render"], "formats": [{"format": "NV12", "modifiers": ["LINEAR", "0x0100000000000002"], "scanout": true}], "min_size": [64, 64], "max_size": [0, 0], "size_alignment": [16, 16], "stride_alignment": 64, "offset_alignment": 4096, "base_alignment": 4096, "min_stride": 0, "max_stride": 0, "max_bytes": 0, "buffers": {"camping": 2, "max": 0}, "devices": ["226:0"], "contiguous": false}]}"#;
        let at = cut.min(base.len());
        let mutated = format!("{}{}{}", &base[..at], insert, &base[at..]);
        if let Ok((ps, policy)) = parse(&mutated) {
            let _ = solve_with(&ps, &policy);
        }
    }
}

#[test]
fn provenance_is_read_and_checked() {
    use scenario::{provenance, Provenance};
    let with = |p: &str| {
        format!(
            r#"{{"provenance": {p}, "participants": [{{"name": "a", "formats": [{{"format": "nv12"}}]}}]}}"#
        )
    };
    let text = with(r#"{"kind": "hand-written", "source": "drm_fourcc.h"}"#);
    assert!(parse(&text).is_ok());
    assert_eq!(
        provenance(&text).unwrap(),
        Some(Provenance::HandWritten {
            source: "drm_fourcc.h".into()
        })
    );
    let text =
        with(r#"{"kind": "captured", "source": "c.json", "participant": "a", "plane": "primary"}"#);
    assert_eq!(
        provenance(&text).unwrap(),
        Some(Provenance::Captured {
            source: "c.json".into(),
            participant: "a".into(),
            plane: "primary".into()
        })
    );
    assert_eq!(
        provenance(r#"{"participants": []}"#).unwrap(),
        None,
        "optional for `accord solve`"
    );
    for (p, path, message) in [
        (
            r#"{"kind": "guessed", "source": "x"}"#,
            "provenance.kind",
            "expected \"hand-written\" or \"captured\", got \"guessed\"",
        ),
        (
            r#"{"source": "x"}"#,
            "provenance.kind",
            "required field is missing",
        ),
        (
            r#"{"kind": "hand-written"}"#,
            "provenance.source",
            "required field is missing",
        ),
        (
            r#"{"kind": "hand-written", "source": " "}"#,
            "provenance.source",
            "must not be empty",
        ),
        (
            r#"{"kind": "hand-written", "source": "x", "plane": "primary"}"#,
            "provenance",
            "unknown field \"plane\" (known: kind, source)",
        ),
        (
            r#"{"kind": "captured", "source": "x", "plane": "primary"}"#,
            "provenance.participant",
            "required field is missing",
        ),
        (r#""captured""#, "provenance", "expected an object"),
    ] {
        let e = parse(&with(p)).unwrap_err();
        assert_eq!(
            (e.path.as_str(), e.message.as_str()),
            (path, message),
            "{p}"
        );
        assert_eq!(provenance(&with(p)).unwrap_err(), e, "{p}");
    }
}

/// Every example scenario says where its numbers come from: a hand-written
/// one cites a source, a captured one names a capture file whose device
/// section its participant agrees with (scanout pairs listed by that
/// plane, the cursor plane's size from the CURSOR_WIDTH/HEIGHT caps).
#[test]
fn every_example_scenario_has_provenance() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files: Vec<_> = std::fs::read_dir(root.join("examples/scenarios"))
        .expect("examples/scenarios")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{} scenarios", files.len());
    let (mut hand, mut captured) = (0, 0);
    for file in &files {
        let name = file.display();
        let text = std::fs::read_to_string(file).expect("readable scenario");
        match scenario::provenance(&text).unwrap_or_else(|e| panic!("{name}: {e}")) {
            None => {
                panic!("{name}: no \"provenance\" (captured, or hand-written from a cited source)")
            }
            Some(scenario::Provenance::HandWritten { .. }) => hand += 1,
            Some(scenario::Provenance::Captured {
                source,
                participant,
                plane,
            }) => {
                captured += 1;
                let cap: serde_json::Value = serde_json::from_str(
                    &std::fs::read_to_string(root.join(&source))
                        .unwrap_or_else(|e| panic!("{name}: {source}: {e}")),
                )
                .unwrap_or_else(|e| panic!("{name}: {source}: {e}"));
                check_against_capture(&text, &cap["device"], &participant, &plane)
                    .unwrap_or_else(|e| panic!("{name}: {e} (capture {source})"));
            }
        }
    }
    eprintln!(
        "{} scenarios: {hand} hand-written, {captured} captured",
        files.len()
    );
}

fn check_against_capture(
    text: &str,
    device: &serde_json::Value,
    participant: &str,
    plane: &str,
) -> Result<(), String> {
    let (ps, _) = parse(text).map_err(|e| e.to_string())?;
    let p = ps
        .iter()
        .find(|p| p.name == participant)
        .ok_or_else(|| format!("no participant {participant:?}"))?;
    let listed = &device["planes"][plane]["formats"];
    let lists = |format: u32, modifier: u64| {
        listed.as_array().into_iter().flatten().any(|f| {
            f["format"] == accord_engine::formats::name(format).as_str()
                && f["modifiers"].as_array().into_iter().flatten().any(|m| {
                    m.as_str() == Some(accord_engine::formats::modifier_name(modifier).as_str())
                })
        })
    };
    let scanout: Vec<_> = p.formats.iter().filter(|f| f.scanout).collect();
    if scanout.is_empty() {
        return Err(format!("{participant} marks no pair scanout"));
    }
    for f in scanout {
        if !lists(f.format, f.modifier) {
            return Err(format!(
                "{participant} marks {} {} scanout; the captured {plane} plane does not list it: {listed}",
                accord_engine::formats::name(f.format),
                accord_engine::formats::modifier_name(f.modifier)
            ));
        }
    }
    let cap = |k: &str| device["caps"][k].as_u64().map(|v| v as u32);
    let expected_max = if plane == "cursor" {
        (cap("CURSOR_WIDTH"), cap("CURSOR_HEIGHT"))
    } else {
        let fb = |i: usize| device["fb_max"][i].as_u64().map(|v| v as u32);
        (fb(0), fb(1))
    };
    if (Some(p.max_size.0), Some(p.max_size.1)) != expected_max {
        return Err(format!(
            "{participant} max_size {:?}, the capture says {expected_max:?}",
            p.max_size
        ));
    }
    Ok(())
}
