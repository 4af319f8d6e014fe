//! `--explain`: a human-readable trace of a negotiation. A separate slow
//! path that reuses the solver's pieces (aggregation, intersection, ranking,
//! layout check), so plain [`solve`](crate::solve()) pays nothing for it and the
//! trace cannot disagree with the result.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use crate::aggregate::{self, pname};
use crate::formats::{self, modifier_name};
use crate::intersect;
use crate::per_format::PerFormat;
use crate::policy::Policy;
use crate::solve::{self, is_scanout};
use crate::{Constraints, Decision, Failure};

/// What happened to one (format, modifier) pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Allocatable; `rank` 0 is the choice, the rest are fallbacks.
    Ranked {
        rank: usize,
        scanout: bool,
        /// The cost-table cost; `None` without a table.
        cost: Option<u32>,
        position_sum: u64,
    },
    /// Every participant lists it, but its layout breaks a limit (or, with
    /// CPU usage, it is a vendor layout the CPU cannot address).
    Misfit(Failure),
    /// Every participant lists it, but the collection failed before ranking.
    Unranked,
    /// These participants do not list it.
    Missing(Vec<String>),
}

/// One pair and its fate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CandidateTrace {
    pub format: u32,
    pub modifier: u64,
    pub fate: Fate,
}

/// The trace of one negotiation; `Display` renders it for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    /// One line per participant.
    pub participants: Vec<String>,
    /// The combined constraints, or why they could not be combined.
    pub aggregate: String,
    /// Ranked first (in rank order), then misfits, then the eliminated.
    pub candidates: Vec<CandidateTrace>,
    /// The result in one line.
    pub outcome: String,
}

