//! The slot state machine without Wayland: when a collection resolves, who
//! is told what, handles, and allocator faults.

use std::time::{Duration, Instant};

use accord_engine::{Constraints, Decision, FormatModifier, MOD_LINEAR};
use accord_smithay::backend::memfd::MemfdBackend;
use accord_smithay::backend::{AllocError, AllocatedBuffer, CollectionAllocator, MemoryKind};
use accord_smithay::collections::{
    Budgets, Collections, Confirmation, FailureReason, Outcome, SlotId, MAX_EXPIRED_PER_TURN,
    MAX_STALL_CHECKS_PER_TURN,
};
use accord_smithay::limits::{HANDLE_EXPIRY, MAX_BUFFER_BYTES};

const XR24: u32 = u32::from_le_bytes(*b"XR24");

fn xrgb() -> Constraints {
    Constraints {
        formats: vec![FormatModifier {
            format: XR24,
            modifier: MOD_LINEAR,
            scanout: false,
        }],
        min_size: (8, 8),
        ..Default::default()
    }
}

type Reg = Collections<u32>;

/// A collection whose root slot is named `name` (duplicates inherit it).
fn named(r: &mut Reg, name: &str, owner: u32) -> SlotId {
    let slot = r.create(format!("pid {owner}"), owner);
    r.set_name(slot, name.into());
    slot
}

#[test]
fn resolves_only_when_every_slot_is_settled() {
    let mut r = Reg::new();
    let a = named(&mut r, "a", 1);
    let b = r.duplicate(a).unwrap().unwrap();
    r.bind(a);
    r.commit(a, xrgb());
    assert!(
        r.resolve(&mut MemfdBackend, &mut ()).is_empty(),
        "b still holds a token"
    );
    r.bind(b);
    assert!(
        r.resolve(&mut MemfdBackend, &mut ()).is_empty(),
        "b bound, not committed"
    );
    r.commit(b, xrgb());
    let res = r.resolve(&mut MemfdBackend, &mut ());
    assert_eq!(res.len(), 1);
    assert_eq!(res[0].slots, vec![a, b]);
    let Outcome::Allocated(alloc) = &res[0].outcome else {
        panic!("expected buffers, got {:?}", res[0].outcome)
    };
    assert_eq!(alloc.memory, MemoryKind::Memfd);
    assert!(
        !r.is_negotiating(a),
        "resolved collections leave the registry"
    );
}

#[test]
fn released_token_does_not_block() {
    let mut r = Reg::new();
    let a = named(&mut r, "a", 1);
    let b = r.duplicate(a).unwrap().unwrap();
    r.release(b);
    r.bind(a);
    r.commit(a, xrgb());
    let res = r.resolve(&mut MemfdBackend, &mut ());
    assert_eq!(res[0].slots, vec![a], "only live slots are told");
    assert!(matches!(res[0].outcome, Outcome::Allocated(_)));
}

#[test]
fn non_dispensable_failure_names_the_participant() {
    let mut r = Reg::new();
    let a = named(&mut r, "a", 1);
    let b = r.duplicate(a).unwrap().unwrap();
    r.set_name(b, "decoder".into());
    r.bind(b);
    r.fail(b, "its client disconnected");
    let res = r.resolve(&mut MemfdBackend, &mut ());
    let Outcome::Failed(f) = &res[0].outcome else {
        panic!("must fail")
    };
    assert_eq!(f.reason, FailureReason::ParticipantFailed);
    assert!(f.message.contains("'decoder'"), "{}", f.message);
    assert!(res[0].slots.contains(&a), "the others are told");
}

#[test]
fn dispensable_failure_is_dropped() {
    let mut r = Reg::new();
    let a = named(&mut r, "a", 1);
    let b = r.duplicate(a).unwrap().unwrap();
    r.set_dispensable(b);
    r.fail(b, "gone");
    r.bind(a);
    r.commit(a, xrgb());
    let res = r.resolve(&mut MemfdBackend, &mut ());
    assert!(matches!(res[0].outcome, Outcome::Allocated(_)));
}

