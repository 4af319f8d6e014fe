//! Accord's JSON scenario format: the front end of `accord solve`, reused
//! by the fuzz targets, the tests and cost-table files. It turns text into
//! the engine's [`Constraints`] and [`Policy`] and outcomes back into JSON;
//! `accord-engine` itself reads no JSON.
//!
//! ```json
//! {"description": "optional", "expect": {"ignored": "by the solver"},
//!  "costs": [{"format": "NV12", "modifier": "LINEAR", "usage": ["scanout"], "cost": 10}],
//!  "participants": [
//!   {"name": "decoder", "usage": ["video_decode"],
//!    "formats": [{"format": "NV12", "modifiers": ["0x0100000000000002", "LINEAR"], "scanout": false}],
//!    "min_size": [1920, 1080], "max_size": [4096, 2160], "size_alignment": [16, 16],
//!    "required_min_size": [1920, 1088], "required_max_size": [3840, 2160], "max_area": 8912896,
//!    "stride_alignment": 64, "offset_alignment": 4096, "base_alignment": 4096,
//!    "min_stride": 0, "max_stride": 16384, "max_bytes": 0,
//!    "buffers": {"camping": 2, "dedicated_slack": 0, "shared_slack": 1, "min": 0, "max": 0},
//!    "contiguous": false, "devices": [57856, "226:128"], "dispensable": false}]}
//! ```
//! `min_size`/`max_size` are what a participant can handle (capability);
//! `required_min_size` and `required_max_size` what its stream needs now
//! and at its largest (sysmem's fields: the buffers are at least as large
//! as both; `[0, 0]` = none) and `max_area` the largest width × height in
//! pixels it takes (codec levels; 0 = no limit). `format_limits` (at most
//! 64, one per format) tightens the participant's limits for one format:
//! `[{"format": "NV12", "max_size": [1920, 0], "stride_alignment": 256}]`
//! (fields `min_size`, `max_size`, `size_alignment`, `min_stride`,
//! `max_stride`, `stride_alignment`; absent ones are neutral).
//! `color_spaces` lists the colour spaces a participant handles, best
//! first (`srgb`, `bt601`, `bt601_full`, `bt709`, `bt709_full`, `bt2020`,
//! `bt2020_full`, `bt2100_pq`, `bt2100_hlg`; absent = any); a decision
//! prints the chosen one as `color_space`. `coherency_domains` lists the
//! coherency domains a participant supports (`cpu`, `ram`,
//! `inaccessible`; absent = all); a decision prints `coherency_domain`.
//! `min_size_bytes` is the least bytes a buffer holds (sysmem's field; 0
//! = none): it raises an image buffer's size, and when every participant
//! lists `"formats": []` the collection is **raw** (a bitstream queue: bytes,
//! no image format), sized by the largest `min_size_bytes` rounded up to
//! every `base_alignment`, within every `max_bytes`; a raw participant may
//! set only `usage`, `min_size_bytes`, `max_bytes`, `base_alignment`,
//! `buffers`, `contiguous`, `devices`, `dispensable` and
//! `coherency_domains`. A raw decision prints `"raw": true`, `"format":
//! "raw"`, size 0x0 and one plane (offset 0, stride 0) of
//! `layout.size_bytes` bytes.
//!
//! `permitted_heaps` lists the placements a participant accepts (sysmem's
//! `permitted_heaps`: `gbm`, `dumb`, `dma-heap`, `udmabuf`, `memfd`, or
//! `dma-heap:NAME`; at most 16; absent = any) and `scanout_devices` the
//! KMS devices that scan the buffers out (the compositor's display); both
//! act only with placements to rank: `accord solve --placement`, or a
//! top-level `placement` naming the modelled machine's in the same syntax
//! (`"gbm@0xe200,dma-heap:system,memfd"`; the flag replaces it). The
//! decision then prints the chosen `placement`, and protected usage needs a
//! protected one.
//! Only `name` and `formats` are required; `modifiers` defaults to
//! `["LINEAR"]`; `null` is the same as an absent field. Unknown fields are
//! refused, and errors carry the path of the offending field
//! (`participants[1].formats[0].format: unknown fourcc "NV13"`).
//!
//! What the compositor refuses with a protocol error is bad input here,
//! through the engine's own check ([`accord_engine::limits::check_participant`]:
//! counts above 128, more than 1024 pairs or a pair listed twice, more than
//! 64 devices, a name over 63 bytes) and the protocol's 64 participants; so
//! `accord solve` answers only for constraints the compositor would take,
//! and then gives its answer (the byte limits are the solver's own).
//!
//! A top-level `groups` list holds token groups (alternatives; see the
//! `groups` module and [`parse_scenario`]); `late` lists participants that
//! join after allocation ([`parse_with_late`]).
//!
//! An optional top-level `provenance` says where the numbers come from
//! ([`provenance()`]): `{"kind": "hand-written", "source": "<citation>"}`
//! (driver code, a datasheet), or `{"kind": "captured", "source":
//! "<capture file>", "participant": "<name>", "plane": "primary"}` for a
//! participant taken from `accord info --json` in the real-kernel tier.
//! The solver ignores it; the example scenarios must all have one.
//!
//! Where things live: `de` reads single values and bounded lists in the
//! format's words, `raw` holds the serde-derived shapes and turns them into
//! the engine's types, `provenance` reads the `provenance` field, `output`
//! writes the JSON of outcomes. Reading is two passes: the text into a
//! `serde_json::Value` (syntax errors, with line and column; a repeated key
//! keeps its last value), then the value into the derived shapes under
//! `serde_path_to_error` (the field path of any error). The second pass
//! goes the way a reader does, and reports the first error it meets: the
//! top-level keys, `description`, `provenance`, the participants (in each
//! object, its fields in key order, then the required ones), `costs`.

