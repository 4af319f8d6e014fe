//! The coherency domain: decided with the usage, from the domains every
//! participant supports (sysmem's `BufferMemoryConstraints`
//! `cpu_domain_supported`, `ram_domain_supported`,
//! `inaccessible_domain_supported`, combined by AND).
//!
//! `protected` usage needs memory the CPU cannot reach, so only the
//! inaccessible domain is left; `cpu_read`/`cpu_write` need the CPU to
//! reach it, so inaccessible is removed. Of what is left the CPU domain
//! is preferred, then RAM, then inaccessible (sysmem's order). Nothing
//! left is `invalid_constraint` naming who narrowed it: CPU access to
//! memory the CPU cannot access is a named failure.

use crate::aggregate::{failure, pname};
use crate::{CoherencyDomains as D, Constraints, Failure, FailureReason, Usage};

fn list(d: D) -> String {
    let v: Vec<&str> = d.names().collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// The decided domain for participants `c` with combined usage `usage`.
pub(crate) fn decide(c: &[Constraints], usage: Usage) -> Result<D, Failure> {
    let mut mask = D::ALL.0;
    for p in c {
        mask &= p.coherency_domains.0;
    }
    let narrowers = |keep: u32| -> Vec<&str> {
        c.iter()
            .filter(|p| p.coherency_domains.0 & keep != keep)
            .map(pname)
            .collect()
    };
    if usage.contains(Usage::PROTECTED) {
        if mask & D::INACCESSIBLE.0 == 0 {
            let mut names = narrowers(D::INACCESSIBLE.0);
            names.extend(
                c.iter()
                    .filter(|p| p.usage.contains(Usage::PROTECTED))
                    .map(pname),
            );
            return Err(failure(
                FailureReason::InvalidConstraint,
                format!(
                    "protected content needs the inaccessible coherency domain; the participants \
                     support only [{}]",
                    list(D(mask))
                ),
                names,
            ));
        }
        mask = D::INACCESSIBLE.0;
    }
    if usage.intersects(Usage(Usage::CPU_READ.0 | Usage::CPU_WRITE.0)) {
        mask &= !D::INACCESSIBLE.0;
        if mask == 0 {
            let cpu = Usage(Usage::CPU_READ.0 | Usage::CPU_WRITE.0);
            let mut names = narrowers(D::CPU.0);
            names.retain(|n| {
                c.iter()
                    .any(|p| pname(p) == *n && p.coherency_domains.0 & (D::CPU.0 | D::RAM.0) == 0)
            });
            let users: Vec<&str> = c
                .iter()
                .filter(|p| p.usage.intersects(cpu))
                .map(pname)
                .collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            let message =
                format!(
                "cpu_read/cpu_write by {} need a CPU-accessible coherency domain (cpu or ram); \
                 {} {} only inaccessible memory",
                {
                    let mut u = users.clone();
                    u.sort_unstable();
                    u.dedup();
                    u.join(", ")
                },
                sorted.join(", "),
                if sorted.len() == 1 { "supports" } else { "support" }
            );
            names.extend(users);
            return Err(failure(FailureReason::InvalidConstraint, message, names));
        }
    }
    for d in [D::CPU, D::RAM, D::INACCESSIBLE] {
        if mask & d.0 != 0 {
            return Ok(d);
        }
    }
    let mut names = narrowers(D::ALL.0);
    names.sort_unstable();
    Err(failure(
        FailureReason::InvalidConstraint,
        format!(
            "no coherency domain is supported by every participant ({} support fewer than all)",
            names.join(", ")
        ),
        names,
    ))
}