#[test]
fn handles_are_single_use_random_and_expire() {
    let mut r = Reg::new();
    let now = Instant::now();
    let a = named(&mut r, "a", 1);
    let b = r.duplicate(a).unwrap().unwrap();
    let c = r.duplicate(a).unwrap().unwrap();
    let hb = r.export(b, 1, now).unwrap();
    let hc = r.export(c, 1, now).unwrap();
    assert_ne!(hb, hc);
    assert_eq!(hb.len(), 64);
    assert_eq!(r.handles_of(&1), 2);
    assert_eq!(r.import(&hb, "pid 2".into(), now), Some(b));
    assert_eq!(r.import(&hb, "pid 2".into(), now), None, "single use");
    assert_eq!(r.handles_of(&1), 1);
    // c's handle expires: its slot fails the collection (not dispensable).
    r.expire_handles(now + HANDLE_EXPIRY + Duration::from_secs(1));
    assert_eq!(r.handles_of(&1), 0);
    assert_eq!(r.import(&hc, "pid 2".into(), now), None);
    let res = r.resolve(&mut MemfdBackend, &mut ());
    let Outcome::Failed(f) = &res[0].outcome else {
        panic!("expired handle fails the collection")
    };
    assert_eq!(f.reason, FailureReason::ParticipantFailed);
    assert!(f.message.contains("expired"), "{}", f.message);
}

#[test]
fn participant_limit() {
    let mut r = Reg::new();
    let a = named(&mut r, "a", 1);
    for _ in 1..64 {
        r.duplicate(a).unwrap().unwrap();
    }
    assert!(r.duplicate(a).is_err());
}

/// A backend that fails on a chosen buffer, or returns a wrong layout.
#[derive(Default)]
struct Faulty {
    fail_at: Option<u32>,
    bad_stride: bool,
    /// Report this size for every buffer (a vendor layout the engine could
    /// not know).
    size_bytes: Option<u64>,
}

impl CollectionAllocator for Faulty {
    fn name(&self) -> String {
        "faulty".into()
    }
    fn memory_kind(&self) -> MemoryKind {
        MemoryKind::Memfd
    }
    fn allocate(&mut self, d: &Decision) -> Result<Vec<AllocatedBuffer>, AllocError> {
        if let Some(k) = self.fail_at {
            if k < d.buffer_count {
                return Err(AllocError::OutOfMemory(format!("ENOMEM on buffer {k}")));
            }
        }
        let mut bufs = MemfdBackend.allocate(d)?;
        if self.bad_stride {
            bufs[0].planes[0].stride = 1; // below the layout's minimum
        }
        if let Some(size) = self.size_bytes {
            for b in &mut bufs {
                b.size_bytes = size;
            }
        }
        Ok(bufs)
    }
}

fn one_participant_with(alloc: &mut Faulty) -> Outcome {
    let mut r = Reg::new();
    let a = named(&mut r, "a", 1);
    r.bind(a);
    r.commit(a, xrgb());
    r.resolve(alloc, &mut ()).remove(0).outcome
}

#[test]
fn allocator_out_of_memory_is_a_failed_event() {
    let Outcome::Failed(f) = one_participant_with(&mut Faulty {
        fail_at: Some(0),
        ..Default::default()
    }) else {
        panic!("must fail")
    };
    assert_eq!(f.reason, FailureReason::OutOfMemory);
    assert!(f.message.contains("ENOMEM on buffer 0"), "{}", f.message);
}

#[test]
fn wrong_backend_layout_never_reaches_clients() {
    let Outcome::Failed(f) = one_participant_with(&mut Faulty {
        bad_stride: true,
        ..Default::default()
    }) else {
        panic!("layout check must reject")
    };
    assert_eq!(f.reason, FailureReason::Unsupported);
    assert!(f.message.contains("layout mismatch"), "{}", f.message);
}

