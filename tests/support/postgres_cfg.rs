// The build script of the packages with PostgreSQL suites (the facade's
// conformance suite, `hyperion-serve`'s replica tests): with no PostgreSQL
// to be had (no `HYPERION_TEST_POSTGRES`, no server installed),
// `cfg(hyperion_no_postgres)` leaves those suites out and one ignored test
// says they did not run, so that no summary counts them as passed.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(hyperion_no_postgres)");
    println!("cargo::rerun-if-env-changed=HYPERION_TEST_POSTGRES");
    println!("cargo::rerun-if-env-changed=PATH");
    // Whichever package builds with them, name these files by where they are.
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default();
    if let Some(support) = std::path::Path::new(&manifest)
        .ancestors()
        .map(|dir| dir.join("tests/support"))
        .find(|dir| dir.join("postgres_cfg.rs").is_file())
    {
        for file in ["postgres_cfg.rs", "postgres_installed.rs"] {
            println!("cargo::rerun-if-changed={}", support.join(file).display());
        }
    }
    // Installing PostgreSQL later changes this directory (or makes it).
    println!("cargo::rerun-if-changed=/usr/lib/postgresql");
    let named = std::env::var("HYPERION_TEST_POSTGRES").is_ok_and(|url| !url.is_empty());
    if !named && !postgres_installed() {
        println!("cargo::rustc-cfg=hyperion_no_postgres");
    }
}

include!("postgres_installed.rs");
