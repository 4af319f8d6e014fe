//! The scenario and cost-table shapes as serde derives (unknown fields
//! refused), and their conversion into the engine's [`Constraints`] and
//! [`Policy`]: defaults, required fields, and the checks that span fields.

use accord_engine::{
    BufferCounts, CoherencyDomains, ColorSpace, Constraints, CostEntry, FormatLimits,
    FormatModifier, Policy, Usage, MOD_LINEAR,
};
use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::de::{
    Device, Flag, Fourcc, FourccOrAny, List, ListWords, Modifier, ModifierOrAny, Obj, Size, Text,
    UsageList, U32, U64,
};
use crate::groups::{flatten, Flattened, GroupWords, RawGroup};
use crate::{err, Result, MAX_ENTRIES, MAX_PAIRS, MAX_PARTICIPANTS};

pub(crate) struct ParticipantWords;
impl ListWords for ParticipantWords {
    const MAX: usize = MAX_PARTICIPANTS;
}

pub(crate) struct PairWords;
impl ListWords for PairWords {
    const MAX: usize = MAX_PAIRS;
}

pub(crate) struct EntryWords;
impl ListWords for EntryWords {
    const MAX: usize = MAX_ENTRIES;
}

pub(crate) struct CostWords;
impl ListWords for CostWords {
    const MAX: usize = MAX_ENTRIES;
    const NOT_A_LIST: &'static str = "expected a list of {format, modifier, usage, cost}";
    fn too_long(_: usize) -> String {
        format!("at most {MAX_ENTRIES} entries allowed")
    }
}

pub(crate) type CostList = List<Obj<RawCost>, CostWords>;

/// The keys of a scenario's top level, their values unread: the first
/// check of [`crate::parse`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read for the keys only
pub(crate) struct TopLevel {
    participants: Option<IgnoredAny>,
    late: Option<IgnoredAny>,
    groups: Option<IgnoredAny>,
    costs: Option<IgnoredAny>,
    description: Option<IgnoredAny>,
    expect: Option<IgnoredAny>,
    provenance: Option<IgnoredAny>,
    placement: Option<IgnoredAny>,
}

/// The participants of a scenario. The other top-level fields are read on
/// their own, after them or before ([`crate::parse`]).
#[derive(Deserialize)]
pub(crate) struct RawScenario {
    participants: Option<List<Obj<RawParticipant>, ParticipantWords>>,
    /// Participants that join after allocation (`attach_token`), checked
    /// against the decision.
    late: Option<List<Obj<RawParticipant>, ParticipantWords>>,
    /// Token groups: alternatives (see `groups.rs`).
    groups: Option<List<Obj<RawGroup>, GroupWords>>,
}

/// A cost table given as an object: `{"costs": [...]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CostsFile {
    pub costs: Option<CostList>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawParticipant {
    name: Option<Text>,
    usage: Option<UsageList>,
    formats: Option<List<Obj<RawFormat>, PairWords>>,
    min_size: Option<Size>,
    max_size: Option<Size>,
    required_min_size: Option<Size>,
    required_max_size: Option<Size>,
    max_area: Option<U64>,
    size_alignment: Option<Size>,
    stride_alignment: Option<U32>,
    offset_alignment: Option<U32>,
    base_alignment: Option<U32>,
    min_stride: Option<U32>,
    max_stride: Option<U32>,
    max_bytes: Option<U64>,
    min_size_bytes: Option<U64>,
    buffers: Option<Obj<RawBuffers>>,
    contiguous: Option<Flag>,
    devices: Option<List<Device, EntryWords>>,
    scanout_devices: Option<List<Device, EntryWords>>,
    permitted_heaps: Option<List<HeapName, EntryWords>>,
    dispensable: Option<Flag>,
    format_limits: Option<List<Obj<RawFormatLimits>, EntryWords>>,
    color_spaces: Option<List<ColorSpaceName, EntryWords>>,
    coherency_domains: Option<List<DomainName, EntryWords>>,
}

/// A permitted-heaps entry (`"dma-heap:system"`, `"udmabuf"`), checked as
/// the compositor checks `add_permitted_heap`.
struct HeapName(String);

impl<'de> Deserialize<'de> for HeapName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        accord_engine::placements::check_heap_name(&s)
            .map(|()| HeapName(s))
            .map_err(serde::de::Error::custom)
    }
}

/// A coherency domain by name (`"cpu"`, `"ram"`, `"inaccessible"`).
struct DomainName(CoherencyDomains);