/// Allocate where decided, verify, fall back: the first placement in rank
/// order fails (out of memory, or a layout the check rejects), the next
/// one allocates, and the outcome says which; when all fail, the message
/// lists each attempt. Both are memfd placements of the same rank, tried
/// in the order given.
#[test]
fn a_failed_placement_falls_back_to_the_next() {
    use accord_engine::placement::Placing;
    for first in [
        Faulty {
            fail_at: Some(0),
            ..Default::default()
        },
        Faulty {
            bad_stride: true,
            ..Default::default()
        },
    ] {
        let mut first = first;
        let mut second = MemfdBackend::new();
        let placing = Placing {
            sources: vec![first.source(), second.source()],
            policy: Default::default(),
        };
        let mut r = Reg::new();
        let a = named(&mut r, "a", 1);
        r.bind(a);
        r.commit(a, xrgb());
        let out = r
            .resolve_on(&mut [&mut first, &mut second], &placing, &mut ())
            .remove(0)
            .outcome;
        let Outcome::Allocated(got) = out else {
            panic!("the second placement allocates: {out:?}")
        };
        assert_eq!(got.placement.name, "memfd");
        assert_eq!(
            r.usage_by_backend(&1)[0].0,
            "memfd",
            "booked where allocated"
        );
    }
    let (mut a1, mut a2) = (
        Faulty {
            fail_at: Some(0),
            ..Default::default()
        },
        Faulty {
            bad_stride: true,
            ..Default::default()
        },
    );
    let placing = Placing {
        sources: vec![a1.source(), a2.source()],
        policy: Default::default(),
    };
    let mut r = Reg::new();
    let a = named(&mut r, "a", 1);
    r.bind(a);
    r.commit(a, xrgb());
    let Outcome::Failed(f) = r
        .resolve_on(&mut [&mut a1, &mut a2], &placing, &mut ())
        .remove(0)
        .outcome
    else {
        panic!("both fail")
    };
    assert!(
        f.message.starts_with("every placement failed: faulty: ")
            && f.message.contains("ENOMEM on buffer 0")
            && f.message.contains("layout mismatch"),
        "{}",
        f.message
    );
}

/// Sizes only the backend knows go through the engine's size check too
/// (`accord_engine::layout::check_size`), before the layout is verified.
#[test]
fn a_backend_size_over_the_limits_is_too_large() {
    for (size, message) in [
        (
            MAX_BUFFER_BYTES + 1,
            "needs 536870913 bytes per buffer, the limit is 536870912",
        ),
        (u64::MAX, "the limit is 536870912"),
    ] {
        let Outcome::Failed(f) = one_participant_with(&mut Faulty {
            size_bytes: Some(size),
            ..Default::default()
        }) else {
            panic!("size check must reject")
        };
        assert_eq!(f.reason, FailureReason::TooLarge, "{}", f.message);
        assert!(f.message.contains(message), "{}", f.message);
    }
}

fn allocate_for(r: &mut Reg, owner: u32) -> Outcome {
    let a = r.create("a".into(), owner);
    r.bind(a);
    r.commit(a, xrgb());
    r.resolve(&mut MemfdBackend, &mut ()).remove(0).outcome
}

#[test]
fn quota_fails_only_the_client_over_it_and_refunds_on_release() {
    let mut r = Reg::new();
    let Outcome::Allocated(first) = allocate_for(&mut r, 1) else {
        panic!("first allocation")
    };
    let bytes: u64 = first.buffers.iter().map(|b| b.size_bytes).sum();
    assert!(bytes > 0);
    assert_eq!(r.charged(&1), bytes);
    r.set_quota(bytes + bytes / 2); // room for one more half
    let Outcome::Failed(f) = allocate_for(&mut r, 1) else {
        panic!("second allocation must exceed the quota")
    };
    assert_eq!(f.reason, FailureReason::QuotaExceeded);
    assert!(f.message.contains("quota"), "{}", f.message);
    assert_eq!(r.charged(&1), bytes, "a refused allocation charges nothing");
    // Another client is unaffected.
    assert!(matches!(allocate_for(&mut r, 2), Outcome::Allocated(_)));
    // Releasing the buffers returns the bytes.
    drop(first);
    assert_eq!(r.charged(&1), 0);
    assert!(matches!(allocate_for(&mut r, 1), Outcome::Allocated(_)));
}

/// `n` buffers of the smallest XRGB image, created by `owner`.
fn tiny_buffers(r: &mut Reg, owner: u32, n: u32) -> Outcome {
    let a = named(r, "tiny", owner);
    r.bind(a);
    r.commit(
        a,
        Constraints {
            buffers: accord_engine::BufferCounts {
                min: n,
                max: n,
                ..Default::default()
            },
            min_size: (1, 1),
            ..xrgb()
        },
    );
    r.resolve(&mut MemfdBackend, &mut ()).remove(0).outcome
}

