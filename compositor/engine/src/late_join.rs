//! Late join: does an existing allocation satisfy a participant that
//! commits after it was made?
//!
//! sysmem calls this a "logical allocation" (`AttachToken`): the late
//! participant's constraints are checked against what the collection
//! already holds, and if they are met it receives the same buffers; nothing
//! is allocated and the others never notice. If not, only the late
//! participant fails. Accord checks each constraint against the decision
//! and the buffers' real layout, in this order, and names the first that
//! does not hold:
//!
//! 1. the constraints are valid on their own (as at any commit);
//! 2. **format**: the allocated (format, modifier) pair is in its list,
//!    marked scanout-capable if it asks for scanout (`no_common_format`);
//!    for raw buffers (`raw.rs`) it lists no pair (`no_common_format`) and
//!    sets no image constraint (`invalid_constraint`), and steps 4 and 5
//!    check only the bytes;
//! 3. **usage**: it needs no usage the buffers were not allocated for, no
//!    contiguity they lack, and names no device outside the allocation's
//!    (`invalid_constraint`). sysmem re-aggregates usage; Accord cannot
//!    change a made allocation, so a usage the allocation did not plan for
//!    (scanout, CPU access of a tiled layout) is refused instead of hoped
//!    for;
//! 4. **size**: the allocated size is within its range and alignment, at
//!    least its required sizes, within its maximum area (`size_conflict`);
//! 5. **layout**: every plane's stride is within its stride limits and
//!    alignment, every offset meets its offset alignment
//!    (`stride_conflict`); the buffer holds its `min_size_bytes`
//!    (`size_conflict`) and fits its `max_bytes` (`too_large`);
//! 6. **count**: the allocated count meets its minimum and maximum, and
//!    holds what it camps plus its dedicated slack (`count_conflict`). Its
//!    camping is not added to the others' (the count cannot grow); this is
//!    sysmem's rule for a logical allocation too;
//! 7. **its limits for the allocated format** (`format_limits`), if any:
//!    size and layout again against those;
//! 8. **colour space**: when the buffers have one and it lists some, the
//!    buffers' is among them (`no_common_format`), checked before 7.

use crate::aggregate;
use crate::types::{Constraints, Decision, Failure, FailureReason, PlaneLayout, Usage};

/// The allocated buffers' real layout (vendor layouts are known only after
/// allocation): every plane's offset and stride, and one buffer's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllocatedLayout {
    pub planes: Vec<PlaneLayout>,
    pub size_bytes: u64,
}

