// Included by `postgres_cfg.rs` (the build scripts) and by `tests/without_postgres.rs`: whether a
// PostgreSQL server can be started here (an `initdb` in Debian's layout,
// or on `PATH`).

/// Whether an `initdb` is installed.
fn postgres_installed() -> bool {
    let debian = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .any(|version| version.path().join("bin/initdb").is_file());
    debian
        || std::env::var_os("PATH").is_some_and(|paths| {
            std::env::split_paths(&paths).any(|dir| dir.join("initdb").is_file())
        })
}
