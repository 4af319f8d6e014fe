//! Renegotiation in the state machine, without Wayland: generations, who is
//! told what, the quota charged for both generations, and the rate bound
//! (counted, not timed). The wire side is in `tests/tests/renegotiation.rs`.

use std::sync::Arc;
use std::time::Duration;

use accord_engine::Constraints;
use accord_smithay::backend::memfd::MemfdBackend;
use accord_smithay::collections::{
    Allocation, Attached, Budgets, Collections, FailureReason, Outcome, Resolution, SlotId,
    MAX_LIVE_GENERATIONS,
};

mod common;
use common::sized;

type Reg = Collections<u32>;

/// Producer and consumer, allocated at `w`×`h`, with renegotiation not
/// rate-limited (tests of the bound set their own interval).
fn pair(r: &mut Reg, w: u32, h: u32) -> (SlotId, SlotId, Arc<Allocation>) {
    r.set_min_generation_interval(Duration::ZERO);
    let a = r.create("pid 1".into(), 1);
    r.set_name(a, "producer".into());
    let b = r.duplicate(a).unwrap().unwrap();
    r.set_name(b, "consumer".into());
    for s in [a, b] {
        r.bind(s);
        r.commit(s, sized(w, h));
    }
    let mut res = resolve(r);
    assert_eq!(res.len(), 1);
    let Outcome::Allocated(first) = res.remove(0).outcome else {
        panic!("no first generation")
    };
    (a, b, first)
}

fn resolve(r: &mut Reg) -> Vec<Resolution> {
    r.resolve(&mut MemfdBackend, &mut ())
}

fn bytes(a: &Allocation) -> u64 {
    a.buffers.iter().map(|b| b.size_bytes).sum()
}

#[test]
fn a_recommit_that_changes_the_decision_makes_a_new_generation_for_every_holder() {
    let mut r = Reg::new();
    let (a, b, first) = pair(&mut r, 1280, 720);
    assert_eq!(first.generation, 1);
    let one = bytes(&first);
    assert_eq!(r.charged(&1), one);
    assert!(r.recommit(a, sized(1920, 1080)));
    let res = resolve(&mut r);
    assert_eq!(res.len(), 1, "{res:?}");
    assert_eq!(res[0].slots, vec![a, b], "every holder gets the generation");
    let Outcome::Allocated(second) = &res[0].outcome else {
        panic!("{:?}", res[0].outcome)
    };
    assert_eq!(second.generation, 2);
    assert_eq!(
        (second.decision.width, second.decision.height),
        (1920, 1080)
    );
    assert_eq!(r.generation(a), Some(2));
    assert_eq!(r.alive_generations(a), 2);
    let two = bytes(second);
    assert_eq!(r.charged(&1), one + two, "both generations are charged");
    drop(first); // the last holder of generation 1 moved on
    resolve(&mut r);
    assert_eq!(r.alive_generations(a), 1);
    assert_eq!(r.charged(&1), two, "generation 1's bytes came back");
    drop(res);
    resolve(&mut r);
    assert_eq!(r.charged(&1), 0);
    assert_eq!(r.total_charged(), 0);
}

#[test]
fn a_recommit_with_the_same_decision_allocates_nothing() {
    let mut r = Reg::new();
    let (a, b, first) = pair(&mut r, 64, 64);
    let mut same = sized(64, 64);
    same.usage = accord_engine::Usage::SAMPLE; // usage alone changes no memory
    assert!(r.recommit(b, same));
    let res = resolve(&mut r);
    assert_eq!(res.len(), 1);
    assert_eq!(res[0].slots, vec![b], "only the proposer hears");
    assert!(matches!(res[0].outcome, Outcome::Kept { generation: 1 }));
    assert_eq!(r.generation(a), Some(1));
    assert_eq!(r.alive_generations(a), 1);
    assert_eq!(r.charged(&1), bytes(&first));
}

