#![doc = include_str!("../README.md")]

pub use hyperion_core::*;

/// The axum adapter (feature `axum`): [`axum::router`] mounts `/api/v1`.
#[cfg(feature = "axum")]
pub use hyperion_axum as axum;

/// The warp adapter (feature `warp`): [`warp::routes`] mounts `/api/v1`.
#[cfg(feature = "warp")]
pub use hyperion_warp as warp;
