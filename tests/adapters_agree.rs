//! Two adapters must never disagree: the same API served by axum and by warp
//! at once answers the same requests with the same status, the same headers
//! and the same bytes.

mod support;

use hyperion_testkit::conformance::{TestServer, domain, hosting_id};
use reqwest::Method;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_and_warp_answer_byte_for_byte_the_same() {
    let server =
        TestServer::start(|api, listener, prefix| Box::pin(support::axum(api, listener, prefix)))
            .await;
    let warp_base = server
        .serve_also(|api, listener, prefix| Box::pin(support::warp(api, listener, prefix)))
        .await;
    let admin = Some(server.keys.admin.as_str());
    let viewer = Some(server.keys.viewer.as_str());
    let requests: Vec<(Method, String, Option<&str>, Option<&str>)> = vec![
        (Method::GET, "/api/v1/me".into(), admin, None),
        (
            Method::GET,
            "/api/v1/hostings?limit=4&state=active".into(),
            admin,
            None,
        ),
        (Method::GET, "/api/v1/hostings?limit=0".into(), admin, None),
        (
            Method::GET,
            format!("/api/v1/hostings/{}", hosting_id(2)),
            admin,
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/hostings/{}", domain(2).to_uppercase()),
            viewer,
            None,
        ),
        (
            Method::GET,
            "/api/v1/hostings/nothere.example.test".into(),
            admin,
            None,
        ),
        (Method::GET, "/api/v1/hostings/%FF".into(), admin, None),
        (
            Method::POST,
            format!("/api/v1/hostings/{}/suspend", hosting_id(1)),
            admin,
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/hostings/{}/suspend", hosting_id(1)),
            viewer,
            None,
        ),
        (Method::GET, "/api/v1/nodes".into(), admin, None),
        (Method::GET, "/api/v1/nodes".into(), None, None),
        (
            Method::GET,
            "/api/v1/nodes".into(),
            None,
            Some("Bearer nope"),
        ),
        (Method::PUT, "/api/v1/nodes".into(), admin, None),
        (Method::OPTIONS, "/api/v1/me".into(), None, None),
        (Method::HEAD, "/api/v1/me".into(), admin, None),
        (Method::GET, "/api/v1/unknown/route".into(), None, None),
        (Method::GET, "/api/v1".into(), None, None),
        (Method::GET, "/api/v1/jobs/job_nope".into(), admin, None),
        (Method::GET, "/api/v1/openapi.json".into(), None, None),
        (Method::GET, "/api/v1/docs".into(), None, None),
    ];
    for (n, (method, path, key, raw_authorization)) in requests.into_iter().enumerate() {
        let mut answers = Vec::new();
        for base in [&server.base, &warp_base] {
            let mut request = server
                .client
                .request(method.clone(), format!("{base}{path}"))
                .header("x-request-id", format!("client-{n}"));
            if let Some(key) = key {
                request = request.bearer_auth(key);
            }
            if let Some(raw) = raw_authorization {
                request = request.header("authorization", raw);
            }
            let response = request.send().await.expect("answer");
            let status = response.status();
            let mut headers: Vec<(String, String)> = response
                .headers()
                .iter()
                .filter(|(name, _)| *name != "date")
                .map(|(name, value)| (name.to_string(), value.to_str().unwrap_or("?").to_owned()))
                .collect();
            headers.sort();
            let body = response.bytes().await.expect("body");
            // Every request gets a server id of its own; the rest must agree.
            let id = headers
                .iter()
                .find(|(name, _)| name == "x-request-id")
                .map(|(_, value)| value.clone())
                .expect("a request id");
            for (name, value) in &mut headers {
                if name == "x-request-id" {
                    *value = "<request id>".to_owned();
                }
            }
            let body = String::from_utf8_lossy(&body).replace(&id, "<request id>");
            answers.push((status, headers, body));
        }
        assert_eq!(
            answers[0], answers[1],
            "{method} {path} differs between axum and warp"
        );
    }
}
