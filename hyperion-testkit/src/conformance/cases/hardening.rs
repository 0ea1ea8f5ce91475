//! Hardening: client addresses behind proxies, IP allowlists, rate limits,
//! deadlines and failing nodes, panics, body limits, the audit log, hostile input.

use std::time::Duration;

use super::prelude::*;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Mints a key over HTTP as admin with `extra` fields; answers the raw key.
async fn mint_with(s: &TestServer, extra: Value) -> String {
    static MINTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = MINTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut body = json!({"label": format!("limited-{n}"), "caps": ["hosting_view", "hosting_suspend"], "scope": "all"});
    for (field, value) in extra.as_object().unwrap() {
        body[field] = value.clone();
    }
    let reply = s.mint_over_http(&s.keys.admin, body).await;
    reply.assert_ok(201);
    reply.body["key"].as_str().unwrap().to_owned()
}

async fn get_from(
    s: &TestServer,
    client: &reqwest::Client,
    key: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let headers: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(name, value)| (*name, value.as_bytes()))
        .collect();
    get_at(s, &s.base, client, key, &headers).await
}

/// `GET /me` at the server `base`, from `client`, with `headers`.
async fn get_at(
    s: &TestServer,
    base: &str,
    client: &reqwest::Client,
    key: &str,
    headers: &[(&str, &[u8])],
) -> Reply {
    let mut request = client.get(format!("{base}/api/v1/me")).bearer_auth(key);
    for (name, value) in headers {
        let value = reqwest::header::HeaderValue::from_bytes(value).expect("a header value");
        request = request.header(*name, value);
    }
    s.send(request).await
}

/// Case: Spoofed forwarding headers cannot pass an allowlist.
pub async fn spoofed_forwarding_headers_cannot_pass_an_allowlist(s: &TestServer) {
    let key = mint_with(s, json!({"ip_allowlist": ["203.0.113.0/24"]})).await;
    // The peer (127.0.0.1) is not a trusted proxy: forwarding headers are ignored.
    for headers in [
        vec![("x-forwarded-for", "203.0.113.7")],
        vec![("forwarded", "for=203.0.113.7")],
        vec![
            ("x-forwarded-for", "203.0.113.7, 203.0.113.8"),
            ("x-real-ip", "203.0.113.7"),
        ],
    ] {
        let reply = get_from(s, &s.client, &key, &headers).await;
        reply.assert_error_for(&format!("{headers:?}"), 403, "forbidden");
    }
    // A client behind the trusted proxy cannot prepend its way in either.
    let proxy = s.client_from("127.0.0.2");
    let reply = get_from(
        s,
        &proxy,
        &key,
        &[("x-forwarded-for", "203.0.113.7, 198.51.100.9")],
    )
    .await;
    reply.assert_error(403, "forbidden");
}

/// Case: A trusted proxy forwards the client address.
pub async fn a_trusted_proxy_forwards_the_client_address(s: &TestServer) {
    let key = mint_with(
        s,
        json!({"ip_allowlist": ["203.0.113.0/24", "2001:db8::/32"]}),
    )
    .await;
    let proxy = s.client_from("127.0.0.2");
    for headers in [
        vec![("x-forwarded-for", "198.51.100.9, 203.0.113.7")],
        vec![
            ("x-forwarded-for", "198.51.100.9"),
            ("x-forwarded-for", "203.0.113.7, 127.0.0.2"),
        ],
    ] {
        get_from(s, &proxy, &key, &headers)
            .await
            .assert_ok_for(&format!("{headers:?}"), 200);
    }
    // `Forwarded` is believed only where the operator said the proxies write it.
    let rfc7239 = [(
        "forwarded",
        r#"for=198.51.100.9, for="[2001:db8::7]:443";proto=https"#,
    )];
    get_from(s, &proxy, &key, &rfc7239)
        .await
        .assert_error(403, "forbidden");
    let forwarded_mode = s
        .serve_with_config(|config| config.forwarded_header = ForwardedHeader::Forwarded)
        .await;
    let rfc7239: Vec<(&str, &[u8])> = rfc7239.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
    get_at(s, &forwarded_mode, &proxy, &key, &rfc7239)
        .await
        .assert_ok(200);
    // The proxy itself, with no forwarding header, is the client: refused.
    get_from(s, &proxy, &key, &[])
        .await
        .assert_error(403, "forbidden");
    // A key allowed from 127.0.0.1 works from there and from nowhere else.
    let local = mint_with(s, json!({"ip_allowlist": ["127.0.0.1"]})).await;
    get_from(s, &s.client, &local, &[]).await.assert_ok(200);
    get_from(s, &s.client_from("127.0.0.3"), &local, &[])
        .await
        .assert_error(403, "forbidden");
}

