//! The conformance suite against the axum adapter.

mod conformance;

conformance::conformance_suite!(conformance::servers::axum);
