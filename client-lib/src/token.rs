//! Tokens: unbound participant slots.

use std::sync::{Arc, Mutex};

use accord_protocol::client::wp_buffer_collection_token_group_v1::WpBufferCollectionTokenGroupV1;
use accord_protocol::client::wp_buffer_collection_token_v1::WpBufferCollectionTokenV1;
use wayland_client::protocol::wl_surface::WlSurface;

use crate::collection::{Collection, CollectionEvents};
use crate::lock::lock;
use crate::{Accord, Failure};

/// What a token's events told us (its proxy user data).
#[derive(Debug, Default)]
pub(crate) struct TokenState {
    pub(crate) handle: Option<String>,
    pub(crate) failure: Option<Failure>,
}

pub(crate) type TokenEvents = Arc<Mutex<TokenState>>;

pub(crate) fn new_events() -> TokenEvents {
    Arc::new(Mutex::new(TokenState::default()))
}

/// A participant slot not yet bound. Dropping an unused token releases its
/// slot (allocation stops waiting for it). `bind`, `export` and
/// `attach_to_surface` consume it.
///
/// ```no_run
/// # let accord: accord_client::Accord = unimplemented!();
/// let token = accord.create_collection();
/// token.set_name("player");
/// let collection = token.bind();
/// ```
#[derive(Debug)]
pub struct Token {
    accord: Accord,
    proxy: WpBufferCollectionTokenV1,
    events: TokenEvents,
    /// `bind`/`export`/`attach_to_surface` took it: its `destroy` then
    /// releases nothing and may wait for the next flush.
    consumed: bool,
}

impl Token {
    pub(crate) fn new(
        accord: Accord,
        proxy: WpBufferCollectionTokenV1,
        events: TokenEvents,
    ) -> Self {
        Token {
            accord,
            proxy,
            events,
            consumed: false,
        }
    }

    /// Another slot in the same collection, for this client.
    ///
    /// ```no_run
    /// # let token: accord_client::Token = unimplemented!();
    /// let second = token.duplicate();
    /// ```
    pub fn duplicate(&self) -> Token {
        let events = new_events();
        let proxy = self.proxy.duplicate(&self.accord.inner.qh, events.clone());
        Token::new(self.accord.clone(), proxy, events)
    }

    /// Turn this slot into a single-use handle string for another client
    /// (send it over a pipe, argv, ...). Waits for the compositor's reply.
    ///
    /// ```no_run
    /// # let token: accord_client::Token = unimplemented!();
    /// let handle: String = token.export()?;
    /// # Ok::<(), accord_client::Failure>(())
    /// ```
    pub fn export(mut self) -> Result<String, Failure> {
        self.consumed = true;
        self.proxy.export();
        loop {
            {
                let mut st = lock(&self.events);
                if let Some(h) = st.handle.take() {
                    return Ok(h);
                }
                if let Some(f) = st.failure.clone() {
                    return Err(f);
                }
            }
            self.accord.inner.blocking_dispatch()?;
        }
    }

    /// Name this participant in failure messages (at most 63 bytes; the
    /// compositor kills the client with `invalid_name` beyond that). Wayland
    /// strings cannot carry NUL, so the name is cut at the first NUL.
    ///
    /// ```no_run
    /// # let token: accord_client::Token = unimplemented!();
    /// token.set_name("decoder");
    /// ```
    pub fn set_name(&self, name: &str) {
        self.proxy.set_name(Some(crate::wire_string(name)));
    }

    /// Allocation goes on without this participant if it fails or leaves.
    ///
    /// ```no_run
    /// # let token: accord_client::Token = unimplemented!();
    /// token.set_dispensable();
    /// ```
    pub fn set_dispensable(&self) {
        self.proxy.set_dispensable();
    }

    /// Become a participant: the collection carries your constraints.
    ///
    /// ```no_run
    /// # let token: accord_client::Token = unimplemented!();
    /// let collection = token.bind();
    /// ```
    pub fn bind(mut self) -> Collection {
        self.consumed = true;
        let events = CollectionEvents::default();
        let proxy = self.proxy.bind(&self.accord.inner.qh, events.clone());
        // A failure already seen on the token carries over.
        if let Some(f) = lock(&self.events).failure.clone() {
            lock(&events).outcome_failure(f);
        }
        Collection::new(self.accord.clone(), proxy, events)
    }