/// `Ok` when `late` can use the buffers of `decision` laid out as `layout`
/// as they are; otherwise the first constraint that does not hold, naming
/// the participant.
///
/// ```
/// use accord_engine::{solve, check_late_join, AllocatedLayout, Constraints, FormatModifier, MOD_LINEAR};
/// let xr24 = accord_engine::formats::parse_name("XRGB8888").unwrap();
/// let pair = FormatModifier { format: xr24, modifier: MOD_LINEAR, scanout: false };
/// let first = Constraints { name: "producer".into(), formats: vec![pair], min_size: (64, 64), ..Default::default() };
/// let d = solve(&[first]).unwrap();
/// let l = d.layout.clone().unwrap();
/// let layout = AllocatedLayout { planes: l.planes, size_bytes: l.size_bytes };
/// let viewer = Constraints { name: "viewer".into(), formats: vec![pair], ..Default::default() };
/// assert!(check_late_join(&d, &layout, &viewer).is_ok());
/// let picky = Constraints { name: "picky".into(), formats: vec![pair], min_size: (128, 128), ..Default::default() };
/// assert_eq!(check_late_join(&d, &layout, &picky).unwrap_err().reason, accord_engine::FailureReason::SizeConflict);
/// ```
pub fn check_late_join(
    decision: &Decision,
    layout: &AllocatedLayout,
    late: &Constraints,
) -> Result<(), Failure> {
    aggregate::validate(std::slice::from_ref(late))?;
    let fail = |reason, what: String| Failure {
        reason,
        message: format!(
            "late participant '{}' does not fit the allocated buffers: {what}",
            late.name
        ),
        participants: vec![late.name.clone()],
    };
    let pair = format!(
        "{}/{}",
        crate::formats::name(decision.format),
        crate::formats::modifier_name(decision.modifier)
    );
    // 2. format (a raw collection: no pair, no image field)
    if decision.raw {
        if !late.formats.is_empty() {
            return Err(fail(
                FailureReason::NoCommonFormat,
                format!(
                    "the buffers are raw bytes (no image format) and it lists {} (format, \
                     modifier) pair{}",
                    late.formats.len(),
                    if late.formats.len() == 1 { "" } else { "s" }
                ),
            ));
        }
        let fields = crate::raw::image_fields(late);
        if !fields.is_empty() {
            return Err(fail(
                FailureReason::InvalidConstraint,
                format!(
                    "the buffers are raw bytes and it sets image constraints ({})",
                    fields.join(", ")
                ),
            ));
        }
    } else {
        let Some(listed) = late
            .formats
            .iter()
            .find(|p| p.format == decision.format && p.modifier == decision.modifier)
        else {
            return Err(fail(
                FailureReason::NoCommonFormat,
                format!("its formats do not include the allocated {pair}"),
            ));
        };
        if late.usage.contains(Usage::SCANOUT) && !listed.scanout {
            return Err(fail(
                FailureReason::NoCommonFormat,
                format!("it asks for scanout but does not mark {pair} scanout-capable"),
            ));
        }
    }
    // 3. usage, contiguity, devices
    let missing = Usage(late.usage.0 & !decision.usage.0);
    if missing != Usage::empty() {
        let names = |u: Usage| u.names().collect::<Vec<_>>().join("|");
        return Err(fail(
            FailureReason::InvalidConstraint,
            format!(
                "it needs usage {} the buffers were not allocated for (they were for {})",
                names(missing),
                names(decision.usage)
            ),
        ));
    }
    if late.contiguous && !decision.contiguous {
        return Err(fail(
            FailureReason::InvalidConstraint,
            "it needs contiguous memory and the buffers are not".into(),
        ));
    }
    if let Some(dev) = late.devices.iter().find(|d| !decision.devices.contains(d)) {
        return Err(fail(
            FailureReason::InvalidConstraint,
            format!("device {dev:#x} was not among those the memory was placed for"),
        ));
    }
    if !decision.raw {
        image_fit(decision, layout, late, &fail)?;
    }
    if layout.size_bytes < late.min_size_bytes {
        return Err(fail(
            FailureReason::SizeConflict,
            format!(
                "a buffer is {} bytes, under its min_size_bytes {}",
                layout.size_bytes, late.min_size_bytes
            ),
        ));
    }
    if late.max_bytes != 0 && layout.size_bytes > late.max_bytes {
        return Err(fail(
            FailureReason::TooLarge,
            format!(
                "a buffer is {} bytes, over its max_bytes {}",
                layout.size_bytes, late.max_bytes
            ),
        ));
    }
    // 6. count
    let count = decision.buffer_count;
    let b = late.buffers;
    let holds = b.camping.saturating_add(b.dedicated_slack);
    if count < b.min || (b.max != 0 && count > b.max) || count < holds {
        return Err(fail(
            FailureReason::CountConflict,
            format!(
                "{count} buffers were allocated; it needs at least {} (min {}, camping {} + \
                 dedicated slack {}){}",
                b.min.max(holds),
                b.min,
                b.camping,
                b.dedicated_slack,
                if b.max != 0 {
                    format!(" and at most {}", b.max)
                } else {
                    String::new()
                }
            ),
        ));
    }
    // 8 (before 7, which returns). the colour space, when the buffers
    // have one and it lists some.
    if let Some(cs) = decision.color_space {
        if !late.color_spaces.is_empty() && !late.color_spaces.contains(&cs) {
            return Err(fail(
                FailureReason::NoCommonFormat,
                format!(
                    "the buffers hold {} and it lists [{}]",
                    crate::color::names(&[cs]),
                    crate::color::names(&late.color_spaces)
                ),
            ));
        }
    }
    // 7. its limits for the allocated format, if it gave any: the same
    // checks against those limits alone.
    if let Some(l) = late
        .format_limits
        .iter()
        .find(|l| l.format == decision.format)
    {
        let mut entry = crate::per_format::limits_only(late, l);
        entry.formats = vec![crate::types::FormatModifier {
            format: decision.format,
            modifier: decision.modifier,
            scanout: false,
        }];
        return check_late_join(decision, layout, &entry);
    }
    Ok(())
}

