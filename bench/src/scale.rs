//! P5: many clients holding many live collections: negotiation latency and
//! the compositor's memory per collection.
//!
//! Each negotiation is one client's whole exchange: `create_collection`,
//! `bind`, constraints, `commit`, and waiting for the allocation (one
//! 64×64 ARGB8888 buffer). Negotiations run one at a time, round-robin over
//! the clients, so the latency is the cost of one negotiation while the
//! number of live collections grows (then at full load), not queueing.
//!
//! Memory is the compositor process's resident set (`/proc/<pid>/status`
//! `VmRSS`) after every client connected and bound the global, and again
//! once all collections are live; the delta over the number of collections
//! is the compositor's bookkeeping per collection: protocol objects, the
//! negotiation result, the buffers' fds. The buffers' pages are not in it
//! (the compositor never maps or touches a memfd buffer; `RssShmem` is
//! printed to show it).

use std::time::Instant;

use accord_client::{
    Accord, Allocation, Collection, Constraints, Usage, DRM_FORMAT_ARGB8888, MOD_LINEAR,
};

use crate::server::Server;
use crate::stats::{median, ms, quantile};

pub struct Options {
    pub clients: usize,
    pub collections: usize,
    /// Negotiations (create, allocate, release) once all are live.
    pub extra: usize,
}

/// One 64×64 ARGB8888 buffer written by the CPU: the smallest ordinary
/// negotiation (also `handles`' probe).
pub(crate) fn one_small_buffer() -> Constraints {
    Constraints::new()
        .usage(Usage::CpuWrite)
        .format(DRM_FORMAT_ARGB8888, MOD_LINEAR)
        .min_size(64, 64)
        .max_size(64, 64)
        .buffers(1)
}

fn negotiate(accord: &Accord) -> Result<(f64, Collection, Allocation), String> {
    let t0 = Instant::now();
    let coll = accord.create_collection().bind();
    coll.commit(&one_small_buffer());
    let a = coll.wait_allocated().map_err(|e| e.to_string())?;
    let t = ms(t0.elapsed());
    if a.buffers.len() != 1 || (a.width, a.height) != (64, 64) {
        return Err(format!(
            "got {} buffers of {}x{}",
            a.buffers.len(),
            a.width,
            a.height
        ));
    }
    Ok((t, coll, a))
}

/// Raise the soft fd limit to the hard one: 1000 collections are 1000 fds
/// in the clients and the compositor (inherited by the compositor process).
fn raise_fd_limit() {
    let lim = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    let _ = rustix::process::setrlimit(
        rustix::process::Resource::Nofile,
        rustix::process::Rlimit {
            current: lim.maximum,
            maximum: lim.maximum,
        },
    );
}

pub fn run(opts: &Options) -> Result<(), String> {
    if opts.clients == 0 || opts.collections == 0 {
        return Err("scale needs at least one client and one collection".into());
    }
    raise_fd_limit();
    let server = Server::spawn(false)?;
    let mut clients = Vec::with_capacity(opts.clients);
    for _ in 0..opts.clients {
        let conn = crate::wl::connect(&server.accord_socket)?;
        clients.push(Accord::new(&conn).map_err(|e| e.to_string())?);
    }
    let before = server.memory()?;

    let mut growth = Vec::with_capacity(opts.collections);
    let mut held = Vec::with_capacity(opts.collections);
    for i in 0..opts.collections {
        let (t, coll, a) = negotiate(&clients[i % clients.len()])?;
        growth.push(t);
        held.push((coll, a));
    }
    // Settle: every client saw its outcome, so the compositor processed all.
    let after = server.memory()?;

    let mut full = Vec::with_capacity(opts.extra);
    for i in 0..opts.extra {
        let (t, coll, a) = negotiate(&clients[i % clients.len()])?;
        full.push(t);
        drop((a, coll));
    }
    let n = opts.collections as u64;
    let per = |a: u64, b: u64| a.saturating_sub(b) / n;
    println!(
        "scale: {} clients, {} live collections (1 buffer 64x64 ARGB8888 each), negotiations one at a time",
        opts.clients, opts.collections
    );
    println!(
        "latency while growing to {}: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        opts.collections,
        median(&growth),
        quantile(&growth, 0.99),
        quantile(&growth, 1.0)
    );
    println!(
        "latency at full load ({} more): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        opts.extra,
        median(&full),
        quantile(&full, 0.99),
        quantile(&full, 1.0)
    );
    println!(
        "compositor RSS {} -> {} KiB: per collection {} B (anon {} B, shmem {} B)",
        before.rss / 1024,
        after.rss / 1024,
        per(after.rss, before.rss),
        per(after.anon, before.anon),
        per(after.shmem, before.shmem)
    );
    drop(held);
    let mut all = growth;
    all.extend(full);
    println!(
        "scale p99_ms: {:.3} bytes_per_collection: {}",
        quantile(&all, 0.99),
        per(after.rss, before.rss)
    );
    Ok(())
}
