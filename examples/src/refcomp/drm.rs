//! The KMS target: the compositor on a DRM device, through smithay's
//! `DrmDevice` (atomic) and `DrmCompositor`, composing with Pixman into dumb
//! buffers, and putting a fullscreen client's dma-buf on the primary plane
//! as it is when it can (direct scanout).
//!
//! The device is opened directly (root, no libseat, no udev). Every
//! connected connector is an output of its own (a head of the screen),
//! with its preferred mode, its CRTC and primary plane
//! (`accord_smithay::kms::ScanoutTarget::connected_with`), its own
//! swapchain and its own page flips; the outputs sit side by side, the
//! first at (0, 0). Windows are composed on the output they are on; a
//! fullscreen surface goes on its output's primary plane.

use std::{
    cell::{Cell, RefCell},
    os::fd::OwnedFd,
    path::{Path, PathBuf},
    rc::Rc,
};

use accord_engine::placements::{PlacementPolicy, SourceKind};
use accord_engine::{Decision, FormatModifier};
use accord_smithay::{
    backend::{CollectionAllocator, DumbBackend, Placements},
    collections::ScanoutProbe,
    kms::{
        compositor_formats, confirm_scanout, opaque_substitutes, probe_planes, Card, PlaneKind,
        ScanoutTarget,
    },
};
use smithay::{
    backend::{
        allocator::{
            dmabuf::Dmabuf, dumb::DumbAllocator, format::get_opaque, gbm::GbmDevice, Buffer as _,
            Format, Fourcc, Modifier,
        },
        drm::{
            compositor::{DrmCompositor, FrameFlags, PrimaryPlaneElement},
            DrmDevice, DrmDeviceFd, DrmDeviceNotifier, DrmEvent,
        },
        renderer::{
            damage::OutputDamageTracker,
            element::{
                utils::select_dmabuf_feedback, Element, Id, RenderElement, RenderElementStates,
                UnderlyingStorage,
            },
            pixman::PixmanRenderer,
            Bind, ImportDma,
        },
    },
    output::{Mode, OutputModeSource, PhysicalProperties, Subpixel},
    reexports::{
        drm::control::{crtc, plane, Device as _},
        wayland_protocols::wp::linux_dmabuf::zv1::server::zwp_linux_dmabuf_feedback_v1::TrancheFlags,
        wayland_server::protocol::wl_surface::WlSurface,
    },
    utils::{DeviceFd, Transform},
    wayland::dmabuf::{get_dmabuf, DmabufFeedback, DmabufFeedbackBuilder},
};
use tracing::{debug, info, warn};

use super::{
    drm_export::PrimeExporter,
    drm_readback::{framebuffer_format, scanned_out},
    presentation::FrameFeedback,
    renderer::{FrameRenderer, RendererKind},
    screen::{RendererScreen, Screen},
    target::{
        format_pairs, smithay_formats, CollectFn, DrawFn, DrawTarget, FrameOutcome, OutputTarget,
        Rendered,
    },
    Compositor, Config, Error, OutputElement, Screenshot,
};

/// Each queued frame carries the presentation feedback of what it shows,
/// sent when its page flip completes.
type SceneCompositor = DrmCompositor<DumbAllocator, PrimeExporter, FrameFeedback, DrmDeviceFd>;

/// The screen of a card's outputs, their page-flip state, and the
/// notifier of their flips.
type Opened = (Box<dyn Screen>, Vec<SharedState>, DrmDeviceNotifier);

/// The parts of a [`DrmTarget`] its page-flip handler uses.
struct SharedState {
    crtc: crtc::Handle,
    compositor: Rc<RefCell<SceneCompositor>>,
    flip_pending: Rc<Cell<bool>>,
    refresh_mhz: i32,
}

/// How to run on a DRM device.
#[derive(Debug, Clone)]
pub struct DrmOptions {
    /// A KMS card node, e.g. `/dev/dri/card0`.
    pub path: PathBuf,
    /// Let a fullscreen client buffer go on the primary plane. `false`
    /// forces composition of every frame (for comparisons).
    pub direct_scanout: bool,
}