#[test]
fn the_buffer_fd_budget_fails_only_the_identity_over_it_and_refunds() {
    let mut r = Reg::new();
    r.set_budgets(Budgets {
        buffer_fds: 100,
        ..Budgets::default()
    });
    let Outcome::Allocated(first) = tiny_buffers(&mut r, 1, 64) else {
        panic!("64 fds fit in 100")
    };
    assert_eq!(r.usage_of(&1).fds, 64, "one memfd per buffer");
    let Outcome::Failed(f) = tiny_buffers(&mut r, 1, 64) else {
        panic!("128 fds do not fit in 100")
    };
    assert_eq!(f.reason, FailureReason::QuotaExceeded);
    assert!(
        f.message
            .contains("buffer fd budget: this needs 64 buffer fds; its creator (1)"),
        "{}",
        f.message
    );
    assert_eq!(
        r.usage_of(&1).fds,
        64,
        "a refused allocation charges nothing"
    );
    assert!(matches!(tiny_buffers(&mut r, 2, 64), Outcome::Allocated(_)));
    drop(first);
    assert_eq!(r.usage_of(&1).fds, 0);
    assert!(matches!(tiny_buffers(&mut r, 1, 64), Outcome::Allocated(_)));
}

#[test]
fn the_module_fd_budget_holds_for_every_identity_together() {
    let mut r = Reg::new();
    r.set_max_buffer_fds(150);
    let held: Vec<_> = (1..=2)
        .map(|owner| tiny_buffers(&mut r, owner, 64))
        .collect();
    assert!(held.iter().all(|o| matches!(o, Outcome::Allocated(_))));
    assert_eq!(r.total_usage().fds, 128);
    let Outcome::Failed(f) = tiny_buffers(&mut r, 3, 64) else {
        panic!("a third identity would take the module past 150 fds")
    };
    assert_eq!(f.reason, FailureReason::QuotaExceeded);
    assert!(
        f.message.contains("the compositor's buffer fd budget"),
        "{}",
        f.message
    );
    assert!(matches!(tiny_buffers(&mut r, 3, 16), Outcome::Allocated(_)));
}

#[test]
fn the_collection_budget_fails_new_collections_until_one_closes() {
    let mut r = Reg::new();
    r.set_budgets(Budgets {
        collections: 3,
        ..Budgets::default()
    });
    let open: Vec<_> = (0..3).map(|_| named(&mut r, "a", 1)).collect();
    assert!(r.resolve(&mut MemfdBackend, &mut ()).is_empty());
    let over = named(&mut r, "over", 1);
    let other = named(&mut r, "other", 2);
    let res = r.resolve(&mut MemfdBackend, &mut ());
    assert_eq!(res.len(), 1, "only the collection over the budget resolves");
    assert_eq!(res[0].slots, vec![over]);
    let Outcome::Failed(f) = &res[0].outcome else {
        panic!("over the collection budget")
    };
    assert_eq!(f.reason, FailureReason::QuotaExceeded);
    assert!(f.message.contains("collection budget"), "{}", f.message);
    assert!(r.is_negotiating(other), "another identity is unaffected");
    assert_eq!(r.collections_of(&1), 3, "the failed one closed");
    r.release(open[0]);
    r.resolve(&mut MemfdBackend, &mut ());
    assert_eq!(r.collections_of(&1), 2);
    let again = named(&mut r, "again", 1);
    assert!(r.resolve(&mut MemfdBackend, &mut ()).is_empty());
    assert!(r.is_negotiating(again));
}

#[test]
fn the_pending_handle_budget_is_per_identity() {
    let mut r = Reg::new();
    r.set_budgets(Budgets {
        pending_handles: 2,
        ..Budgets::default()
    });
    let now = Instant::now();
    let a = named(&mut r, "a", 1);
    let b = r.duplicate(a).unwrap().unwrap();
    let c = r.duplicate(a).unwrap().unwrap();
    r.export(a, 1, now).unwrap();
    r.export(b, 1, now).unwrap();
    let f = r.export(c, 1, now).unwrap_err();
    assert_eq!(f.reason, FailureReason::QuotaExceeded);
    assert!(f.message.contains("pending handle budget"), "{}", f.message);
    // The same slot exported by another identity (its holder now) is fine.
    r.export(c, 2, now).unwrap();
    assert_eq!(r.handles_of(&1), 2);
}

#[test]
fn handle_expiry_is_configurable() {
    let mut r = Reg::new();
    r.set_handle_expiry(Duration::from_millis(200));
    let now = Instant::now();
    let a = named(&mut r, "a", 1);
    let b = r.duplicate(a).unwrap().unwrap();
    let h = r.export(b, 1, now).unwrap();
    r.expire_handles(now + Duration::from_millis(199));
    assert_eq!(r.handles_of(&1), 1, "not yet");
    assert_eq!(
        r.import(&h, "pid 2".into(), now + Duration::from_millis(200)),
        None,
        "expired"
    );
}

