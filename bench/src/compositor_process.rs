//! The real `accord-compositor` as a child process of a benchmark: where
//! its binary is, a guard that kills it on every way out, a temporary
//! runtime directory for its socket, its fd count, and its output once it
//! listens. `refuse`, `fdflood`, `waylandsink`, `gst-sinks` and `compose`
//! share these.

use std::path::PathBuf;
use std::process::Child;

/// Kills a child on every way out.
pub struct Reap(pub Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A temporary runtime directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The fds `pid` has open now.
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// `accord-compositor`: `given` (`--compositor`), else next to this binary;
/// an error saying how to build it when it is missing.
pub fn binary(given: &Option<PathBuf>) -> Result<PathBuf, String> {
    let path = match given {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .map_err(|e| format!("current_exe: {e}"))?
            .with_file_name("accord-compositor"),
    };
    if !path.exists() {
        return Err(format!(
            "{} not found: build it (cargo build --release -p accord-examples --bin \
             accord-compositor) or give --compositor",
            path.display()
        ));
    }
    Ok(path)
}

/// Forwards the compositor's stdout, line by line, to the returned
/// receiver (on a thread of its own, so the child never blocks on a full
/// pipe), once its first line said it is listening (within 20 s).
pub fn listening_lines(
    stdout: std::process::ChildStdout,
) -> Result<std::sync::mpsc::Receiver<String>, String> {
    use std::io::{BufRead, BufReader};
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = lines
        .recv_timeout(std::time::Duration::from_secs(20))
        .map_err(|_| "the compositor printed nothing")?;
    if !first.starts_with("accord-compositor: listening") {
        return Err(format!("unexpected first line {first:?}"));
    }
    Ok(lines)
}
