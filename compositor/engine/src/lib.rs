//! Accord's negotiation engine.
//!
//! Pure: no Wayland, no Smithay, no I/O, no JSON (the scenario format is
//! the `accord-scenario` crate). It takes every participant's
//! [`Constraints`] and returns one allocatable [`Decision`] or a [`Failure`]
//! that names the participants in conflict. The aggregation rules are documented
//! in `aggregate.rs` (scalars) and `intersect.rs` (format pairs); the
//! ranking policy in [`policy`].
//!
//! ```
//! use accord_engine::{solve, Constraints, FormatModifier, MOD_LINEAR};
//! let nv12 = accord_engine::formats::parse_name("NV12").unwrap();
//! let pair = FormatModifier { format: nv12, modifier: MOD_LINEAR, scanout: false };
//! let a = Constraints { name: "a".into(), formats: vec![pair], min_size: (64, 64), ..Default::default() };
//! let b = Constraints { name: "b".into(), formats: vec![pair], stride_alignment: 256, ..Default::default() };
//! let d = solve(&[a, b]).unwrap();
//! assert_eq!(d.layout.unwrap().planes[0].stride, 256);
//! ```

mod aggregate;
mod coherency;
mod color;
pub mod explain;
pub mod formats;
pub mod groups;
mod intersect;
mod late_join;
pub mod layout;
pub mod limits;
mod math;
mod per_format;
pub mod placement;
pub mod placements;
pub mod policy;
pub mod raw;
mod solve;
mod types;

pub use explain::{solve_explained, Explanation};
pub use late_join::{check_late_join, AllocatedLayout};
pub use policy::{CostEntry, Policy, DEFAULT_COST};
pub use solve::{solve, solve_with};
pub use types::*;
