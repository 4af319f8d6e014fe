//! Unit tests that look at the table's private bookkeeping.

use super::*;

/// Export, import, export again on one slot: the bookkeeping of
/// redeemed keys stays bounded (compacted), nothing grows per cycle.
#[test]
fn export_import_cycles_keep_bookkeeping_bounded() {
    let mut r = Collections::<u32>::new();
    let now = Instant::now();
    let root = r.create("a".into(), 1);
    let slot = r.duplicate(root).unwrap().unwrap();
    for _ in 0..10_000 {
        let h = r.export(slot, 1, now).unwrap();
        assert_eq!(r.import(&h, "pid 2".into(), now), Some(slot));
    }
    assert!(r.handles.queue_len() <= 64 + 1, "{}", r.handles.queue_len());
    let coll = &r.table[&root.collection];
    assert!(
        coll.handles.len() <= 2 * MAX_PARTICIPANTS,
        "{}",
        coll.handles.len()
    );
    assert_eq!(r.handles.len(), 0);
}
