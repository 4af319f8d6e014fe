//! Live protocol objects (tokens and collections) counted twice: per
//! connection and per client identity.
//!
//! The per-connection count bounds one connection's object table
//! ([`MAX_CLIENT_OBJECTS`](crate::limits::MAX_CLIENT_OBJECTS); a protocol
//! error over it, since only a broken client needs more). The per-identity
//! count is the identity's live token budget (`Budgets::tokens`): a process
//! spreading tokens over many connections still meets one bound, and over it
//! a new token is created failed (`quota_exceeded`), as a budget answers.
//!
//! Only objects created live are charged to the identity: a token created
//! failed (an unknown handle, a refusal over a budget) costs no slot, and
//! counting it would let refusals fill the budget. Each connection
//! remembers the identity it was first counted for, so a release (which
//! only knows the connection: `Dispatch::destroyed` gets a `ClientId`)
//! refunds the right identity.

use std::collections::HashMap;

use wayland_server::backend::ClientId;

use crate::identity::ClientIdentity;

#[derive(Debug, Default)]
pub(crate) struct ObjectCounts {
    per_connection: HashMap<ClientId, (ClientIdentity, usize)>,
    per_identity: HashMap<ClientIdentity, usize>,
}

impl ObjectCounts {
    /// One more object of `client`, a connection of `identity`; `charged`
    /// when it was created live.
    pub(crate) fn add(&mut self, client: &ClientId, identity: &ClientIdentity, charged: bool) {
        let entry = self
            .per_connection
            .entry(client.clone())
            .or_insert_with(|| (identity.clone(), 0));
        entry.1 = entry.1.saturating_add(1);
        if charged {
            let owner = entry.0.clone();
            let n = self.per_identity.entry(owner).or_default();
            *n = n.saturating_add(1);
        }
    }

    /// One object of `client` fewer (its token or collection went away, or
    /// its count passed to a pending handle); `charged` as it was added.
    /// Unknown clients are ignored.
    pub(crate) fn remove(&mut self, client: &ClientId, charged: bool) {
        let Some(entry) = self.per_connection.get_mut(client) else {
            return;
        };
        entry.1 = entry.1.saturating_sub(1);
        let owner = entry.0.clone();
        if entry.1 == 0 {
            self.per_connection.remove(client);
        }
        if !charged {
            return;
        }
        if let Some(n) = self.per_identity.get_mut(&owner) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_identity.remove(&owner);
            }
        }
    }

    pub(crate) fn of_connection(&self, client: &ClientId) -> usize {
        self.per_connection.get(client).map_or(0, |e| e.1)
    }

    pub(crate) fn of_identity(&self, identity: &ClientIdentity) -> usize {
        self.per_identity.get(identity).copied().unwrap_or(0)
    }
}