mod de;
mod groups;
mod output;
mod provenance;
mod raw;

use accord_engine::groups::{Branch, Group};
use accord_engine::placement::Placing;
use accord_engine::{Constraints, Policy};
use serde::Deserialize;
use serde_json::Value;

pub use output::{
    decision_to_json, failure_to_json, late_to_json, modifier_hex, outcome_to_json,
    selection_to_json,
};
pub use provenance::Provenance;

/// Most participants a scenario may list: the protocol's slots per
/// collection, so a scenario the compositor could not hold is bad input.
pub const MAX_PARTICIPANTS: usize = accord_engine::limits::MAX_PARTICIPANTS;
/// Most (format, modifier) pairs per participant, after expansion: the
/// protocol's limit.
pub const MAX_PAIRS: usize = accord_engine::limits::MAX_FORMAT_PAIRS;
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

/// First pass: the text as JSON.
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

/// Second pass: `v` as `T`, with the path of the first error. serde's
/// message for an unknown field is put in the format's words, at the path
/// of the object that has it.
fn read<'a, T: Deserialize<'a>>(v: &'a Value) -> Result<T> {
    read_at(v, "")
}

/// [`read`] for the value found at `at` (a path, `""` for the top).
fn read_at<'a, T: Deserialize<'a>>(v: &'a Value, at: &str) -> Result<T> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let mut segments: Vec<String> = e.path().iter().map(ToString::to_string).collect();
        let inner = e.into_inner().to_string();
        let message = match de::unknown_field(&inner) {
            Some(m) => {
                segments.pop(); // the unknown key itself
                m
            }
            None => inner,
        };
        let mut path = at.to_string();
        for s in segments {
            if !path.is_empty() && !s.starts_with('[') {
                path.push('.');
            }
            path.push_str(&s);
        }
        ScenarioError { path, message }
    })
}

/// Parse a scenario into participants and a policy (its optional `costs`).
/// Its `late` participants, if any, are checked but not returned: see
/// [`parse_with_late`]. A scenario with token groups is refused here (its
/// participants are alternatives, not one set): read it with
/// [`parse_scenario`].
pub fn parse(s: &str) -> Result<(Vec<Constraints>, Policy)> {
    parse_with_late(s).map(|(participants, _, policy)| (participants, policy))
}

/// Parse a scenario into participants, late participants (its optional
/// `late` list: participants that join after allocation with
/// `attach_token`, checked against the decision with
/// [`accord_engine::check_late_join`]) and a policy. Token groups are
/// refused, as by [`parse`].
///
/// ```
/// let s = r#"{"participants": [{"name": "a", "formats": [{"format": "XRGB8888", "modifiers": ["LINEAR"]}]}],
///             "late": [{"name": "viewer", "formats": [{"format": "XRGB8888", "modifiers": ["LINEAR"]}]}]}"#;
/// let (first, late, _) = accord_scenario::parse_with_late(s).unwrap();
/// assert_eq!((first.len(), late[0].name.as_str()), (1, "viewer"));
/// ```
pub fn parse_with_late(s: &str) -> Result<(Vec<Constraints>, Vec<Constraints>, Policy)> {
    let sc = parse_scenario(s)?;
    if !sc.groups.is_empty() {
        return err(
            "groups",
            "token groups hold alternatives, not one set of participants: this reader takes \
             none (accord solve and parse_scenario do)",
        );
    }
    Ok((sc.participants, sc.late, sc.policy))
}

