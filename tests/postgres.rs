//! The conformance suite against the shared PostgreSQL stores (warp), each
//! case in a fresh schema of the database `HYPERION_TEST_POSTGRES` names.

mod support;

hyperion_testkit::conformance_suite!(with_postgres_stores support::warp);
