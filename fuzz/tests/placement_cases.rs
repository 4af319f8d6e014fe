//! The engine target's placement oracle (`check_placed`) on hand-made
//! cases: the fuzzer reaches the placement section only after its gate
//! byte, so these make sure the oracle agrees with the engine on the
//! cases the section was written for (a protected decode on a secure
//! heap, and the documented ranking with an unnamed device last).

use accord_engine::placement::Placing;
use accord_engine::placements::{PlacementPolicy, Source, SourceKind};
use accord_engine::{formats, Constraints, FormatModifier, Policy, Usage, MOD_LINEAR};
use accord_fuzz::engine::{check_case, Case};

fn pair(name: &str, scanout: bool) -> FormatModifier {
    FormatModifier {
        format: formats::parse_name(name).unwrap(),
        modifier: MOD_LINEAR,
        scanout,
    }
}

fn case(participants: Vec<Constraints>, sources: Vec<Source>) -> Case {
    let n = participants.len();
    Case {
        participants,
        policy: Policy::default(),
        permutation: (0..n).rev().collect(),
        placing: Some(Placing {
            sources,
            policy: PlacementPolicy::default(),
        }),
    }
}

#[test]
fn protected_decode_is_placed_on_the_permitted_secure_heap_only() {
    let dec = Constraints {
        name: "dec".into(),
        usage: Usage::VIDEO_DECODE | Usage::PROTECTED,
        formats: vec![pair("NV12", false)],
        min_size: (1920, 1080),
        permitted_heaps: vec!["dma-heap:secure_video".into()],
        ..Default::default()
    };
    let compositor = Constraints {
        name: "compositor".into(),
        usage: Usage::SAMPLE,
        formats: vec![pair("NV12", true)],
        devices: vec![0xe280],
        scanout_devices: vec![0xe200],
        ..Default::default()
    };
    let sources = vec![
        Source::of_kind(SourceKind::Memfd, None, vec![]),
        Source::of_kind(SourceKind::DmaHeap, Some("system"), vec![]),
        Source::of_kind(SourceKind::DmaHeap, Some("secure_video"), vec![]),
        Source::of_kind(SourceKind::Gbm, None, vec![0xe200]),
    ];
    let c = case(vec![dec, compositor], sources);
    check_case(&c).unwrap();
    let placing = c.placing.as_ref().unwrap();
    let d = accord_engine::solve(&c.participants).unwrap();
    assert_eq!(placing.rank(&c.participants, &d), Ok(vec![2]));
}

#[test]
fn cpu_buffers_rank_heap_udmabuf_memfd_then_an_unnamed_device() {
    let cpu = Constraints {
        name: "cpu".into(),
        usage: Usage::CPU_WRITE,
        formats: vec![pair("XRGB8888", false)],
        min_size: (64, 64),
        ..Default::default()
    };
    let sources = vec![
        Source::of_kind(SourceKind::Gbm, None, vec![0xe201]),
        Source::of_kind(SourceKind::Memfd, None, vec![]),
        Source::of_kind(SourceKind::Udmabuf, None, vec![]),
        Source::of_kind(SourceKind::DmaHeap, Some("system"), vec![]),
    ];
    let c = case(vec![cpu], sources);
    check_case(&c).unwrap();
    let placing = c.placing.as_ref().unwrap();
    let d = accord_engine::solve(&c.participants).unwrap();
    assert_eq!(placing.rank(&c.participants, &d), Ok(vec![3, 2, 1, 0]));
}
