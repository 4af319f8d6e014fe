//! `accord-bench`: Accord's solve (P1), end-to-end (P2, P3) and scale (P5)
//! benchmarks.
//! See BENCHMARKS.md for what is measured and how.

mod e2e;
mod relay;
mod scale;
mod server;
mod solve;
mod stats;
mod wl;

use std::path::Path;

const USAGE: &str = "usage:
  accord-bench e2e [--pairs N] [--warmup N] [--after-all|--concurrent] [--lazy]
      A (Accord) vs B (wl_shm), alternating; the consumer reads each buffer once
      the producer wrote it (default), after all, or at once, racing the writes
      (no notifications); every client prefaults a buffer before touching it
      (MADV_POPULATE_*) unless --lazy (one page fault per first touch)
  accord-bench scale [--clients N] [--collections N] [--extra N]
  accord-bench solve [--samples N]
      P1: engine solve time, friendly input (16-pair core) and worst case
      (every participant lists the same pairs), random subsets, sweeps
internal: accord-bench serve [--shm] | accord-bench consumer SOCKET [MODE]";

fn flag(args: &[String], name: &str, default: usize) -> Result<usize, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{name} needs a number\n{USAGE}")),
    }
}

fn check_flags(args: &[String], known: &[&str]) -> Result<(), String> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if !known.contains(&a.as_str()) {
            return Err(format!("unknown argument {a:?}\n{USAGE}"));
        }
        it.next();
    }
    Ok(())
}

fn main_result() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or(&[]);
    if matches!(
        args.first().map(String::as_str),
        Some("e2e" | "scale" | "solve")
    ) {
        println!("load average: {}", stats::loadavg());
    }
    match args.first().map(String::as_str) {
        Some("e2e") => {
            let mode = e2e::Mode::parse(rest);
            let paging = e2e::Paging::parse(rest);
            let rest: Vec<String> = rest
                .iter()
                .filter(|a| *a != mode.flag() && *a != e2e::Paging::LAZY_FLAG)
                .cloned()
                .collect();
            let rest = &rest[..];
            check_flags(rest, &["--pairs", "--warmup"])?;
            e2e::run(&e2e::Options {
                mode,
                paging,
                pairs: flag(rest, "--pairs", 40)?.max(1),
                warmup: flag(rest, "--warmup", 5)?,
            })
        }
        Some("scale") => {
            check_flags(rest, &["--clients", "--collections", "--extra"])?;
            scale::run(&scale::Options {
                clients: flag(rest, "--clients", 100)?,
                collections: flag(rest, "--collections", 1000)?,
                extra: flag(rest, "--extra", 200)?,
            })
        }
        Some("solve") => {
            check_flags(rest, &["--samples"])?;
            solve::run(&solve::Options {
                samples: flag(rest, "--samples", 31)?.max(1),
            })
        }
        Some("serve") => server::serve(rest.iter().any(|a| a == "--shm")),
        Some("consumer") => {
            let socket = rest.first().ok_or_else(|| USAGE.to_string())?;
            e2e::consumer_main(
                Path::new(socket),
                e2e::Mode::parse(rest),
                e2e::Paging::parse(rest),
            )
        }
        _ => Err(USAGE.to_string()),
    }
}

fn main() {
    if let Err(e) = main_result() {
        eprintln!("accord-bench: {e}");
        std::process::exit(1);
    }
}
