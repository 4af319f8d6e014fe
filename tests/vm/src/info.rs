//! `accord info --json` on the guest's real devices. The `accord` binary is
//! the one built next to this test binary (`tests/vm/run` builds both), or
//! `$ACCORD_BIN`.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::common::{CARD0, CARD1};
use crate::ensure;
use crate::harness::{Outcome, TestResult};

pub(crate) fn accord_bin() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("ACCORD_BIN") {
        return Ok(p.into());
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let bin = exe.with_file_name("accord");
    ensure!(
        bin.exists(),
        "{} missing: build it with `cargo build --release -p accord-cli` (tests/vm/run does)",
        bin.display()
    );
    Ok(bin)
}

pub(crate) fn info_json() -> Result<Value, String> {
    let out = Command::new(accord_bin()?)
        .args(["info", "--json"])
        .output()
        .map_err(|e| format!("cannot run accord: {e}"))?;
    ensure!(
        out.status.success(),
        "accord info --json exited {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).map_err(|e| format!("accord info --json: {e}"))
}

fn node<'a>(v: &'a Value, path: &str) -> Result<&'a Value, String> {
    v["nodes"]
        .as_array()
        .and_then(|n| n.iter().find(|n| n["path"] == path))
        .ok_or_else(|| format!("{path} not listed in {}", v["nodes"]))
}

/// The first plane of `kind` on any CRTC of `card`.
fn plane<'a>(card: &'a Value, kind: &str) -> Result<&'a Value, String> {
    card["kms"]["crtcs"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["planes"].as_array().into_iter().flatten())
        .find(|p| p["type"] == kind)
        .ok_or_else(|| format!("no {kind} plane in {}", card["kms"]))
}

fn modifiers_of<'a>(plane: &'a Value, format: &str) -> Vec<&'a str> {
    plane["formats"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["format"] == format)
        .flat_map(|f| f["modifiers"].as_array().into_iter().flatten())
        .filter_map(|m| m["name"].as_str())
        .collect()
}

pub fn lists_virtio_gpu_and_vgem() -> TestResult {
    let v = info_json()?;
    let card0 = node(&v, CARD0)?;
    ensure!(card0["error"].is_null(), "card0 error: {}", card0["error"]);
    ensure!(
        card0["driver"]["name"] == "virtio_gpu",
        "card0 driver {}",
        card0["driver"]
    );
    ensure!(card0["type"] == "primary", "card0 type {}", card0["type"]);
    ensure!(
        card0["caps"]["DUMB_BUFFER"] == 1,
        "card0 DUMB_BUFFER {}",
        card0["caps"]
    );
    ensure!(
        card0["caps"]["ADDFB2_MODIFIERS"] == 0,
        "virtio-gpu ADDFB2_MODIFIERS {}",
        card0["caps"]["ADDFB2_MODIFIERS"]
    );
    ensure!(
        card0["client_caps"]["ATOMIC"] == true,
        "card0 client caps {}",
        card0["client_caps"]
    );
    let connected = card0["kms"]["connectors"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["name"] == "Virtual-1" && c["status"] == "connected");
    ensure!(
        connected,
        "no connected Virtual-1: {}",
        card0["kms"]["connectors"]
    );

    let primary = plane(card0, "primary")?;
    ensure!(
        primary["in_formats"] == false,
        "virtio-gpu primary has IN_FORMATS"
    );
    ensure!(
        modifiers_of(primary, "XRGB8888") == ["INVALID"],
        "primary XRGB8888 is not implicit-only: {}",
        primary["formats"]
    );
    let cursor = plane(card0, "cursor")?;
    ensure!(
        !modifiers_of(cursor, "ARGB8888").is_empty(),
        "cursor lacks ARGB8888: {}",
        cursor["formats"]
    );

    let card1 = node(&v, CARD1)?;
    ensure!(
        card1["driver"]["name"] == "vgem",
        "card1 driver {}",
        card1["driver"]
    );
    ensure!(card1["kms"].is_null(), "vgem has KMS: {}", card1["kms"]);

    let backends = v["backends"].as_array().ok_or("no backends array")?;
    for card in [CARD0, CARD1] {
        let name = format!("dumb:{card}");
        let dumb = backends
            .iter()
            .find(|b| b["name"] == name.as_str())
            .ok_or_else(|| format!("{name} not listed"))?;
        ensure!(dumb["available"] == true, "{name}: {dumb}");
    }
    let memfd = backends
        .iter()
        .find(|b| b["kind"] == "memfd")
        .ok_or("memfd not listed")?;
    ensure!(memfd["available"] == true, "memfd: {memfd}");
    Ok(Outcome::Passed)
}

