//! `accord solve` end to end: every scenario in examples/scenarios meets the
//! `expect` object written next to it, plus exit codes and error paths.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn accord(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_accord"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run accord");
    let mut pipe = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        // accord may reject its arguments and exit before reading stdin.
        if let Err(e) = pipe.write_all(s.as_bytes()) {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn scenarios() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// Every key of `want` is in `got` with the same value (recursively for
/// objects).
fn assert_subset(want: &Value, got: &Value, path: &str) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, v) in w {
                let sub = format!("{path}.{k}");
                let gv = g.get(k).unwrap_or_else(|| panic!("{sub} missing in {got}"));
                assert_subset(v, gv, &sub);
            }
        }
        _ => assert_eq!(want, got, "at {path}"),
    }
}

#[test]
fn every_scenario_meets_its_expectation() {
    let files = scenarios();
    assert!(files.len() >= 8, "only {} scenarios", files.len());
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let scenario: Value = serde_json::from_str(&text).unwrap();
        let expect = scenario
            .get("expect")
            .unwrap_or_else(|| panic!("{} has no expect", file.display()));
        let out = accord(&["solve", file.to_str().unwrap()], None);
        let got: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_subset(expect, &got, &file.display().to_string());
        let want_code = if expect["ok"] == Value::Bool(true) {
            0
        } else {
            1
        };
        assert_eq!(out.status.code(), Some(want_code), "{}", file.display());
        if got["ok"] == Value::Bool(false) {
            assert!(!got["message"].as_str().unwrap().is_empty());
        }
    }
}

#[test]
fn many_files_give_one_line_each_and_the_worst_exit_code() {
    let files = scenarios();
    let args: Vec<&str> = std::iter::once("solve")
        .chain(files.iter().map(|f| f.to_str().unwrap()))
        .collect();
    let out = accord(&args, None);
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), files.len());
    for (line, file) in lines.iter().zip(&files) {
        assert_eq!(line["file"], file.to_str().unwrap());
    }
    assert_eq!(out.status.code(), Some(1), "some scenarios fail on purpose");
}

const SMALL: &str = r#"{"participants": [
  {"name": "a", "formats": [{"format": "NV12", "modifiers": ["LINEAR"]}], "min_size": [64, 32], "stride_alignment": 256},
  {"name": "b", "formats": [{"format": "NV12"}], "offset_alignment": 4096}
]}"#;

#[test]
fn stdin_decision_has_the_documented_fields() {
    let out = accord(&["solve", "-"], Some(SMALL));
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "ok",
        "format",
        "modifier",
        "width",
        "height",
        "buffer_count",
        "usage",
        "stride_alignment",
        "offset_alignment",
        "scanout",
        "layout",
    ] {
        assert!(v.get(key).is_some(), "{key} missing");
    }
    assert_eq!(v["format"], "NV12");
    assert_eq!(v["modifier"], "0x0000000000000000");
    assert_eq!(
        v["layout"],
        serde_json::json!({"planes": [{"offset": 0, "stride": 256}, {"offset": 8192, "stride": 256}], "size_bytes": 12288})
    );
}

