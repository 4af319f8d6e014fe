//! What one participant may ask for: the protocol's per-participant limits
//! and the contradictions within one list, checked in one place.
//!
//! The compositor refuses these with a protocol error (it checks each
//! request as it arrives, then the whole participant here at `commit`);
//! the scenario front end of `accord solve` refuses them as bad input
//! (exit 2) through the same function, so a dry run never answers for
//! constraints the compositor would not accept. Limits that only show in
//! the combined constraints (buffer bytes, collection bytes, the buffer
//! count over everyone) are the solver's: `layout::check_size` and
//! `aggregate.rs`, also one function for both sides.
//!
//! Sources:
//! - counts: sysmem's `kMaxBufferCount`-style cap of 128 buffers per
//!   collection (`logical_buffer_collection.cc`), applied per field here
//!   so one participant cannot ask for more than a collection may hold;
//! - format 0 (`DRM_FORMAT_INVALID`) in a pair: Accord's rule, because a
//!   raw collection's settings carry it (`raw.rs`); sysmem has no such
//!   value in its `PixelFormatType` to list;
//! - `min_size_bytes` above the same participant's `max_bytes`: sysmem's
//!   `CheckSanitizeBufferMemoryConstraints` refuses `min_size_bytes >
//!   max_size_bytes` for one participant too;
//! - a repeated (format, modifier) pair: Accord's rule. A second entry
//!   has no meaning (the first one's position is the preference) and
//!   usually means a client bug; it would sit in sysmem's sanitize step
//!   (`CheckSanitizeBufferCollectionConstraints`), where each
//!   `ImageFormatConstraints` entry is checked, but whether sysmem refuses
//!   a repeated (pixel_format, modifier) was not verified against its
//!   source. The scanout flag of either entry does not matter;
//! - pairs, devices and name length are Accord's own bounds on message
//!   sizes (`accord_vocabulary::limits`), sysmem has its own
//!   (`MAX_COUNT_BUFFER_COLLECTION_CONSTRAINTS_IMAGE_FORMAT_CONSTRAINTS`).

use std::collections::HashMap;

pub use accord_vocabulary::limits::*;

use crate::formats::{modifier_name, name};
use crate::{Constraints, FormatModifier, Usage, MOD_INVALID, MOD_LINEAR};

/// Which rule a participant broke; the wire maps it to an error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MisuseKind {
    /// Too many pairs, or one pair listed twice (`invalid_format_table`).
    FormatTable,
    /// A number out of range (`invalid_value`).
    Value,
    /// Too many devices (`invalid_device_list`).
    DeviceList,
    /// A name too long (the token's `invalid_name`).
    Name,
}

/// A broken per-participant rule: the field (in the scenario format's
/// words) and what was wrong, with what is expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Misuse {
    pub kind: MisuseKind,
    /// `formats`, `buffers.camping`, `devices`, `name`, `usage`.
    pub field: &'static str,
    pub message: String,
}

impl std::fmt::Display for Misuse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

fn misuse<T>(kind: MisuseKind, field: &'static str, message: String) -> Result<T, Misuse> {
    Err(Misuse {
        kind,
        field,
        message,
    })
}

/// The first (format, modifier) pair `formats` lists twice: the pair and
/// both positions. O(n) with a hash map.
pub fn duplicate_pair(formats: &[FormatModifier]) -> Option<(FormatModifier, usize, usize)> {
    let mut seen: HashMap<(u32, u64), usize> = HashMap::with_capacity(formats.len());
    for (i, f) in formats.iter().enumerate() {
        if let Some(&first) = seen.get(&(f.format, f.modifier)) {
            return Some((*f, first, i));
        }
        seen.insert((f.format, f.modifier), i);
    }
    None
}

