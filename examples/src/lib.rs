//! Shared code of the reference compositor and the demo clients.

pub mod camera_copy;
pub mod camera_pair;
pub mod camera_run;
pub mod cli;
pub mod client_plumbing;
pub mod cost;
pub mod demo;
pub mod dmabuf_client;
pub mod feedback_log;
pub mod flip_floor;
pub mod fullscreen_tour;
pub mod kms_run;
pub mod logging;
pub mod raw_connect;
pub mod refcomp;
pub mod scanout_run;
pub mod yuv_run;
