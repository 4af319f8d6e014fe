//! Issue 21 item 3: the cost of 10⁵ pending handles to the compositor's
//! event loop and memory.
//!
//! **Deadline queue, in process.** `accord_smithay::collections::
//! Collections<u32>` (the module's table, generic over the owner) is filled
//! the way a reconnecting client fills it: collections of `per_collection`
//! slots (a root token and its duplicates), every slot exported, the
//! handles charged to a new owner every `per_owner` handles (one owner per
//! connection). One maintenance turn is what the module's timer runs once
//! per period (`BufferCollectionState::maintain`): `expire_handles(now)`
//! then `warn_stalled(now)`; the `resolve` that follows in the same
//! event-loop turn (closing the collections that failed, dropping their
//! other handles) is timed beside it. `now` is chosen on the fill's own
//! timeline (the export instants are recorded), so nothing waits:
//!
//! - (a) nothing due: the turn just after the fill;
//! - (b) 1 % due: turns at the expiry of handle n/100, 2n/100, … (each
//!   turn finds the next 1 % of handles past their expiry; the stall
//!   threshold is set to the expiry so the collections' warnings fall due
//!   with their handles);
//! - (c) everything due at once: a second fill, then one turn a full
//!   expiry after its last export (the worst case: it walks all of them);
//! - (d) every collection's stall warning at once: the same second fill
//!   with the default thresholds (5 s stall, 60 s expiry), one turn 5 s
//!   after the last collection was created (before (c)).
//!
//! **Baseline, same run.** The v1 sweep (before `033f1d8`): a map of every
//! pending handle walked in full each turn, each one's age checked, the
//! expired ones removed and their slots failed in a table of the same
//! shape (no handles of its own), plus a walk over every collection's age
//! for the stall warning. Same handle count, same key length, same `now`s.
//!
//! **Memory per pending handle.** This process's `VmRSS` before and after
//! the first fill, over the handles created: what a handle costs with its
//! share of the collection it carries a slot of (1/`per_collection`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use accord_smithay::backend::memfd::MemfdBackend;
use accord_smithay::collections::{Collections, SlotId};

use crate::stats::{median, quantile};

pub struct Options {
    pub pending: usize,
    pub per_collection: usize,
    pub per_owner: usize,
    /// 1 % turns measured in (b).
    pub steps: usize,
    /// Also over real sockets, with this handle expiry (`None`: skip).
    pub socket_expiry: Option<Duration>,
}

type Table = Collections<u32>;

/// One handle of a fill: its slot, owner and export instant.
#[derive(Clone, Copy)]
struct Exported {
    slot: SlotId,
    owner: u32,
    at: Instant,
}

/// Create the collections and export every slot (`export`), or only
/// create them (the baseline's table); `out` is filled in place so that
/// its memory is resident before the RSS is read.
fn fill(
    table: &mut Table,
    opts: &Options,
    export: bool,
    out: &mut [Exported],
) -> Result<(), String> {
    // The queue is measured, not the per-client budgets: raise them, as an
    // embedder would.
    table.set_budgets(accord_smithay::collections::Budgets {
        pending_handles: usize::MAX,
        collections: usize::MAX,
        ..Default::default()
    });
    table.set_max_pending_handles(usize::MAX);
    let n = out.len();
    let mut i = 0;
    while i < n {
        let owner = (i / opts.per_owner) as u32;
        let root = table.create(format!("pid {owner}"), owner);
        let k = opts.per_collection.min(n - i);
        let mut slots = Vec::with_capacity(k);
        slots.push(root);
        for _ in 1..k {
            let s = table
                .duplicate(root)
                .map_err(|e| format!("duplicate: {e:?}"))?
                .ok_or("duplicate: the collection closed")?;
            slots.push(s);
        }
        for slot in slots {
            let owner = (i / opts.per_owner) as u32;
            let at = Instant::now();
            if export {
                table
                    .export(slot, owner, at)
                    .map_err(|e| format!("export: {e}"))?;
            }
            out[i] = Exported { slot, owner, at };
            i += 1;
        }
    }
    Ok(())
}