    /// Turn this slot into a group of alternatives (version 2): exactly one
    /// of the group's children takes part in the allocation, the first
    /// that negotiates with everyone else, in the order they were created;
    /// the participants of the others get
    /// [`FailureReason::NotSelected`](crate::FailureReason::NotSelected).
    /// `Err(Unsupported)` when the compositor only speaks version 1.
    ///
    /// ```no_run
    /// # let token: accord_client::Token = unimplemented!();
    /// # let surface: wayland_client::protocol::wl_surface::WlSurface = unimplemented!();
    /// let group = token.create_group()?;
    /// let direct = group.create_child(); // preferred: straight to a plane
    /// let via_gpu = group.create_child(); // else: composited
    /// group.all_children_present();
    /// direct.attach_to_surface(&surface);
    /// # Ok::<(), accord_client::Failure>(())
    /// ```
    pub fn create_group(mut self) -> Result<TokenGroup, Failure> {
        use wayland_client::Proxy;
        if self.proxy.version() < 2 {
            return Err(Failure {
                reason: crate::FailureReason::Unsupported,
                message: format!(
                    "create_group needs wp_buffer_collection_token_v1 version 2; the \
                     compositor offers version {}",
                    self.proxy.version()
                ),
            });
        }
        self.consumed = true;
        let proxy = self.proxy.create_group(&self.accord.inner.qh, ());
        Ok(TokenGroup {
            accord: self.accord.clone(),
            proxy,
            failure: lock(&self.events).failure.clone(),
        })
    }

    /// Give this slot to the compositor, which participates for `surface`
    /// with its renderer's (and display planes') constraints.
    ///
    /// ```no_run
    /// # let token: accord_client::Token = unimplemented!();
    /// # let surface: wayland_client::protocol::wl_surface::WlSurface = unimplemented!();
    /// token.attach_to_surface(&surface);
    /// ```
    pub fn attach_to_surface(mut self, surface: &WlSurface) {
        self.consumed = true;
        self.accord
            .inner
            .manager
            .attach_surface(&self.proxy, surface);
    }

    /// The failure the compositor reported for this token so far (an
    /// import of an unknown handle, a failed collection), after events were
    /// dispatched.
    ///
    /// ```no_run
    /// # let accord: accord_client::Accord = unimplemented!();
    /// let token = accord.import(&"0".repeat(64));
    /// accord.roundtrip()?;
    /// assert!(token.failure().is_some());
    /// # Ok::<(), accord_client::Failure>(())
    /// ```
    pub fn failure(&self) -> Option<Failure> {
        lock(&self.events).failure.clone()
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        self.proxy.destroy();
        if !self.consumed {
            // An unused slot: allocation may be waiting for it to go.
            self.accord.flush_on_drop();
        }
    }
}

/// A token group (version 2): alternatives for one participant slot, made
/// by [`Token::create_group`]. Each child is a token used like any other;
/// call [`all_children_present`](Self::all_children_present) after the
/// last one. Dropping the group before that fails it (see the protocol's
/// failure domains); after it, dropping changes nothing.
#[derive(Debug)]
pub struct TokenGroup {
    accord: Accord,
    proxy: WpBufferCollectionTokenGroupV1,
    /// A failure already seen on the token, for its children.
    failure: Option<Failure>,
}

impl TokenGroup {
    /// A new alternative: the children are tried in the order they are
    /// created, so create the preferred one first.
    ///
    /// ```no_run
    /// # let group: accord_client::TokenGroup = unimplemented!();
    /// let child = group.create_child();
    /// let collection = child.bind();
    /// ```
    pub fn create_child(&self) -> Token {
        let events = new_events();
        if let Some(f) = &self.failure {
            lock(&events).failure = Some(f.clone());
        }
        let proxy = self
            .proxy
            .create_child(&self.accord.inner.qh, events.clone());
        Token::new(self.accord.clone(), proxy, events)
    }

    /// No more children: the collection may allocate once they are ready.
    ///
    /// ```no_run
    /// # let group: accord_client::TokenGroup = unimplemented!();
    /// group.all_children_present();
    /// ```
    pub fn all_children_present(&self) {
        self.proxy.all_children_present();
    }
}

impl Drop for TokenGroup {
    fn drop(&mut self) {
        self.proxy.destroy();
        self.accord.flush_on_drop();
    }
}
