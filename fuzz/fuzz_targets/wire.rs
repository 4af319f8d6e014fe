//! Arbitrary message sequences from several clients to the Accord server
//! module; see `wire/mod.rs`.
#![no_main]

use std::cell::RefCell;

use accord_fuzz::wire::{check, Server};
use libfuzzer_sys::fuzz_target;

thread_local! {
    // One compositor for the whole run, as in production: state that
    // survives a client (leaks, stale handles) shows up in later cases.
    static SERVER: RefCell<Server> = RefCell::new(Server::new());
}

fuzz_target!(|data: &[u8]| {
    SERVER.with(|s| {
        if let Err(e) = check(&mut s.borrow_mut(), data) {
            panic!("wire invariant broken: {e}");
        }
    });
});
