//! The JSON scenario format of `accord solve` (reusable by tests, fuzzers and
//! other front ends) and the JSON form of outcomes.
//!
//! ```json
//! {"description": "optional", "expect": {"ignored": "by the solver"},
//!  "costs": [{"format": "NV12", "modifier": "LINEAR", "usage": ["scanout"], "cost": 10}],
//!  "participants": [
//!   {"name": "decoder", "usage": ["video_decode"],
//!    "formats": [{"format": "NV12", "modifiers": ["0x0100000000000002", "LINEAR"], "scanout": false}],
//!    "min_size": [1920, 1080], "max_size": [4096, 2160], "size_alignment": [16, 16],
//!    "stride_alignment": 64, "offset_alignment": 4096, "base_alignment": 4096,
//!    "min_stride": 0, "max_stride": 16384, "max_bytes": 0,
//!    "buffers": {"camping": 2, "dedicated_slack": 0, "shared_slack": 1, "min": 0, "max": 0},
//!    "contiguous": false, "devices": [57856, "226:128"], "dispensable": false}]}
//! ```
//! Only `name` and `formats` are required; `modifiers` defaults to
//! `["LINEAR"]`. Errors carry the path of the offending field.
//!
//! An optional top-level `provenance` says where the numbers come from
//! ([`provenance`]): `{"kind": "hand-written", "source": "<citation>"}`
//! (driver code, a datasheet), or `{"kind": "captured", "source":
//! "<capture file>", "participant": "<name>", "plane": "primary"}` for a
//! participant taken from `accord info --json` in the real-kernel tier.
//! The solver ignores it; the example scenarios must all have one.

use serde_json::{json, Map, Value};

use crate::formats::{self, modifier_name};
use crate::policy::{CostEntry, Policy};
use crate::{BufferCounts, Constraints, Decision, Failure, FormatModifier, Usage};

/// Most participants a scenario may list.
pub const MAX_PARTICIPANTS: usize = 4096;
/// Most (format, modifier) pairs per participant, after expansion.
pub const MAX_PAIRS: usize = 65536;
/// Most devices per participant and cost-table entries.
pub const MAX_ENTRIES: usize = 4096;

/// Bad input: the path of the offending field and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// E.g. `participants[1].formats[0].format`; empty for the whole input.
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for ScenarioError {}

type Result<T> = std::result::Result<T, ScenarioError>;

fn err<T>(path: &str, message: impl Into<String>) -> Result<T> {
    Err(ScenarioError {
        path: path.to_string(),
        message: message.into(),
    })
}

fn parse_json(s: &str) -> Result<Value> {
    serde_json::from_str(s).or_else(|e| {
        err(
            "",
            format!(
                "invalid JSON at line {} column {}: {e}",
                e.line(),
                e.column()
            ),
        )
    })
}

/// A JSON object being read, with its path and the keys it allows.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Obj<'a> {
    fn new(v: &'a Value, path: String, allowed: &[&str]) -> Result<Obj<'a>> {
        let Some(map) = v.as_object() else {
            return err(&path, "expected an object");
        };
        if let Some(k) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return err(
                &path,
                format!("unknown field \"{k}\" (known: {})", allowed.join(", ")),
            );
        }
        Ok(Obj { map, path })
    }

    fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn required(&self, key: &str) -> Result<&'a Value> {
        match self.get(key) {
            Some(v) => Ok(v),
            None => err(&self.field(key), "required field is missing"),
        }
    }

    fn u64(&self, key: &str, max: u64, default: u64) -> Result<u64> {
        self.get(key)
            .map_or(Ok(default), |v| int(v, &self.field(key), max))
    }

    fn u32(&self, key: &str, default: u32) -> Result<u32> {
        self.u64(key, u64::from(u32::MAX), u64::from(default))
            .map(|v| v as u32)
    }

    fn bool(&self, key: &str) -> Result<bool> {
        match self.get(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => err(&self.field(key), "expected true or false"),
        }
    }

    fn pair(&self, key: &str, default: (u32, u32)) -> Result<(u32, u32)> {
        let Some(v) = self.get(key) else {
            return Ok(default);
        };
        let path = self.field(key);
        match v.as_array().map(Vec::as_slice) {
            Some([w, h]) => Ok((
                int(w, &format!("{path}[0]"), u64::from(u32::MAX))? as u32,
                int(h, &format!("{path}[1]"), u64::from(u32::MAX))? as u32,
            )),
            _ => err(&path, "expected [width, height]"),
        }
    }

    fn list(&self, key: &str, max: usize) -> Result<&'a [Value]> {
        let Some(v) = self.get(key) else {
            return Ok(&[]);
        };
        let path = self.field(key);
        match v.as_array() {
            Some(a) if a.len() <= max => Ok(a),
            Some(a) => err(&path, format!("{} entries, at most {max} allowed", a.len())),
            None => err(&path, "expected a list"),
        }
    }
}

