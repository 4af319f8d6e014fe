//! Where a collection's memory comes from: the placements (backends on
//! their devices) that satisfy every participant, ranked by a documented
//! policy with a per-platform override.
//!
//! The compositor detects its [`Source`]s (GBM and dumb buffers per DRM
//! device, DMA-BUF heaps by name, udmabuf, memfd) and asks [`rank`] for
//! each confirmed decision. A source is *eligible* when every rule below
//! holds; each rule that removes the last source becomes the failure's
//! message, naming the participants whose need it is:
//!
//! 1. **Devices reach it.** Every device a participant named (`devices`)
//!    must import the memory. Memory a DRM device made (GBM, dumb) is
//!    reached by that device only (virtio-gpu refuses a vgem buffer);
//!    system memory exported as a dma-buf (heaps, udmabuf) by every device;
//!    memfd by none.
//! 2. **Scanout on the display itself.** A scanout decision whose
//!    participants name KMS devices (`scanout_devices`, the compositor's
//!    display) needs memory made by one of those devices. Such a
//!    participant's own `devices` (the compositor's renderer) count only
//!    when the buffers are composited: on a hybrid machine scanout
//!    buffers go to the display GPU, renderer-only ones where the renderer
//!    reads them.
//! 3. **A dma-buf when one is needed**: memfd only when nobody named a
//!    device, the decision is not scanned out and nobody decodes, encodes
//!    or captures into it (hardware that takes dma-bufs only).
//! 4. **CPU usage needs mappable memory.**
//! 5. **`contiguous` needs a source that guarantees it** (a CMA heap);
//!    otherwise the failure says so, naming who asked. Accord knows of no
//!    DRM device whose dumb buffers are always contiguous, so none is
//!    assumed.
//! 6. **Protected usage needs protected memory** (a secure heap), never
//!    ordinary memory, and **every participant's permitted list** (sysmem's
//!    `permitted_heaps`) must admit the source: an entry names a kind
//!    (`dma-heap`, `udmabuf`, `gbm`, `dumb`, `memfd`) or one heap
//!    (`dma-heap:system`).
//! 7. **The source can make the layout** ([`Capability`]).
//!
//! The eligible sources are ordered by the policy's kind order (default
//! [`PlacementPolicy::DEFAULT_ORDER`]: device memory on a named device, GBM
//! then dumb; then a DMA-BUF heap; then udmabuf; then any other dma-buf
//! source; memfd last, labelled not a dma-buf), then the order they were
//! detected in; memory of a device nobody named (in `devices` or
//! `scanout_devices`) comes after all of them: it would tie the buffers to
//! a device nobody asked for, so it is used only when nothing else can be
//! (a compositor whose one allocator is a card's). A platform overrides the kind order (a display that scans
//! out only dumb buffers puts dumb first), as the format cost table
//! overrides the pair ranking. The compositor allocates on the first and
//! falls back to the next on failure.
//!
//! Before solving, [`capability_of`] gives what the sources that could
//! still be eligible can make together, so the decision is one of them
//! can make (`placement.rs`).

use crate::placement::Capability;
use crate::types::{Constraints, Decision, Failure, FailureReason, Usage};

/// What makes a source's memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceKind {
    /// GBM on a DRM device.
    Gbm,
    /// Dumb buffers on a DRM device, exported with PRIME.
    Dumb,
    /// A DMA-BUF heap (`/dev/dma_heap/NAME`).
    DmaHeap,
    /// `/dev/udmabuf` (memfd pages as a dma-buf).
    Udmabuf,
    /// An embedder's own dma-buf allocator of no known kind.
    Other,
    /// Sealed memfds: not a dma-buf.
    Memfd,
}

impl SourceKind {
    /// Every kind, in the default order.
    pub const ALL: [SourceKind; 6] = [
        SourceKind::Gbm,
        SourceKind::Dumb,
        SourceKind::DmaHeap,
        SourceKind::Udmabuf,
        SourceKind::Other,
        SourceKind::Memfd,
    ];