impl<'de> Deserialize<'de> for DomainName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        CoherencyDomains::parse(&s).map(DomainName).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown coherency domain {s:?}; expected cpu, ram or inaccessible"
            ))
        })
    }
}

/// A colour space by name (`"bt709"`).
struct ColorSpaceName(ColorSpace);

impl<'de> Deserialize<'de> for ColorSpaceName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ColorSpace::parse(&s).map(ColorSpaceName).ok_or_else(|| {
            let names: Vec<&str> = ColorSpace::NAMES.iter().map(|(n, _)| *n).collect();
            serde::de::Error::custom(format!(
                "unknown colour space {s:?}; expected one of {}",
                names.join(", ")
            ))
        })
    }
}

/// One `format_limits` entry: a format and the limits that apply to it
/// on top of the participant's own (absent fields are neutral).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFormatLimits {
    format: Option<Fourcc>,
    min_size: Option<Size>,
    max_size: Option<Size>,
    size_alignment: Option<Size>,
    min_stride: Option<U32>,
    max_stride: Option<U32>,
    stride_alignment: Option<U32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFormat {
    format: Option<Fourcc>,
    modifiers: Option<List<Modifier, PairWords>>,
    scanout: Option<Flag>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBuffers {
    camping: Option<U32>,
    dedicated_slack: Option<U32>,
    shared_slack: Option<U32>,
    min: Option<U32>,
    max: Option<U32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCost {
    format: Option<FourccOrAny>,
    modifier: Option<ModifierOrAny>,
    usage: Option<UsageList>,
    cost: Option<U32>,
}

fn missing<T>(path: &str) -> Result<T> {
    err(path, "required field is missing")
}

impl RawScenario {
    /// The participants outside groups, the groups with their
    /// participants, and the late ones (possibly none); at least one
    /// participant in all, names unique across every list.
    pub(crate) fn participants(self) -> Result<(Vec<Constraints>, Flattened, Vec<Constraints>)> {
        let mut seen: std::collections::HashMap<String, String> = Default::default();
        // With groups only, the error below names `groups`: an error path
        // names a node of the input (fuzz finding, FUZZING.md).
        let where_none = if self.participants.is_some() {
            "participants"
        } else {
            "groups"
        };
        let first = match self.participants {
            Some(List(list, _)) => read_list("participants", list, &mut seen)?,
            None if self.groups.is_some() => Vec::new(),
            None => return missing("participants"),
        };
        let grouped = match self.groups {
            Some(List(groups, _)) => flatten(groups, &mut seen, first.len())?,
            None => Flattened {
                participants: Vec::new(),
                groups: Vec::new(),
            },
        };
        if first.is_empty() && grouped.participants.is_empty() {
            return err(where_none, "at least one participant is required");
        }
        let late = match self.late {
            Some(List(late, _)) => read_list("late", late, &mut seen)?,
            None => Vec::new(),
        };
        Ok((first, grouped, late))
    }
}

/// One list of participants, `key` naming it in messages; `seen` holds the
/// names (and where) of the lists read before.
pub(crate) fn read_list(
    key: &str,
    list: Vec<Obj<RawParticipant>>,
    seen: &mut std::collections::HashMap<String, String>,
) -> Result<Vec<Constraints>> {
    list.into_iter()
        .enumerate()
        .map(|(i, Obj(p))| {
            let path = format!("{key}[{i}]");
            let c = p.into_constraints(&path)?;
            // What the wire refuses, refused here by the same function.
            if let Err(m) = accord_engine::limits::check_participant(&c) {
                return err(&format!("{path}.{}", m.field), m.message);
            }
            // Messages name participants: two of one name would be
            // unreadable.
            if let Some(first) = seen.insert(c.name.clone(), path.clone()) {
                return err(
                    &format!("{path}.name"),
                    format!(
                        "\"{}\" is already the name of {first}; names must be unique",
                        c.name
                    ),
                );
            }
            Ok(c)
        })
        .collect()
}

impl RawParticipant {
    fn into_constraints(self, path: &str) -> Result<Constraints> {
        let d = Constraints::default();
        let Some(Text(name)) = self.name else {
            return missing(&format!("{path}.name"));
        };
        let formats_path = format!("{path}.formats");
        let Some(List(entries, _)) = self.formats else {
            return missing(&formats_path);
        };
        let mut formats = Vec::new();
        for (i, Obj(e)) in entries.into_iter().enumerate() {
            let Some(Fourcc(format)) = e.format else {
                return missing(&format!("{formats_path}[{i}].format"));
            };
            let scanout = e.scanout.is_some_and(|f| f.0);
            let modifiers = match e.modifiers {
                None => vec![MOD_LINEAR],
                Some(List(m, _)) => m.into_iter().map(|m| m.0).collect(),
            };
            formats.extend(modifiers.into_iter().map(|modifier| FormatModifier {
                format,
                modifier,
                scanout,
            }));
            if formats.len() > MAX_PAIRS {
                return err(
                    &formats_path,
                    format!("more than {MAX_PAIRS} (format, modifier) pairs"),
                );
            }
        }
        let u32_or = |v: Option<U32>, default: u32| v.map_or(default, |v| v.0);
        let size_or = |v: Option<Size>, default| v.map_or(default, |v| v.0);
        let buffers = self
            .buffers
            .map_or(BufferCounts::default(), |Obj(b)| BufferCounts {
                camping: u32_or(b.camping, 0),
                dedicated_slack: u32_or(b.dedicated_slack, 0),
                shared_slack: u32_or(b.shared_slack, 0),
                min: u32_or(b.min, 0),
                max: u32_or(b.max, 0),
            });
        Ok(Constraints {
            usage: self.usage.map_or(Usage::empty(), |u| u.0),
            formats,
            min_size: size_or(self.min_size, d.min_size),
            max_size: size_or(self.max_size, d.max_size),
            required_min_size: size_or(self.required_min_size, d.required_min_size),
            required_max_size: size_or(self.required_max_size, d.required_max_size),
            max_area: self.max_area.map_or(d.max_area, |v| v.0),
            size_alignment: size_or(self.size_alignment, d.size_alignment),
            stride_alignment: u32_or(self.stride_alignment, d.stride_alignment),
            offset_alignment: u32_or(self.offset_alignment, d.offset_alignment),
            base_alignment: u32_or(self.base_alignment, d.base_alignment),
            min_stride: u32_or(self.min_stride, d.min_stride),
            max_stride: u32_or(self.max_stride, d.max_stride),
            max_bytes: self.max_bytes.map_or(d.max_bytes, |v| v.0),
            min_size_bytes: self.min_size_bytes.map_or(d.min_size_bytes, |v| v.0),
            buffers,
            contiguous: self.contiguous.is_some_and(|f| f.0),
            devices: self
                .devices
                .map_or_else(Vec::new, |List(d, _)| d.into_iter().map(|d| d.0).collect()),
            scanout_devices: self
                .scanout_devices
                .map_or_else(Vec::new, |List(d, _)| d.into_iter().map(|d| d.0).collect()),
            permitted_heaps: self
                .permitted_heaps
                .map_or_else(Vec::new, |List(l, _)| l.into_iter().map(|h| h.0).collect()),
            dispensable: self.dispensable.is_some_and(|f| f.0),
            coherency_domains: match self.coherency_domains {
                None => CoherencyDomains::ALL,
                Some(List(l, _)) => CoherencyDomains(l.iter().fold(0, |m, d| m | d.0 .0)),
            },
            color_spaces: self
                .color_spaces
                .map_or_else(Vec::new, |List(l, _)| l.into_iter().map(|c| c.0).collect()),
            format_limits: match self.format_limits {
                None => Vec::new(),
                Some(List(entries, _)) => entries
                    .into_iter()
                    .enumerate()
                    .map(|(i, Obj(e))| {
                        let Some(Fourcc(format)) = e.format else {
                            return missing(&format!("{path}.format_limits[{i}].format"));
                        };
                        let n = FormatLimits::new(format);
                        Ok(FormatLimits {
                            format,
                            min_size: size_or(e.min_size, n.min_size),
                            max_size: size_or(e.max_size, n.max_size),
                            size_alignment: size_or(e.size_alignment, n.size_alignment),
                            min_stride: u32_or(e.min_stride, n.min_stride),
                            max_stride: u32_or(e.max_stride, n.max_stride),
                            stride_alignment: u32_or(e.stride_alignment, n.stride_alignment),
                        })
                    })
                    .collect::<Result<Vec<_>>>()?,
            },
            name,
        })
    }
}

/// The policy of a cost list found at `path` (`""` for a bare list).
pub(crate) fn policy(List(list, _): CostList, path: &str) -> Result<Policy> {
    let costs = list
        .into_iter()
        .enumerate()
        .map(|(i, Obj(e))| {
            let Some(U32(cost)) = e.cost else {
                return missing(&format!("{path}[{i}].cost"));
            };
            Ok(CostEntry {
                format: e.format.and_then(|f| f.0),
                modifier: e.modifier.and_then(|m| m.0),
                usage: e.usage.map_or(Usage::empty(), |u| u.0),
                cost,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Policy { costs })
}
