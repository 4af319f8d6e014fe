//! The real `accord-compositor` as a child process of a benchmark: where
//! its binary is, a guard that kills it on every way out, a temporary
//! runtime directory for its socket, and its fd count. `refuse` and
//! `fdflood` share these.

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