impl DrmOptions {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            direct_scanout: true,
        }
    }
}

/// One output on a KMS CRTC.
pub struct DrmTarget {
    compositor: Rc<RefCell<SceneCompositor>>,
    /// A frame is queued and its page flip has not completed yet.
    flip_pending: Rc<Cell<bool>>,
    fd: DrmDeviceFd,
    /// The device, shared by every output of the card.
    _device: Rc<DrmDevice>,
    dev_id: u64,
    crtc: crtc::Handle,
    plane: plane::Handle,
    /// `DRM_CAP_ADDFB2_MODIFIERS`.
    modifiers: bool,
    connector_name: String,
    mode: Mode,
    flags: FrameFlags,
    /// The primary plane's pairs the renderer imports too (LINEAR where the
    /// plane takes implicit layouts): the default feedback's scanout
    /// tranche, and what collections may scan out.
    scanout_formats: Vec<Format>,
    /// Per-surface feedback, chosen after each frame (see
    /// [`SurfaceFeedbacks`]).
    surface_feedbacks: SurfaceFeedbacks,
    /// How the last rendered frame showed each element.
    last_states: RenderElementStates,
    /// Confirms collection decisions with `TEST_ONLY` commits.
    confirm: ScanoutConfirm,
}

/// The two feedbacks a surface alternates between, as smithay's
/// `select_dmabuf_feedback` picks them: `scanout` while the surface's buffer
/// is on the primary plane or was a candidate for it (fullscreen, on top)
/// that the plane refused; `render` otherwise, and when it first asks.
///
/// The scanout tranche of `scanout` adds to the plane's own pairs the alpha
/// formats whose opaque twin the plane takes ([`opaque_substitutes`]): a
/// surface that qualifies covers the whole CRTC on the bottom plane, so with
/// an opaque region over it, its ARGB8888 memory is scanned out through an
/// XRGB8888 framebuffer (`PrimeExporter`, `use_opaque`), which is exactly
/// what composition would show.
struct SurfaceFeedbacks {
    render: DmabufFeedback,
    scanout: DmabufFeedback,
}

/// What [`confirm_scanout`] needs: the master fd (atomic commits need DRM
/// master), where a fullscreen surface goes, and where its buffers would
/// be allocated (dumb buffers on this card, as the collection allocator).
struct ScanoutConfirm {
    card: Card,
    target: ScanoutTarget,
    placements: Vec<Box<dyn CollectionAllocator>>,
    /// The buffer the last confirmation tested, until the module takes it
    /// as the collection's buffer 0.
    probe: Option<ScanoutProbe>,
}