    /// `gbm`, `dumb`, `dma-heap`, `udmabuf`, `other` or `memfd`.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Gbm => "gbm",
            SourceKind::Dumb => "dumb",
            SourceKind::DmaHeap => "dma-heap",
            SourceKind::Udmabuf => "udmabuf",
            SourceKind::Other => "other",
            SourceKind::Memfd => "memfd",
        }
    }

    /// The kind named `name` (as [`as_str`](Self::as_str)).
    pub fn from_name(name: &str) -> Option<SourceKind> {
        SourceKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// One placement as the engine sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// For messages and the outcome: `dumb:/dev/dri/card0`, `dma-heap:system`.
    pub name: String,
    pub kind: SourceKind,
    /// The heap's name for a DMA-BUF heap (`system`, `linux,cma`).
    pub heap: Option<String>,
    /// The `dev_t`s of the DRM device that makes the memory (its card and
    /// render nodes); empty for system memory (heaps, udmabuf, memfd).
    pub device: Vec<u64>,
    /// A dma-buf (every kind but memfd).
    pub dmabuf: bool,
    /// The CPU can map it.
    pub mappable: bool,
    /// Physically contiguous, guaranteed.
    pub contiguous: bool,
    /// Protected (secure) memory: not CPU-accessible.
    pub protected: bool,
    /// What layouts it makes.
    pub capability: Capability,
}

impl Source {
    /// A source of `kind` with the traits that kind has by default: a
    /// heap's from its name ([`heap_traits`]); device memory on `device`.
    ///
    /// ```
    /// use accord_engine::placements::{Source, SourceKind};
    /// let cma = Source::of_kind(SourceKind::DmaHeap, Some("linux,cma"), vec![]);
    /// assert!(cma.contiguous && cma.dmabuf && !cma.protected);
    /// assert_eq!(cma.name, "dma-heap:linux,cma");
    /// assert!(!Source::of_kind(SourceKind::Memfd, None, vec![]).dmabuf);
    /// ```
    pub fn of_kind(kind: SourceKind, heap: Option<&str>, device: Vec<u64>) -> Source {
        let (contiguous, protected) = match (kind, heap) {
            (SourceKind::DmaHeap, Some(h)) => heap_traits(h),
            _ => (false, false),
        };
        let capability = match kind {
            SourceKind::Gbm | SourceKind::Other => Capability::Any,
            _ => Capability::Linear,
        };
        Source {
            name: match heap {
                Some(h) => format!("{}:{h}", kind.as_str()),
                None => kind.as_str().to_string(),
            },
            kind,
            heap: heap.map(str::to_string),
            device,
            dmabuf: kind != SourceKind::Memfd,
            mappable: !protected,
            contiguous,
            protected,
            capability,
        }
    }

    /// Device memory: made by a DRM device.
    pub fn is_device_memory(&self) -> bool {
        !self.device.is_empty()
    }

    /// Whether `dev` can import this memory (rule 1).
    pub fn reaches(&self, dev: u64) -> bool {
        if self.is_device_memory() {
            self.device.contains(&dev)
        } else {
            self.dmabuf
        }
    }

    /// Whether a permitted-heaps entry admits this source.
    pub fn permitted_by(&self, entry: &str) -> bool {
        entry == self.kind.as_str()
            || self
                .heap
                .as_deref()
                .is_some_and(|h| entry.strip_prefix("dma-heap:") == Some(h))
    }

    /// Its traits for `accord info`: `dma-buf, mappable, linear layouts`.
    pub fn describe(&self) -> String {
        let mut t = vec![if self.dmabuf {
            "dma-buf"
        } else {
            "not a dma-buf"
        }];
        t.push(if self.mappable {
            "mappable"
        } else {
            "not mappable"
        });
        if self.contiguous {
            t.push("contiguous");
        }
        if self.protected {
            t.push("protected");
        }
        t.push(self.capability.describe());
        t.join(", ")
    }
}

/// Contiguity and protection of a DMA-BUF heap by its name, as the
/// kernel's and vendors' heaps are named: `system` is neither; a name with
/// `cma` or `reserved` (`linux,cma`, `reserved`) is contiguous; one with
/// `secure`, `protected` or `restricted` (`restricted_mtk_cm`) is
/// protected.
///
/// ```
/// use accord_engine::placements::heap_traits;
/// assert_eq!(heap_traits("system"), (false, false));
/// assert_eq!(heap_traits("linux,cma"), (true, false));
/// assert_eq!(heap_traits("secure_video"), (false, true));
/// ```
pub fn heap_traits(name: &str) -> (bool, bool) {
    let contiguous = name.contains("cma") || name.contains("reserved");
    let protected = ["secure", "protected", "restricted"]
        .iter()
        .any(|w| name.contains(w));
    (contiguous, protected)
}