#[test]
fn bad_input_exits_2_naming_the_field() {
    let cases = [
        (
            r#"{"participants": [{"name": "a", "formats": []}, {"name": "b", "formats": [{"format": "NV13"}]}]}"#,
            r#"participants[1].formats[0].format: unknown fourcc "NV13""#,
        ),
        (
            r#"{"participants": [{"name": "a", "formats": [{"format": "NV12", "modifiers": ["0xZZ"]}]}]}"#,
            "participants[0].formats[0].modifiers[0]: bad modifier",
        ),
        (
            r#"{"participants": [{"name": "a", "formats": [], "min_size": [1, -1]}]}"#,
            "participants[0].min_size[1]: expected an integer in 0..=4294967295",
        ),
        (
            r#"{"participants": [{"name": "a", "formats": [], "buffers": {"campign": 1}}]}"#,
            "participants[0].buffers: unknown field \"campign\"",
        ),
        (
            r#"{"participants": [{"formats": []}]}"#,
            "participants[0].name: required field is missing",
        ),
        (
            r#"{"participants": [{"name": "a", "formats": [], "usage": ["scan"]}]}"#,
            "participants[0].usage[0]: unknown usage \"scan\"",
        ),
        (r#"{"participants": "#, "invalid JSON at line 1"),
    ];
    for (input, message) in cases {
        let out = accord(&["solve", "-"], Some(input));
        assert_eq!(out.status.code(), Some(2), "{input}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(message), "{err:?} lacks {message:?}");
        assert!(out.stdout.is_empty());
    }
    assert_eq!(accord(&["solve"], None).status.code(), Some(2));
    assert_eq!(
        accord(&["solve", "--bogus", "-"], None).status.code(),
        Some(2)
    );
    assert_eq!(accord(&["frobnicate"], None).status.code(), Some(2));
    assert_eq!(
        accord(&["solve", "/nonexistent.json"], None).status.code(),
        Some(2)
    );
}

#[test]
fn zero_alignment_is_a_negotiation_failure_not_bad_input() {
    let input = r#"{"participants": [{"name": "cam", "formats": [{"format": "YUYV"}], "stride_alignment": 0}]}"#;
    let out = accord(&["solve", "-"], Some(input));
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["reason"], "invalid_constraint");
    assert_eq!(v["participants"], serde_json::json!(["cam"]));
}

/// Sizes past the protocol's byte limits answer `too_large`, as the
/// compositor does (tests/tests/limits.rs), even where a stride limit is
/// broken too: the engine checks the size first.
#[test]
fn huge_sizes_are_too_large_as_in_the_compositor() {
    let cases = [
        // Width 2^30: stride 2^32 is past the 32-bit field, 4 GiB past 512 MiB.
        (
            r#"{"participants": [{"name": "wide", "formats": [{"format": "XRGB8888", "modifiers": ["LINEAR"]}], "min_size": [1073741824, 1]}]}"#,
            "needs 4294967296 bytes per buffer, the limit is 536870912",
        ),
        // u32::MAX wide against a display's max_stride.
        (
            r#"{"participants": [
              {"name": "wide", "formats": [{"format": "XRGB8888", "modifiers": ["LINEAR"]}], "min_size": [4294967295, 1]},
              {"name": "display", "formats": [{"format": "XRGB8888", "modifiers": ["LINEAR"]}], "max_stride": 4096}
            ]}"#,
            "the limit is 536870912",
        ),
        // 128 buffers of 8 MiB and one row.
        (
            r#"{"participants": [{"name": "many", "formats": [{"format": "XRGB8888", "modifiers": ["LINEAR"]}], "min_size": [1024, 2049], "buffers": {"min": 128}}]}"#,
            "above the collection limit of 1073741824 bytes",
        ),
    ];
    for (input, message) in cases {
        let out = accord(&["solve", "-"], Some(input));
        assert_eq!(out.status.code(), Some(1), "{input}");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["reason"], "too_large", "{v}");
        let got = v["message"].as_str().unwrap();
        assert!(got.contains(message), "{got:?} lacks {message:?}");
    }
}

#[test]
fn explain_traces_each_candidate_to_stderr() {
    let input = r#"{"participants": [
      {"name": "decoder", "formats": [{"format": "NV12", "modifiers": ["0x0100000000000002", "LINEAR"]}]},
      {"name": "display", "usage": ["scanout"], "formats": [{"format": "NV12", "modifiers": ["LINEAR"], "scanout": true}, {"format": "XRGB8888", "scanout": true}]}
    ]}"#;
    let out = accord(&["solve", "--explain", "-"], Some(input));
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("#0 NV12 LINEAR: CHOSEN, scanout-capable"),
        "{err}"
    );
    assert!(
        err.contains("NV12 0x0100000000000002 (I915_Y_TILED): eliminated: not listed by display"),
        "{err}"
    );
    assert!(
        err.contains("XRGB8888 LINEAR: eliminated: not listed by decoder"),
        "{err}"
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
}

