//! The listening socket, bound by absolute path so that an in-process
//! compositor never depends on (or races on) the process's environment.

use std::path::{Path, PathBuf};

use smithay::reexports::wayland_server::{BindError, ListeningSocket};

use super::Error;

/// A bound socket and the name clients put in `WAYLAND_DISPLAY`.
pub struct BoundSocket {
    pub listener: ListeningSocket,
    pub name: String,
    pub path: PathBuf,
}

/// Binds `dir/name`, or the first free `dir/wayland-N` (N in 1..=32).
pub fn bind(dir: &Path, name: Option<&str>) -> Result<BoundSocket, Error> {
    if let Some(name) = name {
        if name.is_empty() || name.contains('/') {
            return Err(format!("socket name {name:?} must be a plain file name").into());
        }
        return bind_one(dir, name)?.ok_or_else(|| {
            format!(
                "socket {} is in use by another compositor",
                dir.join(name).display()
            )
            .into()
        });
    }
    for n in 1..=32 {
        if let Some(socket) = bind_one(dir, &format!("wayland-{n}"))? {
            return Ok(socket);
        }
    }
    Err(format!("no free socket wayland-1..wayland-32 in {}", dir.display()).into())
}

fn bind_one(dir: &Path, name: &str) -> Result<Option<BoundSocket>, Error> {
    let path = dir.join(name);
    match ListeningSocket::bind_absolute(path.clone()) {
        Ok(listener) => Ok(Some(BoundSocket {
            listener,
            name: name.to_owned(),
            path,
        })),
        Err(BindError::AlreadyInUse) => Ok(None),
        Err(BindError::PermissionDenied) => Err(format!(
            "no permission to create {} (or its lock file)",
            path.display()
        )
        .into()),
        Err(BindError::Io(err)) => Err(format!("cannot bind {}: {err}", path.display()).into()),
        Err(err) => Err(format!("cannot bind {}: {err}", path.display()).into()),
    }
}
