//! The conformance suite against the axum adapter, through the testkit alone.

mod support;

hyperion_testkit::conformance_suite!(support::axum);