impl Compositor {
    /// Sets up a compositor on a DRM device: modeset on the first connected
    /// connector, Pixman composition, direct scanout of fullscreen dma-bufs.
    pub fn drm(config: Config, options: &DrmOptions) -> Result<Self, Error> {
        fn screen<R: FrameRenderer + Bind<Dmabuf>>(
            (targets, renderer, notifier): (Vec<DrmTarget>, R, DrmDeviceNotifier),
        ) -> Result<Opened, Error> {
            let shared = targets.iter().map(DrmTarget::shared_state).collect();
            let mut heads = targets.into_iter();
            let first = heads.next().ok_or("no output")?;
            let screen = RendererScreen::with_heads(renderer, first, heads.collect());
            Ok((Box::new(screen), shared, notifier))
        }
        let (screen, heads, notifier) = match config.renderer {
            RendererKind::Pixman => {
                screen(DrmTarget::open(options, || Ok(PixmanRenderer::new()?))?)?
            }
            RendererKind::Gles => screen(DrmTarget::open(options, || {
                // An open of the card of its own: Mesa's GEM handles
                // (kms_swrast imports every client dma-buf it draws and
                // every swapchain buffer it draws into) apart from those
                // the compositor makes on its master fd and closes (a
                // framebuffer's, a TEST_ONLY's). On one file a PRIME import
                // returns the handle already there, so closing it pulled a
                // texture from under llvmpipe: a NULL mapping, SIGSEGV.
                let own = DrmDeviceFd::new(DeviceFd::from(open_card(&options.path)?));
                super::gles::card_renderer(own)
            })?)?,
        };
        info!(
            renderer = config.renderer.name(),
            outputs = heads.len(),
            "KMS output renderer"
        );
        // Frames tick at the first output's refresh.
        let config = Config {
            refresh_mhz: heads.first().map_or(60_000, |h| h.refresh_mhz),
            ..config
        };
        let this = Self::new(config, screen)?;
        this.loop_handle()
            .insert_source(notifier, move |event, metadata, state| match event {
                DrmEvent::VBlank(crtc) => {
                    let Some(head) = heads.iter().position(|h| h.crtc == crtc) else {
                        warn!(?crtc, "page flip of an unknown CRTC");
                        return;
                    };
                    let shared = &heads[head];
                    shared.flip_pending.set(false);
                    state.counters.page_flipped(head);
                    let submitted = shared.compositor.borrow_mut().frame_submitted();
                    let feedback = submitted.unwrap_or_else(|err| {
                        warn!(%err, "page flip completion failed");
                        None
                    });
                    // The flip showed the frame: its feedback and the
                    // frame callbacks of that output go out now, with the
                    // flip's time; then the next frame, if one is due
                    // (repaint.rs).
                    state.flip_completed(head, feedback, metadata.as_ref());
                    state.display_ready();
                }
                DrmEvent::Error(err) => warn!(%err, "DRM event error"),
            })
            .map_err(|e| e.error)?;
        Ok(this)
    }
}

fn open_card(path: &Path) -> Result<OwnedFd, Error> {
    use rustix::fs::{Mode as FsMode, OFlags};
    rustix::fs::open(path, OFlags::RDWR | OFlags::CLOEXEC, FsMode::empty())
        .map_err(|e| format!("cannot open {}: {e} (run as root)", path.display()).into())
}

