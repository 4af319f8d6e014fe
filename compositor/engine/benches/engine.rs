//! `cargo bench -p accord-engine --bench engine`: solve time for the sizes in
//! issue 2 (3 × 64 pairs, 64 × 1024 pairs) and a sweep over participants and
//! pairs. Figures live in BENCHMARKS.md.

use std::hint::black_box;
use std::time::Duration;

use accord_engine::{formats, solve, Constraints, FormatModifier, Usage, MOD_INVALID, MOD_LINEAR};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

/// xorshift64*: deterministic inputs without another dependency.
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
}

/// Every (format, modifier) pair a participant may list: the engine's
/// formats × LINEAR, INVALID and 62 vendor modifiers (Intel, AMD, ARM,
/// Broadcom ranges).
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

/// `n` participants with `pairs` pairs each: a common core of 16 pairs (so
/// that there is an answer) mixed at random positions into random others.
fn collection(n: usize, pairs: usize, seed: u64) -> Vec<Constraints> {
    let all = universe();
    let mut rng = Rng(seed | 1);
    let core: Vec<(u32, u64)> = (0..16.min(pairs))
        .map(|_| all[rng.below(all.len())])
        .collect();
    (0..n)
        .map(|i| {
            let mut list: Vec<(u32, u64)> = core.clone();
            while list.len() < pairs {
                list.push(all[rng.below(all.len())]);
            }
            for j in (1..list.len()).rev() {
                list.swap(j, rng.below(j + 1));
            }
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
                buffers: accord_engine::BufferCounts {
                    camping: 1,
                    ..Default::default()
                },
                ..Default::default()
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("solve");
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    for (n, pairs) in [(3, 64), (64, 1024)] {
        let input = collection(n, pairs, 42);
        assert!(solve(&input).is_ok());
        g.bench_function(format!("{n}x{pairs}"), |b| {
            b.iter(|| solve(black_box(&input)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("sweep_participants_256_pairs");
    g.warm_up_time(Duration::from_millis(300));
    g.measurement_time(Duration::from_secs(1));
    for n in [2, 4, 8, 16, 32, 64, 128] {
        let input = collection(n, 256, 7);
        g.bench_with_input(BenchmarkId::from_parameter(n), &input, |b, i| {
            b.iter(|| solve(black_box(i)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("sweep_pairs_8_participants");
    g.warm_up_time(Duration::from_millis(300));
    g.measurement_time(Duration::from_secs(1));
    for pairs in [16, 64, 256, 1024, 4096] {
        let input = collection(8, pairs, 9);
        g.bench_with_input(BenchmarkId::from_parameter(pairs), &input, |b, i| {
            b.iter(|| solve(black_box(i)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
