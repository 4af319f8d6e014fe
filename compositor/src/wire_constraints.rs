//! The constraint requests of `wp_buffer_collection_v1`, decoded and
//! checked into the engine's [`Constraints`](accord_engine::Constraints).
//! Every client-supplied number is bounded here; a broken rule is the
//! protocol error the XML names, with a message under libwayland's
//! 127-byte cut.

use accord_engine::{BufferCounts, Usage};
use accord_protocol::limits::{
    MAX_BUFFERS, MAX_DEVICES, MAX_FORMAT_LIMITS, MAX_FORMAT_PAIRS, MAX_FORMAT_PAIRS_PER_REQUEST,
    MAX_PERMITTED_HEAPS,
};
use accord_protocol::server::wp_buffer_collection_v1 as coll;
use accord_vocabulary::codec;
use wayland_server::WEnum;

/// The request's name, for error messages.
pub(crate) fn constraint_name(r: &coll::Request) -> &'static str {
    match r {
        coll::Request::SetUsage { .. } => "set_usage",
        coll::Request::AddFormats { .. } => "add_formats",
        coll::Request::SetSizeRange { .. } => "set_size_range",
        coll::Request::SetSizeAlignment { .. } => "set_size_alignment",
        coll::Request::SetStride { .. } => "set_stride",
        coll::Request::SetAlignment { .. } => "set_alignment",
        coll::Request::SetMaxBytes { .. } => "set_max_bytes",
        coll::Request::SetBufferCounts { .. } => "set_buffer_counts",
        coll::Request::SetMemoryFlags { .. } => "set_memory_flags",
        coll::Request::SetDevices { .. } => "set_devices",
        coll::Request::SetRequiredSize { .. } => "set_required_size",
        coll::Request::SetMaxArea { .. } => "set_max_area",
        coll::Request::AddFormatLimits { .. } => "add_format_limits",
        coll::Request::SetColorSpaces { .. } => "set_color_spaces",
        coll::Request::SetCoherencyDomains { .. } => "set_coherency_domains",
        coll::Request::SetMinSizeBytes { .. } => "set_min_size_bytes",
        coll::Request::AddPermittedHeap { .. } => "add_permitted_heap",
        _ => "request",
    }
}

type ConstraintError = (coll::Error, String);

fn invalid(msg: String) -> ConstraintError {
    (coll::Error::InvalidValue, msg)
}

fn nonzero(request: &str, what: &str, v: u32) -> Result<u32, ConstraintError> {
    if v == 0 {
        Err(invalid(format!(
            "{request}: {what} is 0; alignments are at least 1 (1 = none)"
        )))
    } else {
        Ok(v)
    }
}

fn range(request: &str, what: &str, min: u32, max: u32) -> Result<(), ConstraintError> {
    if max != 0 && max < min {
        Err(invalid(format!(
            "{request}: maximum {what} {max} is below the minimum {min} (0 = no limit)"
        )))
    } else {
        Ok(())
    }
}

/// The whole participant at `commit`, through the engine's
/// [`check_participant`](accord_engine::limits::check_participant): the
/// function `accord solve` applies to scenarios. Each request was checked
/// as it came, so this finds nothing unless those checks and the engine's
/// drift apart; then the engine's rule wins and is a protocol error here
/// too.
pub(crate) fn check_committed(c: &accord_engine::Constraints) -> Result<(), ConstraintError> {
    use accord_engine::limits::{check_participant, MisuseKind};
    check_participant(c).map_err(|m| {
        let code = match m.kind {
            MisuseKind::FormatTable => coll::Error::InvalidFormatTable,
            MisuseKind::DeviceList => coll::Error::InvalidDeviceList,
            MisuseKind::Value | MisuseKind::Name => coll::Error::InvalidValue,
        };
        (code, format!("commit: {m}"))
    })
}