impl DrmTarget {
    /// Opens `options.path` and sets up one output per connected connector
    /// (each its own CRTC, primary plane, mode and swapchain), composed
    /// with the renderer `make_renderer` creates once the compositor's fd
    /// is open and DRM master (a renderer that opens the card itself, as
    /// GLES does, so gets a second, non-master open); the notifier
    /// delivers page-flip events of every CRTC.
    pub fn open<R: ImportDma>(
        options: &DrmOptions,
        make_renderer: impl FnOnce() -> Result<R, Error>,
    ) -> Result<(Vec<Self>, R, DrmDeviceNotifier), Error> {
        let path = &options.path;
        let fd = DrmDeviceFd::new(DeviceFd::from(open_card(path)?));
        let (mut device, notifier) = DrmDevice::new(fd.clone(), true)
            .map_err(|e| format!("{}: not a usable KMS device: {e}", path.display()))?;
        let renderer = make_renderer()?;
        if !device.is_atomic() {
            return Err(format!("{}: atomic modesetting is not available", path.display()).into());
        }
        // Probing goes through accord's KMS module, on its own handle.
        let card = Card::open(path)?;
        card.enable_atomic()?;
        let targets = ScanoutTarget::connected_with(&card, PlaneKind::Primary)?;
        if targets.is_empty() {
            return Err(format!("{}: no connected connector with a mode", path.display()).into());
        }
        let modifiers = card.supports_modifiers();
        // GLES on a device without modifiers lists the implicit modifier
        // only; there the implicit layout is LINEAR (see
        // `implicit_modifier_is_linear`), which is what the plane and
        // the collection allocator speak.
        let pairs = implicit_as_linear(
            format_pairs(renderer.dmabuf_formats().iter(), false),
            !card.supports_modifiers(),
        );
        let dev_id = fd.dev_id().map_err(std::io::Error::from)?;
        let mut heads = Vec::with_capacity(targets.len());
        for target in targets {
            heads.push(Head::new(
                options,
                &fd,
                &mut device,
                &card,
                &renderer,
                &pairs,
                target,
            )?);
        }
        // The confirmations' handles only now: `enable_atomic` sets
        // CURSOR_PLANE_HOTSPOT on the open file they share with the
        // device, which shows virtio-gpu's cursor planes from then on;
        // smithay read its plane properties without them, so a surface
        // created after would find a cursor plane it cannot drive.
        let mut confirms = Vec::with_capacity(heads.len());
        for h in &heads {
            confirms.push(ScanoutConfirm::new(path, &fd, h.target.clone())?);
        }
        let device = Rc::new(device);
        let flags = if options.direct_scanout {
            // "_ANY": a client framebuffer added without modifiers reads as
            // (XR24, INVALID) while the dumb swapchain reads as (XR24,
            // LINEAR); the same memory layout, and the atomic TEST_ONLY
            // commit smithay runs before using a plane is the real check.
            FrameFlags::DEFAULT | FrameFlags::ALLOW_PRIMARY_PLANE_SCANOUT_ANY
        } else {
            FrameFlags::empty()
        };
        let outputs = heads
            .into_iter()
            .zip(confirms)
            .map(|(h, confirm)| Self {
                compositor: Rc::new(RefCell::new(h.compositor)),
                flip_pending: Rc::new(Cell::new(false)),
                fd: fd.clone(),
                _device: device.clone(),
                dev_id,
                crtc: h.target.crtc,
                plane: h.target.plane,
                modifiers,
                connector_name: h.connector_name,
                mode: h.mode,
                flags,
                scanout_formats: h.scanout_formats,
                surface_feedbacks: h.surface_feedbacks,
                last_states: RenderElementStates::default(),
                confirm,
            })
            .collect();
        Ok((outputs, renderer, notifier))
    }

    /// The primary plane, e.g. to read back what it scans out.
    pub fn primary_plane(&self) -> plane::Handle {
        self.plane
    }

    /// What the page-flip handler shares with the target once the target
    /// has moved into its screen.
    fn shared_state(&self) -> SharedState {
        SharedState {
            crtc: self.crtc,
            compositor: self.compositor.clone(),
            flip_pending: self.flip_pending.clone(),
            refresh_mhz: self.mode.refresh,
        }
    }
}

/// One connector's part of [`DrmTarget::open`], before the device is
/// shared.
struct Head {
    target: ScanoutTarget,
    compositor: SceneCompositor,
    connector_name: String,
    mode: Mode,
    scanout_formats: Vec<Format>,
    surface_feedbacks: SurfaceFeedbacks,
}