fn int(v: &Value, path: &str, max: u64) -> Result<u64> {
    match v.as_u64() {
        Some(n) if n <= max => Ok(n),
        _ => err(path, format!("expected an integer in 0..={max}, got {v}")),
    }
}

fn string<'a>(v: &'a Value, path: &str) -> Result<&'a str> {
    v.as_str()
        .map_or_else(|| err(path, format!("expected a string, got {v}")), Ok)
}

fn fourcc(v: &Value, path: &str) -> Result<u32> {
    let s = string(v, path)?;
    formats::parse_name(s).map_or_else(|| err(path, format!("unknown fourcc \"{s}\"")), Ok)
}

fn modifier(v: &Value, path: &str) -> Result<u64> {
    let s = string(v, path)?;
    formats::parse_modifier(s).map_or_else(
        || {
            err(
                path,
                format!("bad modifier \"{s}\" (LINEAR, INVALID or up to 16 hex digits)"),
            )
        },
        Ok,
    )
}

fn usage(obj: &Obj, key: &str) -> Result<Usage> {
    let mut u = Usage::empty();
    for (i, v) in obj.list(key, Usage::NAMES.len() * 4)?.iter().enumerate() {
        let path = format!("{}[{i}]", obj.field(key));
        let s = string(v, &path)?;
        match Usage::from_name(s) {
            Some(bit) => u |= bit,
            None => {
                let known: Vec<&str> = Usage::NAMES.iter().map(|(n, _)| *n).collect();
                return err(
                    &path,
                    format!("unknown usage \"{s}\" (known: {})", known.join(", ")),
                );
            }
        }
    }
    Ok(u)
}

/// A `dev_t`: an integer, or `"major:minor"` (glibc's `makedev` encoding).
fn device(v: &Value, path: &str) -> Result<u64> {
    if let Some(s) = v.as_str() {
        let parsed = s.split_once(':').and_then(|(a, b)| {
            Some((a.trim().parse::<u32>().ok()?, b.trim().parse::<u32>().ok()?))
        });
        let Some((major, minor)) = parsed else {
            return err(path, format!("expected \"major:minor\", got \"{s}\""));
        };
        let (major, minor) = (u64::from(major), u64::from(minor));
        return Ok(((major & 0xffff_f000) << 32)
            | ((major & 0xfff) << 8)
            | ((minor & 0xffff_ff00) << 12)
            | (minor & 0xff));
    }
    int(v, path, u64::MAX)
}

fn format_entries(obj: &Obj, scanout_default: bool) -> Result<Vec<FormatModifier>> {
    let mut pairs = Vec::new();
    for (i, v) in obj.list("formats", MAX_PAIRS)?.iter().enumerate() {
        let e = Obj::new(
            v,
            format!("{}[{i}]", obj.field("formats")),
            &["format", "modifiers", "scanout"],
        )?;
        let format = fourcc(e.required("format")?, &e.field("format"))?;
        let scanout = scanout_default || e.bool("scanout")?;
        let mods = e.list("modifiers", MAX_PAIRS)?;
        if e.get("modifiers").is_none() {
            pairs.push(FormatModifier {
                format,
                modifier: crate::MOD_LINEAR,
                scanout,
            });
        }
        for (j, m) in mods.iter().enumerate() {
            let modifier = modifier(m, &format!("{}[{j}]", e.field("modifiers")))?;
            pairs.push(FormatModifier {
                format,
                modifier,
                scanout,
            });
        }
        if pairs.len() > MAX_PAIRS {
            return err(
                &obj.field("formats"),
                format!("more than {MAX_PAIRS} (format, modifier) pairs"),
            );
        }
    }
    Ok(pairs)
}

