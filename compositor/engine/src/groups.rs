//! Token groups: alternatives, tried in a documented order.
//!
//! A token group (sysmem's `BufferCollectionTokenGroup`) stands for "this
//! whole path, else that one": each of its children is a subtree of
//! participants, and exactly one child per group takes part in the
//! allocation. Groups nest (a child's token can make a group of its own),
//! so the participants form a tree; a participant outside every group
//! always takes part.
//!
//! **Order.** Groups are numbered in creation order; a nested group is
//! created from a child's token, so its number is above its parent's. A
//! *combination* gives each group that takes part one of its children (a
//! group inside a child that is not chosen takes no part and gets none).
//! Combinations are tried in lexicographic order of the children chosen
//! for group 0, 1, 2, ...: the earliest group's first child varies slowest,
//! so a group created first has priority, and within a group an earlier
//! child is preferred (sysmem's order too). The first combination whose
//! participants, with everyone outside groups, negotiate (and, in the
//! compositor, pass the scanout confirmation) is chosen; the others'
//! participants receive `not_selected`.
//!
//! **Bounds.** At most [`MAX_GROUP_COMBINATIONS`] combinations (sysmem's
//! cap of 64) are possible for one collection; more is refused before
//! anything is tried (`invalid_constraint`), so the search costs at most 64
//! negotiations. The count is taken on the tree itself, stopping at the
//! cap, so a deep or wide tree costs no more than a legal one to refuse.
//!
//! **Failures before allocation.** A child in which a participant failed
//! (a non-dispensable one) is no longer a candidate: the child is the
//! failure domain, not the collection. A group with no candidate child
//! left fails the collection (`participant_failed`); a group that was
//! dropped as a whole (dispensable) takes no part, nor does its subtree.
//!
//! Everything here is pure: the compositor and `accord solve` call
//! [`first_combination`] with their own attempt (negotiate, plus the
//! confirmation in the compositor), so both try the same combinations in
//! the same order.

use std::collections::BTreeSet;

use accord_vocabulary::limits::MAX_GROUP_COMBINATIONS;

use crate::placement::Placing;
use crate::policy::Policy;
use crate::types::{Constraints, Decision, Failure, FailureReason};

/// Where a participant (or a nested group) sits: child `child` of group
/// `group`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Branch {
    /// The group's number (creation order within the collection).
    pub group: usize,
    /// The child's index within the group (creation order).
    pub child: usize,
}

/// One token group, as the engine needs it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Group {
    /// For messages.
    pub name: String,
    /// The child this group was made in; `None` at the top level.
    pub parent: Option<Branch>,
    /// How many children it has.
    pub children: usize,
    /// Children that are no longer candidates (a participant in them
    /// failed before allocation).
    pub failed_children: BTreeSet<usize>,
    /// `false` for a dispensable group that was dropped: neither it nor
    /// anything inside it takes part.
    pub present: bool,
}

/// One combination: the child chosen for each group, `None` for a group
/// that takes no part.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Selection {
    pub chosen: Vec<Option<usize>>,
}

impl Selection {
    /// Whether a participant at `branch` takes part in this combination.
    /// A chosen group's own parent was chosen too (see `combinations`), so
    /// one lookup answers for the whole path.
    pub fn includes(&self, branch: Option<Branch>) -> bool {
        match branch {
            None => true,
            Some(b) => self.chosen.get(b.group).copied().flatten() == Some(b.child),
        }
    }
}

/// One try of [`first_combination`].
#[derive(Clone, Debug)]
pub struct Attempt<'a> {
    pub selection: &'a Selection,
    /// Indices (into the participants given) of those taking part.
    pub active: Vec<usize>,
    /// No combination follows this one.
    pub last: bool,
}

