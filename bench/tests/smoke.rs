//! The bench binary runs end to end on a tiny workload and prints what the
//! docs promise. No timing is asserted: only the output's form and counts.

use std::process::Command;

fn run(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_accord-bench"))
        .args(args)
        .output()
        .expect("run accord-bench");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "accord-bench {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn field<'a>(line: &'a str, after: &str) -> &'a str {
    line.split(after)
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no {after:?} in {line:?}"))
}

#[test]
fn e2e_prints_ratio_and_round_trips() {
    let out = run(&["e2e", "--pairs", "3", "--warmup", "1"]);
    let last = out.lines().last().expect("output");
    let ratio: f64 = last
        .strip_prefix("e2e ratio accord/wl_shm: ")
        .unwrap_or_else(|| panic!("last line {last:?}"))
        .parse()
        .expect("ratio is a float");
    assert!(ratio.is_finite() && ratio > 0.0, "{ratio}");
    // Round trips counted by the client library (`Accord::blocking_waits`):
    // the producer waits for the export handle and the outcome, the
    // consumer only for the outcome.
    let p3 = out
        .lines()
        .find(|l| l.starts_with("P3 round trips"))
        .expect("P3 line");
    let producer: usize = field(p3, "producer ")
        .trim_end_matches(',')
        .parse()
        .unwrap();
    let consumer: usize = field(p3, "consumer ").parse().unwrap();
    assert_eq!((producer, consumer), (2, 1), "{out}");
    let b = out
        .lines()
        .find(|l| l.starts_with("round trips B"))
        .expect("baseline line");
    assert_eq!(field(b, "wire "), "1", "one wl_display.sync: {b}");
}

#[test]
fn solve_prints_friendly_and_worst_cases() {
    let out = run(&["solve", "--samples", "1"]);
    let case = |name: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("P1 {name}")))
            .unwrap_or_else(|| panic!("no P1 {name} line in {out}"))
    };
    // The friendly input keeps its 16-pair core; in the worst case every
    // pair survives; the sweep goes to 4096 pairs per participant.
    assert!(
        case("friendly 64x1024").contains(" 16 common, solved"),
        "{out}"
    );
    for pairs in [1024, 2048, 4096] {
        let l = case(&format!("worst 64x{pairs}"));
        assert!(l.contains(&format!(" {pairs} common, solved")), "{l}");
    }
    assert!(
        case("subsets 64x1024 (each keeps 1/2").contains("fails"),
        "{out}"
    );
    let last = out.lines().last().expect("output");
    let ratio: f64 = last
        .strip_prefix("P1 64x1024 worst/friendly: ")
        .unwrap_or_else(|| panic!("last line {last:?}"))
        .parse()
        .expect("ratio is a float");
    assert!(ratio.is_finite() && ratio > 0.0, "{ratio}");
}

#[test]
fn solve_repeat_solves_the_sweep_input_and_bounds_its_arguments() {
    // The sweep's 8 x 4096 case: 81 pairs common to all (the figure of
    // BENCHMARKS.md, "Pair sweep"), computed by the bench, not the engine.
    let out = run(&["solve-repeat", "--pairs", "4096", "--solves", "2"]);
    assert!(
        out.contains("8 participants x 4096 pairs, universe x1, 81 common, solved (81 alternatives); 2 more solves"),
        "{out}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_accord-bench"))
        .args(["solve-repeat", "--participants", "65"])
        .output()
        .expect("run accord-bench");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--participants 65 is outside 1..=64"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn scale_prints_latency_and_memory() {
    let out = run(&[
        "scale",
        "--clients",
        "4",
        "--collections",
        "40",
        "--extra",
        "8",
    ]);
    let last = out.lines().last().expect("output");
    let rest = last
        .strip_prefix("scale p99_ms: ")
        .unwrap_or_else(|| panic!("last line {last:?}"));
    let (p99, bytes) = rest.split_once(" bytes_per_collection: ").expect("format");
    let p99: f64 = p99.parse().expect("float");
    let _: u64 = bytes.parse().expect("integer");
    assert!(p99.is_finite() && p99 > 0.0, "{p99}");
}

