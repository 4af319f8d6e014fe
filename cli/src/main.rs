//! `accord`: command-line front end. `solve` is argument parsing and I/O
//! over `accord-engine`; `info` gathers a report from `accord-smithay`'s
//! probing (planes, renderer formats, backends) plus the node queries only a
//! listing needs (driver version, caps, connectors), and prints it.

mod info;
mod solve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code for bad input or bad arguments (0 = decided, 1 = failed); the
/// same code clap exits with on a usage error.
pub const EXIT_BAD_INPUT: u8 = 2;

/// Accord's command-line tool: solve negotiation scenarios, list what this
/// machine offers.
#[derive(Parser, Debug)]
#[command(name = "accord")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Solve(solve::Args),
    Info(info::Args),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Solve(args) => solve::run(&args),
        Command::Info(args) => info::run(&args),
    }
}
