//! P1: one full `accord_engine::solve` on generated collections: the
//! friendly input (random lists around a 16-pair common core; the generator
//! and seeds of the criterion bench this replaces) beside the worst case
//! (every participant lists the same pairs, so every pair survives the
//! intersection and is ranked and laid out), random subsets of one shared
//! list, and sweeps.
//!
//! The wire caps a participant at `accord_protocol::limits::
//! MAX_FORMAT_PAIRS` (1024) and a collection at `MAX_PARTICIPANTS` (64); the
//! engine's `solve` has no such cap (the scenario front end's is 65536
//! pairs in all), so the sweep beyond 1024 pairs calls it directly.

use std::collections::HashSet;
use std::hint::black_box;
use std::time::{Duration, Instant};

use accord_engine::{formats, solve, BufferCounts, Constraints, FormatModifier, Usage};
use accord_engine::{MOD_INVALID, MOD_LINEAR};

use crate::stats::median;

pub struct Options {
    /// Timed samples per case; each sample is a batch of solves lasting at
    /// least `BATCH`.
    pub samples: usize,
}

const BATCH: Duration = Duration::from_millis(2);

/// xorshift64* (deterministic, no dependency).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn shuffle<T>(&mut self, list: &mut [T]) {
        for j in (1..list.len()).rev() {
            list.swap(j, self.below(j + 1));
        }
    }
}

/// The engine's formats × LINEAR, INVALID and 62 vendor modifiers (4544
/// pairs) (deterministic, no dependency).
fn universe() -> Vec<(u32, u64)> {
    let mut mods = vec![MOD_LINEAR, MOD_INVALID];
    for i in 0..62u64 {
        let vendor = [0x01u64, 0x02, 0x08, 0x07][i as usize % 4];
        mods.push((vendor << 56) | (i + 1));
    }
    formats::all()
        .iter()
        .flat_map(|f| mods.iter().map(move |&m| (f.fourcc, m)))
        .collect()
}

