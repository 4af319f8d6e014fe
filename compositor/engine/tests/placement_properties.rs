//! Property tests of placement ranking (issue 14): whatever the machine and
//! the participants, a ranked placement is reachable by every named
//! device, contiguous when contiguity was asked, protected when protected
//! usage was asked, and never memfd when a dma-buf is needed.

use accord_engine::placements::{capability_of, rank, PlacementPolicy, Source, SourceKind};
use accord_engine::{solve, Constraints, FormatModifier, Usage, MOD_LINEAR};
use proptest::prelude::*;

const DEVICES: [u64; 3] = [0xe200, 0xe201, 0xe280];

fn source() -> impl Strategy<Value = Source> {
    let kind = prop::sample::select(SourceKind::ALL.to_vec());
    let heap = prop::sample::select(vec!["system", "linux,cma", "secure_video"]);
    (
        kind,
        heap,
        prop::sample::subsequence(DEVICES.to_vec(), 1..=2),
    )
        .prop_map(|(kind, heap, devs)| match kind {
            SourceKind::Gbm | SourceKind::Dumb => Source::of_kind(kind, None, devs),
            SourceKind::DmaHeap => Source::of_kind(kind, Some(heap), vec![]),
            _ => Source::of_kind(kind, None, vec![]),
        })
}

fn participant() -> impl Strategy<Value = Constraints> {
    let usage = prop::sample::select(vec![
        Usage::empty(),
        Usage::CPU_READ | Usage::CPU_WRITE,
        Usage::SAMPLE,
        Usage::SCANOUT,
        Usage::VIDEO_DECODE,
        Usage::PROTECTED,
    ]);
    let heaps = prop::sample::select(vec![
        vec![],
        vec!["dma-heap".to_string()],
        vec!["udmabuf".to_string(), "memfd".to_string()],
        vec!["dma-heap:secure_video".to_string()],
    ]);
    (
        usage,
        prop::sample::subsequence(DEVICES.to_vec(), 0..=2),
        prop::sample::subsequence(DEVICES.to_vec(), 0..=1),
        any::<bool>(),
        heaps,
        0u32..1000,
    )
        .prop_map(
            |(usage, devices, scanout_devices, contiguous, permitted_heaps, n)| Constraints {
                name: format!("p{n}"),
                usage,
                formats: vec![FormatModifier {
                    format: u32::from_le_bytes(*b"XR24"),
                    modifier: MOD_LINEAR,
                    scanout: true,
                }],
                devices,
                scanout_devices,
                contiguous,
                permitted_heaps,
                ..Default::default()
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_ranked_placement_meets_every_need(
        mut parts in prop::collection::vec(participant(), 1..4),
        sources in prop::collection::vec(source(), 0..7),
        scanout in any::<bool>(),
    ) {
        for (i, p) in parts.iter_mut().enumerate() {
            p.name = format!("{}-{i}", p.name); // names are unique
        }
        let Ok(d) = solve(&parts) else { return Ok(()) };
        let d = accord_engine::Decision { scanout: scanout && d.scanout, ..d };
        let usage = parts.iter().fold(Usage::empty(), |u, p| u | p.usage);
        let pre = capability_of(&parts, &sources);
        match rank(&parts, &d, &sources, &PlacementPolicy::default()) {
            Ok(order) => {
                prop_assert!(!order.is_empty());
                prop_assert!(pre.is_ok(), "ranked although the pre-solve check failed");
                // On scanout, a participant naming its display needs the
                // display; its other devices (its renderer) only when composited.
                let required = |p: &Constraints| {
                    if d.scanout && !p.scanout_devices.is_empty() {
                        p.scanout_devices.clone()
                    } else {
                        p.devices.clone()
                    }
                };
                let any_required = parts.iter().any(|p| !required(p).is_empty());
                for &i in &order {
                    let s = &sources[i];
                    for p in &parts {
                        for dev in &required(p) {
                            // Device memory is reached by its own device only;
                            // system memory exported as a dma-buf by all.
                            let reached = if s.device.is_empty() {
                                s.dmabuf
                            } else {
                                s.device.contains(dev)
                            };
                            prop_assert!(reached, "{} unreachable by {dev:#x}", s.name);
                        }
                        prop_assert!(
                            p.permitted_heaps.is_empty()
                                || p.permitted_heaps.iter().any(|e| s.permitted_by(e))
                        );
                    }
                    prop_assert!(!d.contiguous || s.contiguous, "{} not contiguous", s.name);
                    prop_assert!(!usage.contains(Usage::PROTECTED) || s.protected);
                    let needs_dmabuf = any_required
                        || d.scanout
                        || usage.intersects(Usage::VIDEO_DECODE);
                    prop_assert!(!needs_dmabuf || s.dmabuf, "memfd chosen although a dma-buf is needed");
                    let display: Vec<u64> =
                        parts.iter().flat_map(|p| p.scanout_devices.clone()).collect();
                    if d.scanout && !display.is_empty() {
                        prop_assert!(display.iter().any(|x| s.device.contains(x)));
                    }
                }
            }
            Err(f) => {
                prop_assert_eq!(f.reason, accord_engine::FailureReason::Unsupported);
                prop_assert!(f.message.starts_with("no placement"), "{}", f.message);
            }
        }
    }
}
