//! Tells the tests whether a PostgreSQL can be had here (see
//! `tests/support/postgres_cfg.rs`).

include!("tests/support/postgres_cfg.rs");
