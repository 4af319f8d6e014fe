//! Token groups (`create_group`, protocol version 2) over real sockets: the
//! first child that negotiates with everyone else is allocated, the others'
//! participants get `not_selected`; a child whose participant failed is
//! skipped; the combination cap; nesting; a group abandoned before
//! `all_children_present`.

use accord_client::{Collection, Constraints, FailureReason, MOD_LINEAR};
use accord_tests::{xrgb_exact, TestServer, ARGB8888, XRGB8888};

fn inodes(a: &accord_client::Allocation) -> Vec<(u64, u64)> {
    a.buffers
        .iter()
        .map(|b| b.inode().expect("fstat"))
        .collect()
}

fn bind_named(token: accord_client::Token, name: &str) -> Collection {
    token.set_name(name);
    token.bind()
}

/// ARGB8888 only: shares no format with an XRGB8888-only display.
fn argb(w: u32, h: u32) -> Constraints {
    Constraints::new()
        .format(ARGB8888, MOD_LINEAR)
        .min_size(w, h)
}

#[test]
fn the_first_child_that_negotiates_is_selected() {
    let server = TestServer::start();
    let (_c, a) = server.accord();
    let root = a.create_collection();
    let group = root.duplicate().create_group().expect("version 2");
    let direct = bind_named(group.create_child(), "direct");
    let via_gpu = bind_named(group.create_child(), "via gpu");
    group.all_children_present();
    let display = bind_named(root, "display");
    display.commit(&xrgb_exact(64, 32, 2));
    direct.commit(&argb(64, 32));
    via_gpu.commit(&Constraints::new().format(XRGB8888, MOD_LINEAR).buffers(1));

    let shown = display.wait_allocated().expect("child 1 negotiates");
    let used = via_gpu.wait_allocated().expect("child 1 is selected");
    assert_eq!(inodes(&shown), inodes(&used), "the same buffers");
    assert_eq!(shown.buffers.len(), 3, "2 + the selected child's 1");
    let f = direct
        .wait_allocated()
        .expect_err("child 0 was not selected");
    assert_eq!(f.reason, FailureReason::NotSelected, "{f}");
    assert!(
        f.message.contains("selected child 1") && f.message.contains("in child 0"),
        "{f}"
    );
}

#[test]
fn an_earlier_child_is_preferred() {
    let server = TestServer::start();
    let (_c, a) = server.accord();
    let root = a.create_collection();
    let group = root.duplicate().create_group().expect("version 2");
    let first = bind_named(group.create_child(), "first");
    let second = bind_named(group.create_child(), "second");
    group.all_children_present();
    let display = bind_named(root, "display");
    display.commit(&xrgb_exact(64, 32, 1));
    // Both fit; the first asks for 4 buffers, the second for 1.
    first.commit(&Constraints::new().format(XRGB8888, MOD_LINEAR).buffers(4));
    second.commit(&Constraints::new().format(XRGB8888, MOD_LINEAR).buffers(1));
    let got = display.wait_allocated().expect("allocated");
    assert_eq!(got.buffers.len(), 5, "the first child's camping counts");
    first.wait_allocated().expect("the first child is selected");
    let f = second.wait_allocated().expect_err("not selected");
    assert_eq!(f.reason, FailureReason::NotSelected, "{f}");
}

#[test]
fn a_child_whose_participant_failed_is_skipped() {
    let server = TestServer::start();
    let (_c, a) = server.accord();
    let root = a.create_collection();
    let group = root.duplicate().create_group().expect("version 2");
    let child0 = group.create_child();
    let leaver_token = child0.duplicate();
    let stayer = bind_named(child0, "stayer");
    let leaver = bind_named(leaver_token, "leaver");
    let fallback = bind_named(group.create_child(), "fallback");
    group.all_children_present();
    let display = bind_named(root, "display");
    display.commit(&xrgb_exact(64, 32, 1));
    stayer.commit(&Constraints::new().format(XRGB8888, MOD_LINEAR));
    fallback.commit(&Constraints::new().format(XRGB8888, MOD_LINEAR));
    // A non-dispensable participant of child 0 leaves before committing:
    // child 0 is out, the collection goes on with child 1.
    drop(leaver);
    display.wait_allocated().expect("child 1 is allocated");
    fallback.wait_allocated().expect("child 1 is selected");
    let f = stayer.wait_allocated().expect_err("child 0 is out");
    assert_eq!(f.reason, FailureReason::NotSelected, "{f}");
    assert!(
        f.message.contains("child 0") && f.message.contains("'leaver' failed"),
        "{f}"
    );
}