#[test]
fn costs_file_overrides_the_ranking() {
    let dir = std::env::temp_dir().join(format!("accord-costs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let costs = dir.join("costs.json");
    std::fs::write(
        &costs,
        r#"[{"format": "NV12", "modifier": "LINEAR", "cost": 1}]"#,
    )
    .unwrap();
    let input = r#"{"participants": [
      {"name": "a", "formats": [{"format": "NV12", "modifiers": ["0x0100000000000002", "LINEAR"]}]}
    ]}"#;
    let plain: Value =
        serde_json::from_slice(&accord(&["solve", "-"], Some(input)).stdout).unwrap();
    assert_eq!(plain["modifier"], "0x0100000000000002");
    let out = accord(
        &["solve", "--costs", costs.to_str().unwrap(), "-"],
        Some(input),
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["modifier"], "0x0000000000000000");
    std::fs::write(&costs, r#"[{"format": "NV12", "cost": -1}]"#).unwrap();
    let out = accord(
        &["solve", "--costs", costs.to_str().unwrap(), "-"],
        Some(input),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("[0].cost: expected an integer"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn explain_says_no_limit_and_counts_in_words() {
    let input = r#"{"participants": [
      {"name": "a", "formats": [{"format": "XRGB8888"}], "min_size": [64, 64]},
      {"name": "b", "usage": ["scanout"], "formats": [{"format": "XRGB8888", "scanout": true}, {"format": "NV12"}], "max_size": [4096, 0], "buffers": {"camping": 2}}
    ]}"#;
    let out = accord(&["solve", "--explain", "-"], Some(input));
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8(out.stderr).unwrap();
    for want in [
        "a: usage [], 1 pair, min 64x64, max size: no limit",
        "b: usage [scanout], 2 pairs, min 1x1, max width 4096, no height limit",
        "max stride no limit, max bytes no limit, 2 buffers",
        "1 scanout participant\n",
        "outcome: decided XRGB8888 LINEAR 64x64, 2 buffers, scanout",
    ] {
        assert!(err.contains(want), "{want:?} missing in\n{err}");
    }
    assert!(!err.contains("0x0") && !err.contains("(s)"), "{err}");
}

#[test]
fn explain_shows_required_sizes_and_the_maximum_area() {
    let input = r#"{"participants": [
      {"name": "dec", "formats": [{"format": "NV12"}], "min_size": [16, 16], "size_alignment": [16, 16],
       "required_min_size": [1920, 1080], "required_max_size": [2560, 1440], "max_area": 4000000},
      {"name": "c", "formats": [{"format": "NV12"}], "max_area": 3000000}
    ]}"#;
    let out = accord(&["solve", "--explain", "-"], Some(input));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    for want in [
        "dec: usage [], 1 pair, min 16x16, max size: no limit, required 1920x1080 to 2560x1440, max area 4000000 pixels",
        "c: usage [], 1 pair, min 1x1, max size: no limit, max area 3000000 pixels",
        "size_conflict: 2560x1440 is 3686400 pixels, above the maximum area 3000000 of c",
    ] {
        assert!(err.contains(want), "{want:?} missing in\n{err}");
    }
}

#[test]
fn participant_names_are_unique() {
    let input = r#"{"participants": [
      {"name": "a", "formats": [{"format": "XRGB8888"}]},
      {"name": "b", "formats": [{"format": "XRGB8888"}]},
      {"name": "a", "formats": [{"format": "XRGB8888"}]}
    ]}"#;
    let out = accord(&["solve", "-"], Some(input));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(
            "participants[2].name: \"a\" is already the name of participants[0]; names must be unique"
        ),
        "{err}"
    );
}

