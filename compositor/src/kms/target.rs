//! Where a surface would be scanned out: the connector, its mode, the CRTC
//! and the primary plane that a `TEST_ONLY` commit targets.

use smithay::reexports::drm::control::{
    connector, crtc, plane, Device as ControlDevice, Mode, ModeTypeFlags,
};

use super::{probe_planes, Card, PlaneKind};

/// Where a surface would be scanned out: a plane on a CRTC driving a
/// connector with a mode.
///
/// ```no_run
/// use accord_smithay::kms::Card;
/// let card = Card::open("/dev/dri/card0")?;
/// card.enable_atomic()?;
/// let target = accord_smithay::kms::ScanoutTarget::first_connected(&card)?;
/// let (w, h) = target.mode.size();
/// println!("{w}x{h} on plane {:?}", target.plane);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ScanoutTarget {
    /// The connected connector.
    pub connector: connector::Handle,
    /// The CRTC driving it.
    pub crtc: crtc::Handle,
    /// The plane the buffers would go on.
    pub plane: plane::Handle,
    /// The mode (its size is the fullscreen buffer size).
    pub mode: Mode,
}

impl ScanoutTarget {
    /// The primary plane of the CRTC for the first connected connector, with
    /// the mode the kernel command line set for it (`video=`), else its
    /// preferred mode, else its first.
    ///
    /// ```no_run
    /// use accord_smithay::kms::Card;
    /// let card = Card::open("/dev/dri/card0")?;
    /// card.enable_atomic()?;
    /// let target = accord_smithay::kms::ScanoutTarget::first_connected(&card)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn first_connected(card: &Card) -> std::io::Result<ScanoutTarget> {
        Self::first_connected_with(card, PlaneKind::Primary)
    }

    /// Like [`ScanoutTarget::first_connected`], on the first plane of `kind`.
    ///
    /// ```no_run
    /// use accord_smithay::kms::Card;
    /// let card = Card::open("/dev/dri/card0")?;
    /// use accord_smithay::kms::{PlaneKind, ScanoutTarget};
    /// card.enable_atomic()?;
    /// let cursor = ScanoutTarget::first_connected_with(&card, PlaneKind::Cursor)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn first_connected_with(card: &Card, kind: PlaneKind) -> std::io::Result<ScanoutTarget> {
        Self::connected_with(card, kind)?
            .into_iter()
            .next()
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!(
                        "{}: no connected connector with a mode",
                        card.path().display()
                    ),
                )
            })
    }

    /// Every connected connector with a mode, in the card's order, each
    /// on a CRTC of its own (its current one, else the first free one its
    /// encoders can drive) and that CRTC's first plane of `kind`: one
    /// output each. A connector left without a free CRTC is skipped.
    ///
    /// ```no_run
    /// use accord_smithay::kms::{Card, PlaneKind, ScanoutTarget};
    /// let card = Card::open("/dev/dri/card0")?;
    /// card.enable_atomic()?;
    /// for output in ScanoutTarget::connected_with(&card, PlaneKind::Primary)? {
    ///     println!("{:?} on {:?}", output.connector, output.crtc);
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connected_with(card: &Card, kind: PlaneKind) -> std::io::Result<Vec<ScanoutTarget>> {
        let not_found = |what: String| std::io::Error::new(std::io::ErrorKind::NotFound, what);
        let res = card.resource_handles()?;
        let mut out: Vec<ScanoutTarget> = Vec::new();
        for &conn in res.connectors() {
            let info = card.get_connector(conn, false)?;
            if info.state() != connector::State::Connected || info.modes().is_empty() {
                continue;
            }
            // The mode the kernel command line asked for (`video=`), else
            // the preferred one, else the first.
            let modes = info.modes();
            let mode = [ModeTypeFlags::USERDEF, ModeTypeFlags::PREFERRED]
                .iter()
                .find_map(|&kind| modes.iter().find(|m| m.mode_type().contains(kind)))
                .unwrap_or(&modes[0]);
            let taken = |c: &crtc::Handle| out.iter().any(|t| t.crtc == *c);
            let current = info
                .current_encoder()
                .and_then(|e| card.get_encoder(e).ok())
                .and_then(|e| e.crtc())
                .filter(|c| !taken(c));
            let Some(crtc) = current.or_else(|| {
                info.encoders()
                    .iter()
                    .filter_map(|&e| card.get_encoder(e).ok())
                    .flat_map(|e| res.filter_crtcs(e.possible_crtcs()))
                    .find(|c| !taken(c))
            }) else {
                continue;
            };
            let plane = probe_planes(card, crtc)?
                .into_iter()
                .find(|p| p.kind == kind)
                .ok_or_else(|| not_found(format!("no {kind:?} plane for CRTC {crtc:?}")))?;
            out.push(ScanoutTarget {
                connector: conn,
                crtc,
                plane: plane.handle,
                mode: *mode,
            });
        }
        Ok(out)
    }
}