#[test]
fn a_failed_renegotiation_keeps_the_current_generation_and_drops_the_change() {
    let mut r = Reg::new();
    let (a, b, first) = pair(&mut r, 64, 64);
    let mut small = sized(64, 64);
    small.max_size = (100, 100);
    assert!(r.recommit(b, small));
    assert!(matches!(resolve(&mut r)[0].outcome, Outcome::Kept { .. }));
    // The producer asks for more than the consumer's maximum.
    assert!(r.recommit(a, sized(200, 200)));
    let res = resolve(&mut r);
    assert_eq!(res[0].slots, vec![a, b], "every holder hears why");
    let Outcome::RenegotiationFailed { failed, generation } = &res[0].outcome else {
        panic!("{:?}", res[0].outcome)
    };
    assert_eq!(*generation, 1);
    assert_eq!(failed.reason, FailureReason::SizeConflict);
    assert!(failed.message.contains("consumer"), "{}", failed.message);
    assert_eq!(r.generation(a), Some(1));
    assert_eq!(
        r.charged(&1),
        bytes(&first),
        "nothing allocated, nothing freed"
    );
    // The failed change was dropped: the producer is at 64x64 again, and
    // the consumer's next change is solved without the 200x200.
    assert!(r.recommit(b, sized(64, 64)));
    assert!(matches!(resolve(&mut r)[0].outcome, Outcome::Kept { .. }));
}

#[test]
fn a_new_generation_over_the_quota_fails_and_keeps_the_current_one() {
    let mut r = Reg::new();
    let (a, _b, first) = pair(&mut r, 256, 256);
    let one = bytes(&first);
    // Room for one generation of this size and a bit, not for two.
    r.set_budgets(Budgets {
        bytes: one + one / 2,
        ..r.budgets()
    });
    assert!(r.recommit(a, sized(256, 260)));
    let res = resolve(&mut r);
    let Outcome::RenegotiationFailed { failed, .. } = &res[0].outcome else {
        panic!("{:?}", res[0].outcome)
    };
    assert_eq!(failed.reason, FailureReason::QuotaExceeded);
    assert!(failed.message.contains("byte quota"), "{}", failed.message);
    assert_eq!(r.charged(&1), one);
    assert_eq!(r.generation(a), Some(1));
}

#[test]
fn late_participants_count_in_a_re_solve() {
    let mut r = Reg::new();
    let (a, _b, _first) = pair(&mut r, 64, 64);
    let Ok(Attached::Slot(late)) = r.attach(a, "pid 3".into()) else {
        panic!("late join")
    };
    r.set_name(late, "viewer".into());
    r.bind(late);
    let mut viewer = sized(64, 64);
    viewer.max_size = (128, 128);
    r.commit(late, viewer);
    let res = resolve(&mut r);
    assert!(matches!(res[0].outcome, Outcome::Allocated(_)), "joined");
    assert!(r.recommit(a, sized(256, 256)));
    let res = resolve(&mut r);
    let Outcome::RenegotiationFailed { failed, .. } = &res[0].outcome else {
        panic!("{:?}", res[0].outcome)
    };
    assert!(failed.message.contains("viewer"), "{}", failed.message);
    assert_eq!(res[0].slots.len(), 3, "the late participant holds too");
}

#[test]
fn a_thousand_toggles_coalesce_into_one_generation() {
    let mut r = Reg::new();
    let (a, b, _first) = pair(&mut r, 1280, 720);
    r.set_min_generation_interval(Duration::from_secs(3600));
    let mut told = 0;
    for i in 0..1001 {
        let size = if i % 2 == 0 {
            (1920, 1080)
        } else {
            (1280, 720)
        };
        assert!(r.recommit(a, sized(size.0, size.1)));
        told += resolve(&mut r).len();
    }
    assert_eq!(told, 0, "held back by the interval");
    assert_eq!(r.generation(a), Some(1));
    assert!(r.renegotiation_pending(a));
    assert!(r.next_renegotiation().is_some(), "a deadline is queued");
    // The interval passes (here: shrinks to nothing): one re-solve, with
    // the last change.
    r.set_min_generation_interval(Duration::ZERO);
    let res = resolve(&mut r);
    assert_eq!(res.len(), 1);
    let Outcome::Allocated(second) = &res[0].outcome else {
        panic!("{:?}", res[0].outcome)
    };
    assert_eq!(second.generation, 2);
    assert_eq!(second.decision.width, 1920);
    assert_eq!(res[0].slots, vec![a, b]);
    assert!(!r.renegotiation_pending(a));
    assert!(resolve(&mut r).is_empty(), "nothing more");
}