#[test]
fn late_participants_are_checked_against_the_decision() {
    let json = r#"{"participants": [{"name": "producer", "formats": [{"format": "XRGB8888", "modifiers": ["LINEAR"]}], "min_size": [64, 32], "buffers": {"camping": 2}}],
        "late": [{"name": "viewer", "formats": [{"format": "XRGB8888", "modifiers": ["LINEAR"]}]},
                 {"name": "greedy", "formats": [{"format": "XRGB8888", "modifiers": ["LINEAR"]}], "buffers": {"camping": 3}}]}"#;
    let out = accord(&["solve", "-"], Some(json));
    // A late participant's failure is its own: the scenario still solves.
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["late"][0],
        serde_json::json!({"name": "viewer", "ok": true})
    );
    assert_eq!(v["late"][1]["ok"], false);
    assert_eq!(v["late"][1]["reason"], "count_conflict");
    assert!(v["late"][1]["message"]
        .as_str()
        .unwrap()
        .contains("'greedy'"));
    // Names are unique across both lists.
    let dup = json.replace("\"greedy\"", "\"producer\"");
    let out = accord(&["solve", "-"], Some(&dup));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("late[1].name"));
}

#[test]
fn token_groups_select_the_first_child_that_negotiates() {
    let child = |name: &str, format: &str| {
        format!(
            r#"{{"participants": [{{"name": "{name}", "formats": [{{"format": "{format}"}}]}}]}}"#
        )
    };
    let input = format!(
        r#"{{"participants": [{{"name": "display", "formats": [{{"format": "XRGB8888"}}]}}],
            "groups": [{{"name": "outer", "children": [{}, {{"groups": [{{"name": "inner", "children": [{}, {}]}}]}}]}}]}}"#,
        child("nv12", "NV12"),
        child("inner nv12", "NV12"),
        child("inner xr24", "XRGB8888")
    );
    let out = accord(&["solve", "-"], Some(&input));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["groups"],
        serde_json::json!({"selected": [{"group": "outer", "child": 1}, {"group": "inner", "child": 1}],
                           "not_selected": ["nv12", "inner nv12"]})
    );
    // Over the cap: 3 groups of 8, 8 and 2 children.
    let many = |name: &str, n: usize| {
        let kids: Vec<String> = (0..n)
            .map(|i| child(&format!("{name}{i}"), "XRGB8888"))
            .collect();
        format!(r#"{{"name": "{name}", "children": [{}]}}"#, kids.join(","))
    };
    let input = format!(
        r#"{{"participants": [{{"name": "display", "formats": [{{"format": "XRGB8888"}}]}}],
            "groups": [{}, {}, {}]}}"#,
        many("a", 8),
        many("b", 8),
        many("c", 2)
    );
    let out = accord(&["solve", "-"], Some(&input));
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["reason"], "invalid_constraint");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("more than 64 combinations"),
        "{v}"
    );
    // A group without children is bad input, as the protocol's no_children.
    let input = r#"{"participants": [{"name": "display", "formats": [{"format": "XRGB8888"}]}],
                    "groups": [{"name": "empty", "children": []}]}"#;
    let out = accord(&["solve", "-"], Some(input));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("groups[0].children: at least one child"));
}

#[test]
fn placement_takes_part_as_in_the_compositor() {
    let input = r#"{"participants": [{"name": "client", "formats": [
        {"format": "XRGB8888", "modifiers": ["0x0100000000000002", "LINEAR"]}]}]}"#;
    let out = accord(&["solve", "-"], Some(input));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["modifier"], "0x0100000000000002",
        "no placement: the ranking's first"
    );
    let out = accord(&["solve", "--placement", "memfd", "-"], Some(input));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["modifier"], "0x0000000000000000",
        "memfd makes LINEAR only: {v}"
    );
    let tiled = r#"{"participants": [{"name": "client", "formats": [
        {"format": "XRGB8888", "modifiers": ["0x0100000000000002"]}]}]}"#;
    let out = accord(&["solve", "--placement", "dumb", "-"], Some(tiled));
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["reason"], "no_common_format");
    assert!(
        v["message"].as_str().unwrap().contains("placement 'dumb'"),
        "{v}"
    );
    let out = accord(&["solve", "--placement", "floppy", "-"], Some(input));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected gbm, dumb"));
}