/// The v1 sweep: every handle's age, every collection's age, each turn.
struct Naive {
    handles: HashMap<String, Exported>,
    per_owner: HashMap<u32, usize>,
    /// Collection id, creation instant (its first export here), warned.
    collections: Vec<(u64, Instant, bool)>,
    table: Table,
    expiry: Duration,
    stall: Duration,
}

impl Naive {
    /// A table of the same shape as the one `real` describes, and a map of
    /// `real`'s handles (same slots, owners and export instants).
    fn new(
        opts: &Options,
        real: &[Exported],
        expiry: Duration,
        stall: Duration,
    ) -> Result<Naive, String> {
        let mut table = Table::new();
        let mut ex = vec![placeholder(); real.len()];
        fill(&mut table, opts, false, &mut ex)?;
        for (e, r) in ex.iter_mut().zip(real) {
            if e.slot != r.slot || e.owner != r.owner {
                return Err("the baseline's table differs from the measured one".into());
            }
            e.at = r.at;
        }
        let mut handles = HashMap::with_capacity(ex.len());
        let mut per_owner = HashMap::new();
        let mut collections: Vec<(u64, Instant, bool)> = Vec::new();
        for (i, e) in ex.iter().enumerate() {
            // 64 characters, like a real handle.
            let key = format!(
                "{:064x}",
                (i as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c)
            );
            handles.insert(key, *e);
            *per_owner.entry(e.owner).or_default() += 1;
            if collections.last().is_none_or(|c| c.0 != e.slot.collection) {
                collections.push((e.slot.collection, e.at, false));
            }
        }
        Ok(Naive {
            handles,
            per_owner,
            collections,
            table,
            expiry,
            stall,
        })
    }

    /// One turn; returns the handles expired.
    fn maintain(&mut self, now: Instant) -> usize {
        let expired: Vec<String> = self
            .handles
            .iter()
            .filter(|(_, h)| now.saturating_duration_since(h.at) >= self.expiry)
            .map(|(k, _)| k.clone())
            .collect();
        let n = expired.len();
        for key in expired {
            if let Some(h) = self.handles.remove(&key) {
                if let Some(c) = self.per_owner.get_mut(&h.owner) {
                    *c -= 1;
                    if *c == 0 {
                        self.per_owner.remove(&h.owner);
                    }
                }
                self.table
                    .fail(h.slot, "its exported handle expired before import");
            }
        }
        for (id, created, warned) in &mut self.collections {
            if !*warned && now.saturating_duration_since(*created) >= self.stall {
                let root = SlotId {
                    collection: *id,
                    index: 0,
                };
                if self.table.is_negotiating(root) {
                    *warned = true;
                }
            }
        }
        n
    }
}

fn placeholder() -> Exported {
    Exported {
        slot: SlotId {
            collection: 0,
            index: 0,
        },
        owner: 0,
        at: Instant::now(),
    }
}

/// Resident set of this process, bytes (`/proc/self/status` `VmRSS`).
fn rss() -> Result<u64, String> {
    let text = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| "no VmRSS in /proc/self/status".into())
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// What one maintenance turn did and cost.
struct Turn {
    /// `expire_handles` + `warn_stalled`, µs.
    maintain: f64,
    /// The `resolve` after it, µs.
    resolve: f64,
    /// Handles `expire_handles` took out.
    expired: usize,
    /// Handles `resolve` dropped with the collections it closed.
    dropped: usize,
    /// Stall warnings.
    warned: usize,
}

/// One maintenance turn as `BufferCollectionState::maintain` runs it, and
/// the resolve after it.
fn turn(table: &mut Table, now: Instant) -> Turn {
    let before = table.pending_handles();
    let t0 = Instant::now();
    table.expire_handles(now);
    let warned = table.warn_stalled(now).len();
    let t1 = Instant::now();
    let middle = table.pending_handles();
    let resolutions = table.resolve(&mut MemfdBackend::new(), &mut ());
    let t2 = Instant::now();
    drop(resolutions);
    Turn {
        maintain: us(t1 - t0),
        resolve: us(t2 - t1),
        expired: before - middle,
        dropped: middle - table.pending_handles(),
        warned,
    }
}

