//! The virtio-gpu scenarios' device facts, captured from `accord info
//! --json` in this tier (`scripts/capture-scenario` writes
//! `examples/scenarios/captured/virtio-gpu.json`), and the check that the
//! committed capture still matches what the guest reports. The host-side
//! check that the scenarios agree with the capture is
//! `compositor/engine/tests/scenario.rs`.

use serde_json::{json, Value};

use crate::common::CARD0;
use crate::ensure;
use crate::harness::{Outcome, TestResult};
use crate::info::info_json;

/// The committed capture (the guest sees the host's tree at the same path).
const CAPTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/scenarios/captured/virtio-gpu.json"
);

/// The device section of `card0`: what does not depend on the VM's
/// output shape (connectors and modes are left out), with each plane
/// type's formats as `{format, modifiers: [names]}` (the first plane of
/// each type: virtio-gpu has one CRTC).
fn device_section(info: &Value) -> Result<Value, String> {
    let node = info["nodes"]
        .as_array()
        .and_then(|n| n.iter().find(|n| n["path"] == CARD0))
        .ok_or_else(|| format!("{CARD0} not listed"))?;
    ensure!(node["error"].is_null(), "{CARD0}: {}", node["error"]);
    let mut planes = serde_json::Map::new();
    for crtc in node["kms"]["crtcs"].as_array().into_iter().flatten() {
        for plane in crtc["planes"].as_array().into_iter().flatten() {
            let kind = plane["type"].as_str().unwrap_or("?").to_string();
            if planes.contains_key(&kind) {
                continue;
            }
            let formats: Vec<Value> = plane["formats"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| {
                    let mods: Vec<&Value> = f["modifiers"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|m| &m["name"])
                        .collect();
                    json!({"format": f["format"], "modifiers": mods})
                })
                .collect();
            planes.insert(
                kind,
                json!({"in_formats": plane["in_formats"], "formats": formats}),
            );
        }
    }
    ensure!(
        !planes.is_empty(),
        "{CARD0} lists no plane: {}",
        node["kms"]
    );
    Ok(json!({
        "node": CARD0,
        "driver": {"name": node["driver"]["name"], "description": node["driver"]["description"]},
        "caps": node["caps"],
        "fb_min": node["kms"]["fb_min"],
        "fb_max": node["kms"]["fb_max"],
        "planes": planes,
    }))
}

/// A fresh capture: where it was taken, and the device section.
pub fn capture() -> Result<Value, String> {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_err(|e| format!("kernel release: {e}"))?;
    Ok(json!({
        "captured_with": {
            "command": "accord info --json",
            "tier": "tests/vm/run (QEMU TCG, -device virtio-gpu-pci), by scripts/capture-scenario",
            "kernel": kernel.trim(),
        },
        "device": device_section(&info_json()?)?,
    }))
}

/// The committed capture's device section is what the guest reports now
/// (the kernel it was taken on may differ; it is printed, not compared).
pub fn virtio_gpu_capture_is_current() -> TestResult {
    let text = std::fs::read_to_string(CAPTURE).map_err(|e| format!("{CAPTURE}: {e}"))?;
    let committed: Value = serde_json::from_str(&text).map_err(|e| format!("{CAPTURE}: {e}"))?;
    let fresh = capture()?;
    println!(
        "capture taken on kernel {}, this guest runs {}",
        committed["captured_with"]["kernel"], fresh["captured_with"]["kernel"]
    );
    ensure!(
        committed["device"] == fresh["device"],
        "{CAPTURE} differs from this guest's `accord info --json` (run scripts/capture-scenario):\ncommitted {}\nfresh     {}",
        committed["device"],
        fresh["device"]
    );
    Ok(Outcome::Passed)
}