/// A permitted-heaps entry: a kind, or `dma-heap:NAME`; at most 63 bytes,
/// printable ASCII.
///
/// ```
/// use accord_engine::placements::check_heap_name;
/// assert!(check_heap_name("dma-heap:system").is_ok());
/// assert!(check_heap_name("udmabuf").is_ok());
/// assert!(check_heap_name("floppy").is_err());
/// ```
pub fn check_heap_name(entry: &str) -> Result<(), String> {
    if entry.len() > crate::limits::MAX_NAME_BYTES {
        return Err(format!(
            "{} bytes; at most {} allowed",
            entry.len(),
            crate::limits::MAX_NAME_BYTES
        ));
    }
    let heap_ok = entry
        .strip_prefix("dma-heap:")
        .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()));
    if heap_ok || SourceKind::from_name(entry).is_some_and(|k| k != SourceKind::Other) {
        Ok(())
    } else {
        Err(format!(
            "'{}': expected gbm, dumb, dma-heap, udmabuf, memfd or dma-heap:NAME",
            entry.escape_debug()
        ))
    }
}

/// The order of source kinds (the per-platform override).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlacementPolicy {
    /// Kinds, best first; a kind not listed comes after every listed one.
    pub order: Vec<SourceKind>,
}

impl PlacementPolicy {
    /// Device memory on a named device (GBM, then dumb), a DMA-BUF heap,
    /// udmabuf, another dma-buf source, memfd.
    pub const DEFAULT_ORDER: [SourceKind; 6] = SourceKind::ALL;

    fn position(&self, kind: SourceKind) -> usize {
        self.order
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(self.order.len())
    }
}

impl Default for PlacementPolicy {
    fn default() -> Self {
        PlacementPolicy {
            order: Self::DEFAULT_ORDER.to_vec(),
        }
    }
}

/// The participants' placement needs, combined.
struct Needs<'a> {
    parts: &'a [Constraints],
    devices: Vec<u64>,
    scanout_devices: Vec<u64>,
    usage: Usage,
}

impl<'a> Needs<'a> {
    /// `scanout`: the decision's (`None` before solving). A participant
    /// that names scanout devices (the compositor: its display) needs its
    /// `devices` (its renderer) only when the buffers are composited; on
    /// scanout it needs its display instead. Before solving neither is
    /// required of it.
    fn of(parts: &'a [Constraints], scanout: Option<bool>) -> Self {
        let mut devices: Vec<u64> = parts
            .iter()
            .flat_map(|p| match (scanout, p.scanout_devices.is_empty()) {
                (_, true) | (Some(false), false) => p.devices.clone(),
                (Some(true), false) => p.scanout_devices.clone(),
                (None, false) => Vec::new(),
            })
            .collect();
        devices.sort_unstable();
        devices.dedup();
        let mut scanout_devices: Vec<u64> = parts
            .iter()
            .flat_map(|p| p.scanout_devices.clone())
            .collect();
        scanout_devices.sort_unstable();
        scanout_devices.dedup();
        let usage = parts.iter().fold(Usage::empty(), |u, p| u | p.usage);
        Needs {
            parts,
            devices,
            scanout_devices,
            usage,
        }
    }