#[test]
fn a_group_with_every_child_failed_fails_the_collection() {
    let server = TestServer::start();
    let (_c, a) = server.accord();
    let root = a.create_collection();
    let group_token = root.duplicate();
    group_token.set_name("paths");
    let group = group_token.create_group().expect("version 2");
    let only = bind_named(group.create_child(), "only path");
    group.all_children_present();
    let display = bind_named(root, "display");
    display.commit(&xrgb_exact(64, 32, 1));
    drop(only);
    let f = display.wait_allocated().expect_err("no child is left");
    assert_eq!(f.reason, FailureReason::ParticipantFailed, "{f}");
    assert!(f.message.contains("'paths'"), "{f}");
}

#[test]
fn a_group_abandoned_before_all_children_present_fails_like_its_slot() {
    let server = TestServer::start();
    let (_c, a) = server.accord();
    let root = a.create_collection();
    let group = root.duplicate().create_group().expect("version 2");
    let child = bind_named(group.create_child(), "child");
    drop(group); // no all_children_present
    let display = bind_named(root, "display");
    display.commit(&xrgb_exact(64, 32, 1));
    child.commit(&Constraints::new().format(XRGB8888, MOD_LINEAR));
    let f = display.wait_allocated().expect_err("the group failed");
    assert_eq!(f.reason, FailureReason::ParticipantFailed, "{f}");
    assert!(f.message.contains("all_children_present"), "{f}");
}

#[test]
fn nested_groups_follow_the_documented_order() {
    let server = TestServer::start();
    let (_c, a) = server.accord();
    let root = a.create_collection();
    let outer = root.duplicate().create_group().expect("version 2");
    let no = bind_named(outer.create_child(), "outer 0");
    let inner = outer.create_child().create_group().expect("version 2");
    let inner0 = bind_named(inner.create_child(), "inner 0");
    let inner1 = bind_named(inner.create_child(), "inner 1");
    inner.all_children_present();
    outer.all_children_present();
    let display = bind_named(root, "display");
    display.commit(&xrgb_exact(64, 32, 1));
    // Combinations: (0, -), (1, 0), (1, 1). Only inner 1 fits.
    no.commit(&argb(64, 32));
    inner0.commit(&argb(64, 32));
    inner1.commit(&Constraints::new().format(XRGB8888, MOD_LINEAR));
    display.wait_allocated().expect("(1, 1) negotiates");
    inner1.wait_allocated().expect("inner 1 is selected");
    for (c, name) in [(&no, "outer 0"), (&inner0, "inner 0")] {
        let f = c.wait_allocated().expect_err(name);
        assert_eq!(f.reason, FailureReason::NotSelected, "{name}: {f}");
    }
}

#[test]
fn more_than_64_combinations_fail_with_invalid_constraint() {
    let server = TestServer::start();
    let (_c, a) = server.accord();
    let root = a.create_collection();
    // 8 × 8 × 2 = 128 combinations; the children are released tokens.
    let mut groups = Vec::new();
    for children in [8, 8, 2] {
        let g = root.duplicate().create_group().expect("version 2");
        for _ in 0..children {
            drop(g.create_child());
        }
        g.all_children_present();
        groups.push(g);
    }
    let display = bind_named(root, "display");
    display.commit(&xrgb_exact(64, 32, 1));
    let f = display.wait_allocated().expect_err("over the cap");
    assert_eq!(f.reason, FailureReason::InvalidConstraint, "{f}");
    assert!(f.message.contains("more than 64 combinations"), "{f}");
}

#[test]
fn the_last_combination_at_the_cap_is_found() {
    let server = TestServer::start();
    let (_c, a) = server.accord();
    let root = a.create_collection();
    // 8 × 8 = 64 combinations; only the last child of each group fits.
    let mut keep = Vec::new();
    for g in 0..2 {
        let group = root.duplicate().create_group().expect("version 2");
        for i in 0..8 {
            let c = bind_named(group.create_child(), &format!("g{g} c{i}"));
            c.commit(&if i == 7 {
                Constraints::new().format(XRGB8888, MOD_LINEAR)
            } else {
                argb(64, 32)
            });
            keep.push(c);
        }
        group.all_children_present();
    }
    let display = bind_named(root, "display");
    display.commit(&xrgb_exact(64, 32, 1));
    display.wait_allocated().expect("(7, 7) negotiates");
    let selected: Vec<bool> = keep.iter().map(|c| c.wait_allocated().is_ok()).collect();
    let expected: Vec<bool> = (0..16).map(|i| i % 8 == 7).collect();
    assert_eq!(selected, expected);
}