/// The tree names both nodes and does not claim there are none.
pub fn text_lists_nodes() -> TestResult {
    let out = Command::new(accord_bin()?)
        .arg("info")
        .output()
        .map_err(|e| format!("cannot run accord: {e}"))?;
    ensure!(out.status.success(), "accord info exited {:?}", out.status);
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    for want in [
        "Node: /dev/dri/card0 (primary)\n├───Driver: virtio_gpu",
        "Node: /dev/dri/card1 (primary)\n├───Driver: vgem",
        "XRGB8888 (0x34325258): implicit",
        "└───memfd: available",
    ] {
        ensure!(text.contains(want), "{want:?} missing from:\n{text}");
    }
    ensure!(
        !text.contains("no DRM devices found"),
        "claims no devices:\n{text}"
    );
    Ok(Outcome::Passed)
}

/// `accord info --renderer gles --gles-device card0` lists what a live
/// `GlesRenderer` on card0's GBM device (Mesa's `kms_swrast`, as
/// `accord-compositor --drm` brings it up) imports: the same pairs in the
/// same order, external-only ones as EGL marks them, and its memory formats.
pub fn gles_on_card0_is_the_live_renderers() -> TestResult {
    use smithay::backend::{
        drm::DrmDeviceFd,
        renderer::{ImportDma, ImportMem},
    };
    let out = Command::new(accord_bin()?)
        .args([
            "info",
            "--json",
            "--renderer",
            "gles",
            "--gles-device",
            CARD0,
        ])
        .output()
        .map_err(|e| format!("cannot run accord: {e}"))?;
    ensure!(out.status.success(), "accord info exited {:?}", out.status);
    let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let r = &v["renderers"][0];
    ensure!(r["name"] == "gles" && r["error"].is_null(), "{r}");
    ensure!(
        r["device"]
            .as_str()
            .is_some_and(|d| d.starts_with("EGL on /dev/dri/card0's GBM device: ")),
        "{r}"
    );
    let listed: Vec<(String, String, bool)> = r["formats"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| {
            f["modifiers"].as_array().into_iter().flatten().map(|m| {
                (
                    f["format"].as_str().unwrap_or("?").to_owned(),
                    m["modifier"].as_str().unwrap_or("?").to_owned(),
                    m["external_only"] == true,
                )
            })
        })
        .collect();

    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(CARD0)
        .map_err(|e| format!("{CARD0}: {e}"))?;
    let fd = DrmDeviceFd::new(smithay::utils::DeviceFd::from(std::os::fd::OwnedFd::from(
        file,
    )));
    let live = accord_examples::refcomp::gles::card_renderer(fd).map_err(|e| e.to_string())?;
    let display = live.egl_context().display();
    let render = display.dmabuf_render_formats();
    let mut want: Vec<(String, String, bool)> = Vec::new();
    // Grouped by format in first-seen order, as the listing groups them.
    for f in live.dmabuf_formats().iter() {
        let entry = (
            accord_engine::formats::name(f.code as u32),
            format!("{:#018x}", u64::from(f.modifier)),
            !render.contains(f),
        );
        let at = want
            .iter()
            .rposition(|(n, _, _)| *n == entry.0)
            .map_or(want.len(), |i| i + 1);
        want.insert(at, entry);
    }
    ensure!(!want.is_empty(), "kms_swrast imports nothing");
    ensure!(listed == want, "listed {listed:?}\nlive {want:?}");
    let nv12: Vec<_> = listed.iter().filter(|(n, _, _)| n == "NV12").collect();
    println!(
        "gles on card0: {} pairs, {} external-only; NV12: {nv12:?}",
        listed.len(),
        listed.iter().filter(|p| p.2).count()
    );
    let shm: Vec<String> = live
        .mem_formats()
        .map(|f| accord_engine::formats::name(f as u32))
        .collect();
    let listed_shm: Vec<&str> = r["shm"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["format"].as_str())
        .collect();
    ensure!(listed_shm == shm, "shm {listed_shm:?}, live {shm:?}");
    Ok(Outcome::Passed)
}