fn participant(v: &Value, path: String) -> Result<Constraints> {
    let p = Obj::new(
        v,
        path,
        &[
            "name",
            "usage",
            "formats",
            "min_size",
            "max_size",
            "size_alignment",
            "stride_alignment",
            "offset_alignment",
            "base_alignment",
            "min_stride",
            "max_stride",
            "max_bytes",
            "buffers",
            "contiguous",
            "devices",
            "dispensable",
        ],
    )?;
    let d = Constraints::default();
    let name = string(p.required("name")?, &p.field("name"))?.to_string();
    p.required("formats")?;
    let buffers = match p.get("buffers") {
        None => BufferCounts::default(),
        Some(b) => {
            let b = Obj::new(
                b,
                p.field("buffers"),
                &["camping", "dedicated_slack", "shared_slack", "min", "max"],
            )?;
            BufferCounts {
                camping: b.u32("camping", 0)?,
                dedicated_slack: b.u32("dedicated_slack", 0)?,
                shared_slack: b.u32("shared_slack", 0)?,
                min: b.u32("min", 0)?,
                max: b.u32("max", 0)?,
            }
        }
    };
    let devices = p
        .list("devices", MAX_ENTRIES)?
        .iter()
        .enumerate()
        .map(|(i, v)| device(v, &format!("{}[{i}]", p.field("devices"))))
        .collect::<Result<Vec<u64>>>()?;
    Ok(Constraints {
        usage: usage(&p, "usage")?,
        formats: format_entries(&p, false)?,
        min_size: p.pair("min_size", d.min_size)?,
        max_size: p.pair("max_size", d.max_size)?,
        size_alignment: p.pair("size_alignment", d.size_alignment)?,
        stride_alignment: p.u32("stride_alignment", d.stride_alignment)?,
        offset_alignment: p.u32("offset_alignment", d.offset_alignment)?,
        base_alignment: p.u32("base_alignment", d.base_alignment)?,
        min_stride: p.u32("min_stride", d.min_stride)?,
        max_stride: p.u32("max_stride", d.max_stride)?,
        max_bytes: p.u64("max_bytes", u64::MAX, d.max_bytes)?,
        buffers,
        contiguous: p.bool("contiguous")?,
        devices,
        dispensable: p.bool("dispensable")?,
        name,
    })
}

fn costs(v: &Value, path: &str) -> Result<Policy> {
    let Some(list) = v.as_array() else {
        return err(path, "expected a list of {format, modifier, usage, cost}");
    };
    if list.len() > MAX_ENTRIES {
        return err(path, format!("at most {MAX_ENTRIES} entries allowed"));
    }
    let mut costs = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        let e = Obj::new(
            v,
            format!("{path}[{i}]"),
            &["format", "modifier", "usage", "cost"],
        )?;
        let star = |v: &Value| v.as_str() == Some("*");
        let format = match e.get("format") {
            None => None,
            Some(v) if star(v) => None,
            Some(v) => Some(fourcc(v, &e.field("format"))?),
        };
        let modifier = match e.get("modifier") {
            None => None,
            Some(v) if star(v) => None,
            Some(v) => Some(modifier(v, &e.field("modifier"))?),
        };
        e.required("cost")?;
        costs.push(CostEntry {
            format,
            modifier,
            usage: usage(&e, "usage")?,
            cost: e.u32("cost", 0)?,
        });
    }
    Ok(Policy { costs })
}

/// Parse a cost table: a list, or an object with the list under `"costs"`.
pub(crate) fn parse_policy(s: &str) -> Result<Policy> {
    let v = parse_json(s)?;
    if v.is_object() {
        let o = Obj::new(&v, String::new(), &["costs"])?;
        return costs(o.required("costs")?, "costs");
    }
    costs(&v, "")
}

/// Parse a scenario into participants and a policy (its optional `costs`).
pub fn parse(s: &str) -> Result<(Vec<Constraints>, Policy)> {
    let v = parse_json(s)?;
    let top = Obj::new(
        &v,
        String::new(),
        &[
            "participants",
            "costs",
            "description",
            "expect",
            "provenance",
        ],
    )?;
    if let Some(d) = top.get("description") {
        string(d, "description")?;
    }
    if let Some(p) = top.get("provenance") {
        parse_provenance(p)?;
    }
    top.required("participants")?;
    let participants = top
        .list("participants", MAX_PARTICIPANTS)?
        .iter()
        .enumerate()
        .map(|(i, p)| participant(p, format!("participants[{i}]")))
        .collect::<Result<Vec<_>>>()?;
    if participants.is_empty() {
        return err("participants", "at least one participant is required");
    }
    let policy = match top.get("costs") {
        Some(c) => costs(c, "costs")?,
        None => Policy::default(),
    };
    Ok((participants, policy))
}