#[test]
fn handles_prints_turns_memory_and_socket_figures() {
    let out = run(&[
        "handles",
        "--pending",
        "5000",
        "--steps",
        "2",
        "--socket-expiry",
        "0.3",
    ]);
    let line = |prefix: &str| {
        out.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in {out}"))
    };
    // 1 % of 5000 is one 50-slot collection per turn: the queue and the
    // naive sweep expire the same handles.
    let b = line("(b) 1 % due");
    assert_eq!(field(b, "expired per turn median "), "50", "{b}");
    assert_eq!(field(b, "(naive: ").trim_end_matches("),"), "50", "{b}");
    // 5000 due at once drain in bounded turns of at most 1024 expired
    // (the module's MAX_EXPIRED_PER_TURN), several turns in all.
    let c = line("(c) everything due");
    assert!(c.contains("(5000 handles, "), "{c}");
    let turns: usize = field(c, "): ").trim_end_matches(" turns,").parse().unwrap();
    assert!((2..=5).contains(&turns), "{c}");
    assert!(
        line("(d) every stall").contains("(100 collections"),
        "{out}"
    );
    let pure = line("handles turn_us: ");
    let bytes: f64 = field(pure, "bytes_per_pending_handle: ").parse().unwrap();
    assert!(bytes > 0.0, "{pure}");
    assert!(
        line("socket: 5000 handles exported over 5 connections").contains("expiry 0.3 s"),
        "{out}"
    );
    let last = out.lines().last().expect("output");
    let worst: f64 = field(last, "handles socket worst_turn_ms: ")
        .parse()
        .unwrap();
    let probe: f64 = field(last, "probe_worst_ms: ").parse().unwrap();
    assert!(worst > 0.0 && probe > 0.0, "{last}");
}

/// `accord-compositor` next to `accord-bench`, where `fdflood` looks for
/// it; built if this test run did not build it (`-p accord-bench` alone).
fn compositor_built() {
    let bench = std::path::Path::new(env!("CARGO_BIN_EXE_accord-bench"));
    let path = bench.with_file_name("accord-compositor");
    if path.exists() {
        return;
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let release = bench
        .parent()
        .and_then(|d| d.file_name())
        .is_some_and(|p| p == "release");
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "-q",
        "-p",
        "accord-examples",
        "--bin",
        "accord-compositor",
    ]);
    if release {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("run cargo build");
    assert!(
        status.success() && path.exists(),
        "building {}",
        path.display()
    );
}

#[test]
fn fdflood_prints_ratios_and_peak_fds() {
    compositor_built();
    let out = run(&["fdflood", "--idle", "5", "--seconds", "0.2"]);
    let line = |prefix: &str| {
        out.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in {out}"))
    };
    // Every round: 8 collections of 128 fill the 1,024 buffer fds of the
    // attacker, the other 24 of its 32 connections are refused.
    let attacker = line("attacker: ");
    assert!(attacker.contains("(8..8 per round)"), "{attacker}");
    let rounds: usize = field(attacker, "attacker: ").parse().unwrap();
    let refused: usize = field(attacker, "allocated (8..8 per round), ")
        .parse()
        .unwrap();
    assert_eq!(refused, 24 * rounds, "{attacker}");
    let last = out.lines().last().expect("output");
    let ratio: f64 = field(last, "fdflood fds median_ratio: ").parse().unwrap();
    let peak: usize = field(last, "peak_fds: ").parse().unwrap();
    assert!(ratio > 0.0 && peak > 1024, "{last}");

    let out = run(&[
        "fdflood",
        "--attack",
        "handles",
        "--processes",
        "3",
        "--per-process",
        "100",
        "--idle",
        "5",
        "--seconds",
        "0.2",
        "--no-expiry",
    ]);
    assert!(
        out.contains("300 handles left pending by 3 processes"),
        "{out}"
    );
    let last = out.lines().last().expect("output");
    let worst: f64 = field(last, "worst_ratio_attack: ").parse().unwrap();
    assert!(worst > 0.0, "{last}");
    assert_eq!(field(last, "worst_ratio_expiry: "), "-", "{last}");
}

