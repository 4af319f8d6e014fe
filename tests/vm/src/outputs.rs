//! A second virtio-gpu output, on a machine of its own shape (ROUND2, "the
//! real-kernel tier"): `tests/vm/run` boots this test with the GPU device
//! at `max_outputs=2` and the kernel argument `video=Virtual-2:WxHe`
//! ([`MACHINE`], listed in `MACHINE_TESTS` in `main.rs`).
//!
//! The headless guest's second output has no display behind it: QEMU
//! reports it disabled and virtio-gpu calls the connector disconnected.
//! The `e` of the kernel argument forces it on, with a mode of the given
//! size. The test checks both halves in one boot: with the argument the
//! connector is connected and offers the `W×H` mode; once the force is
//! lifted (`detect` written to the connector's sysfs `status`, a fresh
//! probe) it reads disconnected, so the argument is what connected it.

use smithay::reexports::drm::control::{connector, Device as _};

use accord_smithay::kms::Card;

use crate::{
    common::{CARD0, MODE},
    ensure,
    harness::{Machine, Outcome, TestResult},
};

/// The second output's mode, set on the kernel command line: a size no
/// standard mode list has, so finding it proves the argument took effect.
pub const SIZE: (u32, u32) = (1000, 700);

/// The machine: virtio-gpu with two outputs (the first at the tier's
/// mode) and the second forced on at [`SIZE`].
pub const MACHINE: Machine = Machine {
    gpu: Some("max_outputs=2,xres=1280,yres=720"),
    qemu_devices: &[],
    kernel_args: &["video=Virtual-2:1000x700e"],
};

/// Connector `Virtual-N`'s state and mode sizes, probed afresh.
fn connector(card: &Card, n: u32) -> Result<(connector::State, Vec<(u16, u16)>), String> {
    let res = card.resource_handles().map_err(|e| e.to_string())?;
    for &handle in res.connectors() {
        let info = card
            .get_connector(handle, true)
            .map_err(|e| format!("GETCONNECTOR: {e}"))?;
        if info.interface() == connector::Interface::Virtual && info.interface_id() == n {
            let modes = info.modes().iter().map(|m| m.size()).collect();
            return Ok((info.state(), modes));
        }
    }
    Err(format!(
        "{CARD0} has no connector Virtual-{n} ({} connectors)",
        res.connectors().len()
    ))
}

/// `Virtual-2` is connected with a `SIZE` mode while the kernel argument
/// forces it, and disconnected once the force is lifted; `Virtual-1`
/// keeps the tier's mode.
pub fn second_output_connected_by_kernel_argument() -> TestResult {
    let cmdline = std::fs::read_to_string("/proc/cmdline").map_err(|e| e.to_string())?;
    let arg = MACHINE.kernel_args[0];
    ensure!(
        cmdline.split_whitespace().any(|a| a == arg),
        "the kernel command line lacks {arg}: {cmdline} (run through tests/vm/run, which boots this test with its machine)"
    );
    let card = Card::open(CARD0).map_err(|e| e.to_string())?;
    let (first, first_modes) = connector(&card, 1)?;
    ensure!(
        first == connector::State::Connected
            && first_modes.contains(&(MODE.0 as u16, MODE.1 as u16)),
        "Virtual-1: {first:?} with modes {first_modes:?}, expected connected at {}x{}",
        MODE.0,
        MODE.1
    );
    let (state, modes) = connector(&card, 2)?;
    let has_size = modes.contains(&(SIZE.0 as u16, SIZE.1 as u16));
    println!(
        "  Virtual-2 with {arg}: {state:?}, {} modes, {}x{} among them: {has_size}",
        modes.len(),
        SIZE.0,
        SIZE.1
    );
    ensure!(
        state == connector::State::Connected,
        "Virtual-2 is {state:?} with {arg} on the kernel command line"
    );
    ensure!(
        has_size,
        "Virtual-2 offers {modes:?}, no {}x{} mode",
        SIZE.0,
        SIZE.1
    );
    // Lift the force: the connector is probed as it is.
    let status = "/sys/class/drm/card0-Virtual-2/status";
    std::fs::write(status, "detect").map_err(|e| format!("writing detect to {status}: {e}"))?;
    let (state, modes) = connector(&card, 2)?;
    println!("  Virtual-2 once probed without the force: {state:?}, modes {modes:?}");
    ensure!(
        state == connector::State::Disconnected,
        "Virtual-2 is {state:?} without the force, expected disconnected (the headless guest's second output)"
    );
    Ok(Outcome::Passed)
}
