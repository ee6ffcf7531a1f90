//! The official Segment and RudderStack Python client libraries, installed from PyPI, send a
//! customer's story to a running `baton serve` with their default settings (RudderStack gzips):
//! identify with an opt-in, track (retried), page, screen, group, an anonymous visit and the alias
//! that joins it. Everything is checked through the API, and the opt-in alone makes the customer
//! reachable by a marketing campaign.

use std::process::Command;

use baton_tests::polyglot::python_with_client_libraries;
use baton_tests::{ServeProcess, Vendor, baton, http};

fn hash_of(out: &str) -> String {
    serde_json::from_str::<serde_json::Value>(out).unwrap()["hash"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_client_libraries_send_as_they_do_to_segment() {
    let python = tokio::task::spawn_blocking(python_with_client_libraries).await.unwrap();
    let vendor = Vendor::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| {
        let (ok, out, err) = baton(&data, args);
        assert!(ok, "{args:?}: {err}");
        out
    };
    let write_key = run(&["token", "create", "--name", "app", "--role", "connector"]).trim().to_owned();
    let admin = run(&["token", "create", "--name", "dpo", "--role", "admin"]).trim().to_owned();

    // A marketing email campaign on the order event: no profile is edited by hand anywhere.
    let conditions =
        hash_of(&run(&["plugin", "install", "first-party:segment-conditions", "--output", "json"]));
    let webhook = hash_of(&run(&["plugin", "install", "first-party:channel-webhook", "--output", "json"]));
    let campaign = dir.path().join("thanks.json");
    let definition = serde_json::json!({
        "id": "thanks", "name": "Thanks for your order", "state": "draft",
        "trigger": { "type": "event", "event": "Order Completed" },
        "channel": "email", "purpose": "marketing",
        "message": { "subject": "Thank you", "body": "Your order is on its way." },
        "created_at": 0, "updated_at": 0
    });
    std::fs::write(&campaign, definition.to_string()).unwrap();
    run(&["campaign", "create", campaign.to_str().unwrap()]);
    let everyone = r#"{"bucket": {"percent": 100}}"#;
    run(&["campaign", "bind", "thanks", "segment", "--plugin", &conditions, "--config", everyone]);
    let url = serde_json::json!({ "url": vendor.url("/send") }).to_string();
    let channel = ["--plugin", &webhook, "--config", &url, "--grant-host", "127.0.0.1"];
    run(&[&["campaign", "bind", "thanks", "channel"][..], &channel[..]].concat());
    run(&["campaign", "activate", "thanks"]);

    let config = dir.path().join("baton.toml");
    std::fs::write(
        &config,
        "[engine.delivery.outbound]\nallow_http = true\nallow_networks = [\"127.0.0.0/8\"]\n",
    )
    .unwrap();
    let server = ServeProcess::start(&data, &["--config-file".as_ref(), config.as_os_str()]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/send.py");
    for library in ["segment", "rudderstack"] {
        let output = tokio::task::spawn_blocking({
            let (python, url, key) = (python.clone(), server.url.clone(), write_key.clone());
            move || Command::new(python).arg(script).args([library, &url, &key]).output().unwrap()
        })
        .await
        .unwrap();
        assert!(
            output.status.success(),
            "{library}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    let client = http();
    let get = |path: String| {
        let request = client.get(format!("{}{path}", server.url)).bearer_auth(&admin);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            response.json::<serde_json::Value>().await.unwrap()
        }
    };
    for library in ["segment", "rudderstack"] {
        let found = get(format!("/v1/profiles?user_id={library}-ada")).await;
        let profiles = found.as_array().unwrap();
        assert_eq!(profiles.len(), 1, "{library}: {found}");
        let profile = &profiles[0];
        // Stitched: the user, the device before sign-in, and the aliased anonymous visit.
        let mut identities: Vec<String> = profile["identities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["value"].as_str().unwrap().to_owned())
            .collect();
        identities.sort();
        assert_eq!(
            identities,
            [format!("{library}-ada"), format!("{library}-anon-1"), format!("{library}-anon-2")]
        );
        assert_eq!(profile["attributes"]["first_name"], "Ada", "{library}: traits, also from context.traits");
        assert_eq!(profile["timezone"], "Europe/Paris", "{library}: context.timezone");
        assert_eq!(profile["locale"], "fr-FR", "{library}: context.locale");
        assert_eq!(profile["consents"]["email:marketing"]["state"], "granted", "{library}: email_opt_in");
        assert_eq!(profile["consent_history"][0]["source"], "trait:email_opt_in");

        // Found by email too, whatever its case.
        let by_email = get(format!("/v1/profiles?email=ada.{library}@example.com")).await;
        assert_eq!(by_email.as_array().unwrap().len(), 1, "{library}: {by_email}");
        assert_eq!(by_email[0]["id"], profile["id"]);

        let id = profile["id"].as_str().unwrap();
        let export = get(format!("/v1/profiles/{id}/export")).await;
        let mut names: Vec<&str> =
            export["events"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
        // Baton's own record of the marketing email it sent (below) is not the library's.
        names.retain(|name| *name != "message_delivered");
        names.sort();
        // The retried order is stored once; the anonymous visit followed the alias.
        assert_eq!(names, ["Order Completed", "Product Viewed", "group", "page", "screen"], "{library}");
        let order =
            export["events"].as_array().unwrap().iter().find(|e| e["name"] == "Order Completed").unwrap();
        assert_eq!(order["properties"]["revenue"], 40);
        assert_eq!(order["properties"]["context"]["campaign"]["source"], "newsletter", "{library}: UTM");
        assert!(order["properties"]["context"].get("traits").is_none());
    }

    // Each customer opted in through the library, and each got the marketing email.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while vendor.received().len() < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut recipients: Vec<String> = vendor
        .received()
        .iter()
        .map(|r| {
            serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["recipient"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    recipients.sort();
    assert_eq!(recipients, ["Ada.rudderstack@Example.com", "Ada.segment@Example.com"]);
    drop(server);
}
