//! Tells the tests whether a PostgreSQL can be had here: with none (no
//! `HYPERION_TEST_POSTGRES`, no server installed), `cfg(hyperion_no_postgres)`
//! leaves the PostgreSQL suites out and one ignored test says they did not
//! run, so that no summary counts them as passed.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(hyperion_no_postgres)");
    println!("cargo::rerun-if-env-changed=HYPERION_TEST_POSTGRES");
    println!("cargo::rerun-if-env-changed=PATH");
    println!("cargo::rerun-if-changed=tests/support/postgres_installed.rs");
    // Installing PostgreSQL later changes this directory (or makes it).
    println!("cargo::rerun-if-changed=/usr/lib/postgresql");
    let named = std::env::var("HYPERION_TEST_POSTGRES").is_ok_and(|url| !url.is_empty());
    if !named && !postgres_installed() {
        println!("cargo::rustc-cfg=hyperion_no_postgres");
    }
}

include!("tests/support/postgres_installed.rs");
