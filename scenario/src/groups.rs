//! Token groups in a scenario: a top-level `groups` list, each group a
//! `name` and its `children`, each child the `participants` (and nested
//! `groups`) of one alternative:
//!
//! ```json
//! "groups": [{"name": "path", "children": [
//!     {"participants": [{"name": "direct", "formats": [...]}]},
//!     {"participants": [{"name": "via gpu", "formats": [...]}],
//!      "groups": [{"name": "inner", "children": [...]}]}]}]
//! ```
//!
//! Groups are numbered in the order they appear, depth first (a nested
//! group right after the child that holds it is read), which is a creation
//! order the protocol allows: a nested group is made from its child's
//! token. The engine tries the combinations in that order
//! (`accord_engine::groups`). The protocol's limits hold: at most 16
//! groups, 32 children a group, 64 participants in all.

use accord_engine::groups::{Branch, Group};
use accord_engine::limits::{MAX_GROUPS, MAX_GROUP_CHILDREN, MAX_PARTICIPANTS};
use accord_engine::Constraints;
use serde::Deserialize;

use crate::de::{List, ListWords, Obj, Text};
use crate::raw::{read_list, ParticipantWords, RawParticipant};
use crate::{err, Result};

pub(crate) struct GroupWords;
impl ListWords for GroupWords {
    const MAX: usize = MAX_GROUPS;
}

pub(crate) struct ChildWords;
impl ListWords for ChildWords {
    const MAX: usize = MAX_GROUP_CHILDREN;
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGroup {
    name: Option<Text>,
    children: Option<List<Obj<RawChild>, ChildWords>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawChild {
    participants: Option<List<Obj<RawParticipant>, ParticipantWords>>,
    groups: Option<List<Obj<RawGroup>, GroupWords>>,
}

/// The groups' participants (each with its branch) and the groups, read
/// depth first; `seen` keeps names unique across the whole scenario.
pub(crate) struct Flattened {
    pub participants: Vec<(Constraints, Branch)>,
    pub groups: Vec<Group>,
}

pub(crate) fn flatten(
    groups: Vec<Obj<RawGroup>>,
    seen: &mut std::collections::HashMap<String, String>,
    outside: usize,
) -> Result<Flattened> {
    let mut out = Flattened {
        participants: Vec::new(),
        groups: Vec::new(),
    };
    read_groups("groups", groups, None, seen, &mut out)?;
    if outside + out.participants.len() + out.groups.len() > MAX_PARTICIPANTS {
        return err(
            "groups",
            format!(
                "{} participants and groups in all, at most {MAX_PARTICIPANTS} (the protocol's \
                 participant slots; a group takes one)",
                outside + out.participants.len() + out.groups.len()
            ),
        );
    }
    Ok(out)
}

fn read_groups(
    path: &str,
    groups: Vec<Obj<RawGroup>>,
    parent: Option<Branch>,
    seen: &mut std::collections::HashMap<String, String>,
    out: &mut Flattened,
) -> Result<()> {
    for (i, Obj(g)) in groups.into_iter().enumerate() {
        let here = format!("{path}[{i}]");
        if out.groups.len() == MAX_GROUPS {
            return err(&here, format!("more than {MAX_GROUPS} groups in all"));
        }
        let Some(Text(name)) = g.name else {
            return err(&format!("{here}.name"), "required field is missing");
        };
        let Some(List(children, _)) = g.children else {
            return err(&format!("{here}.children"), "required field is missing");
        };
        if children.is_empty() {
            return err(
                &format!("{here}.children"),
                "at least one child is required (the protocol's no_children)",
            );
        }
        let index = out.groups.len();
        out.groups.push(Group {
            name,
            parent,
            children: children.len(),
            failed_children: Default::default(),
            present: true,
        });
        for (c, Obj(child)) in children.into_iter().enumerate() {
            let at = format!("{here}.children[{c}]");
            let branch = Branch {
                group: index,
                child: c,
            };
            if let Some(List(list, _)) = child.participants {
                let read = read_list(&format!("{at}.participants"), list, seen)?;
                out.participants
                    .extend(read.into_iter().map(|p| (p, branch)));
            }
            if let Some(List(nested, _)) = child.groups {
                read_groups(&format!("{at}.groups"), nested, Some(branch), seen, out)?;
            }
        }
    }
    Ok(())
}
