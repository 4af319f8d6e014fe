//! `accord --help` and each command's `--help` succeed, list every flag the
//! scripts and docs use, and describe each entry.

use std::process::Command;

use accord_examples::cli::help_problems;

#[test]
fn help_documents_every_command_and_flag() {
    for (args, flags) in [
        (&["--help"][..], &["solve", "info", "--help"][..]),
        (
            &["solve", "--help"],
            &["--explain", "--costs", "FILE", "--help"],
        ),
        (
            &["info", "--help"],
            &["--json", "--renderer", "--gles-device", "--help"],
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_accord"))
            .args(args)
            .output()
            .expect("run accord");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "accord {args:?}: {out:?}");
        let problems = help_problems(&help, flags);
        assert!(problems.is_empty(), "accord {args:?}: {problems:?}\n{help}");
    }
}
