//! # hyperion-testkit
//!
//! What the people who build on the Hyperion API kit need to prove their
//! work, without forking it:
//!
//! - **Adapter authors**: [`conformance`], the suite every adapter passes
//!   unchanged over real sockets. One serve function and one line,
//!   `hyperion_testkit::conformance_suite!(serve)`, give one test per case.
//! - **Node implementors**: [`node_contract`], which checks a [`Node`]
//!   against what the API relies on (list order, cursors, totals, filters,
//!   look-ups, idempotent suspend and resume, the errors each failure maps
//!   to), with `hyperion_testkit::node_contract_suite!(factory)`.
//! - **Testers**: [`faults`], a wrapper that makes any [`Node`] fail, hang,
//!   panic or slow down on chosen calls, and [`fixtures`], a simulated
//!   cluster and an API with an admin key in one call each.
//!
//! [`Node`]: hyperion_core::Node

pub mod conformance;
pub mod faults;
pub mod fixtures;
pub mod node_contract;
#[cfg(feature = "postgres")]
pub mod postgres;