#[test]
fn a_stalled_collection_is_reported_once_with_its_blocking_slots() {
    let mut r = Reg::new();
    r.set_stall_warning(Duration::from_secs(5));
    let a = named(&mut r, "producer", 1);
    let b = r.duplicate(a).unwrap().unwrap();
    let c = r.duplicate(a).unwrap().unwrap();
    let d = r.duplicate(a).unwrap().unwrap();
    let e = r.duplicate(a).unwrap().unwrap();
    r.set_name(b, "decoder".into());
    r.set_name(c, "player".into());
    r.set_name(d, "viewer".into());
    r.set_name(e, "gone".into());
    r.bind(a);
    r.commit(a, xrgb());
    r.export(c, 1, Instant::now()).unwrap();
    r.bind(d);
    r.release(e);
    let now = Instant::now();
    assert!(r.warn_stalled(now).is_empty(), "not yet 5 s");
    let stalled = r.warn_stalled(now + Duration::from_secs(5));
    assert_eq!(stalled.len(), 1);
    assert_eq!(
        stalled[0].blocking,
        vec![
            "'decoder' (slot 1, token not bound)".to_string(),
            "'player' (slot 2, exported handle not redeemed)".to_string(),
            "'viewer' (slot 3, bound, constraints not committed)".to_string(),
        ]
    );
    assert!(
        r.warn_stalled(now + Duration::from_secs(60)).is_empty(),
        "once per collection"
    );
}

#[test]
fn handles_are_random_lowercase_hex_and_never_repeat() {
    let mut r = Reg::new();
    r.set_budgets(Budgets {
        pending_handles: usize::MAX,
        ..Budgets::default()
    });
    let now = Instant::now();
    let mut seen = std::collections::HashSet::new();
    let mut ones = 0u64;
    for _ in 0..32 {
        let a = named(&mut r, "a", 1);
        for _ in 1..64 {
            let s = r.duplicate(a).unwrap().unwrap();
            let h = r.export(s, 1, now).unwrap();
            assert!(
                accord_smithay::collections::is_well_formed_handle(&h),
                "{h}"
            );
            for c in h.chars() {
                ones += u64::from(c.to_digit(16).unwrap().count_ones());
            }
            assert!(seen.insert(h), "a handle repeated");
        }
    }
    // 2016 handles of 256 bits: about half the bits are set.
    let bits = seen.len() as u64 * 256;
    let share = ones as f64 / bits as f64;
    assert!((0.49..0.51).contains(&share), "share of 1 bits {share}");
}

/// Two one-participant collections, both committed: ready to resolve.
fn two_ready(r: &mut Reg) -> (u64, u64) {
    let a = named(r, "a", 1);
    let b = named(r, "b", 1);
    for s in [a, b] {
        r.bind(s);
        r.commit(s, xrgb());
    }
    (a.collection, b.collection)
}

#[test]
fn a_deferred_ready_collection_is_taken_later_without_another_change() {
    let mut r = Reg::new();
    let (first, second) = two_ready(&mut r);
    let mut defer_second = |id: u64, d: &Decision| {
        if id == second {
            Confirmation::Defer
        } else {
            Confirmation::Allocate(d.clone())
        }
    };
    let resolved = |res: Vec<accord_smithay::collections::Resolution>| -> Vec<u64> {
        res.iter().map(|r| r.slots[0].collection).collect()
    };
    assert_eq!(
        resolved(r.resolve(&mut MemfdBackend, &mut defer_second)),
        vec![first]
    );
    assert_eq!(
        resolved(r.resolve(&mut MemfdBackend, &mut ())),
        vec![second],
        "deferred, not forgotten"
    );
    assert!(
        r.resolve(&mut MemfdBackend, &mut ()).is_empty(),
        "resolved once"
    );
}

#[test]
fn handles_expire_in_export_order_each_on_its_own_time() {
    let mut r = Reg::new();
    let t0 = Instant::now();
    let a = named(&mut r, "a", 1);
    let b = r.duplicate(a).unwrap().unwrap();
    let c = r.duplicate(a).unwrap().unwrap();
    r.set_dispensable(b); // its expiry must not fail the collection
    let _old = r.export(b, 1, t0).unwrap();
    let young = r.export(c, 1, t0 + HANDLE_EXPIRY / 2).unwrap();
    r.expire_handles(t0 + HANDLE_EXPIRY);
    assert_eq!(r.handles_of(&1), 1, "only the older handle expired");
    assert_eq!(
        r.import(&young, "pid 2".into(), t0 + HANDLE_EXPIRY),
        Some(c)
    );
}

