//! `accord info` on this machine. The DRM part depends on what the machine
//! has: without `/dev/dri` nodes (this project's build host) the listing
//! says so; with nodes, each one is listed. The real-device listing is
//! asserted in the QEMU tier (tests/vm/src/info.rs).

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn accord(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_accord"))
        .args(args)
        .output()
        .expect("run accord")
}

/// The DRM nodes as the test sees them, independently of accord.
fn dri_nodes() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir("/dev/dri")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("card") || n.starts_with("renderD"))
        .map(|n| format!("/dev/dri/{n}"))
        .collect();
    out.sort();
    out
}

fn json_info() -> Value {
    let out = accord(&["info", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "one JSON object on one line");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn text_lists_nodes_or_says_there_are_none() {
    let out = accord(&["info"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let nodes = dri_nodes();
    if nodes.is_empty() {
        assert!(
            text.starts_with("DRM nodes: no DRM devices found"),
            "{text}"
        );
        assert!(!text.contains("Node: "), "{text}");
        assert!(
            text.contains("├───gbm: not available here: no /dev/dri/card* node"),
            "{text}"
        );
    } else {
        assert!(!text.contains("no DRM devices found"), "{text}");
        for n in &nodes {
            assert!(
                text.contains(&format!("Node: {n} (")),
                "{n} missing:\n{text}"
            );
        }
    }
    assert!(
        text.contains("Renderer: pixman (the reference compositor's), import formats\n"),
        "{text}"
    );
    assert!(
        text.contains("───XRGB8888 (0x34325258): LINEAR\n"),
        "{text}"
    );
    assert!(
        text.contains("───ARGB8888 (0x34325241): LINEAR\n"),
        "{text}"
    );
    assert!(
        text.contains("Allocation backends (the placements each serves)\n"),
        "{text}"
    );
    if accord_v4l2::video_nodes().is_empty() {
        assert!(
            text.ends_with("\nV4L2 nodes: none (no /dev/video* node)\n"),
            "{text}"
        );
    }
    assert!(
        text.contains("└───memfd: available (sealed memfd, last resort (not a dma-buf))"),
        "{text}"
    );
}

#[test]
fn json_has_the_documented_keys_and_this_machines_backends() {
    let v = json_info();
    let mut top: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    top.sort();
    assert_eq!(top, ["backends", "nodes", "renderer", "v4l2"]);
    // One entry per /dev/video* node (none on the build machine).
    let videos = v["v4l2"].as_array().unwrap();
    assert_eq!(videos.len(), accord_v4l2::video_nodes().len());

    let nodes = v["nodes"].as_array().unwrap();
    let paths: Vec<&str> = nodes.iter().map(|n| n["path"].as_str().unwrap()).collect();
    assert_eq!(paths, dri_nodes());
    for n in nodes {
        for key in [
            "path",
            "type",
            "error",
            "driver",
            "device",
            "caps",
            "client_caps",
            "kms",
        ] {
            assert!(n.get(key).is_some(), "node lacks {key}: {n}");
        }
    }

    let renderer = &v["renderer"];
    assert_eq!(renderer["name"], "pixman");
    assert_eq!(renderer["error"], Value::Null);
    let formats = renderer["formats"].as_array().unwrap();
    let xrgb = formats
        .iter()
        .find(|f| f["format"] == "XRGB8888")
        .expect("Pixman imports XRGB8888");
    assert_eq!(xrgb["fourcc"], "0x34325258");
    assert_eq!(
        xrgb["modifiers"],
        serde_json::json!([{"modifier": "0x0000000000000000", "name": "LINEAR"}])
    );
    for f in formats {
        for m in f["modifiers"].as_array().unwrap() {
            assert_eq!(m["name"], "LINEAR", "Pixman imports linear only: {f}");
        }
    }

    let backends = v["backends"].as_array().unwrap();
    for b in backends {
        let mut keys: Vec<&str> = b.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "available",
                "detail",
                "kind",
                "name",
                "path",
                "placement",
                "reason"
            ],
            "{b}"
        );
        // Exactly one of detail and reason.
        let available = b["available"].as_bool().unwrap();
        assert_eq!(b["detail"].is_string(), available, "{b}");
        assert_eq!(b["reason"].is_string(), !available, "{b}");
    }
    let find = |name: &str| {
        backends
            .iter()
            .find(|b| b["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed: {backends:?}"))
    };
    let memfd = find("memfd");
    assert_eq!(memfd["available"], true);
    assert_eq!(memfd["kind"], "memfd");
    assert_eq!(memfd["path"], Value::Null);
    assert!(memfd["detail"].as_str().unwrap().contains("not a dma-buf"));
    // What it serves as a placement (issue 14).
    assert_eq!(memfd["placement"]["dmabuf"], false, "{memfd}");
    assert_eq!(
        memfd["placement"]["layouts"],
        "linear layouts of known formats"
    );
    assert!(
        memfd["placement"]["serves"]
            .as_str()
            .unwrap()
            .contains("collections no device or scanout needs a dma-buf for"),
        "{memfd}"
    );
    for (name, path) in [
        ("dma-heap:/dev/dma_heap/system", "/dev/dma_heap/system"),
        ("udmabuf:/dev/udmabuf", "/dev/udmabuf"),
    ] {
        let b = find(name);
        assert_eq!(b["path"], path);
        if !Path::new(path).exists() {
            assert_eq!(b["available"], false, "{b}");
            assert_eq!(
                b["reason"],
                format!("not available here: {path} missing"),
                "{b}"
            );
        }
    }
    if dri_nodes().iter().all(|n| !n.contains("card")) {
        for kind in ["gbm", "dumb"] {
            let b = find(kind);
            assert_eq!(b["available"], false);
            assert_eq!(b["reason"], "not available here: no /dev/dri/card* node");
        }
    }
}

#[test]
fn unknown_argument_exits_2() {
    let out = accord(&["info", "--yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("unexpected argument '--yaml'"), "{err}");
    assert!(out.stdout.is_empty());
}
