//! The conformance suite against the durable SQLite stores (axum).

mod conformance;

conformance::conformance_suite!(with_sqlite_stores conformance::servers::axum);