/// Participant `i` listing `list`; each entry scanout-capable at random;
/// participant 0 wants scanout.
fn participant(i: usize, list: Vec<(u32, u64)>, rng: &mut Rng) -> Constraints {
    Constraints {
        name: format!("participant-{i}"),
        usage: if i == 0 {
            Usage::SCANOUT
        } else {
            Usage::SAMPLE
        },
        formats: list
            .into_iter()
            .map(|(format, modifier)| FormatModifier {
                format,
                modifier,
                scanout: rng.below(2) == 0,
            })
            .collect(),
        min_size: (1920, 1080),
        size_alignment: (16, 16),
        stride_alignment: 64,
        offset_alignment: 4096,
        buffers: BufferCounts {
            camping: 1,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// `scale` times as many pairs as [`universe`]: the engine's formats ×
/// LINEAR, INVALID and `64 * scale - 2` vendor modifiers.
fn universe_scaled(scale: u64) -> Vec<(u32, u64)> {
    let mut mods = vec![MOD_LINEAR, MOD_INVALID];
    for i in 0..(64 * scale - 2) {
        let vendor = [0x01u64, 0x02, 0x08, 0x07][i as usize % 4];
        mods.push((vendor << 56) | (i + 1));
    }
    formats::all()
        .iter()
        .flat_map(|f| mods.iter().map(move |&m| (f.fourcc, m)))
        .collect()
}

/// The friendly input: `pairs` pairs drawn at random (with
/// repetition), a common core of 16 mixed in at random positions.
fn friendly(n: usize, pairs: usize, seed: u64) -> Vec<Constraints> {
    friendly_in(n, pairs, seed, &universe())
}

/// [`friendly`] drawing from `all`.
fn friendly_in(n: usize, pairs: usize, seed: u64, all: &[(u32, u64)]) -> Vec<Constraints> {
    let mut rng = Rng(seed | 1);
    let core: Vec<(u32, u64)> = (0..16.min(pairs))
        .map(|_| all[rng.below(all.len())])
        .collect();
    (0..n)
        .map(|i| {
            let mut list = core.clone();
            while list.len() < pairs {
                list.push(all[rng.below(all.len())]);
            }
            rng.shuffle(&mut list);
            participant(i, list, &mut rng)
        })
        .collect()
}

/// `pairs` distinct pairs of the universe, at random.
fn shared_pairs(pairs: usize, rng: &mut Rng) -> Vec<(u32, u64)> {
    let mut all = universe();
    rng.shuffle(&mut all);
    all.truncate(pairs);
    all
}

/// The worst case: every participant lists the same `pairs` distinct pairs
/// (each in its own random order).
fn same(n: usize, pairs: usize, seed: u64) -> Vec<Constraints> {
    let mut rng = Rng(seed | 1);
    let shared = shared_pairs(pairs, &mut rng);
    (0..n)
        .map(|i| {
            let mut list = shared.clone();
            rng.shuffle(&mut list);
            participant(i, list, &mut rng)
        })
        .collect()
}

/// Random subsets of one shared list of `pairs` distinct pairs: each
/// participant keeps each pair with probability `keep.0 / keep.1`.
fn subsets(n: usize, pairs: usize, keep: (usize, usize), seed: u64) -> Vec<Constraints> {
    let mut rng = Rng(seed | 1);
    let shared = shared_pairs(pairs, &mut rng);
    (0..n)
        .map(|i| {
            let mut list: Vec<_> = shared
                .iter()
                .copied()
                .filter(|_| rng.below(keep.1) < keep.0)
                .collect();
            rng.shuffle(&mut list);
            participant(i, list, &mut rng)
        })
        .collect()
}

/// Pairs every participant lists (computed here, not by the engine).
fn common(input: &[Constraints]) -> usize {
    let set = |c: &Constraints| -> HashSet<(u32, u64)> {
        c.formats.iter().map(|f| (f.format, f.modifier)).collect()
    };
    let mut it = input.iter();
    let Some(first) = it.next() else { return 0 };
    let mut live = set(first);
    for c in it {
        let s = set(c);
        live.retain(|p| s.contains(p));
    }
    live.len()
}

/// One measured case: per-solve on-CPU time of the solving thread (what
/// other load on the machine disturbs least) and wall time.
pub(crate) struct Case {
    pub(crate) median_us: f64,
    pub(crate) min_us: f64,
    pub(crate) max_us: f64,
    pub(crate) wall_us: f64,
}

fn thread_cpu_ns() -> u64 {
    crate::server::cpu_ns(rustix::time::ClockId::ThreadCPUTime)
}

/// Median time of one solve over `samples` batches.
fn measure(input: &[Constraints], samples: usize) -> Case {
    measure_fn(samples, || {
        black_box(solve(black_box(input)).is_ok());
    })
}

/// Median time of one call of `f` over `samples` batches (`f` is what one
/// solve is for [`measure`]; other benches time their own calls with it).
pub(crate) fn measure_fn(samples: usize, mut f: impl FnMut()) -> Case {
    // Warm up and size the batch so that one lasts at least BATCH.
    let t = Instant::now();
    let mut warm = 0u32;
    while t.elapsed() < BATCH * 5 || warm < 3 {
        f();
        warm += 1;
    }
    let per = t.elapsed() / warm;
    let batch = (BATCH.as_nanos() / per.as_nanos().max(1)).max(1) as u32;
    let (us, wall): (Vec<f64>, Vec<f64>) = (0..samples.max(1))
        .map(|_| {
            let t = Instant::now();
            let c = thread_cpu_ns();
            for _ in 0..batch {
                f();
            }
            let cpu = (thread_cpu_ns() - c) as f64 / 1e3 / f64::from(batch);
            (cpu, t.elapsed().as_secs_f64() * 1e6 / f64::from(batch))
        })
        .unzip();
    Case {
        median_us: median(&us),
        min_us: us.iter().copied().fold(f64::INFINITY, f64::min),
        max_us: us.iter().copied().fold(0.0, f64::max),
        wall_us: median(&wall),
    }
}

/// Measure and print one line; returns the median in µs.
fn line(what: &str, input: &[Constraints], samples: usize) -> f64 {
    let n = input.len();
    let listed: usize = input.iter().map(|c| c.formats.len()).sum();
    let outcome = match solve(input) {
        Ok(_) => "solved".to_string(),
        Err(f) => format!("fails: {:?}", f.reason),
    };
    let c = measure(input, samples);
    println!(
        "P1 {what}: {n} participants, {listed} pairs listed, {} common, {outcome}: {:.1} us cpu median (min {:.1}, max {:.1}; wall median {:.1}), {:.2} ns per listed pair",
        common(input),
        c.median_us,
        c.min_us,
        c.max_us,
        c.wall_us,
        c.median_us * 1e3 / listed.max(1) as f64
    );
    c.median_us
}

/// One line per size of `sizes` (`case` makes its label and input), and
/// for each size above 1024 its growth over the 1024-pair median, printed
/// as `P1 {kind} growth 1024 -> N pairs`. Returns that median (`sizes`
/// must hold 1024).
fn sweep_from_1024(
    kind: &str,
    sizes: &[usize],
    samples: usize,
    case: impl Fn(usize) -> (String, Vec<Constraints>),
) -> f64 {
    let mut at_1024 = 0.0;
    for &pairs in sizes {
        let (label, input) = case(pairs);
        let m = line(&label, &input, samples);
        if pairs == 1024 {
            at_1024 = m;
        } else if pairs > 1024 {
            println!(
                "P1 {kind} growth 1024 -> {pairs} pairs: x{:.2} time for x{:.2} pairs",
                m / at_1024,
                pairs as f64 / 1024.0
            );
        }
    }
    at_1024
}

/// What [`repeat`] solves.
pub struct Repeat {
    pub participants: usize,
    pub pairs: usize,
    pub solves: usize,
    pub universe: u64,
}

/// Solve the sweep's input (friendly, seed 42) once, print its shape and
/// outcome, then solve it `solves` more times, untimed (see `accord-bench
/// solve-repeat --help`).
pub fn repeat(r: &Repeat) -> Result<(), String> {
    let bounded = |what: &str, v: u64, max: u64| {
        if (1..=max).contains(&v) {
            Ok(())
        } else {
            Err(format!("--{what} {v} is outside 1..={max}"))
        }
    };
    bounded("participants", r.participants as u64, 64)?;
    bounded("pairs", r.pairs as u64, 65_536)?;
    bounded("universe", r.universe, 64)?;
    if r.solves > 1_000_000 {
        return Err(format!("--solves {} is over 1000000", r.solves));
    }
    let input = friendly_in(r.participants, r.pairs, 42, &universe_scaled(r.universe));
    let outcome = match solve(&input) {
        Ok(d) => format!("solved ({} alternatives)", d.alternatives.len()),
        Err(f) => format!("fails: {:?}", f.reason),
    };
    for _ in 0..r.solves {
        black_box(solve(black_box(&input)).is_ok());
    }
    println!(
        "solve-repeat: {} participants x {} pairs, universe x{}, {} common, {outcome}; {} more solves",
        r.participants,
        r.pairs,
        r.universe,
        common(&input),
        r.solves
    );
    Ok(())
}

pub fn run(opts: &Options) -> Result<(), String> {
    let s = opts.samples;
    println!(
        "solve: per solve, median of {s} samples per case, each a batch of solves lasting >= {} ms; on-CPU time of the solving thread, wall time beside it",
        BATCH.as_millis()
    );
    // The issue-2 goals on the friendly input (fixed seeds).
    line(
        "friendly 3x64 (16-pair core, seed 42)",
        &friendly(3, 64, 42),
        s,
    );
    let f1024 = line(
        "friendly 64x1024 (16-pair core, seed 42)",
        &friendly(64, 1024, 42),
        s,
    );
    // The worst case and its sweep over pairs (beyond 1024 pairs the wire
    // would refuse the list: engine only).
    let w1024 = sweep_from_1024("worst", &[1024, 2048, 3072, 4096], s, |pairs| {
        (
            format!("worst 64x{pairs} (all lists the same)"),
            same(64, pairs, 42),
        )
    });
    for n in [2, 8, 16, 32] {
        line(
            &format!("worst {n}x1024 (all lists the same)"),
            &same(n, 1024, 42),
            s,
        );
    }
    // Random subsets of one shared 1024-pair list.
    for keep in [(63, 64), (15, 16), (1, 2)] {
        line(
            &format!(
                "subsets 64x1024 (each keeps {}/{} of one list)",
                keep.0, keep.1
            ),
            &subsets(64, 1024, keep, 42),
            s,
        );
    }
    // The friendly input over the same pair sweep, for comparison.
    for pairs in [2048, 4096] {
        line(
            &format!("friendly 64x{pairs} (16-pair core, seed 42)"),
            &friendly(64, pairs, 42),
            s,
        );
    }
    // Issue 12's sweep: 8 participants, pairs per participant. The lists
    // are drawn from a fixed universe of 4544 pairs, so at 4096 pairs a
    // list covers 60 % of it and most lookups are hits; the control case
    // draws from a universe grown with the lists (the same overlap as at
    // 1024), which separates the engine's growth from the input's.
    let p1024 = sweep_from_1024("sweep", &[256, 1024, 2048, 4096], s, |pairs| {
        (
            format!("sweep 8x{pairs} (friendly, seed 42)"),
            friendly(8, pairs, 42),
        )
    });
    let c4096 = line(
        "control 8x4096 (friendly, universe x4: the overlap of 8x1024)",
        &friendly_in(8, 4096, 42, &universe_scaled(4)),
        s,
    );
    println!(
        "P1 control growth 1024 -> 4096 pairs at equal overlap: x{:.2}",
        c4096 / p1024
    );
    println!("load average: {}", crate::stats::loadavg());
    println!("P1 64x1024 worst/friendly: {:.2}", w1024 / f1024);
    Ok(())
}