#[test]
fn a_toggle_undone_before_the_re_solve_allocates_nothing() {
    let mut r = Reg::new();
    let (a, _b, _first) = pair(&mut r, 1280, 720);
    r.set_min_generation_interval(Duration::from_secs(3600));
    r.recommit(a, sized(1920, 1080));
    r.recommit(a, sized(1280, 720));
    assert!(resolve(&mut r).is_empty());
    r.set_min_generation_interval(Duration::ZERO);
    let res = resolve(&mut r);
    assert!(matches!(res[0].outcome, Outcome::Kept { generation: 1 }));
}

#[test]
fn at_most_three_generations_live_at_once() {
    let mut r = Reg::new();
    let (a, _b, first) = pair(&mut r, 64, 64);
    let mut held = vec![first];
    for i in 0..10u32 {
        r.recommit(a, sized(64 + 8 * (i + 1), 64));
        for res in resolve(&mut r) {
            if let Outcome::Allocated(g) = res.outcome {
                held.push(g);
            }
        }
    }
    assert_eq!(held.len(), MAX_LIVE_GENERATIONS, "the cap holds");
    assert_eq!(r.alive_generations(a), MAX_LIVE_GENERATIONS);
    assert!(r.renegotiation_pending(a), "the last change waits");
    held.remove(0); // generation 1 drains
    let res = resolve(&mut r);
    let Outcome::Allocated(next) = &res[0].outcome else {
        panic!("{res:?}")
    };
    assert_eq!(next.generation, 4);
    assert_eq!(next.decision.width, 64 + 80, "the last change, coalesced");
}

/// ROUND2: a re-solve works within the group child selected at
/// allocation; the other children never come back.
#[test]
fn a_re_solve_stays_within_the_selected_group_child() {
    let mut r = Reg::new();
    r.set_min_generation_interval(Duration::ZERO);
    let producer = r.create("pid 1".into(), 1);
    r.set_name(producer, "producer".into());
    let slot = r.duplicate(producer).unwrap().unwrap();
    let group = r.create_group(slot).unwrap().unwrap();
    let wide = r.create_child(group).unwrap().unwrap();
    let narrow = r.create_child(group).unwrap().unwrap();
    r.set_name(narrow, "narrow".into());
    r.all_children_present(group);
    for (s, c) in [
        (producer, sized(64, 64)),
        (wide, sized(64, 64)),
        (narrow, {
            let mut c = sized(64, 64);
            c.max_size = (100, 100);
            c
        }),
    ] {
        r.bind(s);
        r.commit(s, c);
    }
    let res = resolve(&mut r);
    let Some(Outcome::Allocated(_first)) = res
        .iter()
        .find(|x| x.slots.contains(&producer))
        .map(|x| &x.outcome)
    else {
        panic!("{res:?}")
    };
    // Child 0 ("wide") was chosen; "narrow" got not_selected. A size above
    // narrow's maximum re-solves fine: narrow takes no part any more.
    assert!(r.recommit(producer, sized(256, 256)));
    let res = resolve(&mut r);
    assert_eq!(res[0].slots, vec![producer, wide], "{res:?}");
    let Outcome::Allocated(second) = &res[0].outcome else {
        panic!("{res:?}")
    };
    assert_eq!((second.generation, second.decision.width), (2, 256));
}