/// Turns until nothing is due: what the module's timer does with a
/// backlog (the per-turn bounds leave the rest for the next turn).
struct Drain {
    turns: usize,
    expired: usize,
    dropped: usize,
    warned: usize,
    /// The longest turn, maintain + resolve, µs.
    worst: f64,
    /// All turns, µs.
    total: f64,
}

fn drain(table: &mut Table, now: Instant) -> Drain {
    let mut d = Drain {
        turns: 0,
        expired: 0,
        dropped: 0,
        warned: 0,
        worst: 0.0,
        total: 0.0,
    };
    loop {
        let t = turn(table, now);
        d.turns += 1;
        d.expired += t.expired;
        d.dropped += t.dropped;
        d.warned += t.warned;
        d.worst = d.worst.max(t.maintain + t.resolve);
        d.total += t.maintain + t.resolve;
        if !table.has_due(now) {
            return d;
        }
    }
}

pub fn run(opts: &Options) -> Result<(), String> {
    let n = opts.pending;
    if n < 100 || opts.per_collection == 0 || opts.per_owner == 0 {
        return Err("handles needs --pending >= 100 and non-zero shapes".into());
    }
    let expiry = accord_smithay::limits::HANDLE_EXPIRY;
    println!(
        "handles: {n} pending, {} per collection (every slot exported), {} per owner ({} owners), expiry {} s",
        opts.per_collection,
        opts.per_owner,
        n.div_ceil(opts.per_owner),
        expiry.as_secs()
    );

    // Fill 1, with the memory measured around it.
    let mut ex = vec![placeholder(); n];
    let mut table = Table::new();
    table.set_stall_warning(expiry); // (b): warnings fall due with handles
    let rss0 = rss()?;
    let t0 = Instant::now();
    fill(&mut table, opts, true, &mut ex)?;
    let fill_time = t0.elapsed();
    let rss1 = rss()?;
    let pending = table.pending_handles();
    if pending != n {
        return Err(format!("filled {pending} pending handles, wanted {n}"));
    }
    let per_handle = rss1.saturating_sub(rss0) as f64 / n as f64;
    println!(
        "fill: {pending} pending handles in {:.0} ms; RSS {} -> {} KiB: memory per pending handle {per_handle:.0} B (with 1/{} of its collection)",
        fill_time.as_secs_f64() * 1e3,
        rss0 / 1024,
        rss1 / 1024,
        opts.per_collection
    );

    let mut naive = Naive::new(opts, &ex, expiry, expiry)?;
    let last = ex[n - 1].at;

    // (a) nothing due.
    let now_a = last + Duration::from_millis(1);
    let mut a = Vec::new();
    for _ in 0..201 {
        let t = turn(&mut table, now_a);
        if t.expired + t.dropped != 0 || t.warned != 0 {
            return Err(format!(
                "(a) expired {} and warned {}, wanted none",
                t.expired + t.dropped,
                t.warned
            ));
        }
        a.push(t.maintain);
    }
    let mut a_naive = Vec::new();
    for _ in 0..11 {
        let t0 = Instant::now();
        let gone = naive.maintain(now_a);
        a_naive.push(us(t0.elapsed()));
        if gone != 0 {
            return Err(format!("(a) naive expired {gone}"));
        }
    }
    println!(
        "(a) nothing due, {} pending: turn median {:.2} µs, max {:.2} µs (201 turns); naive sweep median {:.0} µs, max {:.0} µs (11 turns): ratio naive/queue {:.0}",
        table.pending_handles(),
        median(&a),
        quantile(&a, 1.0),
        median(&a_naive),
        quantile(&a_naive, 1.0),
        median(&a_naive) / median(&a)
    );

    // (b) successive 1 % turns.
    let steps = opts.steps.clamp(1, 100);
    let (mut b, mut b_res, mut b_naive) = (Vec::new(), Vec::new(), Vec::new());
    let (mut b_expired, mut b_dropped, mut b_warned, mut b_naive_gone) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for k in 1..=steps {
        let now = ex[k * n / 100 - 1].at + expiry;
        let t = turn(&mut table, now);
        b.push(t.maintain);
        b_res.push(t.resolve);
        b_expired.push(t.expired as f64);
        b_dropped.push(t.dropped as f64);
        b_warned.push(t.warned as f64);
        let t0 = Instant::now();
        b_naive_gone.push(naive.maintain(now) as f64);
        b_naive.push(us(t0.elapsed()));
    }
    println!(
        "(b) 1 % due, {steps} successive turns: expired per turn median {:.0} (naive: {:.0}), dropped by resolve {:.0}, stall warnings {:.0}; turn median {:.0} µs, max {:.0} µs, + resolve median {:.0} µs, max {:.0} µs; naive sweep median {:.0} µs, max {:.0} µs: ratio naive/queue {:.1}",
        median(&b_expired),
        median(&b_naive_gone),
        median(&b_dropped),
        median(&b_warned),
        median(&b),
        quantile(&b, 1.0),
        median(&b_res),
        quantile(&b_res, 1.0),
        median(&b_naive),
        quantile(&b_naive, 1.0),
        median(&b_naive) / median(&b)
    );
    drop(naive);
    drop(table);

    // Fill 2, default thresholds: (d) then (c).
    let mut table = Table::new();
    fill(&mut table, opts, true, &mut ex)?;
    let stall = table.stall_warning();
    let last = ex[n - 1].at;
    let d = drain(&mut table, last + stall);
    let collections = n.div_ceil(opts.per_collection);
    if d.expired + d.dropped != 0 || d.warned != collections {
        return Err(format!(
            "(d) expired {} and warned {}, wanted 0 and {collections}",
            d.expired + d.dropped,
            d.warned
        ));
    }
    println!(
        "(d) every stall warning due at once ({} collections, {} s threshold): {} turns, worst turn {:.0} µs (with resolve), all turns {:.0} µs",
        d.warned,
        stall.as_secs(),
        d.turns,
        d.worst,
        d.total
    );
    let c = drain(&mut table, last + expiry);
    let mut naive = Naive::new(opts, &ex, expiry, stall)?;
    let t0 = Instant::now();
    let c_naive_gone = naive.maintain(last + expiry);
    let c_naive = us(t0.elapsed());
    // Between bounded turns, resolve closes the collections that failed
    // and drops their remaining handles: together they are every handle.
    if c.expired + c.dropped != n || c_naive_gone != n {
        return Err(format!(
            "(c) expired {} and dropped {} (naive {c_naive_gone}), wanted {n}",
            c.expired, c.dropped
        ));
    }
    println!(
        "(c) everything due at once ({} handles, {} of them dropped by resolve): {} turns, worst turn {:.0} µs (with resolve), all turns {:.0} µs; naive sweep, one turn {:.0} µs: ratio naive/worst turn {:.1}",
        c.expired + c.dropped,
        c.dropped,
        c.turns,
        c.worst,
        c.total,
        c_naive,
        c_naive / c.worst
    );
    println!(
        "handles turn_us: nothing {:.2} one_percent {:.0} all_worst {:.0} stall_all_worst {:.0} naive_nothing {:.0} bytes_per_pending_handle: {per_handle:.0}",
        median(&a),
        median(&b),
        c.worst,
        d.worst,
        median(&a_naive)
    );
    drop((table, naive, ex));
    if let Some(expiry) = opts.socket_expiry {
        crate::handles_socket::run(&crate::handles_socket::Options {
            connections: n.div_ceil(opts.per_owner),
            per_owner: opts.per_owner,
            per_collection: opts.per_collection,
            expiry,
        })?;
    }
    Ok(())
}
