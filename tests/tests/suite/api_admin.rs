//! The admin API's happy paths and error codes, over HTTP against the real server, with real
//! plugins installed by upload.

use std::sync::Arc;

use baton::{ApiConfig, Role};
use baton_tests::{engine, fixture, http, serve, welcome_campaign};

struct Api {
    base: String,
    client: reqwest::Client,
    token: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request =
            self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        checked(status, response.json().await.unwrap_or(serde_json::Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn put(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::DELETE, path, None).await
    }

    async fn install(&self, name: &str) -> (u16, serde_json::Value) {
        let response = self
            .client
            .post(format!("{}/v1/plugins", self.base))
            .bearer_auth(&self.token)
            .header("content-type", "application/wasm")
            .body(fixture(name))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        checked(status, response.json().await.unwrap())
    }
}

/// Every error answered is in the one table, with the status the table gives it, and carries its
/// code and message at the top level too (where Segment's clients read them).
fn checked(status: u16, body: serde_json::Value) -> (u16, serde_json::Value) {
    if let Some(code) = body["error"]["code"].as_str() {
        let listed = baton::ErrorCode::ALL.iter().find(|c| c.code() == code);
        assert_eq!(listed.map(|c| c.status().as_u16()), Some(status), "`{code}` answered with {status}");
        assert_eq!((body["code"].as_str(), &body["message"]), (Some(code), &body["error"]["message"]));
    }
    (status, body)
}

fn code(body: &serde_json::Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("(none)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_runs_a_campaign_end_to_end_over_the_api() {
    let (engine, _clock, _dir) = engine();
    let engine = Arc::new(engine);
    let (token, _) = engine.storage().create_token("ops", Role::Admin, 1).unwrap();
    let api = Api { base: serve(engine.clone(), ApiConfig::default()).await, client: http(), token };

    // Plugins.
    let (status, segment) = api.install("seg-vip").await;
    assert_eq!((status, segment["name"].as_str()), (201, Some("seg-vip")));
    let segment_hash = segment["hash"].as_str().unwrap().to_owned();
    let (_, channel) = api.install("chan-echo").await;
    let channel_hash = channel["hash"].as_str().unwrap().to_owned();
    let (status, listed) = api.get("/v1/plugins").await;
    assert_eq!((status, listed.as_array().unwrap().len()), (200, 2));
    let (status, bad) = api
        .client
        .post(format!("{}/v1/plugins", api.base))
        .bearer_auth(&api.token)
        .body("not wasm")
        .send()
        .await
        .map(|r| (r.status().as_u16(), r))
        .unwrap();
    assert_eq!(status, 422);
    assert_eq!(code(&bad.json().await.unwrap()), "invalid_plugin");

    // Campaign lifecycle.
    let campaign = serde_json::to_value(welcome_campaign()).unwrap();
    let (status, created) = api.post("/v1/campaigns", campaign.clone()).await;
    assert_eq!((status, created["state"].as_str()), (201, Some("draft")));
    assert_eq!(code(&api.post("/v1/campaigns", campaign.clone()).await.1), "campaign_exists");
    let (status, body) = api.post("/v1/campaigns/welcome/activate", serde_json::json!({})).await;
    assert_eq!((status, code(&body)), (409, "campaign_not_ready"));
    let (status, body) = api
        .put(
            "/v1/campaigns/welcome/bindings/segment",
            serde_json::json!({"plugin": segment_hash, "config": {"tier": 3}}),
        )
        .await;
    assert_eq!((status, code(&body)), (409, "invalid_binding_config"));
    let (status, _) =
        api.put("/v1/campaigns/welcome/bindings/segment", serde_json::json!({"plugin": segment_hash})).await;
    assert_eq!(status, 200);
    let grants = serde_json::json!({"allowed_hosts": ["127.0.0.1"], "secrets": ["ECHO_TOKEN"]});
    let (status, _) = api
        .put("/v1/campaigns/welcome/bindings/channel", serde_json::json!({"plugin": channel_hash, "config": {"url": "http://127.0.0.1:9/"}, "grants": grants}))
        .await;
    assert_eq!(status, 200);
    let (status, active) = api.post("/v1/campaigns/welcome/activate", serde_json::json!({})).await;
    assert_eq!((status, active["state"].as_str()), (200, Some("active")));
    let (status, shown) = api.get("/v1/campaigns/welcome").await;
    assert_eq!((status, shown["bindings"].as_array().unwrap().len()), (200, 2));
    let (status, body) = api.delete(&format!("/v1/plugins/{segment_hash}")).await;
    assert_eq!((status, code(&body)), (409, "plugin_bound"));

    // An audience, a preview, a run.
    let (connector, _) = engine.storage().create_token("app", Role::Connector, 2).unwrap();
    let events = serde_json::json!({"batch": [
        {"type": "identify", "userId": "ada", "traits": {"email": "ada@example.com", "tier": "vip"}},
        {"type": "identify", "userId": "bob", "traits": {"email": "bob@example.com", "tier": "basic"}}
    ]});
    let ingested = api
        .client
        .post(format!("{}/v1/batch", api.base))
        .basic_auth(&connector, Some(""))
        .json(&events)
        .send()
        .await
        .unwrap();
    assert_eq!(ingested.status().as_u16(), 200);
    let ada = engine.storage().profile_by_identity(&baton::Identity::User("ada".into())).unwrap().unwrap().id;
    let (status, profile) = api
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/profiles/{ada}"),
            Some(serde_json::json!({"consents": {"email:marketing": "granted"}, "timezone": "Europe/Paris"})),
        )
        .await;
    assert_eq!((status, profile["timezone"].as_str()), (200, Some("Europe/Paris")));
    let (status, preview) = api.get("/v1/campaigns/welcome/preview").await;
    assert_eq!((status, preview["audience"].as_u64(), preview["queued"].as_u64()), (200, Some(1), Some(1)));
    assert_eq!(engine.storage().outbox_len(), 0, "a preview sends nothing");
    let (status, body) = api.post("/v1/campaigns/welcome/runs", serde_json::json!({"run": "r1"})).await;
    assert_eq!((status, body["report"]["queued"].as_u64()), (200, Some(1)));
    for path in ["skips", "deliveries", "dead-letters", "kpis"] {
        let (status, list) = api.get(&format!("/v1/campaigns/welcome/{path}")).await;
        assert_eq!((status, list.is_array()), (200, true), "{path}");
    }
    let (status, replayed) =
        api.post("/v1/campaigns/welcome/dead-letters/replay", serde_json::json!({})).await;
    assert_eq!((status, replayed["replayed"].as_u64()), (200, Some(0)));
    let (status, computed) = api.post("/v1/campaigns/welcome/kpis", serde_json::json!({})).await;
    assert_eq!((status, computed.as_array().map(Vec::len)), (200, Some(0)));

    // Secrets are write-only; tokens are shown once.
    let (status, _) = api
        .put("/v1/secrets/ECHO_TOKEN", serde_json::json!({"value": "s3cret", "hosts": ["127.0.0.1"]}))
        .await;
    assert_eq!(status, 200);
    let (_, names) = api.get("/v1/secrets").await;
    assert_eq!(names, serde_json::json!([{"name": "ECHO_TOKEN", "hosts": ["127.0.0.1"]}]));
    let (status, created) =
        api.post("/v1/tokens", serde_json::json!({"name": "analyst", "role": "viewer"})).await;
    assert_eq!(status, 201);
    assert!(created["token"].as_str().unwrap().starts_with("bt_"));
    let (_, listed) = api.get("/v1/tokens").await;
    assert!(!listed.to_string().contains(created["token"].as_str().unwrap()), "token never listed");
    let id = created["record"]["id"].as_str().unwrap();
    assert_eq!(api.delete(&format!("/v1/tokens/{id}")).await.0, 200);
    assert_eq!(code(&api.delete(&format!("/v1/tokens/{id}")).await.1), "token_not_found");

    // Profiles: show, export and erasure.
    let (status, shown) = api.get(&format!("/v1/profiles/{ada}")).await;
    assert_eq!((status, shown["consents"]["email:marketing"]["state"].as_str()), (200, Some("granted")));
    let (status, campaigns) = api.get("/v1/campaigns").await;
    assert_eq!((status, campaigns[0]["id"].as_str()), (200, Some("welcome")));
    let (status, export) = api.get(&format!("/v1/profiles/{ada}/export")).await;
    assert_eq!((status, export["profile"]["attributes"]["email"].as_str()), (200, Some("ada@example.com")));
    let (status, erased) = api.delete(&format!("/v1/profiles/{ada}")).await;
    assert_eq!((status, erased["identities"].as_u64()), (200, Some(1)));
    assert_eq!(code(&api.get(&format!("/v1/profiles/{ada}")).await.1), "profile_not_found");

    // Audit and remaining error codes.
    let (status, audit) = api.get("/v1/audit?limit=500").await;
    assert_eq!(status, 200);
    let actions: Vec<&str> =
        audit.as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    for action in [
        "plugin_installed",
        "campaign_created",
        "plugin_bound",
        "campaign_state_changed",
        "campaign_run",
        "secret_set",
        "token_created",
        "token_revoked",
        "profile_exported",
        "profile_erased",
    ] {
        assert!(actions.contains(&action), "{action} missing from {actions:?}");
    }
    assert!(!audit.to_string().contains("s3cret"), "no secret in the audit log");
    assert_eq!(code(&api.get("/v1/campaigns/nope").await.1), "campaign_not_found");
    assert_eq!(code(&api.get("/v1/profiles/ada").await.1), "invalid_profile_id");
    assert_eq!(api.post("/v1/campaigns/welcome/end", serde_json::json!({})).await.0, 200);
    let (status, body) = api.post("/v1/campaigns/welcome/activate", serde_json::json!({})).await;
    assert_eq!((status, code(&body)), (409, "invalid_transition"));
    let (status, body) =
        api.put("/v1/campaigns/welcome/bindings/lunch", serde_json::json!({"plugin": segment_hash})).await;
    assert_eq!((status, code(&body)), (400, "invalid_slot"));
    let (status, body) = api.post("/v1/campaigns", serde_json::json!({"id": "x"})).await;
    assert_eq!((status, code(&body)), (422, "invalid_request"));
    let raw = api
        .client
        .post(format!("{}/v1/campaigns", api.base))
        .bearer_auth(&api.token)
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (raw.status().as_u16(), code(&raw.json().await.unwrap()).to_owned()),
        (400, "invalid_json".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analyst_counts_an_audience_without_a_campaign() {
    let (engine, _clock, _dir) = engine();
    let engine = Arc::new(engine);
    let (token, _) = engine.storage().create_token("analyst", Role::Analyst, 1).unwrap();
    let plugin = engine.runtime().install(&fixture("seg-vip")).unwrap().hash().to_string();
    let channel = engine.runtime().install(&fixture("chan-echo")).unwrap().hash().to_string();
    for i in 0..30 {
        let tier = if i % 3 == 0 { "vip" } else { "basic" };
        baton_tests::customer(
            &engine,
            &format!("u{i}"),
            serde_json::json!({"tier": tier, "lifetime_value": i}),
            false,
        );
    }
    let api = Api { base: serve(engine.clone(), ApiConfig::default()).await, client: http(), token };
    let (status, answer) = api
        .post("/v1/audiences", serde_json::json!({"plugin": plugin, "config": {"tier": "vip"}, "sample": 3}))
        .await;
    assert_eq!((status, answer["evaluated"].as_u64(), answer["count"].as_u64()), (200, Some(30), Some(10)));
    assert_eq!(answer["sample"].as_array().unwrap().len(), 3);
    assert!(answer.get("members").is_none());

    let csv = api
        .client
        .post(format!("{}/v1/audiences", api.base))
        .bearer_auth(&api.token)
        .json(&serde_json::json!({"plugin": plugin, "config": {"tier": "vip"}, "format": "csv"}))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv");
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 11);
    assert_eq!(lines[0], "profile_id,score");
    assert!(lines[1].starts_with("pr_") && lines[1].ends_with(",0"), "{}", lines[1]);
    assert_eq!(engine.storage().outbox_len(), 0, "nothing is sent");

    let (status, body) = api.post("/v1/audiences", serde_json::json!({"plugin": channel})).await;
    assert_eq!((status, code(&body)), (409, "wrong_plugin_kind"));
    let (status, body) =
        api.post("/v1/audiences", serde_json::json!({"plugin": plugin, "config": {"tier": 1}})).await;
    assert_eq!((status, code(&body)), (409, "invalid_binding_config"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_can_be_shown_unbound_and_removed_and_campaigns_updated() {
    let (engine, _clock, _dir) = engine();
    let engine = Arc::new(engine);
    let (token, _) = engine.storage().create_token("ops", Role::Admin, 1).unwrap();
    let api = Api { base: serve(engine.clone(), ApiConfig::default()).await, client: http(), token };
    let (_, plugin) = api.install("seg-vip").await;
    let hash = plugin["hash"].as_str().unwrap().to_owned();
    api.post("/v1/campaigns", serde_json::to_value(welcome_campaign()).unwrap()).await;
    api.put("/v1/campaigns/welcome/bindings/segment", serde_json::json!({"plugin": hash})).await;

    let (status, shown) = api.get(&format!("/v1/plugins/{hash}")).await;
    assert_eq!((status, shown["plugin"]["kind"].as_str()), (200, Some("segment-rule")));
    // Per-plugin call statistics: install's info() and bind's validate-config so far.
    assert_eq!(shown["stats"]["calls"]["ok"], 2);
    assert!(shown["stats"]["fuel_used"].as_u64().unwrap() > 0);
    assert_eq!(shown["stats"]["last_failure"], serde_json::Value::Null);
    assert_eq!(shown["bound_by"][0]["campaign"], "welcome");

    let mut renamed = welcome_campaign();
    renamed.name = "Welcome series".into();
    let (status, updated) = api.put("/v1/campaigns/welcome", serde_json::to_value(&renamed).unwrap()).await;
    assert_eq!((status, updated["name"].as_str()), (200, Some("Welcome series")));
    let mut other = renamed.clone();
    other.id = "other".into();
    let (status, body) = api.put("/v1/campaigns/welcome", serde_json::to_value(&other).unwrap()).await;
    assert_eq!((status, code(&body)), (409, "id_mismatch"));

    assert_eq!(api.delete("/v1/campaigns/welcome/bindings/segment").await.0, 200);
    let (status, body) = api.delete("/v1/campaigns/welcome/bindings/segment").await;
    assert_eq!((status, code(&body)), (404, "binding_not_found"));
    let (status, removed) = api.delete(&format!("/v1/plugins/{hash}")).await;
    assert_eq!((status, removed["removed"].as_str()), (200, Some(hash.as_str())));
    assert_eq!(code(&api.get(&format!("/v1/plugins/{hash}")).await.1), "plugin_not_found");
    assert_eq!(code(&api.delete(&format!("/v1/plugins/{hash}")).await.1), "plugin_not_found");

    api.put("/v1/secrets/API_KEY", serde_json::json!({"value": "k", "hosts": ["api.example.com"]})).await;
    assert_eq!(api.delete("/v1/secrets/API_KEY").await.0, 200);
    assert_eq!(code(&api.delete("/v1/secrets/API_KEY").await.1), "secret_not_found");
    let (status, body) = api
        .put("/v1/secrets/bad name", serde_json::json!({"value": "k", "hosts": ["api.example.com"]}))
        .await;
    assert_eq!((status, code(&body)), (422, "invalid_request"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_remaining_error_codes() {
    let (engine, _clock, _dir) = engine();
    let engine = Arc::new(engine);
    let (token, _) = engine.storage().create_token("ops", Role::Admin, 1).unwrap();
    let api = Api { base: serve(engine.clone(), ApiConfig::default()).await, client: http(), token };
    let (_, channel) = api.install("chan-echo").await;
    let (_, trap) = api.install("bad-trap").await;
    api.post("/v1/campaigns", serde_json::to_value(welcome_campaign()).unwrap()).await;

    let (status, body) = api.post("/v1/campaigns/welcome/runs", serde_json::json!({})).await;
    assert_eq!((status, code(&body)), (409, "campaign_wrong_state"));
    let bind = serde_json::json!({"plugin": channel["hash"], "config": {"url": "http://x/"}, "grants": {"allowed_hosts": ["evil.example"]}});
    let (status, body) = api.put("/v1/campaigns/welcome/bindings/channel", bind).await;
    assert_eq!((status, code(&body)), (409, "undeclared_grant"));
    let (status, body) = api.get("/v1/plugins/not-a-hash").await;
    assert_eq!((status, code(&body)), (400, "invalid_hash"));
    let (status, body) = api.get("/v1/profiles/pr_zz").await;
    assert_eq!((status, code(&body)), (400, "invalid_profile_id"));
    baton_tests::customer(&engine, "ada", serde_json::json!({"tier": "vip"}), false);
    let (status, body) = api.post("/v1/audiences", serde_json::json!({"plugin": trap["hash"]})).await;
    assert_eq!((status, code(&body)), (422, "plugin_failed"));
    assert!(
        body["error"]["message"].as_str().unwrap().starts_with("plugin bad-trap@0.1.0 evaluate: trapped"),
        "{body}"
    );
}

/// Looking a customer up: known parameters only, each key narrowing the list, each refusal
/// saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_lookups_refuse_what_they_cannot_answer() {
    let (engine, _clock, _dir) = engine();
    let engine = Arc::new(engine);
    let (token, _) = engine.storage().create_token("support", Role::Analyst, 1).unwrap();
    let base = serve(engine.clone(), ApiConfig::default()).await;
    let api = Api { base, client: http(), token };
    let (status, body) = api.get("/v1/profiles?mail=ada@example.com").await;
    assert_eq!((status, code(&body)), (400, "invalid_query"));
    assert!(body["message"].as_str().unwrap().contains("mail"), "{body}");
    let (status, body) = api.get("/v1/profiles?limit=0").await;
    assert_eq!((status, code(&body)), (400, "invalid_query"));
    let (status, body) = api.get("/v1/profiles?cursor=not-hex").await;
    assert_eq!((status, code(&body)), (400, "invalid_query"));
    let (status, body) = api.get("/v1/profiles?email=nobody%40example.com").await;
    assert_eq!((status, body), (200, serde_json::json!([])));

    // Two customers sharing an address; every key given narrows the list.
    baton_tests::customer(&engine, "ada", serde_json::json!({"email": "Shared@Example.com"}), false);
    baton_tests::customer(&engine, "bob", serde_json::json!({"email": "shared@example.com"}), false);
    let ids = |body: serde_json::Value| -> Vec<String> {
        body.as_array()
            .unwrap()
            .iter()
            .map(|p| p["identities"][0]["value"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, body) = api.get("/v1/profiles?email=shared%40example.com").await;
    assert_eq!((status, ids(body)), (200, vec!["ada".to_owned(), "bob".to_owned()]));
    let (status, body) = api.get("/v1/profiles?email=shared%40example.com&user_id=bob").await;
    assert_eq!((status, ids(body)), (200, vec!["bob".to_owned()]));
    let (status, body) = api.get("/v1/profiles?email=other%40example.com&user_id=bob").await;
    assert_eq!((status, body), (200, serde_json::json!([])));
    // No key: every profile, a page at a time.
    let (status, body) = api.get("/v1/profiles").await;
    assert_eq!((status, ids(body)), (200, vec!["ada".to_owned(), "bob".to_owned()]));
}

/// Every list answers a page at a time: `limit` items and a `Link: rel="next"` URL that keeps
/// the filters, until the last page, which has none. Walking the links gives every item once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_answer_a_page_at_a_time_with_a_link_to_the_next() {
    let (engine, _clock, _dir) = engine();
    let engine = Arc::new(engine);
    let (token, _) = engine.storage().create_token("ops", Role::Admin, 1).unwrap();
    let api = Api { base: serve(engine.clone(), ApiConfig::default()).await, client: http(), token };
    let ids = ["a1", "a2", "b1", "b2", "c1"];
    for id in ids.iter().rev() {
        let mut campaign = welcome_campaign();
        campaign.id = (*id).into();
        assert_eq!(api.post("/v1/campaigns", serde_json::to_value(campaign).unwrap()).await.0, 201);
    }
    // Follows the links from `path`; returns the items and the page sizes.
    let walk = |path: &'static str| {
        let api = &api;
        async move {
            let (mut items, mut sizes) = (Vec::new(), Vec::new());
            let mut next = Some(path.to_owned());
            while let Some(path) = next.take() {
                let response = api
                    .client
                    .get(format!("{}{path}", api.base))
                    .bearer_auth(&api.token)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status().as_u16(), 200, "{path}");
                next = response.headers().get("link").map(|link| {
                    let link = link.to_str().unwrap();
                    assert!(link.ends_with(">; rel=\"next\""), "{link}");
                    link.trim_start_matches('<').split('>').next().unwrap().to_owned()
                });
                let page: Vec<serde_json::Value> = response.json().await.unwrap();
                sizes.push(page.len());
                items.extend(page);
            }
            (items, sizes)
        }
    };
    let (campaigns, sizes) = walk("/v1/campaigns?limit=2").await;
    let listed: Vec<&str> = campaigns.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!((listed, sizes), (ids.to_vec(), vec![2, 2, 1]));

    // The audit log, newest first, filtered; the filter stays in every link.
    let (records, sizes) = walk("/v1/audit?action=campaign_created&limit=2").await;
    let targets: Vec<&str> = records.iter().map(|r| r["target"].as_str().unwrap()).collect();
    assert_eq!(
        (targets, sizes),
        (ids.to_vec(), vec![2, 2, 1]),
        "created in reverse order, listed newest first"
    );
    let (records, _) = walk("/v1/audit?actor=nobody").await;
    assert!(records.is_empty());

    // A page exactly full has no link when nothing follows.
    let (_, sizes) = walk("/v1/campaigns?limit=5").await;
    assert_eq!(sizes, vec![5]);
    let (status, body) = api.get("/v1/campaigns?limit=1001").await;
    assert_eq!((status, code(&body)), (400, "invalid_query"));
}
