//! Fuzz logic for the scenario parser (`accord_scenario::parse`).
//!
//! Two entry points:
//! - [`check_text`]: any bytes, parsed as text;
//! - [`check_mutated`]: one of the example scenarios, parsed into JSON and
//!   mutated structurally under the control of the fuzzer's bytes (values
//!   swapped for edge values, keys deleted or added, entries duplicated,
//!   subtrees moved), so the parser's deeper checks are reached.
//!
//! Invariants: an error's path names a node of the
//! input (or a missing field of an existing object); an accepted scenario
//! prints back to a scenario that parses to the same participants and
//! policy; and it solves with every engine invariant holding
//! ([`super::engine::check_case`]). A scenario with token groups solves
//! through `accord_engine::groups::solve_groups`, and its decision is what
//! the selected combination's participants solve to on their own.

use std::sync::OnceLock;

use accord_engine::formats;
use accord_engine::{solve_with, Constraints, Policy};
use accord_scenario::{
    modifier_hex, outcome_to_json, parse_scenario, selection_to_json, ScenarioError,
};
use serde_json::{json, Value};

use super::bytes::Bytes;
use super::engine::{check_case, Case};

/// The example scenarios, the seeds of the structured target.
pub const SEEDS: [(&str, &str); 26] = [
    (
        "amd-tmz-protected-hevc-playback.json",
        include_str!("../../examples/scenarios/amd-tmz-protected-hevc-playback.json"),
    ),
    (
        "amd-tmz-protected-screenshot-invalid.json",
        include_str!("../../examples/scenarios/amd-tmz-protected-screenshot-invalid.json"),
    ),
    (
        "hybrid-prime-linear-stride.json",
        include_str!("../../examples/scenarios/hybrid-prime-linear-stride.json"),
    ),
    (
        "intel-gen12-game-rc-ccs.json",
        include_str!("../../examples/scenarios/intel-gen12-game-rc-ccs.json"),
    ),
    (
        "intel-gen12-video-overlay.json",
        include_str!("../../examples/scenarios/intel-gen12-video-overlay.json"),
    ),
    (
        "intel-hevc-main10-hdr10-p010.json",
        include_str!("../../examples/scenarios/intel-hevc-main10-hdr10-p010.json"),
    ),
    (
        "intel-icl-hdr-plane-nv12-width.json",
        include_str!("../../examples/scenarios/intel-icl-hdr-plane-nv12-width.json"),
    ),
    (
        "mt8188-protected-av1-restricted-heap.json",
        include_str!("../../examples/scenarios/mt8188-protected-av1-restricted-heap.json"),
    ),
    (
        "mt8188-protected-av1-system-heap-only-unsupported.json",
        include_str!(
            "../../examples/scenarios/mt8188-protected-av1-system-heap-only-unsupported.json"
        ),
    ),
    (
        "rk3399-rkvdec-adaptive-uhd-vop-lit-size-conflict.json",
        include_str!(
            "../../examples/scenarios/rk3399-rkvdec-adaptive-uhd-vop-lit-size-conflict.json"
        ),
    ),
    (
        "rk3399-rkvdec-h264-required-1080p.json",
        include_str!("../../examples/scenarios/rk3399-rkvdec-h264-required-1080p.json"),
    ),
    (
        "rk3399-rkvdec-hevc-required-max-uhd.json",
        include_str!("../../examples/scenarios/rk3399-rkvdec-hevc-required-max-uhd.json"),
    ),
    (
        "rk3568-panfrost-afbc.json",
        include_str!("../../examples/scenarios/rk3568-panfrost-afbc.json"),
    ),
    (
        "rpi4-bcm2835-codec-h264-bitstream-720p-pool-too-small.json",
        include_str!(
            "../../examples/scenarios/rpi4-bcm2835-codec-h264-bitstream-720p-pool-too-small.json"
        ),
    ),
    (
        "rpi4-bcm2835-codec-h264-bitstream-raw.json",
        include_str!("../../examples/scenarios/rpi4-bcm2835-codec-h264-bitstream-raw.json"),
    ),
    (
        "rpi4-hevc-sand128.json",
        include_str!("../../examples/scenarios/rpi4-hevc-sand128.json"),
    ),
    (
        "stm32mp25-hantro-g1-uhd-stream-invalid.json",
        include_str!("../../examples/scenarios/stm32mp25-hantro-g1-uhd-stream-invalid.json"),
    ),
    (
        "uvc-bt601-compositor-bt709-only.json",
        include_str!("../../examples/scenarios/uvc-bt601-compositor-bt709-only.json"),
    ),
    (
        "uvc-camera-pixman-no-common.json",
        include_str!("../../examples/scenarios/uvc-camera-pixman-no-common.json"),
    ),
    (
        "uvc-camera-yuyv-gles.json",
        include_str!("../../examples/scenarios/uvc-camera-yuyv-gles.json"),
    ),
    (
        "v4l2-hevc-count-conflict.json",
        include_str!("../../examples/scenarios/v4l2-hevc-count-conflict.json"),
    ),
    (
        "virtio-gpu-cursor-size-conflict.json",
        include_str!("../../examples/scenarios/virtio-gpu-cursor-size-conflict.json"),
    ),
    (
        "virtio-gpu-implicit.json",
        include_str!("../../examples/scenarios/virtio-gpu-implicit.json"),
    ),
    (
        "vivid-camera-groups-virtio-gpu.json",
        include_str!("../../examples/scenarios/vivid-camera-groups-virtio-gpu.json"),
    ),
    (
        "webrtc-h264-level31-720p.json",
        include_str!("../../examples/scenarios/webrtc-h264-level31-720p.json"),
    ),
    (
        "webrtc-h264-level31-fullscreen-area-conflict.json",
        include_str!("../../examples/scenarios/webrtc-h264-level31-fullscreen-area-conflict.json"),
    ),
];

