//! Per-identity budgets over the wire (issue 21). The test server gives
//! each connection its own identity; budgets shared by the connections of
//! one process are tested against the real compositor binary
//! (`examples/tests/refcomp_*budget*.rs`).

use accord_client::{Accord, Constraints, FailureReason};
use accord_smithay::collections::Budgets;
use accord_tests::{xrgb_exact, TestServer};

type Outcome = Result<accord_client::Allocation, accord_client::Failure>;

fn outcome(accord: &Accord, c: &Constraints) -> (accord_client::Collection, Outcome) {
    let coll = accord.create_collection().bind();
    coll.commit(c);
    let o = coll.wait_allocated();
    (coll, o)
}

#[test]
fn a_client_over_its_buffer_fd_budget_fails_and_others_do_not() {
    let server = TestServer::builder()
        .budgets(Budgets {
            buffer_fds: 200,
            ..Budgets::default()
        })
        .start();
    let (_c1, hostile) = server.accord();
    let (_held, first) = outcome(&hostile, &xrgb_exact(1, 1, 128));
    first.expect("128 fds fit in 200");
    let (_refused, second) = outcome(&hostile, &xrgb_exact(1, 1, 128));
    let f = second.expect_err("256 fds do not");
    assert_eq!(f.reason, FailureReason::QuotaExceeded, "{f}");
    assert!(
        f.message.contains("buffer fd budget")
            && f.message.contains("already holds 128 of its 200"),
        "{f}"
    );
    let (_c2, other) = server.accord();
    let (_other_held, theirs) = outcome(&other, &xrgb_exact(1, 1, 128));
    theirs.expect("another client has its own budget");
}

#[test]
fn the_module_fd_budget_refuses_whoever_would_cross_it() {
    let server = TestServer::builder().max_buffer_fds(300).start();
    let (_c1, a) = server.accord();
    let (_c2, b) = server.accord();
    let (_ha, oa) = outcome(&a, &xrgb_exact(1, 1, 128));
    let (_hb, ob) = outcome(&b, &xrgb_exact(1, 1, 128));
    oa.expect("128 of 300");
    ob.expect("256 of 300");
    let (_c3, c) = server.accord();
    let (_hc, oc) = outcome(&c, &xrgb_exact(1, 1, 128));
    let f = oc.expect_err("384 > 300");
    assert_eq!(f.reason, FailureReason::QuotaExceeded, "{f}");
    assert!(
        f.message.contains("the compositor's buffer fd budget"),
        "{f}"
    );
}

#[test]
fn a_collection_over_the_collection_budget_fails_its_participants() {
    let server = TestServer::builder()
        .budgets(Budgets {
            collections: 2,
            ..Budgets::default()
        })
        .start();
    let (_c, a) = server.accord();
    let _open: Vec<_> = (0..2).map(|_| a.create_collection()).collect();
    let (_coll, over) = outcome(&a, &xrgb_exact(16, 16, 1));
    let f = over.expect_err("a third live collection");
    assert_eq!(f.reason, FailureReason::QuotaExceeded, "{f}");
    assert!(f.message.contains("collection budget"), "{f}");
}

#[test]
fn a_token_over_the_live_token_budget_fails_and_the_collection_goes_on() {
    let server = TestServer::builder()
        .budgets(Budgets {
            tokens: 3,
            ..Budgets::default()
        })
        .start();
    let (_c, a) = server.accord();
    let first = a.create_collection();
    let second = first.duplicate();
    let third = first.duplicate();
    let over = first.duplicate();
    a.roundtrip().expect("roundtrip");
    let f = over.failure().expect("a fourth live token");
    assert_eq!(f.reason, FailureReason::QuotaExceeded, "{f}");
    assert!(
        f.message.contains("live token budget") && f.message.contains("already holds 3 of its 3"),
        "{f}"
    );
    // Importing and creating are refused the same way; the refused
    // tokens still count until destroyed, so free them first below.
    let created = a.create_collection();
    a.roundtrip().expect("roundtrip");
    assert!(created.failure().is_some(), "a new collection over budget");
    drop((over, created));
    // The three live slots were untouched: they negotiate one buffer.
    let colls: Vec<_> = [first, second, third]
        .into_iter()
        .map(|t| t.bind())
        .collect();
    for c in &colls {
        c.commit(&xrgb_exact(4, 4, 1));
    }
    for c in &colls {
        c.wait_allocated()
            .expect("the budget spared the live tokens");
    }
    // Another client has its own budget.
    let (_c2, b) = server.accord();
    let theirs = b.create_collection();
    let _dup = theirs.duplicate();
    b.roundtrip().expect("roundtrip");
    assert_eq!(theirs.failure(), None);
}