#[test]
fn resolving_a_collection_drops_its_handles_and_no_other() {
    let mut r = Reg::new();
    let now = Instant::now();
    let a = named(&mut r, "a", 1);
    let a2 = r.duplicate(a).unwrap().unwrap();
    let b = named(&mut r, "b", 1);
    let b2 = r.duplicate(b).unwrap().unwrap();
    let ha = r.export(a2, 1, now).unwrap();
    let hb = r.export(b2, 1, now).unwrap();
    r.fail(a, "gone");
    let res = r.resolve(&mut MemfdBackend, &mut ());
    assert_eq!(res.len(), 1, "only the failed collection resolves");
    assert_eq!(r.handles_of(&1), 1, "its handle is dropped, b's stays");
    assert_eq!(r.import(&ha, "pid 2".into(), now), None);
    assert_eq!(r.import(&hb, "pid 2".into(), now), Some(b2));
}

// What the v1 registry's doc examples asserted, kept as tests.

#[test]
fn duplicates_share_the_collection_and_inherit_name_and_dispensability() {
    let mut r = Reg::new();
    let a = named(&mut r, "decoder", 1);
    r.set_dispensable(a);
    let b = r.duplicate(a).unwrap().unwrap();
    assert_eq!(a.collection, b.collection);
    assert_ne!(a.index, b.index);
    assert_eq!(r.name(b).as_deref(), Some("decoder"));
    r.set_name(b, "player".into());
    assert_eq!(r.name(b).as_deref(), Some("player"));
    assert_eq!(r.name(a).as_deref(), Some("decoder"));
    // b inherited dispensability: its failure drops it, not the collection.
    r.fail(b, "gone");
    assert!(r.is_negotiating(a));
}

#[test]
fn at_most_max_participants_slots() {
    let mut r = Reg::new();
    let a = named(&mut r, "a", 1);
    for _ in 1..accord_smithay::limits::MAX_PARTICIPANTS {
        assert!(r.duplicate(a).unwrap().is_some());
    }
    assert_eq!(
        r.duplicate(a),
        Err(accord_smithay::collections::Misuse::TooManyParticipants)
    );
}

#[test]
fn the_decision_sizes_the_buffers_and_the_ledger_charges_them() {
    let mut r = Reg::new();
    assert_eq!(r.total_charged(), 0);
    assert_eq!(r.charged(&7), 0);
    let a = named(&mut r, "player", 1);
    assert!(r.is_negotiating(a));
    r.bind(a);
    let mut wants = xrgb();
    wants.min_size = (64, 32);
    r.commit(a, wants);
    let res = r.resolve(&mut MemfdBackend, &mut ());
    let Outcome::Allocated(alloc) = &res[0].outcome else {
        panic!("{:?}", res[0].outcome)
    };
    assert_eq!((alloc.decision.width, alloc.decision.height), (64, 32));
    assert_eq!(alloc.buffers.len(), alloc.decision.buffer_count as usize);
    assert_eq!(alloc.generation, 1);
    assert!(r.charged(&1) > 0);
    assert_eq!(r.total_charged(), r.charged(&1));
    drop(res); // the last holder of the buffers
    assert_eq!(r.total_charged(), 0);
}

#[test]
fn a_bound_slot_blocks_until_it_commits() {
    let mut r = Reg::new();
    let a = named(&mut r, "player", 1);
    r.bind(a);
    assert!(r.resolve(&mut MemfdBackend, &mut ()).is_empty());
    r.commit(a, xrgb());
    assert_eq!(r.resolve(&mut MemfdBackend, &mut ()).len(), 1);
    assert!(
        r.resolve(&mut MemfdBackend, &mut ()).is_empty(),
        "resolved once"
    );
}

#[test]
fn expired_handles_are_no_longer_charged() {
    let mut r = Reg::new();
    let a = named(&mut r, "producer", 1);
    let b = r.duplicate(a).unwrap().unwrap();
    let _h = r.export(b, 1, Instant::now()).unwrap();
    assert_eq!(r.handles_of(&1), 1);
    r.expire_handles(Instant::now() + HANDLE_EXPIRY * 2);
    assert_eq!(r.handles_of(&1), 0);
}

// The collection's whole life (negotiating → allocated → closed).