/// A scenario read whole.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Every participant: those outside groups first, then the groups'
    /// (depth first).
    pub participants: Vec<Constraints>,
    /// Where each participant sits (`None` outside every group).
    pub branches: Vec<Option<Branch>>,
    /// The token groups, numbered as `groups.rs` says.
    pub groups: Vec<Group>,
    /// Participants that join after allocation.
    pub late: Vec<Constraints>,
    pub policy: Policy,
    /// The placements of the machine the scenario models (its optional
    /// `placement`, in `accord solve --placement`'s syntax).
    pub placement: Option<Placing>,
}

/// Parse a scenario with everything it may hold: participants, token
/// groups (solve them with [`accord_engine::groups::solve_groups`]), late
/// participants and a policy.
///
/// ```
/// let s = r#"{"participants": [{"name": "display", "formats": [{"format": "XRGB8888"}]}],
///             "groups": [{"name": "path", "children": [
///               {"participants": [{"name": "direct", "formats": [{"format": "NV12"}]}]},
///               {"participants": [{"name": "via gpu", "formats": [{"format": "XRGB8888"}]}]}]}]}"#;
/// let sc = accord_scenario::parse_scenario(s).unwrap();
/// let (selection, _) = accord_engine::groups::solve_groups(&sc.participants, &sc.branches, &sc.groups, &sc.policy).unwrap();
/// assert_eq!(selection.chosen, vec![Some(1)]);
/// ```
pub fn parse_scenario(s: &str) -> Result<Scenario> {
    let v = parse_json(s)?;
    // In the order a reader goes: the top level's keys, `description`,
    // `provenance`, the participants, then `costs`.
    read::<de::Obj<raw::TopLevel>>(&v)?;
    let field = |key| v.get(key).filter(|f| !f.is_null());
    if let Some(d) = field("description") {
        read_at::<de::Text>(d, "description")?;
    }
    if let Some(p) = field("provenance") {
        provenance::check(p)?;
    }
    let de::Obj(scenario) = read::<de::Obj<raw::RawScenario>>(&v)?;
    let (first, grouped, late) = scenario.participants()?;
    let policy = match field("costs") {
        Some(c) => raw::policy(read_at(c, "costs")?, "costs")?,
        None => Policy::default(),
    };
    let placement = match field("placement") {
        Some(p) => {
            let de::Text(list) = read_at(p, "placement")?;
            Some(Placing::parse(&list).or_else(|e| err("placement", e))?)
        }
        None => None,
    };
    let mut branches = vec![None; first.len()];
    let mut participants = first;
    for (p, b) in grouped.participants {
        participants.push(p);
        branches.push(Some(b));
    }
    Ok(Scenario {
        participants,
        branches,
        groups: grouped.groups,
        late,
        policy,
        placement,
    })
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
        .map(provenance::check)
        .transpose()
}

/// Parse a cost table: a JSON list of `{format, modifier, usage, cost}`
/// (or an object with such a list under `"costs"`). `format` is a fourcc
/// name or `"*"`, `modifier` is `LINEAR`, `INVALID`, hex or `"*"`, `usage`
/// a list of usage names (optional), `cost` an integer.
pub fn parse_policy(s: &str) -> Result<Policy> {
    let v = parse_json(s)?;
    if v.is_object() {
        let raw::CostsFile { costs } = read(&v)?;
        let Some(costs) = costs else {
            return err("costs", "required field is missing");
        };
        return raw::policy(costs, "costs");
    }
    raw::policy(read(&v)?, "")
}

/// `Policy::from_json`: the engine's [`Policy`] read from a cost-table
/// file ([`parse_policy`]). Bring the trait into scope to call it.
///
/// ```
/// use accord_scenario::PolicyJson;
/// let p = accord_engine::Policy::from_json(r#"[{"format": "*", "modifier": "LINEAR", "cost": 1}]"#).unwrap();
/// assert_eq!(p.costs[0].modifier, Some(accord_engine::MOD_LINEAR));
/// let e = accord_engine::Policy::from_json(r#"[{"format": "NV13", "cost": 1}]"#).unwrap_err();
/// assert_eq!(e.to_string(), "[0].format: unknown fourcc \"NV13\"");
/// ```
pub trait PolicyJson: Sized {
    /// See [`parse_policy`].
    fn from_json(s: &str) -> Result<Self>;
}

impl PolicyJson for Policy {
    fn from_json(s: &str) -> Result<Policy> {
        parse_policy(s)
    }
}
