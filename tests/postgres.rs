//! The conformance suite against the shared PostgreSQL stores (warp), each
//! case in a fresh schema of the test database: the one
//! `HYPERION_TEST_POSTGRES` names, or a throwaway cluster the tests start
//! from the machine's PostgreSQL. Where none is installed, one ignored test
//! (`tests/without_postgres.rs`) says so, and how to enable them.
#![cfg(not(hyperion_no_postgres))]

mod support;

hyperion_testkit::conformance_suite!(with_postgres_stores support::warp);
