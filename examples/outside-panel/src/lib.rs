//! A panel's own crate on the Hyperion API kit: [`adapter`] serves the API
//! on plain hyper 1.x, [`node`] is a `Node` over the panel's own records.

pub mod adapter;
pub mod node;