/// Apply one double-buffered constraint request to the pending state.
pub(crate) fn apply_constraint(
    c: &mut accord_engine::Constraints,
    request: coll::Request,
) -> Result<(), ConstraintError> {
    match request {
        coll::Request::SetUsage { usage } => {
            let bits = match usage {
                WEnum::Value(u) => u.bits(),
                WEnum::Unknown(b) => b,
            };
            if bits & !Usage::ALL.0 != 0 {
                return Err(invalid(format!(
                    "set_usage: unknown usage bits {:#x}; defined bits are {:#x}",
                    bits & !Usage::ALL.0,
                    Usage::ALL.0
                )));
            }
            c.usage = Usage(bits);
        }
        coll::Request::AddFormats { pairs } => {
            // One message per broken rule: libwayland-server cuts error
            // messages at 127 bytes.
            let broken = match codec::format_entries(&pairs) {
                Err(ragged) => Some(ragged.to_string()),
                Ok(entries) if entries > MAX_FORMAT_PAIRS_PER_REQUEST => Some(format!(
                    "{entries} entries; at most {MAX_FORMAT_PAIRS_PER_REQUEST} entries per request"
                )),
                Ok(entries) if c.formats.len() + entries > MAX_FORMAT_PAIRS => Some(format!(
                    "{entries} more after {} pairs; at most {MAX_FORMAT_PAIRS} in total",
                    c.formats.len()
                )),
                Ok(_) => None,
            };
            if let Some(broken) = broken {
                return Err((
                    coll::Error::InvalidFormatTable,
                    format!("add_formats: {broken}"),
                ));
            }
            let before = c.formats.len();
            c.formats
                .extend(codec::decode_format_table(&pairs).into_iter().flatten());
            // Format 0 marks raw buffers' settings: never a pair's format.
            if let Some(i) = c.formats[before..]
                .iter()
                .position(|f| f.format == accord_engine::FORMAT_RAW)
            {
                c.formats.truncate(before);
                return Err((
                    coll::Error::InvalidFormatTable,
                    format!(
                        "add_formats: entry {i} is format 0 (DRM_FORMAT_INVALID: raw buffers \
                         list no pair); list a fourcc"
                    ),
                ));
            }
            // A pair listed twice (here or in an earlier request): the
            // engine's rule, checked as the pairs arrive.
            if c.formats.len() > before {
                if let Some((f, a, b)) = accord_engine::limits::duplicate_pair(&c.formats) {
                    c.formats.truncate(before);
                    return Err((
                        coll::Error::InvalidFormatTable,
                        format!(
                            "add_formats: {}",
                            accord_engine::limits::duplicate_message(f, a, b)
                        ),
                    ));
                }
            }
        }
        coll::Request::SetSizeRange {
            min_width,
            min_height,
            max_width,
            max_height,
        } => {
            let (min_w, min_h) = (min_width.max(1), min_height.max(1));
            range("set_size_range", "width", min_w, max_width)?;
            range("set_size_range", "height", min_h, max_height)?;
            c.min_size = (min_w, min_h);
            c.max_size = (max_width, max_height);
        }
        coll::Request::SetSizeAlignment {
            width_alignment,
            height_alignment,
        } => {
            c.size_alignment = (
                nonzero("set_size_alignment", "width_alignment", width_alignment)?,
                nonzero("set_size_alignment", "height_alignment", height_alignment)?,
            );
        }
        coll::Request::SetStride {
            min_stride,
            max_stride,
            stride_alignment,
        } => {
            range("set_stride", "stride", min_stride, max_stride)?;
            c.stride_alignment = nonzero("set_stride", "stride_alignment", stride_alignment)?;
            c.min_stride = min_stride;
            c.max_stride = max_stride;
        }
        coll::Request::SetAlignment {
            offset_alignment,
            base_alignment,
        } => {
            c.offset_alignment = nonzero("set_alignment", "offset_alignment", offset_alignment)?;
            c.base_alignment = nonzero("set_alignment", "base_alignment", base_alignment)?;
        }
        coll::Request::SetMaxBytes {
            max_bytes_hi,
            max_bytes_lo,
        } => {
            c.max_bytes = codec::join_u64(max_bytes_hi, max_bytes_lo);
        }
        // Any value: against the participant's own max_bytes at commit
        // (`check_committed`), against the byte limits when solved.
        coll::Request::SetMinSizeBytes {
            min_size_bytes_hi,
            min_size_bytes_lo,
        } => {
            c.min_size_bytes = codec::join_u64(min_size_bytes_hi, min_size_bytes_lo);
        }
        coll::Request::SetBufferCounts {
            camping,
            dedicated_slack,
            shared_slack,
            min,
            max,
        } => {
            for (what, v) in [
                ("camping", camping),
                ("dedicated_slack", dedicated_slack),
                ("shared_slack", shared_slack),
                ("min", min),
                ("max", max),
            ] {
                if v > MAX_BUFFERS {
                    return Err(invalid(format!(
                        "set_buffer_counts: {what} is {v}; a collection has at most \
                         {MAX_BUFFERS} buffers"
                    )));
                }
            }
            range("set_buffer_counts", "count", min, max)?;
            c.buffers = BufferCounts {
                camping,
                dedicated_slack,
                shared_slack,
                min,
                max,
            };
        }
        coll::Request::SetMemoryFlags { flags } => {
            let bits = match flags {
                WEnum::Value(f) => f.bits(),
                WEnum::Unknown(b) => b,
            };
            if bits & !coll::MemoryFlags::all().bits() != 0 {
                return Err(invalid(format!(
                    "set_memory_flags: unknown bits {bits:#x}; only contiguous (0x1) is defined"
                )));
            }
            c.contiguous = bits & coll::MemoryFlags::Contiguous.bits() != 0;
        }
        coll::Request::SetRequiredSize {
            min_width,
            min_height,
            max_width,
            max_height,
        } => {
            // 0 is "none" for both ends here (unlike set_size_range's
            // minimum, which is at least 1).
            for (what, min, max) in [
                ("width", min_width, max_width),
                ("height", min_height, max_height),
            ] {
                if max != 0 && min > max {
                    return Err(invalid(format!(
                        "set_required_size: required {what} {min} is above the required \
                         maximum {max} (0 = none)"
                    )));
                }
            }
            c.required_min_size = (min_width, min_height);
            c.required_max_size = (max_width, max_height);
        }
        coll::Request::SetMaxArea {
            max_area_hi,
            max_area_lo,
        } => {
            c.max_area = codec::join_u64(max_area_hi, max_area_lo);
        }
        coll::Request::AddFormatLimits {
            format,
            min_width,
            min_height,
            max_width,
            max_height,
            width_alignment,
            height_alignment,
            min_stride,
            max_stride,
            stride_alignment,
        } => {
            const R: &str = "add_format_limits";
            let table = |msg: String| (coll::Error::InvalidFormatTable, format!("{R}: {msg}"));
            if c.format_limits.len() >= MAX_FORMAT_LIMITS {
                return Err(table(format!(
                    "more than {MAX_FORMAT_LIMITS} entries; one per format, at most \
                     {MAX_FORMAT_LIMITS}"
                )));
            }
            if c.format_limits.iter().any(|l| l.format == format) {
                return Err(table(format!(
                    "format {format:#010x} already has limits; one entry per format"
                )));
            }
            let (min_w, min_h) = (min_width.max(1), min_height.max(1));
            range(R, "width", min_w, max_width)?;
            range(R, "height", min_h, max_height)?;
            range(R, "stride", min_stride, max_stride)?;
            c.format_limits.push(accord_engine::FormatLimits {
                format,
                min_size: (min_w, min_h),
                max_size: (max_width, max_height),
                size_alignment: (
                    nonzero(R, "width_alignment", width_alignment)?,
                    nonzero(R, "height_alignment", height_alignment)?,
                ),
                min_stride,
                max_stride,
                stride_alignment: nonzero(R, "stride_alignment", stride_alignment)?,
            });
        }
        coll::Request::SetCoherencyDomains { domains } => {
            let bits = match domains {
                WEnum::Value(d) => d.bits(),
                WEnum::Unknown(b) => b,
            };
            let all = accord_engine::CoherencyDomains::ALL.0;
            if bits == 0 || bits & !all != 0 {
                return Err(invalid(format!(
                    "set_coherency_domains: {bits:#x}; expected a non-empty set of cpu (0x1), \
                     ram (0x2), inaccessible (0x4)"
                )));
            }
            c.coherency_domains = accord_engine::CoherencyDomains(bits);
        }
        coll::Request::SetColorSpaces { color_spaces } => {
            const R: &str = "set_color_spaces";
            let max = accord_engine::ColorSpace::NAMES.len();
            if color_spaces.len() % 4 != 0 || color_spaces.len() / 4 > max {
                return Err(invalid(format!(
                    "{R}: array of {} bytes; expected a multiple of 4 bytes, at most {max} values",
                    color_spaces.len()
                )));
            }
            let list: Vec<accord_engine::ColorSpace> = color_spaces
                .chunks_exact(4)
                .map(|b| accord_engine::ColorSpace(u32::from_ne_bytes([b[0], b[1], b[2], b[3]])))
                .collect();
            for (i, cs) in list.iter().enumerate() {
                if !cs.is_defined() {
                    return Err(invalid(format!(
                        "{R}: value {} is no colour space; defined values are 1..={max}",
                        cs.0
                    )));
                }
                if list[..i].contains(cs) {
                    return Err(invalid(format!(
                        "{R}: {} listed twice; list each once",
                        cs.name().unwrap_or("?")
                    )));
                }
            }
            c.color_spaces = list;
        }
        coll::Request::AddPermittedHeap { heap } => {
            const R: &str = "add_permitted_heap";
            let Some(heap) = heap else {
                return Err(invalid(format!(
                    "{R}: null; expected a kind or dma-heap:NAME"
                )));
            };
            if c.permitted_heaps.len() >= MAX_PERMITTED_HEAPS {
                return Err(invalid(format!(
                    "{R}: more than {MAX_PERMITTED_HEAPS} entries"
                )));
            }
            if let Err(why) = accord_engine::placements::check_heap_name(&heap) {
                // Cut: the entry may be long, the message must stay short.
                let why: String = why.chars().take(90).collect();
                return Err(invalid(format!("{R}: {why}")));
            }
            if c.permitted_heaps.contains(&heap) {
                return Err(invalid(format!(
                    "{R}: '{heap}' given twice; give each once"
                )));
            }
            c.permitted_heaps.push(heap);
        }
        coll::Request::SetDevices { devices } => match codec::decode_devices(&devices) {
            Ok(list) if list.len() <= MAX_DEVICES => c.devices = list,
            _ => {
                return Err((
                    coll::Error::InvalidDeviceList,
                    format!(
                        "set_devices: array of {} bytes; expected a multiple of 8 bytes with at \
                         most {MAX_DEVICES} entries",
                        devices.len()
                    ),
                ))
            }
        },
        _ => {}
    }
    Ok(())
}