/// `--placement` lists the machine's placements: the ranking picks one
/// for the participants' needs and prints it; a need no placement meets
/// fails `unsupported` naming who has it (issue 14, and issue 12's secure
/// memory).
#[test]
fn placements_are_ranked_for_the_participants_needs() {
    let machine = "dumb@0xe200,dumb@0xe201,dma-heap:system,udmabuf,memfd";
    let solve = |input: &str| {
        let out = accord(&["solve", "--placement", machine, "-"], Some(input));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), v)
    };
    let one = |extra: &str| {
        format!(
            r#"{{"participants": [{{"name": "client", "formats": [{{"format": "XRGB8888"}}]{extra}}}]}}"#
        )
    };
    let (code, v) = solve(&one(r#", "usage": ["cpu_write"]"#));
    assert_eq!(
        (code, &v["placement"]),
        (Some(0), &"dma-heap:system".into()),
        "{v}"
    );
    let (_, v) = solve(&one(r#", "devices": [57857]"#));
    assert_eq!(v["placement"], "dumb@0xe201", "vgem's own memory: {v}");
    let (_, v) = solve(&one(r#", "devices": [57856, 57857]"#));
    assert_eq!(
        v["placement"], "dma-heap:system",
        "two devices meet in system memory: {v}"
    );
    let (_, v) = solve(&one(r#", "permitted_heaps": ["udmabuf", "memfd"]"#));
    assert_eq!(v["placement"], "udmabuf", "{v}");
    let (code, v) = solve(&one(r#", "contiguous": true"#));
    assert_eq!(
        (code, &v["reason"]),
        (Some(1), &"unsupported".into()),
        "{v}"
    );
    let msg = v["message"].as_str().unwrap();
    assert!(
        msg.starts_with("no placement provides contiguous memory, which 'client' asked for"),
        "{msg}"
    );
    let (code, v) = solve(&one(
        r#", "usage": ["protected"], "coherency_domains": ["inaccessible"]"#,
    ));
    assert_eq!(
        (code, &v["reason"]),
        (Some(1), &"unsupported".into()),
        "{v}"
    );
    assert_eq!(v["participants"], serde_json::json!(["client"]), "{v}");
    let out = accord(
        &["solve", "--placement", "dma-heap:secure_video,memfd", "-"],
        Some(&one(
            r#", "usage": ["protected"], "coherency_domains": ["inaccessible"]"#,
        )),
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["placement"], "dma-heap:secure_video", "{v}");
    // A bad permitted heap is bad input, as the wire's invalid_value.
    let out = accord(
        &["solve", "-"],
        Some(&one(r#", "permitted_heaps": ["floppy"]"#)),
    );
    assert_eq!(out.status.code(), Some(2));
}

/// A raw collection's trace: the participants' byte constraints, the
/// combined bytes, and the outcome in bytes (no pair to rank).
#[test]
fn explain_shows_raw_bytes() {
    let input = r#"{"participants": [
        {"name": "decoder", "usage": ["video_decode"], "formats": [], "min_size_bytes": 786432,
         "base_alignment": 4096, "buffers": {"camping": 2}},
        {"name": "demuxer", "usage": ["cpu_write"], "formats": [], "max_bytes": 1048576,
         "buffers": {"camping": 1}}]}"#;
    let out = accord(&["solve", "--explain", "-"], Some(input));
    assert!(out.status.success());
    let trace = String::from_utf8_lossy(&out.stderr);
    for line in [
        "  decoder: usage [video_decode], raw bytes, at least 786432 bytes a buffer, base alignment 4096",
        "  demuxer: usage [cpu_write], raw bytes, at most 1048576 bytes a buffer",
        "aggregate: raw bytes (no participant lists a pair): at least 786432 bytes a buffer, base \
         alignment 4096, max bytes 1048576, 3 buffers, usage [cpu_write, video_decode]",
        "outcome: decided raw (no image format): 3 buffers of 786432 bytes, coherency cpu",
    ] {
        assert!(trace.contains(line), "{line:?} not in:\n{trace}");
    }
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        (v["raw"].as_bool(), v["format"].as_str()),
        (Some(true), Some("raw"))
    );
    assert_eq!(v["layout"]["size_bytes"], 786432);
}
