//! Lifecycle: suspend, resume and delete, with the jobs they start.

use super::prelude::*;

/// Case: Suspend and resume are idempotent.
pub async fn suspend_and_resume_are_idempotent(s: &TestServer) {
    let id = hosting_id(0);
    let expect_state = |reply: &Reply, state: &str| {
        reply.assert_ok(200);
        assert_eq!(reply.body, json!({"id": id.as_str(), "state": state}));
    };
    let suspend = format!("/api/v1/hostings/{id}/suspend");
    let resume = format!("/api/v1/hostings/{}/resume", domain(0));
    let admin = Some(s.keys.admin.as_str());
    expect_state(&s.call(Method::POST, &suspend, admin).await, "suspended");
    expect_state(&s.call(Method::POST, &suspend, admin).await, "suspended");
    let detail = s
        .get(&format!("/api/v1/hostings/{id}"), &s.keys.admin)
        .await;
    assert_eq!(detail.body["state"], "suspended");
    expect_state(&s.call(Method::POST, &resume, admin).await, "active");
    expect_state(&s.call(Method::POST, &resume, admin).await, "active");
    let detail = s
        .get(&format!("/api/v1/hostings/{id}"), &s.keys.admin)
        .await;
    assert_eq!(detail.body["state"], "active");
}

/// Case: Delete runs a job to success then the hosting is gone.
pub async fn delete_runs_a_job_to_success_then_the_hosting_is_gone(s: &TestServer) {
    let id = hosting_id(5);
    let reply = s
        .call(
            Method::DELETE,
            &format!(
                "/api/v1/hostings/{}?keep_user=true&keep_database",
                domain(5)
            ),
            Some(&s.keys.admin),
        )
        .await;
    reply.assert_ok(202);
    assert_eq!(sorted_keys(&reply.body), ["job_id", "status"]);
    assert_eq!(reply.body["status"], "accepted");
    let job_id = reply.body["job_id"].as_str().unwrap();
    assert_eq!(
        reply.header("location"),
        Some(format!("/api/v1/jobs/{job_id}").as_str())
    );

    let job = s.wait_for_job(job_id, &s.keys.admin).await;
    // Asked by domain, audited by the hosting's id: the request (202) and
    // the job's end alike.
    let events = s
        .get(
            &format!("/api/v1/audit?action=hosting.delete&target={id}"),
            &s.keys.admin,
        )
        .await;
    let statuses: Vec<&Value> = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["status"])
        .collect();
    assert!(statuses.contains(&&Value::from(202)), "{}", events.text);
    assert_eq!(
        sorted_keys(&job),
        [
            "actor",
            "created_at",
            "error",
            "finished_at",
            "id",
            "kind",
            "progress",
            "result",
            "state",
            "step",
            "target",
            "updated_at"
        ]
    );
    assert_eq!(job["id"], job_id);
    assert_eq!(job["state"], "succeeded");
    assert_eq!(job["progress"], 100);
    assert_eq!(job["kind"], "hosting.delete");
    assert_eq!(job["target"], id.as_str());
    assert_eq!(job["actor"], "apikey:admin");
    assert_eq!(job["error"], Value::Null);
    for field in ["created_at", "updated_at", "finished_at"] {
        assert_timestamp(&job[field]);
    }

    for selector in [id.to_string(), domain(5)] {
        s.get(&format!("/api/v1/hostings/{selector}"), &s.keys.admin)
            .await
            .assert_error(404, "not_found");
    }
    let list = s.get("/api/v1/hostings?limit=200", &s.keys.admin).await;
    assert_eq!(list.body["total"], 29);
    assert!(!ids_of(&list.body).contains(&id.to_string()));
    s.call(
        Method::DELETE,
        &format!("/api/v1/hostings/{id}"),
        Some(&s.keys.admin),
    )
    .await
    .assert_error(404, "not_found");
}

/// Case: Delete flags are validated.
pub async fn delete_flags_are_validated(s: &TestServer) {
    for query in [
        "keep_user=maybe",
        "keep_database=2",
        "keep_user=true&keep_user=false",
    ] {
        let path = format!("/api/v1/hostings/{}?{query}", hosting_id(6));
        s.call(Method::DELETE, &path, Some(&s.keys.admin))
            .await
            .assert_error_for(query, 400, "validation");
    }
    // Nothing was started: the hosting is still there.
    s.get(
        &format!("/api/v1/hostings/{}", hosting_id(6)),
        &s.keys.admin,
    )
    .await
    .assert_ok(200);
}

/// Case: Unknown or malformed job ids are 404.
pub async fn unknown_or_malformed_job_ids_are_404(s: &TestServer) {
    for id in ["job_doesnotexist", "xyz", "job_", "job_a.b"] {
        s.get(&format!("/api/v1/jobs/{id}"), &s.keys.admin)
            .await
            .assert_error_for(id, 404, "not_found");
    }
}
