//! Property tests of the public parsers a client can reach, and of the whole
//! handler (the query and `Authorization` parsers are tested where they
//! live, in `http::query` and `keys::secret`): whatever arrives (method, path, query, headers, body), the answer
//! is a JSON body with a status below 500, never a panic or an HTML page.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use hyperion_core::memory::{MemoryKeyStore, MemoryOwnerDirectory};
use hyperion_core::model::HostingSelector;
use hyperion_core::sim::SimClusterSpec;
use hyperion_core::{CapSet, Cluster, HyperionApi, NewKey, Node, RequestHead};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn selectors_parse_or_refuse_and_round_trip(text in "\\PC{0,80}|[a-zA-Z0-9._/%-]{0,80}") {
        if let Ok(selector) = text.parse::<HostingSelector>() {
            let again = selector.to_string().parse::<HostingSelector>().unwrap();
            prop_assert_eq!(again, selector);
        }
    }
}

fn api() -> (HyperionApi, String) {
    let nodes = SimClusterSpec::default()
        .build()
        .into_iter()
        .map(|n| n as Arc<dyn Node>)
        .collect();
    let owners = Arc::new(MemoryOwnerDirectory::new());
    owners.set("admin".parse().unwrap(), CapSet::all());
    let api = HyperionApi::builder(Cluster::new(nodes), owners)
        .key_store(Arc::new(MemoryKeyStore::new()))
        .build();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let key = runtime
        .block_on(api.mint_key(
            &hyperion_core::AuditActor::new("test").unwrap(),
            NewKey::new("admin", "admin".parse().unwrap(), CapSet::all()),
        ))
        .unwrap();
    (api, key.secret.expose().to_owned())
}

const METHODS: [&str; 6] = ["GET", "POST", "PATCH", "DELETE", "PUT", "HEAD"];
const PREFIXES: [&str; 8] = [
    "/api/v1/hostings",
    "/api/v1/hostings/site-0001.example.test",
    "/api/v1/hostings/h1/",
    "/api/v1/keys",
    "/api/v1/jobs/",
    "/api/v1/audit",
    "/api/v1/certs/renew-all",
    "/api/v1/",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn the_handler_answers_every_request_with_json_below_500(
        method in 0..METHODS.len(),
        prefix in 0..PREFIXES.len(),
        suffix in "[a-zA-Z0-9%./_~-]{0,40}",
        query in "[a-zA-Z0-9%=&;+._-]{0,60}",
        with_key in any::<bool>(),
        extra_header in prop::option::of(("[a-z-]{1,20}", "[ -~]{0,60}")),
        body in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let (api, key) = api();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let path = format!("{}{}", PREFIXES[prefix], suffix);
        let uri: http::Uri = match format!("{path}?{query}").parse() {
            Ok(uri) => uri,
            Err(_) => return Ok(()),
        };
        let mut headers = HeaderMap::new();
        if with_key {
            headers.insert("authorization", format!("Bearer {key}").parse().unwrap());
        }
        if let Some((name, value)) = extra_header
            && let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::from_str(&value)) {
                headers.append(name, value);
            }
        let head = RequestHead::new(Method::from_bytes(METHODS[method].as_bytes()).unwrap(), &uri, headers, None);
        let response = runtime.block_on(api.handle(head, futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from(body))])));
        prop_assert!(response.status.as_u16() < 500, "{} {} -> {}: {}", METHODS[method], uri, response.status, String::from_utf8_lossy(&response.body));
        prop_assert_eq!(response.headers.get("content-type").unwrap(), "application/json");
        prop_assert!(serde_json::from_slice::<serde_json::Value>(&response.body).is_ok());
    }
}