/// One allocated collection of two participants; the outcome is returned
/// so the caller decides when the buffers' last holder goes.
fn allocated_pair(r: &mut Reg) -> (SlotId, SlotId, Outcome) {
    let a = named(r, "a", 1);
    let b = r.duplicate(a).unwrap().unwrap();
    for s in [a, b] {
        r.bind(s);
        r.commit(s, xrgb());
    }
    let outcome = r.resolve(&mut MemfdBackend, &mut ()).remove(0).outcome;
    assert!(matches!(outcome, Outcome::Allocated(_)));
    (a, b, outcome)
}

#[test]
fn an_allocated_collection_lives_until_its_participants_and_buffers_are_gone() {
    let mut r = Reg::new();
    let (a, b, outcome) = allocated_pair(&mut r);
    assert_eq!(r.live(), 1);
    assert_eq!(r.negotiating(), 0);
    assert_eq!(r.generation(a), Some(1));
    r.fail(a, "left");
    r.release(b);
    assert!(r.resolve(&mut MemfdBackend, &mut ()).is_empty());
    assert_eq!(r.live(), 1, "a buffer reference is still held");
    drop(outcome);
    assert!(r.resolve(&mut MemfdBackend, &mut ()).is_empty());
    assert_eq!(r.live(), 0, "closed with its last buffer reference");
    assert_eq!(r.generation(a), None);
    assert_eq!(r.total_charged(), 0);
}

#[test]
fn a_participant_leaving_after_allocation_revokes_nothing() {
    let mut r = Reg::new();
    let (a, b, outcome) = allocated_pair(&mut r);
    r.fail(a, "its client disconnected");
    assert!(
        r.resolve(&mut MemfdBackend, &mut ()).is_empty(),
        "no second outcome: b keeps its buffers"
    );
    let Outcome::Allocated(alloc) = &outcome else {
        unreachable!()
    };
    assert!(!alloc.buffers.is_empty());
    assert!(r.total_charged() > 0, "the memory is still held");
    assert_eq!(r.generation(b), Some(1));
    assert!(
        r.duplicate(b).unwrap().is_none(),
        "a participant holding buffers is no token to duplicate"
    );
    let late = match r.attach(b, "pid 3".into()) {
        Ok(accord_smithay::collections::Attached::Slot(s)) => s,
        other => panic!("a late join: {other:?}"),
    };
    assert!(
        r.duplicate(late).unwrap().is_some(),
        "a late token duplicates"
    );
}

#[test]
fn buffers_dropped_before_the_participants_leave_keep_the_collection() {
    let mut r = Reg::new();
    let (a, b, outcome) = allocated_pair(&mut r);
    drop(outcome);
    r.resolve(&mut MemfdBackend, &mut ());
    assert_eq!(
        r.live(),
        1,
        "two participants still hold collection objects"
    );
    r.fail(a, "left");
    r.fail(b, "left");
    r.resolve(&mut MemfdBackend, &mut ());
    assert_eq!(r.live(), 0);
}

#[test]
fn a_failed_collection_closes_at_once() {
    let mut r = Reg::new();
    let a = named(&mut r, "a", 1);
    r.fail(a, "gone");
    assert_eq!(r.resolve(&mut MemfdBackend, &mut ()).len(), 1);
    assert_eq!(r.live(), 0);
}

#[test]
fn default_names_are_unique_within_a_collection() {
    let mut r = Reg::new();
    let a = r.create("pid 31708".into(), 1);
    let b = r.duplicate(a).unwrap().unwrap();
    assert_eq!(r.name(a).as_deref(), Some("participant 0 of pid 31708"));
    assert_eq!(r.name(b).as_deref(), Some("participant 1 of pid 31708"));
    let c = r.duplicate(a).unwrap().unwrap();
    let handle = r.export(c, 1, Instant::now()).unwrap();
    assert_eq!(
        r.import(&handle, "pid 4242".into(), Instant::now()),
        Some(c)
    );
    assert_eq!(
        r.name(c).as_deref(),
        Some("participant 2 of pid 4242"),
        "the importer holds it now"
    );
    r.set_name(b, "decoder".into());
    assert_eq!(r.name(b).as_deref(), Some("decoder"));
}