    /// The names of the participants `pick` selects, sorted and each once,
    /// so that a failure does not depend on the order participants came in
    /// (found by the engine fuzz target's placement section).
    fn names(&self, pick: impl Fn(&Constraints) -> bool) -> Vec<String> {
        let mut names: Vec<String> = self
            .parts
            .iter()
            .filter(|p| pick(p))
            .map(|p| p.name.clone())
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Device memory of a device no participant named, for scanout or
    /// otherwise (ranked after every other source, see [`rank`]).
    fn unnamed_device(&self, s: &Source) -> bool {
        s.is_device_memory()
            && !self
                .devices
                .iter()
                .chain(&self.scanout_devices)
                .any(|d| s.device.contains(d))
    }

    /// Why `s` is not eligible, or `None`; `scanout` is the decision's
    /// (`None` before solving: either), `contiguous` whether it is asked.
    fn refusal(&self, s: &Source, scanout: Option<bool>, contiguous: bool) -> Option<Refusal> {
        let on_display = scanout == Some(true) && !self.scanout_devices.is_empty();
        if let Some(&dev) = self.devices.iter().find(|&&d| !s.reaches(d)) {
            return Some(Refusal::Unreachable(dev));
        }
        if on_display && !self.scanout_devices.iter().any(|d| s.device.contains(d)) {
            return Some(Refusal::NotOnDisplay);
        }
        let hardware = Usage::VIDEO_DECODE | Usage::VIDEO_ENCODE | Usage::CAPTURE;
        if !s.dmabuf
            && (!self.devices.is_empty()
                || scanout == Some(true)
                || self.usage.intersects(hardware))
        {
            return Some(Refusal::NotDmabuf);
        }
        let cpu = Usage::CPU_READ | Usage::CPU_WRITE;
        if self.usage.intersects(cpu) && !s.mappable {
            return Some(Refusal::NotMappable);
        }
        if contiguous && !s.contiguous {
            return Some(Refusal::NotContiguous);
        }
        if self.usage.contains(Usage::PROTECTED) && !s.protected {
            return Some(Refusal::NotProtected);
        }
        // The first by name, not by arrival, for the same reason as `names`.
        if let Some(p) = self
            .parts
            .iter()
            .filter(|p| {
                !p.permitted_heaps.is_empty()
                    && !p.permitted_heaps.iter().any(|e| s.permitted_by(e))
            })
            .min_by(|a, b| a.name.cmp(&b.name))
        {
            return Some(Refusal::NotPermitted(p.name.clone()));
        }
        None
    }

    /// The failure when `refusals` (one per source) left nothing.
    fn failure(&self, sources: &[Source], refusals: &[Refusal]) -> Failure {
        // The rule that refused most sources is the one to name first.
        let detail: Vec<String> = sources
            .iter()
            .zip(refusals)
            .map(|(s, r)| format!("{}: {}", s.name, self.explain(r)))
            .collect();
        let first = refusals.iter().min_by_key(|r| r.rank()).cloned();
        let (reason, who) = match &first {
            Some(Refusal::NotProtected) => (
                FailureReason::Unsupported,
                self.names(|p| p.usage.contains(Usage::PROTECTED)),
            ),
            Some(Refusal::NotContiguous) => {
                (FailureReason::Unsupported, self.names(|p| p.contiguous))
            }
            Some(Refusal::NotPermitted(n)) => (FailureReason::Unsupported, vec![n.clone()]),
            Some(Refusal::Unreachable(d)) => (
                FailureReason::Unsupported,
                self.names(|p| p.devices.contains(d) || p.scanout_devices.contains(d)),
            ),
            Some(Refusal::NotMappable) => (
                FailureReason::Unsupported,
                self.names(|p| p.usage.intersects(Usage::CPU_READ | Usage::CPU_WRITE)),
            ),
            _ => (FailureReason::Unsupported, Vec::new()),
        };
        let lead = match &first {
            Some(r @ (Refusal::NotProtected | Refusal::NotContiguous)) => format!(
                "no placement provides {} memory, which {} asked for",
                if matches!(r, Refusal::NotProtected) {
                    "protected"
                } else {
                    "contiguous"
                },
                quoted(&who)
            ),
            _ if sources.is_empty() => "no placement is available".to_string(),
            _ => format!(
                "no placement satisfies every participant ({})",
                quoted(&who)
            ),
        };
        Failure {
            reason,
            message: if detail.is_empty() {
                lead
            } else {
                format!("{lead}: {}", detail.join("; "))
            },
            participants: who,
        }
    }

    fn explain(&self, r: &Refusal) -> String {
        match r {
            Refusal::Unreachable(d) => format!(
                "device {d:#x} of {} cannot import it",
                quoted(&self.names(|p| p.devices.contains(d) || p.scanout_devices.contains(d)))
            ),
            Refusal::NotOnDisplay => "scanout memory must be on the display's device".into(),
            Refusal::NotDmabuf => "not a dma-buf, and a device or scanout needs one".into(),
            Refusal::NotMappable => "not mappable, and the usage has CPU access".into(),
            Refusal::NotContiguous => "not guaranteed contiguous".into(),
            Refusal::NotProtected => "not protected memory".into(),
            Refusal::NotPermitted(n) => format!("not in '{n}''s permitted heaps"),
            Refusal::Layout(what) => format!("cannot make {what}"),
        }
    }
}

fn quoted(names: &[String]) -> String {
    if names.is_empty() {
        return "nobody in particular".into();
    }
    names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Refusal {
    Unreachable(u64),
    NotOnDisplay,
    NotDmabuf,
    NotMappable,
    NotContiguous,
    NotProtected,
    NotPermitted(String),
    Layout(String),
}

impl Refusal {
    /// Which refusal the failure message leads with: the needs a
    /// participant stated outright first.
    fn rank(&self) -> u8 {
        match self {
            Refusal::NotProtected => 0,
            Refusal::NotContiguous => 1,
            Refusal::NotPermitted(_) => 2,
            Refusal::Unreachable(_) => 3,
            Refusal::NotMappable => 4,
            Refusal::NotOnDisplay => 5,
            Refusal::NotDmabuf => 6,
            Refusal::Layout(_) => 7,
        }
    }
}

/// What the sources that may still be eligible for `parts` can make
/// together, before solving (the scanout outcome is not known yet, so
/// rules 2 and 3's scanout part are left for [`rank`]): `Err` with the
/// named failure when none can be.
///
/// ```
/// use accord_engine::placements::{capability_of, Source, SourceKind};
/// use accord_engine::placement::Capability;
/// use accord_engine::Constraints;
/// let memfd = Source::of_kind(SourceKind::Memfd, None, vec![]);
/// let cpu = Constraints { name: "cpu".into(), ..Default::default() };
/// assert_eq!(capability_of(&[cpu], &[memfd]).unwrap(), Capability::Linear);
/// ```
pub fn capability_of(parts: &[Constraints], sources: &[Source]) -> Result<Capability, Failure> {
    let needs = Needs::of(parts, None);
    let contiguous = parts.iter().any(|p| p.contiguous);
    let refusals: Vec<Option<Refusal>> = sources
        .iter()
        .map(|s| needs.refusal(s, None, contiguous))
        .collect();
    let eligible: Vec<&Source> = sources
        .iter()
        .zip(&refusals)
        .filter(|(_, r)| r.is_none())
        .map(|(s, _)| s)
        .collect();
    if eligible.is_empty() {
        let refusals: Vec<Refusal> = refusals.into_iter().flatten().collect();
        return Err(needs.failure(sources, &refusals));
    }
    Ok(
        if eligible.iter().any(|s| s.capability == Capability::Any) {
            Capability::Any
        } else {
            Capability::Linear
        },
    )
}

/// The eligible sources for `decision` (made from `parts`), best first:
/// indices into `sources`. `Err` names the rule and the participants when
/// none is eligible.
///
/// ```
/// use accord_engine::placements::{rank, PlacementPolicy, Source, SourceKind};
/// use accord_engine::{solve, Constraints, FormatModifier, MOD_LINEAR};
/// let xr24 = accord_engine::formats::parse_name("XRGB8888").unwrap();
/// let pair = FormatModifier { format: xr24, modifier: MOD_LINEAR, scanout: false };
/// let sources = [
///     Source::of_kind(SourceKind::Memfd, None, vec![]),
///     Source::of_kind(SourceKind::Udmabuf, None, vec![]),
///     Source::of_kind(SourceKind::DmaHeap, Some("system"), vec![]),
/// ];
/// let cpu = Constraints { name: "cpu".into(), formats: vec![pair], ..Default::default() };
/// let d = solve(std::slice::from_ref(&cpu)).unwrap();
/// let order = rank(&[cpu], &d, &sources, &PlacementPolicy::default()).unwrap();
/// assert_eq!(order, vec![2, 1, 0], "heap, udmabuf, memfd");
/// ```
pub fn rank(
    parts: &[Constraints],
    decision: &Decision,
    sources: &[Source],
    policy: &PlacementPolicy,
) -> Result<Vec<usize>, Failure> {
    let needs = Needs::of(parts, Some(decision.scanout));
    let pair = crate::FormatModifier {
        format: decision.format,
        modifier: decision.modifier,
        scanout: false,
    };
    let refusals: Vec<Option<Refusal>> = sources
        .iter()
        .map(|s| {
            needs
                .refusal(s, Some(decision.scanout), decision.contiguous)
                .or_else(|| {
                    // Raw bytes (no image format) come from the byte
                    // backends only; GBM makes images.
                    let makes = if decision.raw {
                        s.capability == crate::placement::Capability::Linear
                    } else {
                        s.capability.can_make(&pair)
                    };
                    (!makes).then(|| {
                        Refusal::Layout(if decision.raw {
                            "raw bytes".into()
                        } else {
                            format!(
                                "{} {}",
                                crate::formats::name(pair.format),
                                crate::formats::modifier_name(pair.modifier)
                            )
                        })
                    })
                })
        })
        .collect();
    let mut order: Vec<usize> = (0..sources.len())
        .filter(|&i| refusals[i].is_none())
        .collect();
    if order.is_empty() {
        let refusals: Vec<Refusal> = refusals.into_iter().flatten().collect();
        return Err(needs.failure(sources, &refusals));
    }
    order.sort_by_key(|&i| {
        (
            needs.unnamed_device(&sources[i]),
            policy.position(sources[i].kind),
            i,
        )
    });
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{solve, FormatModifier, MOD_LINEAR};

    const CARD0: u64 = 0xe200;
    const RENDER128: u64 = 0xe280;
    const VGEM: u64 = 0xe201;

    fn xr24() -> FormatModifier {
        FormatModifier {
            format: crate::formats::parse_name("XRGB8888").unwrap(),
            modifier: MOD_LINEAR,
            scanout: true,
        }
    }

    fn part(name: &str) -> Constraints {
        Constraints {
            name: name.into(),
            formats: vec![xr24()],
            ..Default::default()
        }
    }

    fn machine() -> Vec<Source> {
        vec![
            Source::of_kind(SourceKind::Gbm, None, vec![CARD0, RENDER128]),
            Source::of_kind(SourceKind::Dumb, None, vec![CARD0, RENDER128]),
            Source::of_kind(SourceKind::Dumb, None, vec![VGEM]),
            Source::of_kind(SourceKind::DmaHeap, Some("system"), vec![]),
            Source::of_kind(SourceKind::Udmabuf, None, vec![]),
            Source::of_kind(SourceKind::Memfd, None, vec![]),
        ]
    }

    fn ranked(parts: &[Constraints], sources: &[Source]) -> Result<Vec<usize>, Failure> {
        let d = solve(parts).unwrap();
        rank(parts, &d, sources, &PlacementPolicy::default())
    }

    #[test]
    fn cpu_only_prefers_a_heap_then_udmabuf_then_memfd() {
        assert_eq!(
            ranked(&[part("cpu")], &machine()).unwrap(),
            vec![3, 4, 5, 0, 1, 2],
            "device memory nobody named last"
        );
    }

    #[test]
    fn a_named_device_gets_its_own_memory_first() {
        let mut c = part("gl");
        c.devices = vec![RENDER128];
        assert_eq!(ranked(&[c], &machine()).unwrap(), vec![0, 1, 3, 4]);
        let mut v = part("vgem user");
        v.devices = vec![VGEM];
        assert_eq!(ranked(&[v], &machine()).unwrap(), vec![2, 3, 4]);
    }

    #[test]
    fn two_devices_meet_in_system_memory() {
        let mut a = part("a");
        a.devices = vec![CARD0];
        let mut b = part("b");
        b.devices = vec![VGEM];
        assert_eq!(ranked(&[a, b], &machine()).unwrap(), vec![3, 4]);
    }

    #[test]
    fn scanout_lands_on_the_display() {
        let mut display = part("display");
        display.usage = Usage::SCANOUT;
        display.scanout_devices = vec![CARD0];
        let client = part("client");
        let parts = [display, client];
        let d = solve(&parts).unwrap();
        assert!(d.scanout);
        let order = rank(&parts, &d, &machine(), &PlacementPolicy::default()).unwrap();
        assert_eq!(order, vec![0, 1]);
        // Composited instead: the display's memory is still preferred (it
        // was named), but system memory and memfd will do; vgem's last.
        let composited = Decision {
            scanout: false,
            ..d
        };
        let order = rank(&parts, &composited, &machine(), &PlacementPolicy::default()).unwrap();
        assert_eq!(order, vec![0, 1, 3, 4, 5, 2]);
    }

    #[test]
    fn a_hybrid_compositor_scans_out_from_the_display_and_composites_from_the_renderer() {
        let mut compositor = part("compositor");
        compositor.usage = Usage::SAMPLE | Usage::SCANOUT;
        compositor.devices = vec![VGEM]; // the renderer's GPU
        compositor.scanout_devices = vec![CARD0]; // the display's
        let parts = [compositor, part("client")];
        let d = solve(&parts).unwrap();
        assert!(d.scanout);
        let policy = PlacementPolicy::default();
        assert_eq!(rank(&parts, &d, &machine(), &policy).unwrap(), vec![0, 1]);
        let composited = Decision {
            scanout: false,
            ..d
        };
        assert_eq!(
            rank(&parts, &composited, &machine(), &policy).unwrap(),
            vec![2, 3, 4],
            "the renderer's own memory, or system memory it imports"
        );
    }

    #[test]
    fn the_override_reorders_kinds() {
        let mut c = part("gl");
        c.devices = vec![CARD0];
        let d = solve(std::slice::from_ref(&c)).unwrap();
        let policy = PlacementPolicy {
            order: vec![SourceKind::Dumb, SourceKind::DmaHeap],
        };
        assert_eq!(
            rank(&[c], &d, &machine(), &policy).unwrap(),
            vec![1, 3, 0, 4]
        );
    }

    #[test]
    fn memfd_is_never_chosen_when_a_dmabuf_is_needed() {
        let mut c = part("decoder");
        c.usage = Usage::VIDEO_DECODE;
        let memfd = [Source::of_kind(SourceKind::Memfd, None, vec![])];
        let f = ranked(&[c.clone()], &memfd).unwrap_err();
        assert_eq!(f.reason, FailureReason::Unsupported);
        assert!(f.message.contains("not a dma-buf"), "{}", f.message);
        c.usage = Usage::empty();
        c.devices = vec![CARD0];
        assert!(ranked(&[c], &memfd).is_err());
    }

    #[test]
    fn contiguous_needs_a_contiguous_source_and_says_who_asked() {
        let mut c = part("isp");
        c.contiguous = true;
        let f = ranked(std::slice::from_ref(&c), &machine()).unwrap_err();
        assert_eq!(f.reason, FailureReason::Unsupported);
        assert!(
            f.message
                .starts_with("no placement provides contiguous memory, which 'isp' asked for"),
            "{}",
            f.message
        );
        let mut with_cma = machine();
        with_cma.push(Source::of_kind(
            SourceKind::DmaHeap,
            Some("linux,cma"),
            vec![],
        ));
        assert_eq!(ranked(&[c], &with_cma).unwrap(), vec![6]);
    }

    #[test]
    fn protected_usage_never_gets_ordinary_memory() {
        let mut c = part("drm player");
        c.usage = Usage::PROTECTED;
        c.coherency_domains = crate::CoherencyDomains::ALL;
        let parts = [c];
        let f = capability_of(&parts, &machine()).unwrap_err();
        assert_eq!(f.reason, FailureReason::Unsupported);
        assert!(f.message.contains("protected"), "{}", f.message);
        assert_eq!(f.participants, vec!["drm player".to_string()]);
        let mut secure = machine();
        secure.push(Source::of_kind(
            SourceKind::DmaHeap,
            Some("secure_video"),
            vec![],
        ));
        assert_eq!(ranked(&parts, &secure).unwrap(), vec![6]);
    }

    #[test]
    fn permitted_heaps_restrict_and_name_the_participant() {
        let mut c = part("tee");
        c.permitted_heaps = vec!["udmabuf".into(), "dma-heap:secure".into()];
        assert_eq!(
            ranked(std::slice::from_ref(&c), &machine()).unwrap(),
            vec![4]
        );
        c.permitted_heaps = vec!["dma-heap:secure".into()];
        let f = ranked(&[c], &machine()).unwrap_err();
        assert_eq!(f.participants, vec!["tee".to_string()]);
        assert!(
            f.message.contains("'tee''s permitted heaps"),
            "{}",
            f.message
        );
    }

    #[test]
    fn heap_names_are_checked() {
        assert!(check_heap_name("gbm").is_ok());
        assert!(check_heap_name("other").is_err());
        assert!(check_heap_name("dma-heap:").is_err());
        assert!(check_heap_name(&"x".repeat(64)).is_err());
    }
}
