//! `accord info` on this machine. The DRM part depends on what the machine
//! has: without `/dev/dri` nodes (this project's build host) the listing
//! says so; with nodes, each one is listed. The real-device listing is
//! asserted in the QEMU tier (tests/vm/src/info.rs).

use std::path::Path;
use std::process::{Command, Output};

use accord_engine::formats::name;
use accord_examples::refcomp::gles::software_renderer;
use serde_json::{json, Value};
use smithay::backend::renderer::{pixman::PixmanRenderer, ImportDma, ImportMem};

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
    json_info_with(&[])
}

fn json_info_with(args: &[&str]) -> Value {
    let out = accord(&[&["info", "--json"], args].concat());
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
    // Both renderers by default, Pixman first (their contents: below).
    let pixman = text.find("\nRenderer: pixman (the CPU)\n").expect(&text);
    let gles = text
        .find("\nRenderer: gles (EGL on Mesa's software device")
        .expect(&text);
    assert!(pixman < gles, "{text}");
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
    assert_eq!(top, ["backends", "nodes", "renderers", "v4l2"]);
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

    let names: Vec<&str> = v["renderers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pixman", "gles"]);

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

/// `(format, [modifier...])` as `accord info --json` lists a renderer's
/// dma-buf pairs: grouped by format in the renderer's order.
fn grouped(renderer: &impl ImportDma) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for f in renderer.dmabuf_formats().iter() {
        let (format, modifier) = (
            name(f.code as u32),
            format!("{:#018x}", u64::from(f.modifier)),
        );
        match out.iter_mut().find(|(n, _)| *n == format) {
            Some((_, mods)) => mods.push(modifier),
            None => out.push((format, vec![modifier])),
        }
    }
    out
}

/// The same from the JSON listing.
fn listed(renderer: &Value) -> Vec<(String, Vec<String>)> {
    renderer["formats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let mods = f["modifiers"].as_array().unwrap();
            (
                f["format"].as_str().unwrap().to_owned(),
                mods.iter()
                    .map(|m| m["modifier"].as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect()
}

fn shm(renderer: &impl ImportMem) -> Value {
    renderer
        .mem_formats()
        .map(|f| json!({"format": name(f as u32), "fourcc": format!("{:#010x}", f as u32)}))
        .collect()
}

/// `--renderer pixman` against a live `PixmanRenderer`: every dma-buf pair
/// and memory format, in its order.
#[test]
fn pixman_listing_is_the_live_renderers() {
    let v = json_info_with(&["--renderer", "pixman"]);
    let renderers = v["renderers"].as_array().unwrap();
    assert_eq!(renderers.len(), 1, "{renderers:?}");
    let r = &renderers[0];
    assert_eq!(r["name"], "pixman");
    assert_eq!(r["device"], "the CPU");
    assert_eq!(r["error"], Value::Null);
    let live = PixmanRenderer::new().unwrap();
    let want = grouped(&live);
    assert!(!want.is_empty());
    assert_eq!(listed(r), want);
    assert_eq!(r["shm"], shm(&live));
    for f in r["formats"].as_array().unwrap() {
        for m in f["modifiers"].as_array().unwrap() {
            assert_eq!(m["name"], "LINEAR", "Pixman imports linear only: {f}");
            assert_eq!(m["external_only"], false, "{f}");
        }
    }
}

/// `--renderer gles` against a live `GlesRenderer` brought up as the
/// compositor brings it up headless (Mesa's software device). Mesa 22.3's
/// software device imports no dma-buf, so here the dma-buf list is empty
/// and the memory formats carry the check; on a card (`--gles-device`, the
/// real-kernel tier) the list is EGL's.
#[test]
fn gles_listing_is_the_live_renderers() {
    let v = json_info_with(&["--renderer", "gles"]);
    let renderers = v["renderers"].as_array().unwrap();
    assert_eq!(renderers.len(), 1, "{renderers:?}");
    let r = &renderers[0];
    assert_eq!(r["name"], "gles");
    assert_eq!(r["error"], Value::Null, "{r}");
    assert!(
        r["device"]
            .as_str()
            .unwrap()
            .starts_with("EGL on Mesa's software device: llvmpipe"),
        "{r}"
    );
    let live = software_renderer().expect("GLES on EGL's software device");
    assert_eq!(listed(r), grouped(&live));
    let live_shm = shm(&live);
    assert!(!live_shm.as_array().unwrap().is_empty());
    assert_eq!(r["shm"], live_shm);
    // GLES uploads 16-bit float memory, which Pixman does not draw.
    assert!(
        r["shm"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["format"] == "ABGR16161616F"),
        "{r}"
    );

    let out = accord(&["info", "--renderer", "gles"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("Renderer: pixman"), "{text}");
    let names: Vec<String> = live.mem_formats().map(|f| name(f as u32)).collect();
    assert!(
        text.contains(&format!(
            "└───shm formats (memory it draws): {}\n",
            names.join(", ")
        )),
        "{text}"
    );
}

/// A GLES that cannot come up is listed with its error; the listing goes on.
#[test]
fn gles_failure_is_listed_with_its_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_accord"))
        .args([
            "info",
            "--json",
            "--renderer",
            "gles",
            "--renderer",
            "pixman",
        ])
        .env(
            "__EGL_VENDOR_LIBRARY_FILENAMES",
            "/nonexistent/egl_vendor.json",
        )
        .output()
        .expect("run accord");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let renderers = v["renderers"].as_array().unwrap();
    assert_eq!(renderers[0]["name"], "pixman");
    assert_eq!(renderers[0]["error"], Value::Null);
    let gles = &renderers[1];
    assert!(
        gles["error"]
            .as_str()
            .unwrap()
            .starts_with("EGL: cannot list devices"),
        "{gles}"
    );
    assert_eq!(gles["formats"], json!([]));
}
