//! Pieces of the budget tests, which need a second real process (budgets
//! belong to a process, or to an app): a test of this binary run again in
//! a child, and a half-quota allocation.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use accord_client::{Accord, Allocation, Collection, Failure};
use accord_tests::xrgb_exact;

/// Runs test `name` of this test binary in a child process, with
/// `env_key` set to `socket`; its stdout. Panics, showing both outputs,
/// when the child fails.
pub fn run_test_in_child(name: &str, env_key: &str, socket: &Path) -> String {
    run_test_in_child_with(name, &[(env_key, socket.as_os_str())])
}

/// [`run_test_in_child`] with several variables set.
pub fn run_test_in_child_with(name: &str, env: &[(&str, &OsStr)]) -> String {
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", name, "--nocapture"])
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("run {name} in a child process: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{name} failed in its child process: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// One collection of one 8192×16384 XRGB8888 buffer: 512 MiB, half the
/// default quota, charged while the collection object lives (returned with
/// the allocation).
pub fn half_a_gib(accord: &Accord) -> Result<(Collection, Allocation), Failure> {
    let coll = accord.create_collection().bind();
    coll.commit(&xrgb_exact(8192, 16384, 1));
    coll.wait_allocated().map(|a| (coll, a))
}