/// Every combination of `groups`, in the order the module comment gives;
/// a single empty selection when there are no groups. Fails with
/// `invalid_constraint` over [`MAX_GROUP_COMBINATIONS`] or for a malformed
/// tree, and with `participant_failed` when some group that must take part
/// has no candidate child.
pub fn combinations(groups: &[Group]) -> Result<Vec<Selection>, Failure> {
    for (g, group) in groups.iter().enumerate() {
        if let Some(p) = group.parent {
            if p.group >= g || p.child >= groups[p.group].children {
                return Err(fail(
                    FailureReason::InvalidConstraint,
                    format!(
                        "token group '{}' sits in child {} of group {}, which does not \
                         come before it",
                        group.name, p.child, p.group
                    ),
                    vec![group.name.clone()],
                ));
            }
        }
    }
    let count = count_upto(
        groups,
        &mut vec![None; groups.len()],
        0,
        MAX_GROUP_COMBINATIONS,
    );
    if count > MAX_GROUP_COMBINATIONS {
        return Err(fail(
            FailureReason::InvalidConstraint,
            format!(
                "the collection's {} token groups give more than {MAX_GROUP_COMBINATIONS} \
                 combinations of children; at most {MAX_GROUP_COMBINATIONS} are tried (use \
                 fewer groups or fewer children)",
                groups.len()
            ),
            groups.iter().map(|g| g.name.clone()).collect(),
        ));
    }
    let mut out = Vec::with_capacity(count);
    enumerate(groups, &mut vec![None; groups.len()], 0, &mut out);
    if out.is_empty() {
        // Some group that takes part in every path has no candidate left.
        let dead: Vec<String> = groups
            .iter()
            .filter(|g| g.present && g.failed_children.len() >= g.children)
            .map(|g| g.name.clone())
            .collect();
        return Err(fail(
            FailureReason::ParticipantFailed,
            format!(
                "no child of token group {} is left: a participant failed in each",
                dead.iter()
                    .map(|n| format!("'{n}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            dead,
        ));
    }
    Ok(out)
}

/// Try `attempt` on each combination in order; the first `Ok` wins. All
/// failing gives the first combination's failure (the most preferred
/// path's reason), saying how many were tried.
pub fn first_combination<T>(
    groups: &[Group],
    branches: &[Option<Branch>],
    mut attempt: impl FnMut(&Attempt) -> Result<T, Failure>,
) -> Result<(Selection, T), Failure> {
    let all = combinations(groups)?;
    let mut first_failure = None;
    let total = all.len();
    for (i, selection) in all.iter().enumerate() {
        let active = (0..branches.len())
            .filter(|&p| selection.includes(branches[p]))
            .collect();
        let tried = Attempt {
            selection,
            active,
            last: i + 1 == total,
        };
        match attempt(&tried) {
            Ok(t) => return Ok((selection.clone(), t)),
            Err(f) => {
                first_failure.get_or_insert(f);
            }
        }
    }
    let mut f = first_failure.unwrap_or_else(|| {
        fail(
            FailureReason::InvalidConstraint,
            "no combination to try".into(),
            Vec::new(),
        )
    });
    if total > 1 {
        f.message = format!(
            "{} (none of the {total} combinations of token group children negotiated; this is \
             the first one's failure)",
            f.message
        );
    }
    Err(f)
}

/// The dry run's search: the first combination whose participants solve
/// under `policy`. `branches[i]` places `parts[i]`.
///
/// ```
/// use accord_engine::groups::{solve_groups, Branch, Group};
/// use accord_engine::{Constraints, FormatModifier, MOD_LINEAR};
/// let f = |n| FormatModifier { format: accord_engine::formats::parse_name(n).unwrap(), modifier: MOD_LINEAR, scanout: false };
/// let display = Constraints { name: "display".into(), formats: vec![f("XRGB8888")], ..Default::default() };
/// // Child 0 offers only NV12 (the display takes none), child 1 XRGB8888.
/// let direct = Constraints { name: "direct".into(), formats: vec![f("NV12")], ..Default::default() };
/// let via_gpu = Constraints { name: "via gpu".into(), formats: vec![f("XRGB8888")], ..Default::default() };
/// let groups = [Group { name: "path".into(), children: 2, present: true, ..Default::default() }];
/// let branches = [None, Some(Branch { group: 0, child: 0 }), Some(Branch { group: 0, child: 1 })];
/// let (sel, _) = solve_groups(&[display, direct, via_gpu], &branches, &groups, &Default::default()).unwrap();
/// assert_eq!(sel.chosen, vec![Some(1)]);
/// ```
pub fn solve_groups(
    parts: &[Constraints],
    branches: &[Option<Branch>],
    groups: &[Group],
    policy: &Policy,
) -> Result<(Selection, Decision), Failure> {
    solve_groups_placed(parts, branches, groups, policy, None)
}

/// [`solve_groups`] with the placements' capabilities taking part in each
/// combination, and a placement required, as in the compositor
/// ([`crate::placement`]).
pub fn solve_groups_placed(
    parts: &[Constraints],
    branches: &[Option<Branch>],
    groups: &[Group],
    policy: &Policy,
    placement: Option<&Placing>,
) -> Result<(Selection, Decision), Failure> {
    first_combination(groups, branches, |a| {
        let active: Vec<Constraints> = a.active.iter().map(|&i| parts[i].clone()).collect();
        crate::placement::solve_placed(&active, policy, placement)
    })
}

/// Whether group `g` takes part given the choices made for groups before it.
fn takes_part(groups: &[Group], chosen: &[Option<usize>], g: usize) -> bool {
    groups[g].present
        && groups[g]
            .parent
            .is_none_or(|p| chosen[p.group] == Some(p.child))
}

fn candidates(group: &Group) -> impl Iterator<Item = usize> + '_ {
    (0..group.children).filter(|c| !group.failed_children.contains(c))
}

/// Leaves of the search below group `g`, counting no further than `cap + 1`.
fn count_upto(groups: &[Group], chosen: &mut [Option<usize>], g: usize, cap: usize) -> usize {
    if g == groups.len() {
        return 1;
    }
    if !takes_part(groups, chosen, g) {
        chosen[g] = None;
        return count_upto(groups, chosen, g + 1, cap);
    }
    let mut n = 0;
    for c in candidates(&groups[g]) {
        chosen[g] = Some(c);
        n += count_upto(groups, chosen, g + 1, cap);
        if n > cap {
            break;
        }
    }
    chosen[g] = None;
    n
}

fn enumerate(
    groups: &[Group],
    chosen: &mut Vec<Option<usize>>,
    g: usize,
    out: &mut Vec<Selection>,
) {
    if g == groups.len() {
        out.push(Selection {
            chosen: chosen.clone(),
        });
        return;
    }
    if !takes_part(groups, chosen, g) {
        chosen[g] = None;
        enumerate(groups, chosen, g + 1, out);
        return;
    }
    for c in candidates(&groups[g]) {
        chosen[g] = Some(c);
        enumerate(groups, chosen, g + 1, out);
    }
    chosen[g] = None;
}

fn fail(reason: FailureReason, message: String, participants: Vec<String>) -> Failure {
    Failure {
        reason,
        message,
        participants,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(children: usize, parent: Option<(usize, usize)>) -> Group {
        Group {
            name: format!("g{children}"),
            parent: parent.map(|(group, child)| Branch { group, child }),
            children,
            failed_children: BTreeSet::new(),
            present: true,
        }
    }

    #[test]
    fn no_groups_is_one_empty_combination() {
        assert_eq!(combinations(&[]).unwrap(), vec![Selection::default()]);
    }

    #[test]
    fn earlier_group_varies_slowest() {
        let all = combinations(&[group(2, None), group(3, None)]).unwrap();
        let chosen: Vec<_> = all.into_iter().map(|s| s.chosen).collect();
        assert_eq!(
            chosen,
            vec![
                vec![Some(0), Some(0)],
                vec![Some(0), Some(1)],
                vec![Some(0), Some(2)],
                vec![Some(1), Some(0)],
                vec![Some(1), Some(1)],
                vec![Some(1), Some(2)],
            ]
        );
    }

    #[test]
    fn nested_group_takes_part_only_in_its_child() {
        // Group 1 lives in child 1 of group 0.
        let all = combinations(&[group(2, None), group(2, Some((0, 1)))]).unwrap();
        let chosen: Vec<_> = all.into_iter().map(|s| s.chosen).collect();
        assert_eq!(
            chosen,
            vec![
                vec![Some(0), None],
                vec![Some(1), Some(0)],
                vec![Some(1), Some(1)]
            ]
        );
    }

    #[test]
    fn cap_is_exact() {
        // 8 × 8 = 64 is allowed, 8 × 8 × 2 is not.
        assert_eq!(
            combinations(&[group(8, None), group(8, None)])
                .unwrap()
                .len(),
            64
        );
        let f = combinations(&[group(8, None), group(8, None), group(2, None)]).unwrap_err();
        assert_eq!(f.reason, FailureReason::InvalidConstraint);
        assert!(
            f.message.contains("more than 64 combinations"),
            "{}",
            f.message
        );
    }

    #[test]
    fn failed_children_are_skipped_and_none_left_fails() {
        let mut g = group(3, None);
        g.failed_children.insert(0);
        let chosen: Vec<_> = combinations(std::slice::from_ref(&g))
            .unwrap()
            .into_iter()
            .map(|s| s.chosen)
            .collect();
        assert_eq!(chosen, vec![vec![Some(1)], vec![Some(2)]]);
        g.failed_children.extend([1, 2]);
        let f = combinations(&[g]).unwrap_err();
        assert_eq!(f.reason, FailureReason::ParticipantFailed);
        assert!(f.message.contains("'g3'"), "{}", f.message);
    }

    #[test]
    fn dropped_group_and_its_subtree_take_no_part() {
        let mut top = group(2, None);
        top.present = false;
        let all = combinations(&[top, group(2, Some((0, 0)))]).unwrap();
        assert_eq!(
            all,
            vec![Selection {
                chosen: vec![None, None]
            }]
        );
        assert!(!all[0].includes(Some(Branch { group: 0, child: 0 })));
        assert!(all[0].includes(None));
    }

    #[test]
    fn parent_must_come_first() {
        let f = combinations(&[group(2, Some((1, 0))), group(2, None)]).unwrap_err();
        assert_eq!(f.reason, FailureReason::InvalidConstraint);
    }

    #[test]
    fn first_combination_reports_the_first_failure_and_tries_each_once() {
        let groups = [group(2, None), group(2, None)];
        let branches = [
            Some(Branch { group: 0, child: 0 }),
            Some(Branch { group: 1, child: 1 }),
        ];
        let mut tried = Vec::new();
        let r: Result<(Selection, ()), _> = first_combination(&groups, &branches, |a| {
            tried.push((a.active.clone(), a.last));
            Err(fail(
                FailureReason::SizeConflict,
                format!("try {}", tried.len()),
                vec![],
            ))
        });
        let f = r.unwrap_err();
        assert!(
            f.message.starts_with("try 1 (none of the 4"),
            "{}",
            f.message
        );
        assert_eq!(
            tried,
            vec![
                (vec![0], false),
                (vec![0, 1], false),
                (vec![], false),
                (vec![1], true)
            ]
        );
    }
}