/// The stall check costs what is due, not what waits: 10,000 negotiating
/// collections are not walked before their deadline, each is looked at
/// once when it passes (at most `MAX_STALL_CHECKS_PER_TURN` per turn), and
/// never again.
#[test]
fn stall_checks_visit_only_what_is_due() {
    let mut r = Reg::new();
    r.set_stall_warning(Duration::from_secs(5));
    let t0 = Instant::now();
    for i in 0..10_000u32 {
        r.create(format!("pid {i}"), i);
    }
    assert!(r.warn_stalled(t0).is_empty());
    assert_eq!(r.stall_visits(), 0, "nothing is due yet");
    let later = t0 + Duration::from_secs(6);
    let (mut warned, mut turns) = (0, 0);
    while r.has_due(later) {
        let n = r.warn_stalled(later).len();
        assert!(n <= MAX_STALL_CHECKS_PER_TURN, "one turn checked {n}");
        assert_eq!(r.stall_visits(), n);
        warned += n;
        turns += 1;
    }
    assert_eq!(warned, 10_000);
    assert_eq!(turns, 10_000usize.div_ceil(MAX_STALL_CHECKS_PER_TURN));
    assert!(r.warn_stalled(later + Duration::from_secs(60)).is_empty());
    assert_eq!(r.stall_visits(), 0, "each collection is checked once");
}

/// A burst of handles falling due together (a client exported thousands
/// and left) is expired in bounded turns: at most `MAX_EXPIRED_PER_TURN`
/// slots fail per call, oldest first, until none is due.
#[test]
fn handle_expiry_is_bounded_per_turn() {
    let mut r = Reg::new();
    r.set_budgets(Budgets {
        pending_handles: usize::MAX,
        ..Budgets::default()
    });
    r.set_stall_warning(Duration::from_secs(3600)); // only expiry is due
    let t0 = Instant::now();
    let total = 5_000usize;
    for c in 0..total / 50 {
        let root = r.create(format!("pid {c}"), c as u32);
        r.export(root, 1, t0).unwrap();
        for _ in 1..50 {
            let d = r.duplicate(root).unwrap().unwrap();
            r.export(d, 1, t0).unwrap();
        }
    }
    assert_eq!(r.pending_handles(), total);
    let later = t0 + HANDLE_EXPIRY;
    let mut turns = 0;
    while r.has_due(later) {
        let before = r.pending_handles();
        r.expire_handles(later);
        let expired = before - r.pending_handles();
        assert!(
            expired <= MAX_EXPIRED_PER_TURN,
            "one turn expired {expired}"
        );
        assert!(expired > 0, "a due turn makes progress");
        turns += 1;
    }
    assert_eq!(r.pending_handles(), 0);
    assert_eq!(turns, total.div_ceil(MAX_EXPIRED_PER_TURN));
}

#[test]
fn late_joins_count_present_slots_and_records_are_bounded() {
    use accord_smithay::collections::Attached;
    use accord_smithay::limits::{MAX_PARTICIPANTS, MAX_SLOT_RECORDS};
    let mut r = Reg::new();
    let root = named(&mut r, "producer", 1);
    r.bind(root);
    r.commit(root, xrgb());
    let resolved = r.resolve(&mut MemfdBackend::new(), &mut ());
    let Outcome::Allocated(_held) = &resolved[0].outcome else {
        panic!("allocated: {resolved:?}");
    };
    // Joins that come and go: only the slots present count toward 64.
    let mut joined = 1;
    while joined < MAX_SLOT_RECORDS {
        let Ok(Attached::Slot(late)) = r.attach(root, "pid 2".into()) else {
            panic!("join {joined} refused");
        };
        r.release(late); // left (destroyed before bind)
        joined += 1;
    }
    match r.attach(root, "pid 2".into()) {
        Ok(Attached::Refused(f)) => {
            assert_eq!(f.reason, FailureReason::QuotaExceeded, "{f}");
            assert!(f.message.contains("4096 participants over its life"), "{f}");
        }
        other => panic!("record {MAX_SLOT_RECORDS} + 1: {other:?}"),
    }
    // 64 present at once is still the limit.
    let mut r = Reg::new();
    let root = named(&mut r, "producer", 1);
    r.bind(root);
    r.commit(root, xrgb());
    let _ = r.resolve(&mut MemfdBackend::new(), &mut ());
    for _ in 1..MAX_PARTICIPANTS {
        assert!(matches!(
            r.attach(root, "pid 2".into()),
            Ok(Attached::Slot(_))
        ));
    }
    assert!(
        r.attach(root, "pid 2".into()).is_err(),
        "a 65th present slot"
    );
}