/// Where a scenario's numbers come from (its `provenance` field).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Provenance {
    /// Written by hand from a cited source (driver code, a datasheet).
    HandWritten { source: String },
    /// One participant taken from `accord info --json` in the real-kernel
    /// tier: `source` is the capture file (relative to the repository),
    /// `participant` the participant it describes, `plane` the KMS plane
    /// type whose formats it lists as scanout-capable.
    Captured {
        source: String,
        participant: String,
        plane: String,
    },
}

fn non_empty<'a>(o: &Obj<'a>, key: &str) -> Result<&'a str> {
    let s = string(o.required(key)?, &o.field(key))?;
    if s.trim().is_empty() {
        return err(&o.field(key), "must not be empty");
    }
    Ok(s)
}

fn parse_provenance(v: &Value) -> Result<Provenance> {
    let kind = v
        .get("kind")
        .and_then(Value::as_str)
        .filter(|k| matches!(*k, "hand-written" | "captured"));
    let allowed: &[&str] = match kind {
        Some("captured") => &["kind", "source", "participant", "plane"],
        _ => &["kind", "source"],
    };
    let o = Obj::new(v, "provenance".into(), allowed)?;
    let k = string(o.required("kind")?, "provenance.kind")?;
    match k {
        "hand-written" => Ok(Provenance::HandWritten {
            source: non_empty(&o, "source")?.into(),
        }),
        "captured" => Ok(Provenance::Captured {
            source: non_empty(&o, "source")?.into(),
            participant: non_empty(&o, "participant")?.into(),
            plane: non_empty(&o, "plane")?.into(),
        }),
        other => err(
            "provenance.kind",
            format!("expected \"hand-written\" or \"captured\", got \"{other}\""),
        ),
    }
}

/// A scenario's `provenance`, `None` when it has none. Errors as
/// [`parse`]'s (which checks it too).
pub fn provenance(s: &str) -> Result<Option<Provenance>> {
    let v = parse_json(s)?;
    let Some(map) = v.as_object() else {
        return err("", "expected an object");
    };
    map.get("provenance")
        .filter(|p| !p.is_null())
        .map(parse_provenance)
        .transpose()
}

/// `"0x0100000000000002"`: the JSON form of a modifier.
pub fn modifier_hex(m: u64) -> String {
    format!("{m:#018x}")
}

/// The JSON form of a decision (`"ok": true`).
pub fn decision_to_json(d: &Decision) -> Value {
    let mut v = json!({
        "ok": true,
        "format": formats::name(d.format),
        "modifier": modifier_hex(d.modifier),
        "modifier_name": modifier_name(d.modifier),
        "width": d.width,
        "height": d.height,
        "buffer_count": d.buffer_count,
        "usage": d.usage.names().collect::<Vec<_>>(),
        "stride_alignment": d.stride_alignment,
        "offset_alignment": d.offset_alignment,
        "base_alignment": d.base_alignment,
        "min_stride": d.min_stride,
        "max_stride": d.max_stride,
        "max_bytes": d.max_bytes,
        "contiguous": d.contiguous,
        "devices": d.devices,
        "scanout": d.scanout,
        "alternatives": d.alternatives.iter().map(|a| json!({
            "format": formats::name(a.format),
            "modifier": modifier_hex(a.modifier),
            "scanout": a.scanout,
        })).collect::<Vec<_>>(),
    });
    if let Some(l) = &d.layout {
        v["layout"] = json!({
            "planes": l.planes.iter().map(|p| json!({"offset": p.offset, "stride": p.stride})).collect::<Vec<_>>(),
            "size_bytes": l.size_bytes,
        });
    }
    v
}

/// The JSON form of a failure (`"ok": false`).
pub fn failure_to_json(f: &Failure) -> Value {
    json!({
        "ok": false,
        "reason": f.reason.as_str(),
        "message": f.message,
        "participants": f.participants,
    })
}

/// The JSON form of either outcome.
pub fn outcome_to_json(r: &std::result::Result<Decision, Failure>) -> Value {
    match r {
        Ok(d) => decision_to_json(d),
        Err(f) => failure_to_json(f),
    }
}