/// The seeds as JSON, parsed once.
fn seed_values() -> &'static [Value] {
    static VALUES: OnceLock<Vec<Value>> = OnceLock::new();
    VALUES.get_or_init(|| {
        SEEDS
            .iter()
            .map(|(_, s)| serde_json::from_str(s).expect("example scenarios are JSON"))
            .collect()
    })
}

/// Most structural mutations per case.
pub const MAX_MUTATIONS: usize = 16;
/// Mutations stop once the scenario has this many JSON nodes (duplication
/// grows it fast), which keeps every case quick.
pub const MAX_NODES: usize = 4000;

fn nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(nodes).sum(),
        Value::Object(o) => o.values().map(nodes).sum(),
        _ => 0,
    }
}

/// Any bytes as scenario text.
pub fn check_text(data: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(data);
    check_scenario(&text, None)
}

/// An example scenario mutated as `data` says.
pub fn check_mutated(data: &[u8]) -> Result<(), String> {
    let (text, value) = mutated(data);
    check_scenario(&text, Some(&value))
}

/// The mutated scenario of `data`: its text and its JSON.
pub fn mutated(data: &[u8]) -> (String, Value) {
    let mut b = Bytes::new(data);
    let mut v = seed_values()[b.below(SEEDS.len())].clone();
    // Mostly a few mutations, so that many cases still parse and reach the
    // solver; sometimes many.
    let count = match b.below(8) {
        0 => MAX_MUTATIONS,
        i => i % 4 + 1,
    };
    for _ in 0..count {
        if b.is_empty() || nodes(&v) > MAX_NODES {
            break;
        }
        mutate(&mut v, &mut b);
    }
    (v.to_string(), v)
}

fn check_scenario(text: &str, value: Option<&Value>) -> Result<(), String> {
    match parse_scenario(text) {
        Err(e) => {
            if e.message.is_empty() {
                return Err(format!("empty error message at {:?}", e.path));
            }
            match value {
                Some(v) => check_error_path(v, &e),
                None => Ok(()),
            }
        }
        Ok(sc) if !sc.groups.is_empty() => check_groups(&sc),
        Ok(sc) => {
            let (participants, policy, placing) = (sc.participants, sc.policy, sc.placement);
            check_round_trip(&participants, &policy)?;
            let result = solve_with(&participants, &policy);
            serde_json::to_string(&outcome_to_json(&result))
                .map_err(|e| format!("outcome does not serialise: {e}"))?;
            // The engine's invariants, with the reversed order as the
            // permutation.
            let n = participants.len();
            check_case(&Case {
                participants,
                policy,
                permutation: (0..n).rev().collect(),
                placing,
            })
        }
    }
}

/// A scenario with token groups: the selected combination's participants
/// solve, on their own, to the decision the search returned.
fn check_groups(sc: &accord_scenario::Scenario) -> Result<(), String> {
    use accord_engine::groups::solve_groups;
    match solve_groups(&sc.participants, &sc.branches, &sc.groups, &sc.policy) {
        Ok((selection, decision)) => {
            let active: Vec<Constraints> = sc
                .participants
                .iter()
                .zip(&sc.branches)
                .filter(|(_, b)| selection.includes(**b))
                .map(|(p, _)| p.clone())
                .collect();
            let alone = solve_with(&active, &sc.policy)
                .map_err(|f| format!("the selected combination fails on its own: {}", f.message))?;
            if alone != decision {
                return Err("the search's decision differs from its combination's".into());
            }
            serde_json::to_string(&selection_to_json(sc, &selection))
                .map_err(|e| format!("selection does not serialise: {e}"))?;
            Ok(())
        }
        Err(f) if f.message.is_empty() => Err("empty failure message".into()),
        Err(_) => Ok(()),
    }
}

