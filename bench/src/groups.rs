//! Token groups (issue 18): the engine's search at the combination cap
//! against the same participants solved without groups, in one run.
//!
//! The input: a display participant outside the groups and 2 groups of 8
//! children, one participant a child, 16 pairs each. Only the last child of
//! each group shares a format with the display, so the search negotiates
//! all 64 combinations (the cap) and the 64th wins: the worst case. The
//! baselines, measured the same way: one solve of every participant
//! without groups (what the collection would cost if groups did not
//! exist), and one solve of the winning combination's 3 participants (64
//! of them is what the search cannot beat).

use std::hint::black_box;

use accord_engine::groups::{solve_groups, Branch, Group};
use accord_engine::{formats, solve, Constraints, FormatModifier, Policy, Usage, MOD_LINEAR};

use crate::solve::measure_fn;

pub struct Options {
    pub samples: usize,
}

fn pairs(first: &str, filler: usize) -> Vec<FormatModifier> {
    let f = |name: &str| formats::parse_name(name).expect("a known format");
    let mut v = vec![FormatModifier {
        format: f(first),
        modifier: MOD_LINEAR,
        scanout: false,
    }];
    // Vendor modifiers of the same format: listed, never common.
    v.extend((1..16).map(|i| FormatModifier {
        format: f(first),
        modifier: (0x01 << 56) | (filler * 16 + i) as u64,
        scanout: false,
    }));
    v
}

fn input() -> (Vec<Constraints>, Vec<Option<Branch>>, Vec<Group>) {
    let mut parts = vec![Constraints {
        name: "display".into(),
        usage: Usage::SAMPLE,
        formats: pairs("XRGB8888", 0),
        min_size: (1920, 1080),
        ..Default::default()
    }];
    let mut branches = vec![None];
    let mut groups = Vec::new();
    for g in 0..2 {
        groups.push(Group {
            name: format!("group {g}"),
            parent: None,
            children: 8,
            failed_children: Default::default(),
            present: true,
        });
        for child in 0..8 {
            let format = if child == 7 { "XRGB8888" } else { "ARGB8888" };
            parts.push(Constraints {
                name: format!("g{g} child {child}"),
                usage: Usage::RENDER,
                formats: pairs(format, 1 + g * 8 + child),
                ..Default::default()
            });
            branches.push(Some(Branch { group: g, child }));
        }
    }
    (parts, branches, groups)
}

pub fn run(o: &Options) -> Result<(), String> {
    let (parts, branches, groups) = input();
    let policy = Policy::default();
    let (selection, _) = solve_groups(&parts, &branches, &groups, &policy)
        .map_err(|f| format!("the worst case must solve: {}", f.message))?;
    if selection.chosen != [Some(7), Some(7)] {
        return Err(format!(
            "expected children (7, 7), got {:?}",
            selection.chosen
        ));
    }
    let winners: Vec<Constraints> = parts
        .iter()
        .zip(&branches)
        .filter(|(_, b)| selection.includes(**b))
        .map(|(p, _)| p.clone())
        .collect();
    let flat = solve(&parts)
        .err()
        .map_or("solves".into(), |f| format!("fails: {}", f.reason));
    let grouped = measure_fn(o.samples, || {
        black_box(solve_groups(black_box(&parts), &branches, &groups, &policy).is_ok());
    });
    let without = measure_fn(o.samples, || {
        black_box(solve(black_box(&parts)).is_ok());
    });
    let one = measure_fn(o.samples, || {
        black_box(solve(black_box(&winners)).is_ok());
    });
    println!(
        "groups: {} participants, 2 groups of 8 children, 64 combinations (the cap), the 64th selected; \
         median of {} samples, on-CPU time of the solving thread",
        parts.len(),
        o.samples
    );
    println!(
        "groups at the cap: {:.1} us (min {:.1}, max {:.1}; wall {:.1})",
        grouped.median_us, grouped.min_us, grouped.max_us, grouped.wall_us
    );
    println!(
        "same participants without groups: {:.1} us ({flat})",
        without.median_us
    );
    println!(
        "the winning combination alone (3 participants): {:.1} us; x64 = {:.1} us",
        one.median_us,
        one.median_us * 64.0
    );
    println!(
        "ratio groups/without groups: {:.2}; groups/(64 x winning combination): {:.2}",
        grouped.median_us / without.median_us.max(1e-9),
        grouped.median_us / (one.median_us * 64.0).max(1e-9)
    );
    Ok(())
}
