//! Runs every conformance case with `tracing` at TRACE level and checks that
//! no raw API key, no key hash and no password reached the logs: not through
//! a span, an event, a `Debug` print or an audit event.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest, Sha256};

/// Everything logged during the run.
static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_everything() {
    let logs = LOGS.get_or_init(Arc::default).clone();
    tracing_subscriber::fmt()
        .with_env_filter("trace,reqwest=off")
        .with_ansi(false)
        .with_writer(move || Capture(Arc::clone(&logs)))
        .init();
}

/// Positions of anything shaped like a raw key (`hyp_` + 43 base62).
fn raw_keys_in(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices("hyp_") {
        let secret: String = text[at + 4..]
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        if secret.len() >= 43 {
            found.push(format!("hyp_{}", &secret[..8]));
        }
    }
    found
}

fn check_logs() {
    let logs = LOGS
        .get()
        .expect("capture installed")
        .lock()
        .unwrap()
        .clone();
    let text = String::from_utf8_lossy(&logs);
    // The run did log: requests, audit events, refusals.
    assert!(text.contains("api_request"), "no request spans were logged");
    assert!(
        text.contains("hyperion::audit"),
        "no audit events were logged"
    );
    assert!(text.contains("denied"), "no refusal was logged");

    // No client value forged a line (every line starts with the logger's own
    // timestamp, never the 2030 one a case sends) or reached the output as a
    // terminal escape.
    assert!(
        !text.lines().any(|line| line.starts_with("2030-")),
        "a client forged a log line"
    );
    assert!(
        !text.contains('\u{1b}'),
        "a terminal escape reached the logs"
    );
    // A key's label is the panel's or a tenant's choice: in the audit line it
    // is one quoted value, whatever it holds, never fields of its own.
    for field in ["actor=", "target_id="] {
        for (at, _) in text.match_indices(field) {
            assert!(
                text[at + field.len()..].starts_with('"'),
                "an unquoted {field} in the logs: {}",
                &text[at..(at + 80).min(text.len())]
            );
        }
    }
    let mut leaked = raw_keys_in(&text);
    leaked.dedup();
    assert!(
        leaked.is_empty(),
        "{} raw keys in the logs, e.g. (prefixes) {:?}",
        leaked.len(),
        &leaked[..leaked.len().min(3)]
    );
    for key in hyperion_testkit::conformance::FIXTURE_KEYS
        .lock()
        .unwrap()
        .iter()
    {
        let hash: String = Sha256::digest(key.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!text.contains(&key[4..]), "a fixture key is in the logs");
        assert!(!text.contains(&hash), "a key hash is in the logs");
    }
    for password in [
        hyperion_testkit::conformance::WP_PASSWORD,
        "hunter2-hunter2",
        "s3cret-pass",
    ] {
        assert!(!text.contains(password), "a password is in the logs");
    }
}

hyperion_testkit::conformance_suite!(in_one_test support::axum, capture_everything, check_logs);
