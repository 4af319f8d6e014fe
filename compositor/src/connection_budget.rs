//! How many connections one client identity may hold open at once.
//!
//! Every connection costs the compositor fds (the socket and libwayland's
//! `dup` of it) and memory whether or not the client ever allocates, so a
//! hostile program that opens connections in a loop exhausts the fds every
//! other client needs. The budget counts open connections per
//! [`ClientIdentity`]: the embedder asks [`ConnectionBudget::admit`] when it
//! accepts a socket (identity from [`ClientIdentity::of_stream`], or the app
//! id of a `wp_security_context_v1` listener), refuses the socket on
//! [`OverBudget`], and keeps the [`ConnectionTicket`] in the client's data.
//! Dropping the ticket (the client is gone and its data dropped) gives the
//! connection back.
//!
//! The count is a mutex-guarded map shared by the budget and its tickets,
//! since client data is dropped wherever libwayland frees the client; an
//! identity's entry goes away with its last ticket, so the map is never
//! larger than the number of open connections.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::ClientIdentity;

/// A desktop default: a process rarely needs more than a few connections
/// (one per toolkit or library that talks Wayland on its own), so 32 is
/// far beyond need and far below the compositor's fd limit.
pub const DEFAULT_MAX_CONNECTIONS_PER_IDENTITY: usize = 32;

type Counts = Arc<Mutex<HashMap<ClientIdentity, usize>>>;

fn lock(counts: &Counts) -> MutexGuard<'_, HashMap<ClientIdentity, usize>> {
    // A panic elsewhere while holding it left the counts consistent (each
    // change is one statement): keep counting.
    counts.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Open connections per identity, and the limit.
///
/// ```
/// use accord_smithay::{ClientIdentity, ConnectionBudget};
/// let budget = ConnectionBudget::new(2);
/// let me = ClientIdentity::Process { pid: 42, uid: 1000 };
/// let first = budget.admit(me.clone())?;
/// let _second = budget.admit(me.clone())?;
/// let refused = budget.admit(me.clone()).unwrap_err();
/// assert_eq!(
///     refused.to_string(),
///     "connection budget: pid 42 (uid 1000) already has 2 connections, its limit"
/// );
/// drop(first); // that connection closed
/// assert!(budget.admit(me).is_ok());
/// # Ok::<(), accord_smithay::OverBudget>(())
/// ```
#[derive(Clone, Debug)]
pub struct ConnectionBudget {
    max_per_identity: usize,
    counts: Counts,
}

impl ConnectionBudget {
    /// A budget of `max_per_identity` open connections per identity (0
    /// refuses every connection).
    pub fn new(max_per_identity: usize) -> Self {
        Self {
            max_per_identity,
            counts: Counts::default(),
        }
    }

    /// The limit per identity.
    pub fn max_per_identity(&self) -> usize {
        self.max_per_identity
    }

    /// Counts one more connection of `identity`, unless it already has its
    /// limit. Keep the ticket as long as the connection is open.
    pub fn admit(&self, identity: ClientIdentity) -> Result<ConnectionTicket, OverBudget> {
        let mut counts = lock(&self.counts);
        let open = counts.get(&identity).copied().unwrap_or(0);
        if open >= self.max_per_identity {
            return Err(OverBudget {
                identity,
                limit: self.max_per_identity,
            });
        }
        counts.insert(identity.clone(), open + 1);
        Ok(ConnectionTicket {
            identity,
            counts: self.counts.clone(),
        })
    }

    /// The connections `identity` holds open now.
    pub fn open(&self, identity: &ClientIdentity) -> usize {
        lock(&self.counts).get(identity).copied().unwrap_or(0)
    }

    /// The identities with an open connection now.
    pub fn identities(&self) -> usize {
        lock(&self.counts).len()
    }
}

/// One admitted connection; dropping it gives the connection back.
#[derive(Debug)]
pub struct ConnectionTicket {
    identity: ClientIdentity,
    counts: Counts,
}

impl ConnectionTicket {
    /// Whose connection this is.
    pub fn identity(&self) -> &ClientIdentity {
        &self.identity
    }
}

impl Drop for ConnectionTicket {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts);
        if let Some(open) = counts.get_mut(&self.identity) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                counts.remove(&self.identity);
            }
        }
    }
}

/// A connection refused: its identity already has its limit open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverBudget {
    /// Who was refused.
    pub identity: ClientIdentity,
    /// The limit it has reached.
    pub limit: usize,
}

impl std::fmt::Display for OverBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "connection budget: {} already has {} connections, its limit",
            self.identity, self.limit
        )
    }
}

impl std::error::Error for OverBudget {}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid(pid: i32) -> ClientIdentity {
        ClientIdentity::Process { pid, uid: 1000 }
    }

    #[test]
    fn an_identity_gets_its_limit_and_no_more() {
        let budget = ConnectionBudget::new(3);
        let held: Vec<_> = (0..3)
            .map(|_| budget.admit(pid(1)).expect("within"))
            .collect();
        let err = budget.admit(pid(1)).expect_err("fourth");
        assert_eq!(err.identity, pid(1));
        assert_eq!(err.limit, 3);
        assert_eq!(budget.open(&pid(1)), 3, "a refusal counts nothing");
        drop(held);
        assert_eq!(budget.open(&pid(1)), 0);
    }

    #[test]
    fn identities_have_their_own_count() {
        let budget = ConnectionBudget::new(1);
        let _one = budget.admit(pid(1)).expect("first of pid 1");
        let app = ClientIdentity::App {
            engine: Some("flatpak".into()),
            app_id: "org.example.A".into(),
        };
        let _two = budget.admit(pid(2)).expect("pid 2 is someone else");
        let _three = budget.admit(app.clone()).expect("an app is someone else");
        assert!(budget.admit(pid(1)).is_err());
        assert!(budget.admit(app).is_err());
        assert_eq!(budget.identities(), 3);
    }

    #[test]
    fn a_dropped_ticket_gives_its_connection_back_and_empties_the_map() {
        let budget = ConnectionBudget::new(2);
        let a = budget.admit(pid(7)).expect("a");
        let b = budget.admit(pid(7)).expect("b");
        drop(a);
        let c = budget.admit(pid(7)).expect("a slot came back");
        assert!(budget.admit(pid(7)).is_err());
        drop((b, c));
        assert_eq!(budget.identities(), 0, "no entry outlives its tickets");
    }

    #[test]
    fn tickets_drop_on_any_thread() {
        let budget = ConnectionBudget::new(1);
        let t = budget.admit(pid(9)).expect("admit");
        std::thread::spawn(move || drop(t)).join().expect("thread");
        assert!(budget.admit(pid(9)).is_ok());
    }

    #[test]
    fn a_zero_budget_refuses_everyone() {
        let budget = ConnectionBudget::new(0);
        assert!(budget.admit(pid(1)).is_err());
        assert_eq!(budget.identities(), 0);
    }

    #[test]
    fn the_refusal_names_the_identity_and_the_limit() {
        let err = ConnectionBudget::new(0)
            .admit(ClientIdentity::App {
                engine: None,
                app_id: "org.accord.Test".into(),
            })
            .expect_err("zero");
        assert_eq!(
            err.to_string(),
            "connection budget: app org.accord.Test already has 0 connections, its limit"
        );
    }
}
