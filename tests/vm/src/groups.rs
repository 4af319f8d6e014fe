//! Token groups against the real display (issue 18): a group's first
//! child asks for direct scanout, its second is composited. The module's
//! `TEST_ONLY` confirmation on virtio-gpu decides between them: at the
//! mode's size the primary plane takes the buffer and the first child is
//! selected; at 640x480 the plane would have to scale, `TEST_ONLY` refuses
//! every scanout candidate, so the first child is refused and the second,
//! composited alternative wins; the first child's participant gets
//! `not_selected`.

use accord_client::{Accord, Constraints, FailureReason, MemoryKind, Usage, MOD_LINEAR};
use wayland_client::protocol::wl_surface::WlSurface;

use crate::{
    common::{surface_client, with_drm_compositor, MODE, XR24},
    ensure,
    harness::{Outcome, TestResult},
};

/// Which child was selected for a collection of `size`: the compositor
/// attached to `surface` outside the group, child 0 "direct" (render +
/// scanout, XRGB8888 offered for scanout), child 1 "composited" (render
/// only).
fn selected_child(accord: &Accord, surface: &WlSurface, size: (u32, u32)) -> Result<usize, String> {
    let root = accord.create_collection();
    root.duplicate().attach_to_surface(surface);
    let group = root.create_group().map_err(|e| e.to_string())?;
    let direct = group.create_child();
    direct.set_name("direct");
    let composited = group.create_child();
    composited.set_name("composited");
    group.all_children_present();
    let exact = |c: Constraints| {
        c.min_size(size.0, size.1)
            .max_size(size.0, size.1)
            .buffers(2)
    };
    let direct = direct.bind();
    direct.commit(&exact(
        Constraints::new()
            .usage(Usage::Render | Usage::Scanout)
            .scanout_format(XR24, MOD_LINEAR),
    ));
    let composited = composited.bind();
    composited.commit(&exact(
        Constraints::new()
            .usage(Usage::Render)
            .format(XR24, MOD_LINEAR),
    ));
    let outcomes = [direct.wait_allocated(), composited.wait_allocated()];
    let mut chosen = None;
    for (i, o) in outcomes.iter().enumerate() {
        match o {
            Ok(a) => {
                ensure!(chosen.is_none(), "both children were allocated");
                ensure!(a.memory == MemoryKind::DmaBuf, "memory {:?}", a.memory);
                ensure!(
                    (a.width, a.height) == size,
                    "allocated {}x{}",
                    a.width,
                    a.height
                );
                chosen = Some(i);
            }
            Err(f) => ensure!(
                f.reason == FailureReason::NotSelected,
                "child {i}: {f}, expected not_selected"
            ),
        }
    }
    let chosen = chosen.ok_or("no child was allocated")?;
    println!(
        "  {}x{}: child {chosen} selected; the other: {}",
        size.0,
        size.1,
        outcomes[1 - chosen]
            .as_ref()
            .err()
            .map(|f| f.message.as_str())
            .unwrap_or("?")
    );
    Ok(chosen)
}

pub fn scanout_confirmation_selects_the_group_child() -> TestResult {
    with_drm_compositor("groups", |compositor| {
        let client = surface_client(compositor)?;
        let at_mode = selected_child(&client.accord, &client.surface, MODE)?;
        ensure!(
            at_mode == 0,
            "at the mode's size TEST_ONLY passes: the direct child must win, got child {at_mode}"
        );
        let small = selected_child(&client.accord, &client.surface, (640, 480))?;
        ensure!(
            small == 1,
            "at 640x480 virtio-gpu's primary plane cannot scale: TEST_ONLY refuses the direct \
             child and the composited one must win, got child {small}"
        );
        Ok(Outcome::Passed)
    })
}