impl Head {
    /// Drives `target`'s connector: its mode on its CRTC, a dumb
    /// swapchain, and what its primary plane scans out of what the
    /// renderer imports (`pairs`).
    #[allow(clippy::too_many_arguments)]
    fn new<R: ImportDma>(
        options: &DrmOptions,
        fd: &DrmDeviceFd,
        device: &mut DrmDevice,
        card: &Card,
        renderer: &R,
        pairs: &[FormatModifier],
        target: ScanoutTarget,
    ) -> Result<Self, Error> {
        let path = &options.path;
        let connector_name = {
            let info = card.get_connector(target.connector, false)?;
            format!("{:?}-{}", info.interface(), info.interface_id())
        };
        let (w, h) = target.mode.size();
        let mode = Mode {
            size: (i32::from(w), i32::from(h)).into(),
            refresh: i32::try_from(target.mode.vrefresh() * 1000).unwrap_or(60_000),
        };
        let primary = probe_planes(card, target.crtc)?
            .into_iter()
            .find(|p| p.handle == target.plane)
            .ok_or("the primary plane vanished while probing")?;
        let native: Vec<_> = compositor_formats(&primary, pairs)
            .into_iter()
            .filter(|p| p.scanout)
            .collect();
        let scanout_formats = smithay_formats(&native);
        let dev_id = fd.dev_id().map_err(std::io::Error::from)?;
        let substitutes = smithay_formats(&opaque_substitutes(&primary, pairs));
        let surface_feedbacks = SurfaceFeedbacks {
            render: DmabufFeedbackBuilder::new(dev_id, renderer.dmabuf_formats()).build()?,
            scanout: DmabufFeedbackBuilder::new(dev_id, renderer.dmabuf_formats())
                .add_preference_tranche(
                    dev_id,
                    Some(TrancheFlags::Scanout),
                    scanout_formats.iter().chain(&substitutes).copied(),
                )
                .build()?,
        };

        let surface = device
            .create_surface(target.crtc, target.mode, &[target.connector])
            .map_err(|e| format!("cannot drive {connector_name}: {e}"))?;
        let source = OutputModeSource::Static {
            size: mode.size,
            scale: 1.0.into(),
            transform: Transform::Normal,
        };
        // The swapchain: dumb buffers, the only allocator that works on
        // virtio-gpu without virgl (no Mesa GPU driver in the guest). A plane
        // without IN_FORMATS lists implicit modifiers; Pixman maps LINEAR,
        // and a dumb buffer is linear.
        let swapchain_modifiers = [Modifier::Linear, Modifier::Invalid];
        let compositor = SceneCompositor::with_format(
            source,
            surface,
            None,
            DumbAllocator::new(fd.clone()),
            PrimeExporter::new(card.supports_modifiers()),
            Fourcc::Xrgb8888,
            swapchain_modifiers,
            device.cursor_size(),
            None::<GbmDevice<DrmDeviceFd>>,
        )
        .map_err(|e| format!("cannot set up composition on {connector_name}: {e}"))?;
        info!(
            device = %path.display(),
            connector = %connector_name,
            mode = ?(w, h, target.mode.vrefresh()),
            scanout_formats = ?scanout_formats,
            opaque_substitutes = ?substitutes,
            direct_scanout = options.direct_scanout,
            "KMS output"
        );
        Ok(Self {
            target,
            compositor,
            connector_name,
            mode,
            scanout_formats,
            surface_feedbacks,
        })
    }
}

impl ScanoutConfirm {
    /// Confirms on `target` through the master fd `fd` (a duplicate of
    /// it: the same open file).
    fn new(path: &Path, fd: &DrmDeviceFd, target: ScanoutTarget) -> Result<Self, Error> {
        use std::os::fd::AsFd;
        let master = Card::from_fd(fd.as_fd().try_clone_to_owned()?, path);
        master.enable_atomic()?;
        Ok(Self {
            card: master,
            target,
            placements: vec![Box::new(DumbBackend::open(path)?)],
            probe: None,
        })
    }
}

impl OutputTarget for DrmTarget {
    fn output_name(&self) -> String {
        self.connector_name.clone()
    }

    fn paced_by_display(&self) -> bool {
        true
    }

    fn mode(&self) -> Mode {
        self.mode
    }

    fn physical_properties(&self) -> PhysicalProperties {
        PhysicalProperties {
            size: (0, 0).into(),
            subpixel: Subpixel::Unknown,
            make: "Accord".into(),
            model: "KMS".into(),
        }
    }

    /// Every backend of the machine, ranked per collection by the engine.
    /// The platform override: dumb buffers before GBM, since they are
    /// what the scanout confirmation tests on the primary plane (and what
    /// virtio-gpu scans out, measured); then heaps, udmabuf, memfd.
    fn collection_placements(&self) -> Result<Placements, Error> {
        let mut set = Placements::detect();
        set.set_policy(PlacementPolicy {
            order: vec![
                SourceKind::Dumb,
                SourceKind::Gbm,
                SourceKind::DmaHeap,
                SourceKind::Udmabuf,
                SourceKind::Other,
                SourceKind::Memfd,
            ],
        });
        Ok(set)
    }

