//! The conformance suite against the durable SQLite stores (axum), through
//! the testkit alone.

mod support;

hyperion_testkit::conformance_suite!(with_sqlite_stores support::axum);