/// Solve and explain. The result is exactly [`solve_with`](crate::solve_with)'s.
pub fn solve_explained(
    c: &[Constraints],
    policy: &Policy,
) -> (Result<Decision, Failure>, Explanation) {
    let result = crate::solve_with(c, policy);
    let raw = crate::raw::is_raw(c);
    let participants = c
        .iter()
        .map(|p| {
            if raw {
                return raw_participant(p);
            }
            let usage: Vec<&str> = p.usage.names().collect();
            format!(
                "{}: usage [{}], {}, min {}x{}, {}{}{}",
                pname(p),
                usage.join(", "),
                count(p.formats.len(), "pair", "pairs"),
                p.min_size.0,
                p.min_size.1,
                max_size(p.max_size),
                required(p),
                if p.dispensable { ", dispensable" } else { "" }
            )
        })
        .collect();
    let agg = aggregate::validate(c).and_then(|()| aggregate::aggregate(c));
    let aggregate = match &agg {
        Ok(a) if raw => format!(
            "raw bytes (no participant lists a pair): at least {} bytes a buffer, base \
             alignment {}, max bytes {}, {}, usage [{}]",
            a.params.min_bytes,
            a.params.base_alignment,
            match a.params.max_bytes {
                0 => "no limit".to_string(),
                m => m.to_string(),
            },
            count(a.buffer_count as usize, "buffer", "buffers"),
            a.usage.names().collect::<Vec<_>>().join(", ")
        ),
        Ok(a) => format!(
            "{}, usage [{}], {}",
            a.params,
            a.usage.names().collect::<Vec<_>>().join(", "),
            count(
                a.scanout_participants,
                "scanout participant",
                "scanout participants"
            )
        ),
        Err(f) => format!("failed: {}: {}", f.reason.as_str(), f.message),
    };

    let mut candidates = Vec::new();
    let mut common: HashSet<(u32, u64)> = HashSet::new();
    if let (Ok(a), Ok(cands)) = (&agg, intersect::intersect(c)) {
        let (cands, not_cpu) = solve::split_cpu(a, cands);
        for cand in &not_cpu {
            common.insert((cand.format, cand.modifier));
            candidates.push(CandidateTrace {
                format: cand.format,
                modifier: cand.modifier,
                fate: Fate::Misfit(solve::cpu_misfit(c, cand)),
            });
        }
        let mut rank = 0;
        let mut per = PerFormat::new(c, a);
        let spaces = crate::color::common(c);
        for (key, cand) in solve::rank(cands, a, policy) {
            common.insert((cand.format, cand.modifier));
            let fits = solve::fit(&mut per, cand.format, cand.modifier).and_then(|_| {
                let spaces = spaces.clone()?;
                crate::color::choose(c, spaces.as_deref(), cand.format)
            });
            let fate = match fits {
                Ok(_) => {
                    rank += 1;
                    Fate::Ranked {
                        rank: rank - 1,
                        scanout: is_scanout(&cand, a),
                        cost: (!policy.costs.is_empty()).then_some(key.cost),
                        position_sum: key.position_sum,
                    }
                }
                Err(f) => Fate::Misfit(f),
            };
            candidates.push(CandidateTrace {
                format: cand.format,
                modifier: cand.modifier,
                fate,
            });
        }
        candidates.sort_by_key(|t| !matches!(t.fate, Fate::Ranked { .. }));
    }

    // Every other pair any participant lists, with who lacks it.
    let sets: Vec<HashSet<(u32, u64)>> = c
        .iter()
        .map(|p| p.formats.iter().map(|f| (f.format, f.modifier)).collect())
        .collect();
    let mut others: BTreeMap<(u32, u64), Vec<String>> = BTreeMap::new();
    for set in &sets {
        for &pair in set {
            if common.contains(&pair) || others.contains_key(&pair) {
                continue;
            }
            let mut missing: Vec<String> = c
                .iter()
                .zip(&sets)
                .filter(|(_, s)| !s.contains(&pair))
                .map(|(p, _)| pname(p).to_string())
                .collect();
            missing.sort();
            missing.dedup();
            others.insert(pair, missing);
        }
    }
    for ((format, modifier), missing) in others {
        let fate = if missing.is_empty() {
            Fate::Unranked
        } else {
            Fate::Missing(missing)
        };
        candidates.push(CandidateTrace {
            format,
            modifier,
            fate,
        });
    }

    let outcome = match &result {
        Ok(d) if d.raw => format!(
            "decided raw (no image format): {} of {} bytes, coherency {}",
            count(d.buffer_count as usize, "buffer", "buffers"),
            d.layout.as_ref().map_or(0, |l| l.size_bytes),
            d.coherency_domain.names().next().unwrap_or("?")
        ),
        Ok(d) => {
            format!(
                "decided {} {} {}x{}, {}{}",
                formats::name(d.format),
                modifier_name(d.modifier),
                d.width,
                d.height,
                count(d.buffer_count as usize, "buffer", "buffers"),
                if d.scanout { ", scanout" } else { "" }
            ) + &d.color_space.map_or(String::new(), |cs| {
                format!(", colour space {}", crate::color::names(&[cs]))
            })
        }
        Err(f) => format!(
            "failed: {}: {} [{}]",
            f.reason.as_str(),
            f.message,
            f.participants.join(", ")
        ),
    };
    (
        result,
        Explanation {
            participants,
            aggregate,
            candidates,
            outcome,
        },
    )
}

/// A participant of a raw collection: its byte constraints (and any image
/// field it sets, which fails the collection).
fn raw_participant(p: &Constraints) -> String {
    let usage: Vec<&str> = p.usage.names().collect();
    let mut s = format!("{}: usage [{}], raw bytes", pname(p), usage.join(", "));
    if p.min_size_bytes != 0 {
        s += &format!(", at least {} bytes a buffer", p.min_size_bytes);
    }
    if p.max_bytes != 0 {
        s += &format!(", at most {} bytes a buffer", p.max_bytes);
    }
    if p.base_alignment != 1 {
        s += &format!(", base alignment {}", p.base_alignment);
    }
    let image = crate::raw::image_fields(p);
    if !image.is_empty() {
        s += &format!(", image fields set: {}", image.join(", "));
    }
    if p.dispensable {
        s += ", dispensable";
    }
    s
}