/// `sized` with a camping count: the compositor's participant camps more
/// buffers on direct scanout than when composited.
fn camping(w: u32, h: u32, n: u32) -> Constraints {
    let mut c = sized(w, h);
    c.buffers.camping = n;
    c
}

fn only_generation(res: &[Resolution]) -> &Allocation {
    assert_eq!(res.len(), 1, "{res:?}");
    match &res[0].outcome {
        Outcome::Allocated(a) => a,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_held_change_and_the_clients_answer_make_one_generation() {
    let mut r = Reg::new();
    let (producer, compositor, _first) = pair(&mut r, 1280, 720);
    r.set_answer_window(Duration::from_secs(3600));
    // Fullscreen: the compositor camps 3 and announces 1920×1080 with a
    // configure; nothing is solved before the client answers.
    assert!(r.recommit_held(compositor, camping(1280, 720, 3)));
    assert!(r.renegotiation_held(compositor));
    assert!(resolve(&mut r).is_empty(), "held for the answer");
    assert_eq!(r.generation(producer), Some(1));
    // The answer: the producer's re-commit at the new size.
    assert!(r.recommit(producer, sized(1920, 1080)));
    assert!(!r.renegotiation_held(compositor));
    let res = resolve(&mut r);
    let second = only_generation(&res);
    assert_eq!(second.generation, 2);
    assert_eq!(second.decision.width, 1920);
    assert_eq!(second.decision.buffer_count, 5, "both changes in one solve");
    assert_eq!(res[0].slots, vec![producer, compositor]);
    assert!(resolve(&mut r).is_empty(), "one generation, not two");
}

#[test]
fn a_released_hold_is_solved_at_once() {
    let mut r = Reg::new();
    let (producer, compositor, _first) = pair(&mut r, 1280, 720);
    r.set_answer_window(Duration::from_secs(3600));
    assert!(r.recommit_held(compositor, camping(1280, 720, 3)));
    assert!(resolve(&mut r).is_empty());
    // The client applied the configure without re-committing.
    assert!(r.release_hold(compositor));
    assert!(!r.release_hold(compositor), "nothing held any more");
    let res = resolve(&mut r);
    let second = only_generation(&res);
    assert_eq!(second.generation, 2);
    assert_eq!(
        (second.decision.width, second.decision.buffer_count),
        (1280, 5)
    );
    assert_eq!(res[0].slots, vec![producer, compositor]);
}

#[test]
fn a_hold_lasts_no_longer_than_the_answer_window() {
    let mut r = Reg::new();
    let (producer, compositor, _first) = pair(&mut r, 1280, 720);
    r.set_answer_window(Duration::from_millis(20));
    assert!(r.recommit_held(compositor, camping(1280, 720, 3)));
    assert!(resolve(&mut r).is_empty());
    assert!(
        r.next_renegotiation().is_some(),
        "the window's end is queued"
    );
    std::thread::sleep(Duration::from_millis(30));
    // A second toggle meanwhile keeps the first deadline: it cannot hold
    // the collection for ever.
    assert!(r.recommit_held(compositor, camping(1280, 720, 4)));
    r.expire_handles(std::time::Instant::now());
    let res = resolve(&mut r);
    let second = only_generation(&res);
    assert_eq!((second.generation, second.decision.buffer_count), (2, 6));
    assert_eq!(r.generation(producer), Some(2));
    assert!(!r.renegotiation_held(compositor));
}

#[test]
fn the_holders_own_second_change_is_no_answer() {
    let mut r = Reg::new();
    let (_producer, compositor, _first) = pair(&mut r, 1280, 720);
    r.set_answer_window(Duration::from_secs(3600));
    assert!(r.recommit_held(compositor, camping(1280, 720, 3)));
    assert!(r.recommit(compositor, camping(1280, 720, 4)));
    assert!(
        r.renegotiation_held(compositor),
        "only another participant answers"
    );
    assert!(resolve(&mut r).is_empty());
}
