//! Fuzzes the framework-neutral handler: arbitrary method, path, query,
//! headers and body, with or without a valid key. Every answer must be a
//! JSON body with a status below 500.

#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use hyperion_core::sim::SimClusterSpec;
use hyperion_core::{HyperionApi, RequestHead};
use hyperion_testkit::fixtures::api_with_admin;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    method: u8,
    raw_method: String,
    path: String,
    query: Option<String>,
    with_key: bool,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    api: HyperionApi,
    key: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let fixture = runtime.block_on(api_with_admin(SimClusterSpec::default().build_nodes()));
        Fixture {
            runtime,
            api: fixture.api,
            key: fixture.admin_key,
        }
    })
}

const METHODS: [Method; 6] = [Method::GET, Method::POST, Method::PATCH, Method::DELETE, Method::PUT, Method::HEAD];

fuzz_target!(|input: Input| {
    let fixture = fixture();
    let method = match input.method as usize {
        n if n < METHODS.len() => METHODS[n].clone(),
        _ => match Method::from_bytes(input.raw_method.as_bytes()) {
            Ok(method) => method,
            Err(_) => return,
        },
    };
    let path = format!("/api/v1/{}", input.path);
    let target = match &input.query {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    let Ok(uri) = target.parse::<http::Uri>() else {
        return;
    };
    let mut headers = HeaderMap::new();
    if input.with_key {
        headers.insert("authorization", format!("Bearer {}", fixture.key).parse().unwrap());
    }
    for (name, value) in input.headers.iter().take(16) {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name.as_str()), HeaderValue::from_str(value)) {
            headers.append(name, value);
        }
    }
    let head = RequestHead::new(method, &uri, headers, None);
    let body = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from(input.body))]);
    let response = fixture.runtime.block_on(fixture.api.handle(head, body));
    assert!(
        response.status.as_u16() < 500,
        "{} for {}: {}",
        response.status,
        uri,
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(response.headers.get("content-type").unwrap(), "application/json");
    assert!(serde_json::from_slice::<serde_json::Value>(&response.body).is_ok());
});