/// One step of an error path: `name`, then any `[i]` indices.
fn resolve<'a>(root: &'a Value, path: &str) -> Option<Option<&'a Value>> {
    let mut node = root;
    let segments: Vec<&str> = path.split('.').collect();
    for (si, seg) in segments.iter().enumerate() {
        let (key, indices) = seg
            .split_once('[')
            .map_or((*seg, ""), |(k, rest)| (k, rest));
        let last = si + 1 == segments.len();
        match node.get(key) {
            Some(v) => node = v,
            // A missing field is fine at the end of the path, if its object
            // exists ("required field is missing").
            None if last && indices.is_empty() && node.is_object() => return Some(None),
            None => return None,
        }
        for idx in indices.split('[').filter(|s| !s.is_empty()) {
            let i: usize = idx.trim_end_matches(']').parse().ok()?;
            node = node.get(i)?;
        }
    }
    Some(Some(node))
}

fn check_error_path(v: &Value, e: &ScenarioError) -> Result<(), String> {
    if e.path.is_empty() {
        return Ok(());
    }
    match resolve(v, &e.path) {
        Some(Some(_)) => Ok(()),
        Some(None) if e.message.contains("missing") => Ok(()),
        _ => Err(format!("error path {:?} is not in the input ({e})", e.path)),
    }
}

/// A scenario that parses to exactly `ps` and `policy`.
pub fn to_scenario(ps: &[Constraints], policy: &Policy) -> Value {
    let participants: Vec<Value> = ps
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "usage": p.usage.names().collect::<Vec<_>>(),
                "formats": p.formats.iter().map(|f| json!({
                    "format": formats::name(f.format),
                    "modifiers": [modifier_hex(f.modifier)],
                    "scanout": f.scanout,
                })).collect::<Vec<_>>(),
                "min_size": [p.min_size.0, p.min_size.1],
                "max_size": [p.max_size.0, p.max_size.1],
                "required_min_size": [p.required_min_size.0, p.required_min_size.1],
                "required_max_size": [p.required_max_size.0, p.required_max_size.1],
                "max_area": p.max_area,
                "coherency_domains": p.coherency_domains.names().collect::<Vec<_>>(),
                "color_spaces": p.color_spaces.iter().map(|c| c.name().unwrap_or("srgb")).collect::<Vec<_>>(),
                "format_limits": p.format_limits.iter().map(|l| json!({
                    "format": formats::name(l.format),
                    "min_size": [l.min_size.0, l.min_size.1],
                    "max_size": [l.max_size.0, l.max_size.1],
                    "size_alignment": [l.size_alignment.0, l.size_alignment.1],
                    "min_stride": l.min_stride,
                    "max_stride": l.max_stride,
                    "stride_alignment": l.stride_alignment,
                })).collect::<Vec<_>>(),
                "size_alignment": [p.size_alignment.0, p.size_alignment.1],
                "stride_alignment": p.stride_alignment,
                "offset_alignment": p.offset_alignment,
                "base_alignment": p.base_alignment,
                "min_stride": p.min_stride,
                "max_stride": p.max_stride,
                "max_bytes": p.max_bytes,
                "min_size_bytes": p.min_size_bytes,
                "buffers": {
                    "camping": p.buffers.camping,
                    "dedicated_slack": p.buffers.dedicated_slack,
                    "shared_slack": p.buffers.shared_slack,
                    "min": p.buffers.min,
                    "max": p.buffers.max,
                },
                "contiguous": p.contiguous,
                "devices": p.devices,
                "scanout_devices": p.scanout_devices,
                "permitted_heaps": p.permitted_heaps,
                "dispensable": p.dispensable,
            })
        })
        .collect();
    let costs: Vec<Value> = policy
        .costs
        .iter()
        .map(|c| {
            json!({
                "format": c.format.map_or("*".to_string(), formats::name),
                "modifier": c.modifier.map_or("*".to_string(), modifier_hex),
                "usage": c.usage.names().collect::<Vec<_>>(),
                "cost": c.cost,
            })
        })
        .collect();
    json!({"participants": participants, "costs": costs})
}

fn check_round_trip(ps: &[Constraints], policy: &Policy) -> Result<(), String> {
    let text = to_scenario(ps, policy).to_string();
    match accord_scenario::parse(&text) {
        Ok((ps2, policy2)) if ps2 == ps && policy2 == *policy => Ok(()),
        other => Err(format!(
            "printed scenario does not parse back the same:\n{ps:?} {policy:?}\nvs\n{other:?}"
        )),
    }
}