/// `1 pair`, `2 pairs`, `0 pairs`.
pub(crate) fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A maximum size where 0 means "no limit", per dimension.
/// The required sizes and maximum area, when set (`, required 1920x1088
/// to 3840x2160, max area 8912896`).
fn required(p: &Constraints) -> String {
    let mut s = String::new();
    let (min, max) = (p.required_min_size, p.required_max_size);
    if min != (0, 0) || max != (0, 0) {
        s += &format!(", required {}x{}", min.0, min.1);
        if max != (0, 0) {
            s += &format!(" to {}x{}", max.0, max.1);
        }
    }
    if p.max_area != 0 {
        s += &format!(", max area {} pixels", p.max_area);
    }
    if p.min_size_bytes != 0 {
        s += &format!(", at least {} bytes a buffer", p.min_size_bytes);
    }
    if !p.permitted_heaps.is_empty() {
        s += &format!(", permitted heaps [{}]", p.permitted_heaps.join(", "));
    }
    if p.contiguous {
        s += ", contiguous";
    }
    if !p.devices.is_empty() || !p.scanout_devices.is_empty() {
        let hex = |v: &[u64]| {
            v.iter()
                .map(|d| format!("{d:#x}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        s += &format!(", devices [{}]", hex(&p.devices));
        if !p.scanout_devices.is_empty() {
            s += &format!(", scanout devices [{}]", hex(&p.scanout_devices));
        }
    }
    if p.coherency_domains != crate::CoherencyDomains::ALL {
        s += &format!(
            ", coherency [{}]",
            p.coherency_domains.names().collect::<Vec<_>>().join(", ")
        );
    }
    if !p.color_spaces.is_empty() {
        s += &format!(", colour spaces [{}]", crate::color::names(&p.color_spaces));
    }
    for l in &p.format_limits {
        let n = crate::FormatLimits::new(l.format);
        let mut parts = Vec::new();
        if l.min_size != n.min_size {
            parts.push(format!("min {}x{}", l.min_size.0, l.min_size.1));
        }
        if l.max_size != n.max_size {
            parts.push(max_size(l.max_size));
        }
        if l.size_alignment != n.size_alignment {
            parts.push(format!(
                "size alignment {}x{}",
                l.size_alignment.0, l.size_alignment.1
            ));
        }
        if l.min_stride != 0 {
            parts.push(format!("min stride {}", l.min_stride));
        }
        if l.max_stride != 0 {
            parts.push(format!("max stride {}", l.max_stride));
        }
        if l.stride_alignment != 1 {
            parts.push(format!("stride alignment {}", l.stride_alignment));
        }
        if parts.is_empty() {
            parts.push("none".into());
        }
        s += &format!(", {} limits: {}", formats::name(l.format), parts.join(", "));
    }
    s
}

fn max_size((w, h): (u32, u32)) -> String {
    match (w, h) {
        (0, 0) => "max size: no limit".into(),
        (w, 0) => format!("max width {w}, no height limit"),
        (0, h) => format!("no width limit, max height {h}"),
        (w, h) => format!("max {w}x{h}"),
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "participants:")?;
        for p in &self.participants {
            writeln!(f, "  {p}")?;
        }
        writeln!(f, "aggregate: {}", self.aggregate)?;
        writeln!(f, "candidates:")?;
        for t in &self.candidates {
            let pair = format!("{} {}", formats::name(t.format), modifier_name(t.modifier));
            match &t.fate {
                Fate::Ranked {
                    rank,
                    scanout,
                    cost,
                    position_sum,
                } => writeln!(
                    f,
                    "  #{rank} {pair}: {}{}, position sum {position_sum}{}",
                    if *rank == 0 { "CHOSEN" } else { "fallback" },
                    if *scanout { ", scanout-capable" } else { "" },
                    cost.map_or(String::new(), |c| format!(", cost {c}")),
                )?,
                Fate::Misfit(e) => writeln!(
                    f,
                    "  {pair}: eliminated by the layout rules: {}: {}",
                    e.reason.as_str(),
                    e.message
                )?,
                Fate::Unranked => writeln!(f, "  {pair}: common, not ranked (aggregation failed)")?,
                Fate::Missing(who) => {
                    writeln!(f, "  {pair}: eliminated: not listed by {}", who.join(", "))?
                }
            }
        }
        writeln!(f, "outcome: {}", self.outcome)
    }
}