    fn scanout_device(&self) -> Option<u64> {
        Some(self.dev_id)
    }

    fn gpu_device(&self) -> Option<u64> {
        Some(self.dev_id)
    }

    fn scanout_pairs(&self) -> Vec<FormatModifier> {
        format_pairs(&self.scanout_formats, true)
    }

    /// One buffer of each scanout candidate, in ranking order, `AddFB2` and
    /// an atomic `TEST_ONLY` commit on the primary plane (fullscreen at the
    /// mode's size); the first that passes, else a renderer-only fallback.
    /// The buffer that passed is kept for the module, which makes it the
    /// collection's buffer 0 (dumb buffers of this card, as the
    /// collection's first placement): one allocation fewer per toggle.
    fn confirm_scanout(&mut self, decision: &Decision) -> Decision {
        let c = &mut self.confirm;
        let mut choice = confirm_scanout(&c.card, &c.target, decision, &mut c.placements);
        c.probe = choice.probe.take();
        info!(
            format = format_args!("{:#010x}", choice.decision.format),
            modifier = format_args!("{:#x}", choice.decision.modifier),
            size = ?(choice.decision.width, choice.decision.height),
            confirmed = choice.confirmed(),
            tries = choice.attempts.len(),
            "collection scanout confirmation"
        );
        choice.decision
    }

    fn take_scanout_probe(&mut self) -> Option<ScanoutProbe> {
        self.confirm.probe.take()
    }

    /// A device without `ADDFB2_MODIFIERS` has one layout, linear: see
    /// `dmabuf_params.rs`.
    fn implicit_modifier_is_linear(&self) -> bool {
        !self.modifiers
    }

    fn initial_surface_feedback(&self) -> Option<DmabufFeedback> {
        Some(self.surface_feedbacks.render.clone())
    }

    fn surface_feedback(&self, surface: &WlSurface) -> Option<&DmabufFeedback> {
        let f = &self.surface_feedbacks;
        Some(select_dmabuf_feedback(
            Id::from(surface),
            &self.last_states,
            &f.render,
            &f.scanout,
        ))
    }
}

/// Any renderer that draws into dma-bufs composes on KMS (smithay's
/// `DrmCompositor` binds the swapchain's buffers).
impl<R: FrameRenderer + Bind<Dmabuf>> DrawTarget<R> for DrmTarget {
    /// Main device: this card. First tranche: the primary plane's formats,
    /// flagged scanout, targeting this card; then what Pixman imports.
    fn dmabuf_feedback(&self, renderer: &R) -> std::io::Result<DmabufFeedback> {
        DmabufFeedbackBuilder::new(self.dev_id, renderer.dmabuf_formats())
            .add_preference_tranche(
                self.dev_id,
                Some(TrancheFlags::Scanout),
                self.scanout_formats.iter().copied(),
            )
            .build()
    }

