//! Built only where no PostgreSQL can be had at build time (see `build.rs`):
//! the PostgreSQL conformance suite (`tests/postgres.rs`) and the replica
//! tests (`hyperion-serve/tests/replicas.rs`) are then left out, and this one ignored test
//! says so in the summary, instead of their counting as passed.
#![cfg(hyperion_no_postgres)]

#[test]
#[ignore = "no PostgreSQL on this machine: the PostgreSQL conformance suite and the replica tests did not run. Install PostgreSQL (Debian: apt-get install postgresql) and they start a throwaway cluster themselves, or set HYPERION_TEST_POSTGRES"]
fn the_postgresql_tests_did_not_run() {}

/// PostgreSQL installed since this build left its tests out: say how to
/// build them, instead of leaving them out unseen.
#[test]
fn postgresql_was_not_installed_since_this_build() {
    assert!(
        !postgres_installed(),
        "PostgreSQL was installed after the tests were built without it: `touch build.rs` and run the tests again to build and run the PostgreSQL suites"
    );
}

include!("support/postgres_installed.rs");
