//! The facade names everything it re-exports by hand, so that what the core
//! makes public reaches the facade only by a decision; this test makes that
//! decision visible: every public name of the core's root is re-exported by
//! the facade, or listed below as withheld, with the reason.

/// Public names of the core the facade deliberately does not re-export.
const WITHHELD: &[(&str, &str)] = &[
    (
        "bench_internals",
        "internals the benchmarks measure, not part of the API",
    ),
    (
        "server",
        "the adapters' server loop, reached through hyperion::axum and hyperion::warp",
    ),
];

/// The names a `lib.rs` makes public at its root: `pub use` lists and
/// `pub mod` declarations (not the items inside inline modules).
fn root_names(source: &str, from: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut depth = 0usize;
    let mut statement = String::new();
    for line in source.lines() {
        let trimmed = line.trim();
        if depth == 0 && !statement.is_empty() {
            statement.push_str(trimmed);
            if trimmed.ends_with(';') {
                names.extend(used_names(&statement, from));
                statement.clear();
            }
            continue;
        }
        if depth == 0 {
            if let Some(rest) = trimmed.strip_prefix("pub mod ") {
                let name = rest.trim_end_matches([';', '{', ' ']);
                names.push(name.to_owned());
            } else if trimmed.starts_with("pub use ") {
                if trimmed.ends_with(';') {
                    names.extend(used_names(trimmed, from));
                } else {
                    statement.push_str(trimmed);
                }
            }
        }
        depth += trimmed.matches('{').count();
        depth -= trimmed.matches('}').count().min(depth);
        // A `pub use` spanning lines opened a brace that is not a block.
        if !statement.is_empty() {
            depth = 0;
        }
    }
    names.sort();
    names.dedup();
    names
}

/// The names one `pub use` statement makes public, when it re-exports from
/// `from` (`""`: any path).
fn used_names(statement: &str, from: &str) -> Vec<String> {
    let path = statement
        .trim_start_matches("pub use ")
        .trim_end_matches(';');
    if !from.is_empty() && !path.starts_with(from) {
        return Vec::new();
    }
    let list = match (path.find('{'), path.rfind('}')) {
        (Some(open), Some(close)) => path[open + 1..close].to_owned(),
        _ => path.rsplit("::").next().unwrap_or_default().to_owned(),
    };
    list.split(',')
        .map(|name| {
            let name = name.trim();
            name.rsplit(" as ").next().unwrap_or(name).trim().to_owned()
        })
        .map(|name| name.rsplit("::").next().unwrap_or_default().to_owned())
        .filter(|name| !name.is_empty())
        .collect()
}

#[test]
fn the_facade_re_exports_every_public_name_of_the_core() {
    let core = root_names(include_str!("../hyperion-core/src/lib.rs"), "");
    let facade = root_names(include_str!("../src/lib.rs"), "hyperion_core");
    assert!(core.len() > 50, "read {} names from the core", core.len());
    let missing: Vec<&String> = core
        .iter()
        .filter(|name| !facade.contains(name))
        .filter(|name| !WITHHELD.iter().any(|(withheld, _)| withheld == name))
        .collect();
    assert!(
        missing.is_empty(),
        "public in hyperion-core but not re-exported by the facade (re-export them in src/lib.rs, or withhold them here with a reason): {missing:?}"
    );
}
