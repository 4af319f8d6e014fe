//! Locking the library's shared event state: a panic while one holder had
//! it locked leaves plain data (events received so far), still valid, so a
//! poisoned lock is taken as it is.

use std::sync::{Mutex, MutexGuard};

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