/// The message for a pair listed at `first` and again at `again`; short
/// (at most 88 bytes) so the wire's message stays under libwayland's
/// 127-byte cut.
pub fn duplicate_message(f: FormatModifier, first: usize, again: usize) -> String {
    let modifier = match f.modifier {
        MOD_LINEAR | MOD_INVALID => modifier_name(f.modifier),
        m => format!("{m:#x}"),
    };
    format!(
        "{} {modifier} listed twice (entries {first}, {again}); list each pair once",
        name(f.format),
    )
}

/// Check one participant against the protocol's per-participant limits.
pub fn check_participant(c: &Constraints) -> Result<(), Misuse> {
    if c.name.len() > MAX_NAME_BYTES {
        return misuse(
            MisuseKind::Name,
            "name",
            format!("{} bytes; at most {MAX_NAME_BYTES} allowed", c.name.len()),
        );
    }
    if c.usage.0 & !Usage::ALL.0 != 0 {
        return misuse(
            MisuseKind::Value,
            "usage",
            format!(
                "unknown usage bits {:#x}; defined bits are {:#x}",
                c.usage.0 & !Usage::ALL.0,
                Usage::ALL.0
            ),
        );
    }
    if c.formats.len() > MAX_FORMAT_PAIRS {
        return misuse(
            MisuseKind::FormatTable,
            "formats",
            format!(
                "{} (format, modifier) pairs; at most {MAX_FORMAT_PAIRS} per participant",
                c.formats.len()
            ),
        );
    }
    if let Some(i) = c.formats.iter().position(|f| f.format == crate::FORMAT_RAW) {
        return misuse(
            MisuseKind::FormatTable,
            "formats",
            format!(
                "entry {i} is format 0 (DRM_FORMAT_INVALID: raw buffers list no pair); list a \
                 fourcc"
            ),
        );
    }
    if let Some((f, first, again)) = duplicate_pair(&c.formats) {
        return misuse(
            MisuseKind::FormatTable,
            "formats",
            duplicate_message(f, first, again),
        );
    }
    let b = &c.buffers;
    for (field, v) in [
        ("buffers.camping", b.camping),
        ("buffers.dedicated_slack", b.dedicated_slack),
        ("buffers.shared_slack", b.shared_slack),
        ("buffers.min", b.min),
        ("buffers.max", b.max),
    ] {
        if v > MAX_BUFFERS {
            return misuse(
                MisuseKind::Value,
                field,
                format!("{v}; a collection has at most {MAX_BUFFERS} buffers"),
            );
        }
    }
    if c.format_limits.len() > MAX_FORMAT_LIMITS {
        return misuse(
            MisuseKind::FormatTable,
            "format_limits",
            format!(
                "{} entries; at most {MAX_FORMAT_LIMITS} per participant",
                c.format_limits.len()
            ),
        );
    }
    for (i, l) in c.format_limits.iter().enumerate() {
        if let Some(j) = c.format_limits[..i]
            .iter()
            .position(|e| e.format == l.format)
        {
            return misuse(
                MisuseKind::FormatTable,
                "format_limits",
                format!(
                    "{} given limits twice (entries {j}, {i}); one entry per format",
                    name(l.format)
                ),
            );
        }
    }
    if c.max_bytes != 0 && c.min_size_bytes > c.max_bytes {
        return misuse(
            MisuseKind::Value,
            "min_size_bytes",
            format!(
                "{} is above its own max_bytes {}; expected at most the maximum",
                c.min_size_bytes, c.max_bytes
            ),
        );
    }
    let d = c.coherency_domains.0;
    if d == 0 || d & !crate::CoherencyDomains::ALL.0 != 0 {
        return misuse(
            MisuseKind::Value,
            "coherency_domains",
            format!("{d:#x}; expected a non-empty set of cpu (0x1), ram (0x2), inaccessible (0x4)"),
        );
    }
    for (i, cs) in c.color_spaces.iter().enumerate() {
        if !cs.is_defined() {
            return misuse(
                MisuseKind::Value,
                "color_spaces",
                format!("unknown colour space {}; defined values are 1..=9", cs.0),
            );
        }
        if let Some(j) = c.color_spaces[..i].iter().position(|x| x == cs) {
            return misuse(
                MisuseKind::Value,
                "color_spaces",
                format!(
                    "{} listed twice (entries {j}, {i}); list each once",
                    cs.name().unwrap_or("?")
                ),
            );
        }
    }
    if c.devices.len() > MAX_DEVICES || c.scanout_devices.len() > MAX_DEVICES {
        return misuse(
            MisuseKind::DeviceList,
            "devices",
            format!(
                "{} devices ({} for scanout); at most {MAX_DEVICES} allowed",
                c.devices.len(),
                c.scanout_devices.len()
            ),
        );
    }
    if c.permitted_heaps.len() > MAX_PERMITTED_HEAPS {
        return misuse(
            MisuseKind::Value,
            "permitted_heaps",
            format!(
                "{} entries; at most {MAX_PERMITTED_HEAPS} per participant",
                c.permitted_heaps.len()
            ),
        );
    }
    for (i, h) in c.permitted_heaps.iter().enumerate() {
        if let Err(why) = crate::placements::check_heap_name(h) {
            return misuse(MisuseKind::Value, "permitted_heaps", why);
        }
        if let Some(j) = c.permitted_heaps[..i].iter().position(|x| x == h) {
            return misuse(
                MisuseKind::Value,
                "permitted_heaps",
                format!("'{h}' listed twice (entries {j}, {i}); list each once"),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BufferCounts;

    fn pair(format: u32, modifier: u64, scanout: bool) -> FormatModifier {
        FormatModifier {
            format,
            modifier,
            scanout,
        }
    }

    #[test]
    fn a_pair_listed_twice_is_found_whatever_its_flags() {
        let xr24 = crate::formats::parse_name("XRGB8888").unwrap();
        let list = [
            pair(xr24, MOD_LINEAR, false),
            pair(xr24, 5, false),
            pair(xr24, MOD_LINEAR, true),
        ];
        let (f, a, b) = duplicate_pair(&list).unwrap();
        assert_eq!((f.modifier, a, b), (MOD_LINEAR, 0, 2));
        assert_eq!(
            duplicate_message(f, a, b),
            "XRGB8888 LINEAR listed twice (entries 0, 2); list each pair once"
        );
        assert_eq!(duplicate_pair(&list[..2]), None);
        let worst = FormatModifier {
            format: crate::formats::parse_name("ABGR16161616F").unwrap(),
            modifier: u64::MAX,
            scanout: false,
        };
        assert!(duplicate_message(worst, 1023, 1024).len() <= 88);
        let c = Constraints {
            formats: list.to_vec(),
            ..Default::default()
        };
        assert_eq!(check_participant(&c).unwrap_err().field, "formats");
    }

    #[test]
    fn counts_devices_and_names_are_bounded() {
        let mut c = Constraints {
            buffers: BufferCounts {
                shared_slack: MAX_BUFFERS + 1,
                ..Default::default()
            },
            ..Default::default()
        };
        let e = check_participant(&c).unwrap_err();
        assert_eq!(
            e.to_string(),
            "buffers.shared_slack: 129; a collection has at most 128 buffers"
        );
        c.buffers.shared_slack = MAX_BUFFERS;
        assert_eq!(check_participant(&c), Ok(()));
        c.devices = vec![0; MAX_DEVICES + 1];
        assert_eq!(
            check_participant(&c).unwrap_err().kind,
            MisuseKind::DeviceList
        );
        c.devices.clear();
        c.name = "n".repeat(MAX_NAME_BYTES + 1);
        assert_eq!(check_participant(&c).unwrap_err().kind, MisuseKind::Name);
        c.name.clear();
        c.usage = Usage(1 << 31);
        assert_eq!(check_participant(&c).unwrap_err().field, "usage");
    }
}