/// Strings the parser gives meaning to, and some it must reject.
const WORDS: [&str; 24] = [
    "NV12",
    "xrgb8888",
    "DRM_FORMAT_YUV420",
    "P010",
    "NV15",
    "LINEAR",
    "INVALID",
    "0x0100000000000002",
    "0x00ffffffffffffff",
    "ffffffffffffffffff",
    "0x",
    "226:0",
    "4294967295:4294967295",
    "1:",
    "*",
    "scanout",
    "cursor",
    "protected",
    "",
    "\u{0}",
    "é",
    "participants",
    "formats",
    "modifiers",
];

/// Field names, so added keys are sometimes known ones.
const KEYS: [&str; 17] = [
    "name",
    "usage",
    "formats",
    "modifiers",
    "format",
    "scanout",
    "min_size",
    "max_size",
    "size_alignment",
    "stride_alignment",
    "max_bytes",
    "min_size_bytes",
    "buffers",
    "camping",
    "devices",
    "costs",
    "cost",
];

fn leaf(b: &mut Bytes) -> Value {
    match b.below(12) {
        0 => Value::Null,
        1 => Value::Bool(b.bool()),
        2 => json!(b.u64_edge(1 << 32)),
        3 => json!(u64::from(b.u32_edge(4096))),
        4 => json!(-i64::from(b.u16())),
        5 => json!(f64::from(b.u16()) / 7.0),
        6 => Value::String(b.pick(&WORDS).to_string()),
        7 => json!([]),
        8 => json!({}),
        9 => json!([b.u32_edge(4096), b.u32_edge(4096)]),
        10 => json!([b.pick(&WORDS)]),
        _ => {
            let n = b.below(8);
            Value::String((0..n).map(|_| char::from(b.u8() % 0x80)).collect())
        }
    }
}

/// Walk down from `v` as the bytes say; stop at a leaf or when told.
fn pick_node<'a>(v: &'a mut Value, b: &mut Bytes) -> &'a mut Value {
    let mut node = v;
    for _ in 0..8 {
        let len = match &*node {
            Value::Array(a) => a.len(),
            Value::Object(o) => o.len(),
            _ => 0,
        };
        if len == 0 || b.below(4) == 0 {
            break;
        }
        let i = b.below(len);
        node = match node {
            Value::Array(a) => &mut a[i],
            Value::Object(o) => o.values_mut().nth(i).expect("index below len"),
            _ => unreachable!("len is 0 for leaves"),
        };
    }
    node
}

/// A value of the same JSON type as `v` (an edge value for numbers, a
/// meaningful word for strings): keeps the scenario well-typed.
fn same_type(v: &Value, b: &mut Bytes) -> Value {
    match v {
        Value::Number(_) => match b.below(4) {
            0 => json!(b.u64_edge(1 << 32)),
            _ => json!(u64::from(b.u32_edge(4096))),
        },
        Value::String(_) => Value::String(b.pick(&WORDS).to_string()),
        Value::Bool(x) => Value::Bool(!x),
        _ => leaf(b),
    }
}

fn mutate(root: &mut Value, b: &mut Bytes) {
    let op = b.below(9);
    // A subtree to copy elsewhere, taken before the root is borrowed.
    let donor = if op == 6 {
        Some(pick_node(root, b).clone())
    } else {
        None
    };
    let node = pick_node(root, b);
    match (op, node) {
        (0, node) => *node = leaf(b),
        (1, Value::Object(o)) if !o.is_empty() => {
            let i = b.below(o.len());
            let key = o.keys().nth(i).expect("index below len").clone();
            o.remove(&key);
        }
        (1, Value::Array(a)) if !a.is_empty() => {
            let i = b.below(a.len());
            a.remove(i);
        }
        (2, Value::Object(o)) => {
            o.insert(b.pick(&KEYS).to_string(), leaf(b));
        }
        (2 | 3, Value::Array(a)) if !a.is_empty() => {
            // Duplicate an entry, sometimes many times (bounds checks).
            let i = b.below(a.len());
            let copies = if b.below(8) == 0 { 16 } else { 1 };
            for _ in 0..copies {
                a.push(a[i].clone());
            }
        }
        (4, Value::Array(a)) if a.len() > 1 => {
            let (i, j) = (b.below(a.len()), b.below(a.len()));
            a.swap(i, j);
        }
        (5, Value::Object(o)) => {
            // Numbers become edge values in place: keeps the structure.
            let keys: Vec<String> = o.keys().cloned().collect();
            for k in keys {
                if o[&k].is_number() && b.bool() {
                    o.insert(k, json!(b.u64_edge(1 << 32)));
                }
            }
        }
        (6, node) => {
            if let Some(d) = donor {
                *node = d;
            }
        }
        (_, node) => *node = same_type(node, b),
    }
}
