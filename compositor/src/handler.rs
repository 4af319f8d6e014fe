//! [`BufferCollectionHandler`]: what the embedding compositor supplies
//! (its renderer's formats, its planes' formats, scanout confirmation).

use accord_engine::{Decision, FormatModifier};
use wayland_server::protocol::wl_surface::WlSurface;

use crate::state::BufferCollectionState;

/// What the embedding compositor supplies.
///
/// ```
/// use accord_engine::{FormatModifier, MOD_LINEAR};
/// use accord_smithay::{BufferCollectionHandler, BufferCollectionState};
///
/// struct State {
///     accord: BufferCollectionState,
/// }
/// impl BufferCollectionHandler for State {
///     fn buffer_collection_state(&mut self) -> &mut BufferCollectionState {
///         &mut self.accord
///     }
///     fn renderer_formats(&self) -> Vec<FormatModifier> {
///         let xrgb8888 = u32::from_le_bytes(*b"XR24");
///         vec![FormatModifier { format: xrgb8888, modifier: MOD_LINEAR, scanout: false }]
///     }
/// }
/// ```
pub trait BufferCollectionHandler {
    /// The module's state inside yours.
    ///
    /// ```
    /// fn quota(state: &mut impl accord_smithay::BufferCollectionHandler) {
    ///     state.buffer_collection_state().set_client_quota(256 << 20);
    /// }
    /// ```
    fn buffer_collection_state(&mut self) -> &mut BufferCollectionState;

    /// (format, modifier) pairs your renderer can import, most preferred
    /// first (Pixman: LINEAR only). Used for `attach_surface` participants.
    ///
    /// ```
    /// # use accord_engine::{FormatModifier, MOD_LINEAR};
    /// // Pixman imports LINEAR only.
    /// fn pixman_formats(fourccs: &[u32]) -> Vec<FormatModifier> {
    ///     fourccs
    ///         .iter()
    ///         .map(|&format| FormatModifier { format, modifier: MOD_LINEAR, scanout: false })
    ///         .collect()
    /// }
    /// assert_eq!(pixman_formats(&[u32::from_le_bytes(*b"XR24")]).len(), 1);
    /// ```
    fn renderer_formats(&self) -> Vec<FormatModifier>;

    /// Pairs the display planes showing `surface` can scan out. Empty means
    /// composition only (the default).
    ///
    /// The pairs come from the plane's `IN_FORMATS` and must be a subset of
    /// [`renderer_formats`](Self::renderer_formats), so composition stays a
    /// fallback; [`kms::compositor_formats`](crate::kms::compositor_formats)
    /// builds that list, marking the scanout-capable pairs.
    ///
    /// ```no_run
    /// # use accord_engine::FormatModifier;
    /// # use accord_smithay::kms::{compositor_formats, PlaneInfo};
    /// # fn demo(primary: &PlaneInfo, renderer: &[FormatModifier]) {
    /// let pairs: Vec<FormatModifier> = compositor_formats(primary, renderer);
    /// assert!(pairs.iter().any(|p| p.scanout));
    /// # }
    /// ```
    fn scanout_formats(&self, _surface: &WlSurface) -> Vec<FormatModifier> {
        Vec::new()
    }

    /// Confirm a scanout decision on the device before anything is
    /// allocated: called once per collection whose negotiated usage
    /// includes scanout and that has an `attach_surface` participant, with
    /// the first surface attached. Return the decision to allocate: the
    /// same one when the display takes it, another of its `alternatives`
    /// ([`Decision::for_candidate`]) when it does not, with `scanout` false
    /// for a renderer-only fallback. The default confirms nothing and
    /// returns `decision` as it is.
    ///
    /// On KMS, [`kms::confirm_scanout`](crate::kms::confirm_scanout) does
    /// the work (one buffer, `AddFB2`, atomic `TEST_ONLY` on the plane):
    ///
    /// ```no_run
    /// # use accord_engine::Decision;
    /// # use accord_smithay::backend::Allocator;
    /// # use accord_smithay::kms::{confirm_scanout, Card, ScanoutTarget};
    /// # struct Kms { card: Card, target: ScanoutTarget, placements: Vec<Box<dyn Allocator>> }
    /// # fn hook(kms: &mut Kms, decision: &Decision) -> Decision {
    /// confirm_scanout(&kms.card, &kms.target, decision, &mut kms.placements).decision
    /// # }
    /// ```
    fn confirm_scanout(&mut self, _surface: &WlSurface, decision: &Decision) -> Decision {
        decision.clone()
    }
}
