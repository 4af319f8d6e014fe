//! Scanout confirmation before allocation: try the negotiated candidate on
//! the target plane (one buffer, `AddFB2`, atomic `TEST_ONLY`), then each
//! alternative, then a renderer-only candidate, and report every attempt.
//! The module calls it through `BufferCollectionHandler::confirm_scanout`.

use accord_engine::{Candidate, Decision};

use super::{test_only, Card, ScanoutTarget};
use crate::backend::CollectionAllocator;
use crate::collections::ScanoutProbe;

/// One `TEST_ONLY` try: a candidate placed by one allocator.
///
/// ```no_run
/// # fn demo(choice: &accord_smithay::kms::ScanoutChoice) {
/// for a in &choice.attempts {
///     println!("{:#x}/{:#x} on {}: {:?}", a.candidate.format, a.candidate.modifier, a.placement, a.result);
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The engine's candidate that was tried.
    pub candidate: Candidate,
    /// The allocator's name.
    pub placement: String,
    /// `Err` carries why the allocator or the device said no.
    pub result: Result<(), String>,
}

/// What [`confirm_scanout`] settled on.
///
/// ```no_run
/// # fn demo(choice: accord_smithay::kms::ScanoutChoice) {
/// if !choice.confirmed() {
///     // composited: the device took none of the scanout candidates
/// }
/// let decision = choice.decision; // allocate this
/// # }
/// ```
#[derive(Debug)]
pub struct ScanoutChoice {
    /// The decision to allocate. `scanout` is true only when confirmed.
    pub decision: Decision,
    /// Index (into the allocators given) of the placement that passed
    /// `TEST_ONLY`; `None` for a renderer-only fallback.
    pub placement: Option<usize>,
    /// Every try, in order, for logs and tests.
    pub attempts: Vec<Attempt>,
    /// The buffer that passed `TEST_ONLY`, for the collection's allocation
    /// to use as buffer 0
    /// ([`BufferCollectionHandler::take_scanout_probe`](crate::BufferCollectionHandler::take_scanout_probe));
    /// `None` when nothing passed.
    pub probe: Option<ScanoutProbe>,
}

impl ScanoutChoice {
    /// A placement passed `TEST_ONLY`: the buffers can be scanned out.
    ///
    /// ```no_run
    /// # fn demo(choice: &accord_smithay::kms::ScanoutChoice) {
    /// assert_eq!(choice.confirmed(), choice.decision.scanout);
    /// # }
    /// ```
    pub fn confirmed(&self) -> bool {
        self.placement.is_some()
    }
}

/// Confirm a scanout decision on a real device before its outcome is sent:
/// for each scanout-marked candidate in ranking order (`decision.alternatives`)
/// and each allocator in placement order, allocate one buffer of that layout
/// and run [`test_only`] on the target plane. The first pass wins, and its
/// buffer is kept ([`ScanoutChoice::probe`]) for the allocation. When none
/// passes, fall back to the best renderer-only candidate (composition), or to
/// the top candidate with `scanout` cleared, and log why at debug level.
/// Each candidate's full decision comes from the engine's
/// [`Decision::for_candidate`].
///
/// ```no_run
/// use accord_smithay::backend::allocators_for_devices;
/// use accord_smithay::kms::{confirm_scanout, Card, ScanoutTarget};
/// # fn demo(decision: &accord_engine::Decision) -> std::io::Result<()> {
/// let card = Card::open("/dev/dri/card0")?;
/// card.enable_atomic()?;
/// let target = ScanoutTarget::first_connected(&card)?;
/// let mut placements = allocators_for_devices(&[card.dev()?]);
/// let choice = confirm_scanout(&card, &target, decision, &mut placements);
/// # Ok(()) }
/// ```
pub fn confirm_scanout(
    card: &Card,
    target: &ScanoutTarget,
    decision: &Decision,
    allocators: &mut [Box<dyn CollectionAllocator>],
) -> ScanoutChoice {
    let for_candidate = |c: &Candidate| match decision.for_candidate(*c) {
        Ok(d) => Some(d),
        Err(f) => {
            tracing::debug!("candidate cannot be laid out: {}", f.message);
            None
        }
    };
    let mut attempts = Vec::new();
    for cand in decision.alternatives.iter().filter(|c| c.scanout) {
        let Some(full) = for_candidate(cand) else {
            continue;
        };
        let one = Decision {
            buffer_count: 1,
            ..full.clone()
        };
        for (i, alloc) in allocators.iter_mut().enumerate() {
            let mut probe = None;
            let result = match alloc.allocate(&one) {
                Ok(bufs) => match bufs.into_iter().next() {
                    Some(buf) => {
                        let tested = test_only(card, target, &one, &buf).map_err(|e| e.to_string());
                        probe = Some(buf);
                        tested
                    }
                    None => Err("allocator returned no buffer".into()),
                },
                Err(e) => Err(format!("allocation: {e}")),
            };
            let ok = result.is_ok();
            if let Err(why) = &result {
                tracing::debug!(
                    format = format_args!("{:#010x}", cand.format),
                    modifier = format_args!("{:#x}", cand.modifier),
                    placement = %alloc.name(),
                    "scanout candidate rejected: {why}"
                );
            }
            attempts.push(Attempt {
                candidate: *cand,
                placement: alloc.name(),
                result,
            });
            if ok {
                return ScanoutChoice {
                    decision: Decision {
                        scanout: true,
                        ..full
                    },
                    placement: Some(i),
                    attempts,
                    probe: probe.map(|buffer| ScanoutProbe {
                        placement: alloc.name(),
                        buffer,
                    }),
                };
            }
        }
    }
    let fallback = decision
        .alternatives
        .iter()
        .filter(|c| !c.scanout)
        .chain(decision.alternatives.first())
        .find_map(&for_candidate)
        .unwrap_or_else(|| decision.clone());
    tracing::debug!(
        tries = attempts.len(),
        format = format_args!("{:#010x}", fallback.format),
        "no scanout candidate passed TEST_ONLY; falling back to composition"
    );
    ScanoutChoice {
        decision: Decision {
            scanout: false,
            ..fallback
        },
        placement: None,
        attempts,
        probe: None,
    }
}
