//! Accord's Smithay module.
//!
//! Embed it like any Smithay handler module: keep a [`BufferCollectionState`]
//! in your state, implement [`BufferCollectionHandler`], and call
//! `delegate_buffer_collection!`.

pub mod backend;
pub mod kms;
