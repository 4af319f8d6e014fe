//! `accord`: command-line front end. `solve` is argument parsing and I/O
//! over `accord-engine`; `info` gathers a report from `accord-smithay`'s
//! probing (planes, renderer formats, backends) plus the node queries only a
//! listing needs (driver version, caps, connectors), and prints it.

mod info;
mod solve;

use std::process::ExitCode;

/// Exit code for bad input or bad arguments (0 = decided, 1 = failed).
pub const EXIT_BAD_INPUT: u8 = 2;

const USAGE: &str = "\
usage: accord <command> [args]

commands:
  solve [--explain] [--costs FILE] FILE|- [FILE...]
        negotiate the participants of each JSON scenario; print one JSON
        object per line; exit 0 decided, 1 negotiation failed, 2 bad input
  info [--json]
        list DRM nodes (driver, capabilities, planes per CRTC with formats
        and modifiers), the renderer's import formats and the allocation
        backends available here; --json prints one JSON object";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("solve") => solve::run(&args[1..]),
        Some("info") => info::run(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("accord: unknown command \"{other}\"\n{USAGE}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
        None => {
            eprintln!("{USAGE}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}
