//! Tells the replica tests whether a PostgreSQL can be had here (the
//! workspace's check, `../tests/support/postgres_cfg.rs`).

include!("../tests/support/postgres_cfg.rs");