/// Behind a stock proxy that appends to `X-Forwarded-For` and passes every
/// other header through, the client controls `Forwarded` and any bytes it
/// puts in a hop: neither may choose its address, nor make the proxy the client.
pub async fn the_client_cannot_choose_its_address_behind_a_proxy(s: &TestServer) {
    let local = mint_with(s, json!({"ip_allowlist": ["127.0.0.0/8"]})).await;
    let anywhere = mint_with(s, json!({})).await;
    let proxy = s.client_from("127.0.0.2");
    // What the proxy appended says 203.0.113.9; the client's own `Forwarded`
    // claims an allowed address and is ignored.
    let spoof: [(&str, &[u8]); 2] = [
        ("x-forwarded-for", b"203.0.113.9"),
        ("forwarded", b"for=127.0.0.1"),
    ];
    get_at(s, &s.base, &proxy, &local, &spoof)
        .await
        .assert_error(403, "forbidden");
    // Hops that cannot be read make the client unknown, never the proxy
    // (which the allowlist covers): allowlisted keys are refused...
    for hop in [
        b"198.51.100.\xe2\x98\x83".as_slice(),
        b"unknown".as_slice(),
        b"127.0.0.9, garbage".as_slice(),
    ] {
        let headers = [("x-forwarded-for", hop)];
        get_at(s, &s.base, &proxy, &local, &headers)
            .await
            .assert_error_for(&String::from_utf8_lossy(hop), 403, "forbidden");
        // ...and keys without an allowlist still work.
        get_at(s, &s.base, &proxy, &anywhere, &headers)
            .await
            .assert_ok(200);
    }
    let forwarded_mode = s
        .serve_with_config(|config| config.forwarded_header = ForwardedHeader::Forwarded)
        .await;
    for value in [b"for=unknown".as_slice(), b"for=_hidden".as_slice()] {
        get_at(s, &forwarded_mode, &proxy, &local, &[("forwarded", value)])
            .await
            .assert_error(403, "forbidden");
    }
    // A quoted `,` does not split an element: the last hop is the proxy's
    // claim 203.0.113.9, not the `for=127.0.0.1` hidden in a quoted value.
    let quoted: [(&str, &[u8]); 1] = [("forwarded", br#"for=203.0.113.9;by="x,for=127.0.0.1""#)];
    get_at(s, &forwarded_mode, &proxy, &local, &quoted)
        .await
        .assert_error(403, "forbidden");
    // The refusal is audited with the reason.
    let audit = s
        .get("/api/v1/audit?outcome=denied&limit=200", &s.keys.admin)
        .await;
    assert!(
        audit.text.contains("client address unknown"),
        "{}",
        audit.text
    );
}

/// A tenant key probing hostings outside its grant (404), changing the one
/// it may only view (403), or sending changes refused for what they ask
/// (400) is counted, not recorded one event per request: its flood leaves
/// the log a handful of counted events, and the operator's earlier events
/// are all still there.
pub async fn a_tenants_refusals_are_counted_not_recorded(s: &TestServer) {
    let suspended = format!("/api/v1/hostings/{}/suspend", hosting_id(2));
    s.call(Method::POST, &suspended, Some(&s.keys.admin))
        .await
        .assert_ok(200);
    let viewer = s
        .mint(
            "probing viewer",
            [Capability::HostingView, Capability::HostingSuspend]
                .into_iter()
                .collect(),
            grants(&[(1, GrantLevel::View)]),
        )
        .await;
    let viewer_id = s.key_id("probing viewer").await;
    const PROBES: usize = 600;
    let viewer = &viewer;
    let replies: Vec<u16> = futures::stream::iter(0..PROBES)
        .map(|n| async move {
            let reply = if n % 3 == 0 {
                s.call(
                    Method::POST,
                    &format!("/api/v1/hostings/{}/suspend", hosting_id(1)),
                    Some(viewer),
                )
                .await
            } else {
                s.get(&format!("/api/v1/hostings/h{n:x}probe"), viewer)
                    .await
            };
            reply.status
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert_eq!(replies.iter().filter(|s| **s == 403).count(), PROBES / 3);
    assert_eq!(
        replies.iter().filter(|s| **s == 404).count(),
        PROBES - PROBES / 3
    );
    let probing = s
        .get(
            &format!("/api/v1/audit?key_id={viewer_id}&limit=200"),
            &s.keys.admin,
        )
        .await;
    probing.assert_ok(200);
    let rows = probing.body["items"].as_array().unwrap();
    let counted: u64 = rows.iter().map(|e| e["count"].as_u64().unwrap()).sum();
    assert_eq!(counted, PROBES as u64, "{}", probing.text);
    // One event per action and status, twice if a minute ended meanwhile.
    assert!(rows.len() <= 4, "{} events: {}", rows.len(), probing.text);
    assert!(
        rows.iter().all(|e| e["outcome"] == "denied"),
        "{}",
        probing.text
    );
    // A key sending changes that are refused for what they ask (400) is
    // counted the same way: it changed nothing.
    let sloppy = s
        .mint(
            "sloppy editor",
            [Capability::HostingEditConfig].into_iter().collect(),
            grants(&[(1, GrantLevel::Manage)]),
        )
        .await;
    let sloppy_id = s.key_id("sloppy editor").await;
    let php = format!("/api/v1/hostings/{}/php", hosting_id(1));
    for _ in 0..150 {
        s.call_json(Method::PATCH, &php, &sloppy, &json!({"version": "9.9"}))
            .await
            .assert_error(400, "validation");
    }
    let rejected = s
        .get(
            &format!("/api/v1/audit?key_id={sloppy_id}&limit=200"),
            &s.keys.admin,
        )
        .await;
    let rows = rejected.body["items"].as_array().unwrap();
    let counted: u64 = rows.iter().map(|e| e["count"].as_u64().unwrap()).sum();
    assert_eq!(counted, 150, "{}", rejected.text);
    assert!(rows.len() <= 2, "{} events: {}", rows.len(), rejected.text);
    // Replaying an answer does nothing again: replays are counted too.
    let replayer = s
        .mint(
            "replayer",
            [Capability::BackupRun].into_iter().collect(),
            grants(&[(3, GrantLevel::Manage)]),
        )
        .await;
    let replayer_id = s.key_id("replayer").await;
    let backup = format!("{}/api/v1/hostings/{}/backup", s.base, hosting_id(3));
    for _ in 0..100 {
        let reply = s
            .send(
                s.client
                    .post(&backup)
                    .bearer_auth(&replayer)
                    .header("idempotency-key", "the-same-one"),
            )
            .await;
        reply.assert_ok(202);
    }
    let replays = s
        .get(
            &format!("/api/v1/audit?key_id={replayer_id}&limit=200"),
            &s.keys.admin,
        )
        .await;
    let rows = replays.body["items"].as_array().unwrap();
    // The first answer, the job's end, and the replays counted (twice if a
    // minute ended meanwhile).
    assert!(rows.len() <= 4, "{} events: {}", rows.len(), replays.text);
    let counted: u64 = rows
        .iter()
        .filter(|e| e["status"] == 202)
        .map(|e| e["count"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, 100, "{}", replays.text);
    // The operator's suspend is still in the log.
    let admin = s
        .get(
            "/api/v1/audit?action=hosting.suspend&limit=200",
            &s.keys.admin,
        )
        .await;
    let kept = admin.body["items"].as_array().unwrap().iter().any(|e| {
        e["outcome"] == "ok" && e["target"] == hosting_id(2).as_str() && e["status"] == 200
    });
    assert!(kept, "{}", admin.text);
}

/// A flood of bogus keys is counted per address and minute: it cannot push
/// a real event out of the audit log, and what it sends cannot forge a log
/// line or reach a terminal as escapes.
pub async fn a_flood_of_bogus_keys_is_counted_not_recorded(s: &TestServer) {
    s.call(
        Method::POST,
        &format!("/api/v1/hostings/{}/suspend", hosting_id(0)),
        Some(&s.keys.admin),
    )
    .await
    .assert_ok(200);
    const FLOOD: usize = 2000;
    let bogus = |n: usize| format!("hyp_{:0>43}", n);
    let replies: Vec<u16> = futures::stream::iter(0..FLOOD)
        .map(|n| async move { s.get("/api/v1/me", &bogus(n)).await.status })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(replies.iter().all(|status| *status == 401));
    // A forged log line and terminal escapes in a keyless request's path.
    let forged = "/api/v1/hostings/x%0A2030-01-01T00:00:00.000000Z%20%20INFO%20hyperion::audit:%20audit%20actor=apikey:admin%20action=key.revoke%1B%5B31m";
    s.call(Method::GET, forged, None)
        .await
        .assert_error(401, "unauthorized");
    let audit = s
        .get("/api/v1/audit?actor=anonymous&limit=200", &s.keys.admin)
        .await;
    audit.assert_ok(200);
    let events = audit.body["items"].as_array().unwrap();
    let counted: u64 = events.iter().map(|e| e["count"].as_u64().unwrap()).sum();
    assert_eq!(counted, FLOOD as u64 + 1, "{}", audit.text);
    assert!(
        events.len() <= 6,
        "one event per address and minute: {}",
        audit.text
    );
    for event in events {
        let text = event.to_string();
        assert!(!text.contains("\\n2030"), "{text}");
        assert!(!text.contains("\\u001b"), "{text}");
    }
    // A key used from where it may not be (stolen, say) is counted too.
    let elsewhere = mint_with(s, json!({"ip_allowlist": ["10.0.0.0/8"]})).await;
    let stolen_id = s.get("/api/v1/keys?limit=200", &s.keys.admin).await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["ip_allowlist"] == json!(["10.0.0.0/8"]))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..300 {
        s.get("/api/v1/me", &elsewhere)
            .await
            .assert_error(403, "forbidden");
    }
    let stolen = s
        .get(&format!("/api/v1/audit?key_id={stolen_id}"), &s.keys.admin)
        .await;
    let rows = stolen.body["items"].as_array().unwrap();
    assert!(rows.len() <= 2, "{}", stolen.text);
    let counted: u64 = rows.iter().map(|e| e["count"].as_u64().unwrap()).sum();
    assert_eq!(counted, 300, "{}", stolen.text);
    // A revoked key is known: its use is counted against it, never merged
    // into the anonymous refusals, whatever else is sent beside it.
    let revoked_id = s.key_id("revoked").await;
    for _ in 0..5 {
        s.get("/api/v1/me", &s.keys.revoked)
            .await
            .assert_error(401, "unauthorized");
    }
    let used = s
        .get(&format!("/api/v1/audit?key_id={revoked_id}"), &s.keys.admin)
        .await;
    let rows = used.body["items"].as_array().unwrap();
    let counted: u64 = rows.iter().map(|e| e["count"].as_u64().unwrap()).sum();
    assert_eq!(counted, 5, "{}", used.text);
    assert!(
        rows.iter()
            .all(|e| e["actor"] == "apikey:revoked" && e["status"] == 401),
        "{}",
        used.text
    );
    // Anyone can send the admin key's prefix with a bogus rest: among
    // other keys, that prefix must not stand for the whole count.
    let prefix = &s.keys.admin[..12];
    // Twice at most: a minute may end between the two requests, once.
    let mut merged = Vec::new();
    for _ in 0..2 {
        for key in [bogus(7), format!("{prefix}{}", "A".repeat(35))] {
            s.get("/api/v1/me", &key)
                .await
                .assert_error(401, "unauthorized");
        }
        let anonymous = s
            .get("/api/v1/audit?actor=anonymous&limit=200", &s.keys.admin)
            .await;
        merged = anonymous.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["count"] == 2)
            .cloned()
            .collect();
        if !merged.is_empty() {
            break;
        }
    }
    assert_eq!(merged.len(), 1, "{merged:?}");
    assert_eq!(merged[0]["key_prefix"], Value::Null, "{merged:?}");
    // The real event is still there, whatever the flood did.
    let real = s
        .get("/api/v1/audit?action=hosting.suspend", &s.keys.admin)
        .await;
    assert_eq!(real.body["total"], 1, "{}", real.text);
}

/// A client that hangs up while its create is under way does not undo it:
/// the create runs to its end, is audited, and keeps its idempotency record,
/// so the client's retry gets the answer it missed and no second hosting.
pub async fn a_mutation_whose_client_hangs_up_still_ends_and_is_audited(s: &TestServer) {
    for node in &s.nodes {
        node.set_latency(Duration::from_millis(300));
    }
    let body = json!({"domain": "hangup.example.org"}).to_string();
    let request = format!(
        "POST /api/v1/hostings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nIdempotency-Key: hangup-1\r\nContent-Length: {}\r\n\r\n{body}",
        s.keys.admin,
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(s.base.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    // The create is now asking the (slow) nodes; the client hangs up.
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(stream);
    let mut audited = None;
    for _ in 0..100 {
        let audit = s
            .get("/api/v1/audit?action=hosting.create", &s.keys.admin)
            .await;
        if audit.body["total"] != 0 {
            audited = Some(audit.body["items"][0].clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let audited = audited.expect("the create was audited although its client left");
    assert_eq!(audited["outcome"], "ok", "{audited}");
    for node in &s.nodes {
        node.set_latency(Duration::ZERO);
    }
    let retry = s
        .client
        .post(format!("{}/api/v1/hostings", s.base))
        .bearer_auth(&s.keys.admin)
        .header("idempotency-key", "hangup-1")
        .header("content-type", "application/json")
        .body(body);
    let retry = s.send(retry).await;
    retry.assert_ok(201);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    let found = s
        .get("/api/v1/hostings?q=hangup.example.org", &s.keys.admin)
        .await;
    assert_eq!(found.body["total"], 1, "{}", found.text);
}

/// Case: Rate limits say the true wait.
pub async fn rate_limits_say_the_true_wait(s: &TestServer) {
    let limited = mint_with(s, json!({"rate_limit_per_min": 3})).await;
    for remaining in ["2", "1", "0"] {
        let reply = s.get("/api/v1/me", &limited).await;
        reply.assert_ok(200);
        assert_eq!(reply.header("ratelimit-limit"), Some("3"));
        assert_eq!(reply.header("ratelimit-remaining"), Some(remaining));
        assert!(reply.header("ratelimit-reset").is_some());
        assert_eq!(
            reply.header("ratelimit-policy"),
            Some("\"per-key\";q=3;w=60")
        );
        assert!(
            reply
                .header("ratelimit")
                .unwrap()
                .starts_with(&format!("\"per-key\";r={remaining};t="))
        );
    }
    let refused = s.get("/api/v1/hostings", &limited).await;
    refused.assert_error(429, "rate_limited");
    // One request every 20 s: the wait is 20 s (rounded up), not a fixed 60.
    let retry_after: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!(
        (15..=20).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    assert_eq!(refused.header("ratelimit-remaining"), Some("0"));
    let message = refused.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("3 requests per minute"), "{message}");
    // Other keys are untouched, and unlimited keys carry no RateLimit headers.
    let other = s.get("/api/v1/me", &s.keys.admin).await;
    other.assert_ok(200);
    assert_eq!(other.header("ratelimit-limit"), None);
}

/// Case: A hung node costs at most the deadline.
pub async fn a_hung_node_costs_at_most_the_deadline(s: &TestServer) {
    s.nodes[1].set_fault(SimFault::Hang);
    let admin = &s.keys.admin;
    // Hostings on healthy nodes are served at their speed: a client that
    // gives up at half the node deadline still gets them.
    for path in [
        format!("/api/v1/hostings/{}", hosting_id(0)),
        format!("/api/v1/hostings/{}", domain(2)),
    ] {
        let request = s
            .client
            .get(format!("{}{path}", s.base))
            .bearer_auth(admin)
            .timeout(NODE_DEADLINE / 2);
        s.send(request).await.assert_ok_for(&path, 200);
    }
    // What only the hung node could answer is a 504 (the client's own
    // timeout is far longer), never a hang or a 404.
    for path in [
        format!("/api/v1/hostings/{}", hosting_id(1)),
        "/api/v1/hostings/nothere.example.test".to_owned(),
        "/api/v1/hostings?node=node-2".to_owned(),
        "/api/v1/hostings?allow_partial=false".to_owned(),
    ] {
        s.get(&path, admin)
            .await
            .assert_error_for(&path, 504, "upstream_timeout");
    }
    let partial = s.get("/api/v1/hostings?limit=200", admin).await;
    partial.assert_ok(200);
    assert_eq!(partial.body["unavailable_nodes"], json!(["node-2"]));
    assert_eq!(partial.body["total"], 20);
    assert!(
        partial.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["node_id"] != "node-2")
    );
    let nodes = s.get("/api/v1/nodes", admin).await;
    assert_eq!(nodes.body["items"][1]["status"], "unavailable");
}

/// Case: A failing node is a 502 and lists go on.
pub async fn a_failing_node_is_a_502_and_lists_go_on(s: &TestServer) {
    s.nodes[2].set_fault(SimFault::Fail);
    let admin = &s.keys.admin;
    s.get(&format!("/api/v1/hostings/{}", hosting_id(2)), admin)
        .await
        .assert_error(502, "upstream_error");
    s.get("/api/v1/hostings/nothere.example.test", admin)
        .await
        .assert_error(502, "upstream_error");
    let partial = s.get("/api/v1/hostings", admin).await;
    assert_eq!(partial.body["unavailable_nodes"], json!(["node-3"]));
    s.get("/api/v1/hostings?allow_partial=false", admin)
        .await
        .assert_error(502, "upstream_error");
    s.get("/api/v1/hostings?allow_partial=maybe", admin)
        .await
        .assert_error(400, "validation");
    s.call(
        Method::POST,
        &format!("/api/v1/hostings/{}/suspend", hosting_id(0)),
        Some(admin),
    )
    .await
    .assert_ok(200);
    for node in &s.nodes {
        node.set_fault(SimFault::Fail);
    }
    s.get("/api/v1/hostings", admin)
        .await
        .assert_error(502, "upstream_error");
}

/// Case: A panicking endpoint is a 500 and the server goes on.
pub async fn a_panicking_endpoint_is_a_500_and_the_server_goes_on(s: &TestServer) {
    s.nodes[1].set_fault(SimFault::Panic);
    for _ in 0..3 {
        let reply = s
            .get(
                &format!("/api/v1/hostings/{}", hosting_id(1)),
                &s.keys.admin,
            )
            .await;
        reply.assert_error(500, "internal");
        assert!(!reply.text.contains("simulated bug"), "{}", reply.text);
        s.get(
            &format!("/api/v1/hostings/{}", hosting_id(0)),
            &s.keys.admin,
        )
        .await
        .assert_ok(200);
    }
}

/// Case: Bodies over the limit are 413 without being read.
pub async fn bodies_over_the_limit_are_413_without_being_read(s: &TestServer) {
    let big = json!({"label": "x".repeat(BODY_LIMIT), "caps": [], "scope": "all"});
    s.mint_over_http(&s.keys.admin, big)
        .await
        .assert_error(413, "payload_too_large");
    // Chunked, with no length announced: refused once the limit is passed.
    let addr = s.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/v1/keys HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        s.keys.admin
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("{:x}\r\n{}\r\n", 16 * 1024, "x".repeat(16 * 1024));
    for _ in 0..(4 * BODY_LIMIT / (16 * 1024)) {
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break; // the server already answered and closed
        }
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(r#""code":"payload_too_large""#), "{answer}");
}

/// Opens a connection to `base` and sends `head` (a request head, `\r\n\r\n`
/// included) and the first bytes of a body that never comes whole.
async fn start_a_body(base: &str, head: &str, part: &[u8]) -> tokio::net::TcpStream {
    start_a_body_from(base, "127.0.0.1", head, part).await
}

/// Reads one whole answer (head and `Content-Length` body) from `stream`,
/// or what came within 10 s.
async fn read_answer(stream: &mut tokio::net::TcpStream) -> String {
    let mut answer = Vec::new();
    let reading = async {
        let mut buffer = [0u8; 4096];
        loop {
            let read = stream.read(&mut buffer).await.unwrap_or(0);
            if read == 0 {
                return;
            }
            answer.extend_from_slice(&buffer[..read]);
            let text = String::from_utf8_lossy(&answer);
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if answer.len() >= end + 4 + length {
                    return;
                }
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), reading).await;
    String::from_utf8_lossy(&answer).into_owned()
}

fn post_keys_head(key: &str, length: usize) -> String {
    format!(
        "POST /api/v1/keys HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n"
    )
}

/// A key without the route's capability is refused before a byte of its
/// body is read: it cannot hold the server's memory with bodies it never
/// finishes.
pub async fn bodies_are_not_read_before_the_capability_is_checked(s: &TestServer) {
    let mut held = Vec::new();
    for _ in 0..20 {
        let mut stream = start_a_body(
            &s.base,
            &post_keys_head(&s.keys.powerless, 60_000),
            b"{\"la",
        )
        .await;
        let answer = read_answer(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
        assert!(answer.contains(r#""code":"forbidden""#), "{answer}");
        held.push(stream);
    }
}

/// The bytes of bodies being read at once are capped across all requests:
/// past the budget, 503 with `Retry-After`; a body that does not arrive in
/// time is 408 and gives its room back.
pub async fn unfinished_bodies_are_bounded_in_bytes_and_time(s: &TestServer) {
    let base = s
        .serve_with_config(|config| {
            config.body_bytes_in_flight = 100 * 1024;
            config.body_deadline = Duration::from_millis(500);
        })
        .await;
    let admin = &s.keys.admin;
    // One unfinished 60 KB body holds most of the 100 KB budget...
    let mut first = start_a_body(&base, &post_keys_head(admin, 60_000), b"{").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // ...so a second one is turned away at once.
    let mut second = start_a_body(&base, &post_keys_head(admin, 60_000), b"{").await;
    let answer = read_answer(&mut second).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains(r#""code":"overloaded""#), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    // The first one's body never comes: 408, as an envelope.
    let answer = read_answer(&mut first).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
    // Its room is back: a whole body goes through.
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let minted = s
        .send(
            client
                .post(format!("{base}/api/v1/keys"))
                .bearer_auth(admin)
                .json(&json!({"label": "after the flood", "caps": [], "scope": "all"})),
        )
        .await;
    minted.assert_ok(201);
}

/// A route's body is bounded by what the route can need: a PHP patch
/// announcing a megabyte is 413 at once, not a megabyte of the server's
/// budget held until the deadline. And no one tenant takes more than its
/// share of the budget: its stalled bodies past the first are turned away
/// while the operator's writes go through.
pub async fn one_tenant_cannot_starve_the_body_budget(s: &TestServer) {
    let base = s
        .serve_with_config(|config| {
            config.body_bytes_in_flight = 256 * 1024;
            config.body_deadline = Duration::from_secs(3);
        })
        .await;
    // Minted by the operator over HTTP: the tenant stands below the
    // operator's key in its chain, yet its share is its own.
    let minted = s
        .mint_over_http(
            &s.keys.admin,
            json!({"label": "config editor", "caps": ["hosting_edit_config"],
                   "scope": {"grants": [{"hosting": hosting_id(1).as_str(), "level": "manage"}]}}),
        )
        .await;
    minted.assert_ok(201);
    let tenant = minted.body["key"].as_str().unwrap().to_owned();
    let patch_head = |setting: &str, length: usize| {
        format!(
            "PATCH /api/v1/hostings/{}/{setting} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {tenant}\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n",
            hosting_id(1)
        )
    };
    // Announced far past what a PHP patch can be: refused before reading.
    let mut huge = start_a_body(&base, &patch_head("php", 1024 * 1024), b"{").await;
    let answer = read_answer(&mut huge).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(r#""code":"payload_too_large""#), "{answer}");
    // Stalled vhost bodies from one address and the tenant's key: the first
    // holds its share (a sixteenth of 256 KiB), every other is turned away.
    let vhost = patch_head("vhost", 16 * 1024);
    let mut first = start_a_body_from(&base, "127.0.0.5", &vhost, b"{").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    for from in ["127.0.0.5", "127.0.0.6", "127.0.0.7"] {
        for _ in 0..5 {
            let mut more = start_a_body_from(&base, from, &vhost, b"{").await;
            let answer = read_answer(&mut more).await;
            assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
            assert!(answer.contains(r#""code":"overloaded""#), "{answer}");
        }
    }
    // Meanwhile the operator writes, and so does another tenant's key.
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let minted = s
        .send(
            client
                .post(format!("{base}/api/v1/keys"))
                .bearer_auth(&s.keys.admin)
                .json(&json!({"label": "while a tenant stalls", "caps": [], "scope": "all"})),
        )
        .await;
    minted.assert_ok(201);
    let other = s
        .mint(
            "other config editor",
            [Capability::HostingEditConfig].into_iter().collect(),
            grants(&[(2, GrantLevel::Manage)]),
        )
        .await;
    let patched = s
        .send(
            s.client_from("127.0.0.8")
                .patch(format!("{base}/api/v1/hostings/{}/php", hosting_id(2)))
                .bearer_auth(&other)
                .json(&json!({"version": "8.3"})),
        )
        .await;
    patched.assert_ok(200);
    // The stalled body ends at its deadline.
    let answer = read_answer(&mut first).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

/// [`start_a_body`] from the local address `from` (in 127.0.0.0/8).
async fn start_a_body_from(
    base: &str,
    from: &str,
    head: &str,
    part: &[u8],
) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind(std::net::SocketAddr::new(from.parse().unwrap(), 0))
        .unwrap();
    let mut stream = socket
        .connect(base.trim_start_matches("http://").parse().unwrap())
        .await
        .unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(part).await.unwrap();
    stream
}

async fn audit(s: &TestServer, query: &str) -> Value {
    let reply = s
        .get(&format!("/api/v1/audit?{query}"), &s.keys.admin)
        .await;
    reply.assert_ok(200);
    reply.body
}

/// Case: The audit log shows who did what and who was refused.
pub async fn the_audit_log_shows_who_did_what_and_who_was_refused(s: &TestServer) {
    let suspend = format!("/api/v1/hostings/{}/suspend", hosting_id(0));
    s.call(Method::POST, &suspend, Some(&s.keys.admin))
        .await
        .assert_ok(200);
    let refused = s.call(Method::POST, &suspend, Some(&s.keys.viewer)).await;
    refused.assert_error(403, "forbidden");
    let unknown =
        hyperion_core::NewKey::new("ghost", "admin".parse().unwrap(), CapSet::all()).mint();
    s.call(Method::POST, &suspend, Some(unknown.secret.expose()))
        .await
        .assert_error(401, "unauthorized");
    let tenant = s
        .mint("tenant", CapSet::all(), grants(&[(1, GrantLevel::View)]))
        .await;
    s.get(&format!("/api/v1/hostings/{}", hosting_id(2)), &tenant)
        .await
        .assert_error(404, "not_found");
    s.call(
        Method::POST,
        "/api/v1/hostings/hmissing/suspend",
        Some(&s.keys.admin),
    )
    .await
    .assert_error(404, "not_found");

    let log = audit(s, "limit=200").await;
    assert_eq!(sorted_keys(&log), ["items", "next_cursor", "total"]);
    let events = log["items"].as_array().unwrap();
    let ids: Vec<u64> = events.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");
    let find = |action: &str, outcome: &str, actor: &str| {
        events
            .iter()
            .find(|e| e["action"] == action && e["outcome"] == outcome && e["actor"] == actor)
            .unwrap_or_else(|| panic!("no {action}/{outcome}/{actor} in {log}"))
            .clone()
    };
    let ok = find("hosting.suspend", "ok", "apikey:admin");
    assert_eq!(ok["target"], hosting_id(0).as_str());
    assert_eq!(ok["status"], 200);
    assert_eq!(ok["client_ip"], "127.0.0.1");
    let denied = find("hosting.suspend", "denied", "apikey:viewer");
    assert_eq!(denied["status"], 403);
    assert_eq!(
        denied["request_id"],
        refused.header("x-request-id").unwrap()
    );
    let anonymous = find("hosting.suspend", "denied", "anonymous");
    assert_eq!(anonymous["status"], 401);
    assert_eq!(anonymous["key_prefix"], unknown.record.prefix.as_str());
    let hidden = find("hosting.read", "denied", "apikey:tenant");
    assert_eq!(hidden["status"], 404);
    let failed = find("hosting.suspend", "failed", "apikey:admin");
    assert_eq!(failed["status"], 404);
    for event in events {
        assert_eq!(
            sorted_keys(event),
            [
                "action",
                "actor",
                "at",
                "client_ip",
                "client_request_id",
                "count",
                "detail",
                "id",
                "key_id",
                "key_prefix",
                "outcome",
                "owner",
                "request_id",
                "status",
                "target"
            ]
        );
    }
    let text = log.to_string();
    assert!(
        !text.contains(&unknown.secret.expose()[12..]),
        "a raw key is in the audit log"
    );
    assert!(
        !text.contains(&s.keys.admin[12..]),
        "a raw key is in the audit log"
    );

    // Filters and pagination.
    let denied_only = audit(s, "outcome=denied").await;
    assert!(
        denied_only["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["outcome"] == "denied")
    );
    assert_eq!(denied_only["total"], 3);
    let viewer = audit(s, "actor=apikey:viewer&action=hosting.suspend").await;
    assert_eq!(viewer["total"], 1);
    let by_target = audit(s, &format!("target={}", hosting_id(0))).await;
    assert!(by_target["total"].as_u64().unwrap() >= 1);
    let first = audit(s, "limit=2").await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = audit(s, &format!("limit=2&cursor={cursor}")).await;
    assert!(
        second["items"][0]["id"].as_u64().unwrap() < first["items"][1]["id"].as_u64().unwrap() + 1
    );
    s.get("/api/v1/audit?outcome=maybe", &s.keys.admin)
        .await
        .assert_error(400, "validation");
    s.get("/api/v1/audit?cursor=abc", &s.keys.admin)
        .await
        .assert_error(400, "validation");

    // Reading the log needs audit_view and scope all.
    s.get("/api/v1/audit", &s.keys.viewer)
        .await
        .assert_error(403, "forbidden");
    s.get("/api/v1/audit", &tenant)
        .await
        .assert_error(403, "forbidden");
}

/// Case: Hostile inputs answer 4xx envelopes.
pub async fn hostile_inputs_answer_4xx_envelopes(s: &TestServer) {
    let admin = &s.keys.admin;
    let paths = [
        "/api/v1/hostings/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/hostings/%2e%2e",
        "/api/v1/hostings/a%00b",
        "/api/v1/hostings/%FF%FE%FD",
        "/api/v1/jobs/%00",
        "/api/v1/keys/key_%00",
        "/api/v1/hostings?cursor=%FF%FE",
        "/api/v1/hostings?limit=18446744073709551616",
        "/api/v1/hostings?limit=-0",
        "/api/v1/audit?cursor=18446744073709551616",
        "/api/v1/hostings?state=%00",
        "/api/v1/hostings?q=%FF",
    ];
    for path in paths {
        let reply = s.get(path, admin).await;
        assert!(
            (400..500).contains(&reply.status) || reply.status == 200,
            "{path}: {}",
            reply.text
        );
        if reply.status != 200 {
            reply.assert_error_for(
                path,
                reply.status,
                reply.body["error"]["code"].as_str().unwrap_or("?"),
            );
        }
    }
    let long_bearer = format!("Bearer {}", "A".repeat(8 * 1024));
    for header in ["Bearer hyp_!!!", "", " ", long_bearer.as_str()] {
        let request = s
            .client
            .get(format!("{}/api/v1/me", s.base))
            .header("authorization", header);
        s.send(request).await.assert_error(401, "unauthorized");
    }
    let reply = s
        .call_json(
            Method::PATCH,
            &format!("/api/v1/hostings/{}/limits", hosting_id(4)),
            admin,
            &json!({"memory_mb": 1e300}),
        )
        .await;
    reply.assert_error(400, "validation");
}
