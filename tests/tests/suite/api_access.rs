//! Access control and the OpenAPI document, checked over the whole route table: every route the
//! router serves needs a token of an allowed role (health excepted), and the document lists
//! exactly those routes.

use std::collections::BTreeSet;
use std::sync::Arc;

use baton::{ApiConfig, Role};
use baton_tests::{engine, http, serve};

/// A concrete path for a route, with placeholder parameters.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment {
            "{hash}" => "sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "{call}" => "track",
            "{transition}" => "activate",
            "{slot}" => "segment",
            "{name}" => "SOME_SECRET",
            "{id}" => "nothing-here",
            other => other,
        })
        .collect::<Vec<_>>()
        .join("/")
}

async fn code_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    (status, body["error"]["code"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_needs_a_token_of_an_allowed_role() {
    let (engine, _clock, _dir) = engine();
    let engine = Arc::new(engine);
    let mut tokens = std::collections::BTreeMap::new();
    for role in Role::ALL {
        tokens.insert(role, engine.storage().create_token(&format!("{role:?}"), role, 1).unwrap().0);
    }
    let base = serve(engine.clone(), ApiConfig::default()).await;
    let client = http();
    let routes = baton::routes();
    assert!(routes.len() >= 35, "the table lists every route");
    for route in &routes {
        let url = format!("{base}{}", concrete(route.path));
        let request = |token: Option<&str>| {
            let builder = client.request(route.method.clone(), &url).body("{}");
            match token {
                Some(token) => builder.bearer_auth(token),
                None => builder,
            }
        };
        let Some(allowed) = route.roles else {
            // Health answers anyone; a vendor webhook and an unsubscribe link need no token
            // either (their signatures are checked instead), so an unknown endpoint or an
            // unsigned link is simply not found.
            let signed = route.path.starts_with("/v1/feedback/") || route.path.starts_with("/u/");
            let expected = if signed { 404 } else { 200 };
            assert_eq!(
                request(None).send().await.unwrap().status().as_u16(),
                expected,
                "{} {}",
                route.method,
                route.path
            );
            continue;
        };
        let (status, code) = code_of(request(None).send().await.unwrap()).await;
        assert_eq!(
            (status, code.as_str()),
            (401, "unauthorized"),
            "{} {} without a token",
            route.method,
            route.path
        );
        for role in Role::ALL {
            let (status, code) = code_of(request(Some(&tokens[&role])).send().await.unwrap()).await;
            if role == Role::Admin || allowed.contains(&role) {
                assert!(
                    status != 403 && status != 401 && status < 500,
                    "{} {} as {role:?} answered {status} {code}",
                    route.method,
                    route.path
                );
            } else {
                assert_eq!(
                    (status, code.as_str()),
                    (403, "forbidden"),
                    "{} {} as {role:?}",
                    route.method,
                    route.path
                );
            }
        }
        let (status, code) = code_of(request(Some(&tokens[&Role::Admin])).send().await.unwrap()).await;
        assert!(
            status < 500
                && code != "route_not_found"
                && code != "method_not_allowed"
                && code != "unauthorized",
            "{} {} as admin answered {status} {code}",
            route.method,
            route.path
        );
    }
}

/// The write key ships inside web and mobile apps: anyone can pull it out. Walking the whole
/// route table, it may ingest and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_write_key_gets_403_on_every_route_but_ingest() {
    let (engine, _clock, _dir) = engine();
    let engine = Arc::new(engine);
    let (write_key, _) = engine.storage().create_token("web", Role::Connector, 1).unwrap();
    let base = serve(engine.clone(), ApiConfig::default()).await;
    let client = http();
    let ingest: BTreeSet<&str> = ["/v1/events", "/v1/batch", "/v1/b", "/v1/{call}"].into();
    for route in baton::routes().iter().filter(|r| r.roles.is_some()) {
        let url = format!("{base}{}", concrete(route.path));
        let (status, code) = code_of(
            client
                .request(route.method.clone(), &url)
                .basic_auth(&write_key, Some(""))
                .body("{}")
                .send()
                .await
                .unwrap(),
        )
        .await;
        if ingest.contains(route.path) {
            assert_ne!(status, 403, "{} {}", route.method, route.path);
        } else {
            assert_eq!((status, code.as_str()), (403, "forbidden"), "{} {}", route.method, route.path);
        }
    }
}

/// RELIABILITY.md's role table is the route table, written out: the two cannot drift.
#[test]
fn the_role_table_in_reliability_md_matches_the_route_table() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../RELIABILITY.md")).unwrap();
    let expected = baton::role_table();
    assert!(doc.contains(&expected), "RELIABILITY.md must contain this table exactly:\n{expected}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_valid_and_lists_every_route() {
    let (engine, _clock, _dir) = engine();
    let engine = Arc::new(engine);
    let (viewer, _) = engine.storage().create_token("docs", Role::Viewer, 1).unwrap();
    let base = serve(engine.clone(), ApiConfig::default()).await;
    let document: serde_json::Value = http()
        .get(format!("{base}/v1/openapi.json"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let parsed = oas3::from_json(document.to_string()).expect("valid OpenAPI 3.1");
    assert_eq!(parsed.openapi, "3.1.0");

    let paths = document["paths"].as_object().unwrap();
    let documented: BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object().unwrap().keys().map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect();
    let served: BTreeSet<(String, String)> =
        baton::routes().iter().map(|r| (r.method.as_str().to_owned(), r.path.to_owned())).collect();
    assert_eq!(documented, served);
    // The error table, as the handlers use it: each code once, with its status and meaning.
    let table: Vec<(String, u64)> = document["x-error-codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row["code"].as_str().unwrap().to_owned(), row["status"].as_u64().unwrap()))
        .collect();
    let expected: Vec<(String, u64)> =
        baton::ErrorCode::ALL.iter().map(|c| (c.code().to_owned(), u64::from(c.status().as_u16()))).collect();
    assert_eq!(table, expected);
    assert!(table.contains(&("campaign_not_found".to_owned(), 404)), "{table:?}");
    let unique: BTreeSet<&String> = table.iter().map(|(code, _)| code).collect();
    assert_eq!(unique.len(), table.len(), "a code is listed twice");
    // Every path parameter is declared, every operation answers a schema or a media type, and
    // every operation that takes a body says which.
    for (path, item) in paths {
        let params = path.matches('{').count();
        for (method, op) in item.as_object().unwrap() {
            let in_path = op["parameters"].as_array().unwrap().iter().filter(|p| p["in"] == "path").count();
            assert_eq!(in_path, params, "{method} {path}");
            let success =
                op["responses"].as_object().unwrap().iter().find(|(status, _)| status.starts_with('2'));
            let (_, success) = success.unwrap_or_else(|| panic!("{method} {path} documents no success"));
            assert!(!success["content"].as_object().unwrap().is_empty(), "{method} {path} answers nothing");
            if matches!(method.as_str(), "put" | "patch") {
                assert!(op["requestBody"]["content"].is_object(), "{method} {path} takes no documented body");
            }
        }
    }
    // The answers are the Rust types, not `{}`: a campaign lists its fields.
    let campaign = &document["components"]["schemas"]["Campaign"];
    for field in ["id", "name", "state", "trigger", "channel", "message"] {
        assert!(campaign["properties"][field].is_object(), "Campaign.{field}: {campaign}");
    }
}