    fn render_scene(
        &mut self,
        renderer: &mut R,
        elements: &[OutputElement<R>],
        background: [f32; 4],
        _tracker: &mut OutputDamageTracker,
        collect: &mut CollectFn<'_>,
    ) -> Result<Rendered, Error> {
        if self.flip_pending.get() {
            return Ok(Rendered {
                outcome: FrameOutcome::Busy,
                present_now: None,
                scaled_fullscreen: false,
            });
        }
        let scaled_fullscreen = elements
            .first()
            .is_some_and(|top| scaled_fullscreen(top, self.mode.size));
        let mut compositor = self.compositor.borrow_mut();
        let mut result = compositor
            .render_frame(renderer, elements, background, self.flags)
            .map_err(|e| format!("DRM frame: {e}"))?;
        // Without a fence KMS can wait on (GLES on kms_swrast: llvmpipe
        // draws on its own threads, no exportable sync file), smithay leaves
        // the wait to us: else the flip shows a frame still being drawn, and
        // the swapchain hands the slot back while llvmpipe writes to it.
        if result.needs_sync() {
            if let PrimaryPlaneElement::Swapchain(element) = &result.primary_element {
                if let Err(e) = element.sync.wait() {
                    debug!("waiting for the frame's rendering: {e:?}");
                }
            }
        }
        self.last_states = std::mem::take(&mut result.states);
        let feedback = collect(&self.last_states);
        if result.is_empty {
            // Nothing changed on screen: the commits are shown as they are.
            return Ok(Rendered {
                outcome: FrameOutcome::Unchanged,
                present_now: Some(feedback),
                scaled_fullscreen,
            });
        }
        let (outcome, alpha_buffer) = match &result.primary_element {
            PrimaryPlaneElement::Element(element) => (
                FrameOutcome::Direct {
                    opaque_substitute: false,
                },
                dmabuf_format(element, renderer).filter(|&f| get_opaque(f).is_some()),
            ),
            PrimaryPlaneElement::Swapchain(_) => (FrameOutcome::Composited, None),
        };
        drop(result);
        // A frame that cannot be queued drops its feedback: discarded.
        compositor
            .queue_frame(feedback)
            .map_err(|e| format!("queueing the page flip: {e}"))?;
        self.flip_pending.set(true);
        let rendered = |outcome| Rendered {
            outcome,
            present_now: None,
            scaled_fullscreen,
        };
        let outcome = match alpha_buffer {
            // Ask KMS what the plane was given (the commit has swapped the
            // plane state): the opaque twin's framebuffer over alpha memory.
            // The frame is queued either way: a failed query only leaves
            // it uncounted as a substitution.
            Some(buffer) => match framebuffer_format(&self.fd, self.plane) {
                Ok(shown) => FrameOutcome::Direct {
                    opaque_substitute: get_opaque(buffer) == Some(shown),
                },
                Err(err) => {
                    debug!(%err, "cannot read the primary plane's framebuffer format");
                    outcome
                }
            },
            None => outcome,
        };
        Ok(rendered(outcome))
    }

    fn render_frame(&mut self, _renderer: &mut R, _draw: &mut DrawFn<'_, R>) -> Result<(), Error> {
        Err("the KMS target renders through render_scene".into())
    }

    /// Reads the framebuffer the primary plane shows now.
    fn read_pixels(&mut self, _renderer: &mut R) -> Result<Screenshot, Error> {
        scanned_out(&self.fd, self.plane)?.read_rgba()
    }
}

/// `pairs` with the implicit modifier read as LINEAR where the device has
/// one layout (`linear`), without duplicates.
pub fn implicit_as_linear(pairs: Vec<FormatModifier>, linear: bool) -> Vec<FormatModifier> {
    if !linear {
        return pairs;
    }
    let mut out: Vec<FormatModifier> = Vec::with_capacity(pairs.len());
    for mut pair in pairs {
        if pair.modifier == accord_engine::MOD_INVALID {
            pair.modifier = accord_engine::MOD_LINEAR;
        }
        if !out.contains(&pair) {
            out.push(pair);
        }
    }
    out
}

/// Whether `element` covers the whole output (`size`) and its source is of
/// another size than its destination: scanning it out takes a plane that
/// scales.
fn scaled_fullscreen<R: FrameRenderer>(
    element: &OutputElement<R>,
    size: smithay::utils::Size<i32, smithay::utils::Physical>,
) -> bool {
    let geometry = element.geometry(1.0.into());
    let src = element.src();
    geometry.loc == (0, 0).into()
        && geometry.size == size
        && (src.size.w != f64::from(size.w) || src.size.h != f64::from(size.h))
}

/// The format of the client dma-buf behind `element`, if it is one.
fn dmabuf_format<R: FrameRenderer>(element: &OutputElement<R>, renderer: &mut R) -> Option<Fourcc> {
    match element.underlying_storage(renderer)? {
        UnderlyingStorage::Wayland(buffer) => Some(get_dmabuf(buffer).ok()?.format().code),
        UnderlyingStorage::Memory(_) => None,
    }
}