/// Steps 4 and 5 for an image collection: the allocated size and every
/// plane's stride and offset against `late`'s limits.
fn image_fit(
    decision: &Decision,
    layout: &AllocatedLayout,
    late: &Constraints,
    fail: &dyn Fn(FailureReason, String) -> Failure,
) -> Result<(), Failure> {
    // 4. size
    let (w, h) = (decision.width, decision.height);
    let within = |v: u32, min: u32, max: u32, align: u32| {
        v >= min && (max == 0 || v <= max) && v.is_multiple_of(align.max(1))
    };
    let need_w = aggregate::need(
        late.min_size.0,
        late.required_min_size.0,
        late.required_max_size.0,
    );
    let need_h = aggregate::need(
        late.min_size.1,
        late.required_min_size.1,
        late.required_max_size.1,
    );
    if !within(w, need_w, late.max_size.0, late.size_alignment.0)
        || !within(h, need_h, late.max_size.1, late.size_alignment.1)
    {
        return Err(fail(
            FailureReason::SizeConflict,
            format!(
                "the buffers are {w}x{h}; it takes {}x{} to {} in steps of {}x{}",
                need_w,
                need_h,
                if late.max_size == (0, 0) {
                    "no limit".to_owned()
                } else {
                    format!("{}x{}", late.max_size.0, late.max_size.1)
                },
                late.size_alignment.0,
                late.size_alignment.1
            ),
        ));
    }
    let area = u64::from(w) * u64::from(h);
    if late.max_area != 0 && area > late.max_area {
        return Err(fail(
            FailureReason::SizeConflict,
            format!(
                "the buffers are {w}x{h} ({area} pixels); its maximum area is {}",
                late.max_area
            ),
        ));
    }
    // 5. layout
    for (i, p) in layout.planes.iter().enumerate() {
        let s = p.stride;
        if s < late.min_stride
            || (late.max_stride != 0 && s > late.max_stride)
            || !s.is_multiple_of(late.stride_alignment.max(1))
        {
            return Err(fail(
                FailureReason::StrideConflict,
                format!(
                    "plane {i} has stride {s}; it takes {}..{} in steps of {}",
                    late.min_stride,
                    if late.max_stride == 0 {
                        "no limit".to_owned()
                    } else {
                        late.max_stride.to_string()
                    },
                    late.stride_alignment
                ),
            ));
        }
        if !p
            .offset
            .is_multiple_of(u64::from(late.offset_alignment.max(1)))
        {
            return Err(fail(
                FailureReason::StrideConflict,
                format!(
                    "plane {i} starts at offset {}, not a multiple of its offset alignment {}",
                    p.offset, late.offset_alignment
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{BufferCounts, FormatModifier, MOD_LINEAR};
    use crate::{formats, solve};

    fn pair() -> FormatModifier {
        FormatModifier {
            format: formats::parse_name("XRGB8888").unwrap(),
            modifier: MOD_LINEAR,
            scanout: false,
        }
    }

    fn first() -> Constraints {
        Constraints {
            name: "producer".into(),
            usage: Usage::CPU_WRITE | Usage::SAMPLE,
            formats: vec![pair()],
            min_size: (640, 480),
            stride_alignment: 256,
            buffers: BufferCounts {
                camping: 3,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn join(late: Constraints) -> Result<(), Failure> {
        let d = solve(&[first()]).unwrap();
        let l = d.layout.clone().unwrap();
        let layout = AllocatedLayout {
            planes: l.planes,
            size_bytes: l.size_bytes,
        };
        check_late_join(&d, &layout, &late)
    }

    fn viewer() -> Constraints {
        Constraints {
            name: "viewer".into(),
            usage: Usage::SAMPLE,
            formats: vec![pair()],
            ..Default::default()
        }
    }

    fn reason(late: Constraints) -> FailureReason {
        let f = join(late).unwrap_err();
        assert!(f.message.contains("'viewer'"), "{}", f.message);
        assert_eq!(f.participants, vec!["viewer".to_string()]);
        f.reason
    }

    #[test]
    fn a_viewer_within_every_limit_joins() {
        join(viewer()).unwrap();
        // Its camping fits in the 3 allocated.
        join(Constraints {
            buffers: BufferCounts {
                camping: 2,
                dedicated_slack: 1,
                ..Default::default()
            },
            stride_alignment: 64,
            ..viewer()
        })
        .unwrap();
    }

    #[test]
    fn required_sizes_and_max_area_are_checked_against_the_buffers() {
        // The buffers are 640x480 (307,200 pixels).
        join(Constraints {
            required_min_size: (640, 480),
            max_area: 307_200,
            ..viewer()
        })
        .unwrap();
        for late in [
            Constraints {
                required_max_size: (800, 480),
                ..viewer()
            },
            Constraints {
                required_min_size: (640, 600),
                ..viewer()
            },
            Constraints {
                max_area: 307_199,
                ..viewer()
            },
        ] {
            assert_eq!(reason(late), FailureReason::SizeConflict);
        }
    }

    #[test]
    fn the_colour_space_of_the_buffers_must_be_in_its_list() {
        use crate::types::ColorSpace;
        let mut producer = first();
        producer.color_spaces = vec![ColorSpace::SRGB];
        let d = solve(&[producer]).unwrap();
        assert_eq!(d.color_space, Some(ColorSpace::SRGB));
        let l = d.layout.clone().unwrap();
        let layout = AllocatedLayout {
            planes: l.planes,
            size_bytes: l.size_bytes,
        };
        let mut late = viewer();
        check_late_join(&d, &layout, &late).unwrap();
        late.color_spaces = vec![ColorSpace::BT2100_PQ, ColorSpace::SRGB];
        check_late_join(&d, &layout, &late).unwrap();
        late.color_spaces = vec![ColorSpace::BT2100_PQ];
        let f = check_late_join(&d, &layout, &late).unwrap_err();
        assert_eq!(f.reason, FailureReason::NoCommonFormat);
        assert!(
            f.message
                .ends_with("the buffers hold srgb and it lists [bt2100_pq]"),
            "{}",
            f.message
        );
    }

    #[test]
    fn its_limits_for_the_allocated_format_are_checked() {
        // The buffers are XRGB8888 640x480.
        let limits = |max_width| crate::types::FormatLimits {
            max_size: (max_width, 0),
            ..crate::types::FormatLimits::new(pair().format)
        };
        join(Constraints {
            format_limits: vec![limits(640)],
            ..viewer()
        })
        .unwrap();
        assert_eq!(
            reason(Constraints {
                format_limits: vec![limits(320)],
                ..viewer()
            }),
            FailureReason::SizeConflict
        );
        // An entry for another format does not matter.
        join(Constraints {
            format_limits: vec![crate::types::FormatLimits {
                max_size: (16, 16),
                ..crate::types::FormatLimits::new(formats::parse_name("NV12").unwrap())
            }],
            ..viewer()
        })
        .unwrap();
    }

    #[test]
    fn each_constraint_that_does_not_hold_is_named() {
        let other = FormatModifier {
            format: formats::parse_name("ARGB8888").unwrap(),
            ..pair()
        };
        assert_eq!(
            reason(Constraints {
                formats: vec![other],
                ..viewer()
            }),
            FailureReason::NoCommonFormat
        );
        assert_eq!(
            reason(Constraints {
                usage: Usage::SCANOUT,
                formats: vec![FormatModifier {
                    scanout: true,
                    ..pair()
                }],
                ..viewer()
            }),
            FailureReason::InvalidConstraint
        );
        assert_eq!(
            reason(Constraints {
                contiguous: true,
                ..viewer()
            }),
            FailureReason::InvalidConstraint
        );
        assert_eq!(
            reason(Constraints {
                devices: vec![0xe200],
                ..viewer()
            }),
            FailureReason::InvalidConstraint
        );
        assert_eq!(
            reason(Constraints {
                min_size: (1280, 720),
                ..viewer()
            }),
            FailureReason::SizeConflict
        );
        assert_eq!(
            reason(Constraints {
                size_alignment: (256, 1),
                ..viewer()
            }),
            FailureReason::SizeConflict
        );
        assert_eq!(
            reason(Constraints {
                stride_alignment: 1024,
                ..viewer()
            }),
            FailureReason::StrideConflict
        );
        assert_eq!(
            reason(Constraints {
                max_stride: 1024,
                ..viewer()
            }),
            FailureReason::StrideConflict
        );
        assert_eq!(
            reason(Constraints {
                max_bytes: 4096,
                ..viewer()
            }),
            FailureReason::TooLarge
        );
        assert_eq!(
            reason(Constraints {
                buffers: BufferCounts {
                    camping: 4,
                    ..Default::default()
                },
                ..viewer()
            }),
            FailureReason::CountConflict
        );
        assert_eq!(
            reason(Constraints {
                buffers: BufferCounts {
                    max: 2,
                    ..Default::default()
                },
                ..viewer()
            }),
            FailureReason::CountConflict
        );
    }

    #[test]
    fn a_copy_of_an_original_participant_always_joins() {
        // The producer's own constraints, under another name and camping
        // nothing more, are met by what was allocated for them.
        let mut copy = first();
        copy.name = "viewer".into();
        copy.buffers = BufferCounts::default();
        join(copy).unwrap();
    }
}