#[test]
fn late_prints_ratio_zero_bytes_and_one_round_trip() {
    let out = run(&["late", "--samples", "3"]);
    let last = out.lines().last().expect("output");
    let ratio: f64 = field(last, "ratio_late_over_fresh: ")
        .parse()
        .expect("ratio is a float");
    assert!(ratio.is_finite() && ratio > 0.0, "{last}");
    assert_eq!(
        field(last, "late_bytes: "),
        "0",
        "a late join allocates nothing"
    );
    assert_eq!(field(last, "late_round_trips: "), "1", "{last}");
    assert!(out.contains("fresh collection commit->allocated"), "{out}");
}

#[test]
fn groups_prints_the_cap_case_and_its_baselines() {
    let out = run(&["groups", "--samples", "2"]);
    assert!(
        out.contains("64 combinations (the cap), the 64th selected"),
        "{out}"
    );
    let last = out.lines().last().expect("output");
    let ratio: f64 = field(last, "ratio groups/without groups: ")
        .split(';')
        .next()
        .unwrap()
        .parse()
        .expect("ratio is a float");
    assert!(ratio.is_finite() && ratio > 0.0, "{last}");
    assert!(out.contains("same participants without groups: "), "{out}");
}

/// One measured pair: a line per renderer, both composited frames, GLES
/// uploading each new wl_shm buffer (bytes copied) and Pixman not.
#[test]
fn compose_prints_the_gles_pixman_ratio() {
    compositor_built();
    let out = run(&["compose", "--pairs", "1", "--seconds", "0.3"]);
    let line = |prefix: &str| {
        out.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in {out}"))
    };
    let copied = |l: &str| -> f64 { field(l, "bytes copied/frame ").parse().unwrap() };
    assert_eq!(copied(line("pixman: ")), 0.0, "{out}");
    assert!(copied(line("gles: ")) > 0.0, "{out}");
    let last = out.lines().last().expect("output");
    let ratio: f64 = field(last, "compose gles/pixman cpu per composited frame ratio: ")
        .parse()
        .expect("ratio is a float");
    assert!(ratio.is_finite() && ratio > 0.0, "{last}");
}

#[test]
fn bad_arguments_are_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_accord-bench"))
        .args(["e2e", "--pairs", "many"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value 'many' for '--pairs <N>'"));
}

#[test]
fn help_documents_every_command_and_flag() {
    for (args, flags) in [
        (
            &["--help"][..],
            &[
                "e2e",
                "scale",
                "solve",
                "handles",
                "fdflood",
                "late",
                "groups",
                "compose",
                "flood-attacker",
                "serve",
                "consumer",
                "--help",
            ][..],
        ),
        (
            &["fdflood", "--help"],
            &[
                "--compositor",
                "--attack",
                "--idle",
                "--seconds",
                "--processes",
                "--per-process",
                "--no-expiry",
                "--help",
            ],
        ),
        (
            &["e2e", "--help"],
            &[
                "--pairs",
                "--warmup",
                "--pipeline",
                "--after-all",
                "--concurrent",
                "--lazy",
                "--help",
            ],
        ),
        (
            &["scale", "--help"],
            &["--clients", "--collections", "--extra", "--help"],
        ),
        (&["solve", "--help"], &["--samples", "--help"]),
        (
            &["compose", "--help"],
            &["--compositor", "--pairs", "--seconds", "--size", "--help"],
        ),
        (
            &["handles", "--help"],
            &[
                "--pending",
                "--per-collection",
                "--per-owner",
                "--steps",
                "--socket-expiry",
                "--no-socket",
                "--help",
            ],
        ),
        (&["serve", "--help"], &["--shm", "--help"]),
        (
            &["consumer", "--help"],
            &[
                "SOCKET",
                "--pipeline",
                "--after-all",
                "--concurrent",
                "--lazy",
                "--help",
            ],
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_accord-bench"))
            .args(args)
            .output()
            .expect("run accord-bench");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "accord-bench {args:?}: {out:?}");
        let problems = accord_examples::cli::help_problems(&help, flags);
        assert!(
            problems.is_empty(),
            "accord-bench {args:?}: {problems:?}\n{help}"
        );
    }
}
