//! A scenario's `provenance`: where its numbers come from. Read apart from
//! the rest of the scenario because the fields it allows depend on its
//! `kind`: `hand-written` allows `source`, `captured` also `participant`
//! and `plane`.

use serde::Deserialize;
use serde_json::Value;

use crate::de::{Obj, Text};
use crate::{err, read, Result, ScenarioError};

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HandWritten {
    kind: Option<Text>,
    source: Option<Text>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Captured {
    #[allow(dead_code)] // "captured": how this shape was chosen
    kind: Option<Text>,
    source: Option<Text>,
    participant: Option<Text>,
    plane: Option<Text>,
}

/// A required string that is not blank.
fn non_empty(v: Option<Text>, field: &str) -> Result<String> {
    let path = format!("provenance.{field}");
    match v {
        None => err(&path, "required field is missing"),
        Some(Text(s)) if s.trim().is_empty() => err(&path, "must not be empty"),
        Some(Text(s)) => Ok(s),
    }
}

/// The value of a scenario's `provenance` field (not `null`).
pub(crate) fn check(v: &Value) -> Result<Provenance> {
    let prefix = |e: ScenarioError| ScenarioError {
        path: match e.path.as_str() {
            "" => "provenance".into(),
            p => format!("provenance.{p}"),
        },
        ..e
    };
    if v.get("kind").and_then(Value::as_str) == Some("captured") {
        let Obj(c) = read::<Obj<Captured>>(v).map_err(prefix)?;
        return Ok(Provenance::Captured {
            source: non_empty(c.source, "source")?,
            participant: non_empty(c.participant, "participant")?,
            plane: non_empty(c.plane, "plane")?,
        });
    }
    let Obj(h) = read::<Obj<HandWritten>>(v).map_err(prefix)?;
    match h.kind {
        None => err("provenance.kind", "required field is missing"),
        Some(Text(k)) if k == "hand-written" => Ok(Provenance::HandWritten {
            source: non_empty(h.source, "source")?,
        }),
        Some(Text(other)) => err(
            "provenance.kind",
            format!("expected \"hand-written\" or \"captured\", got \"{other}\""),
        ),
    }
}
