//! Several workers over one PostgreSQL database: each acknowledged event stored once whichever
//! worker took it; a worker killed with SIGKILL mid-batch or while journey timers fire loses no
//! send and sends no idempotency key that was not due; a change made through one worker is in
//! effect on the others at once.
//!
//! These run in `suite_postgres`. In `suite` they return at once: sled's data directory admits
//! one process, which `store_events::a_data_directory_in_use_is_refused_with_a_clear_message`
//! checks.

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use baton_tests::{ServeProcess, Vendor, baton_command, http};

/// The store URL every worker of a test shares, or `None` on sled.
fn shared_store(dir: &std::path::Path) -> Option<String> {
    baton_tests::store_url(&dir.join("shared"))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Waits (polling) until `done` holds, for at most `limit`; false if it never did.
async fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done()
}

/// `n` child workers of `bin` over the store `url`, with short leases and small claims so that
/// sends spread among them and a dead worker's come due again soon.
fn children(bin: &str, dir: &std::path::Path, url: &str, n: usize) -> Vec<Child> {
    (0..n)
        .map(|_| {
            Command::new(bin)
                .env("BATON_STORE", url)
                .env("BATON_LEASE_MS", "1500")
                .env("BATON_CLAIM_BATCH", "8")
                .arg(dir)
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect()
}

/// Kills the first worker with SIGKILL once the vendor has had `at` requests.
async fn kill_first_at(workers: &mut [Child], vendor: &Vendor, at: usize) {
    let reached = eventually(Duration::from_secs(120), || vendor.received().len() >= at).await;
    workers[0].kill().unwrap(); // SIGKILL: no destructors, no flush, its locks die with it.
    workers[0].wait().unwrap();
    assert!(reached, "the workers never reached {at} requests");
}

fn stop(workers: &mut [Child]) {
    for worker in workers {
        let _ = worker.kill();
        let _ = worker.wait();
    }
}

async fn batch_send_with_a_worker_killed(workers: usize) {
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = shared_store(dir.path()) else { return };
    let vendor = Vendor::start().await;
    vendor.set_delay_ms(5);
    let shared = dir.path().join("shared");
    let expected = super::engine_crash::queue_batch(&shared, &vendor, now_ms());

    let mut children = children(env!("CARGO_BIN_EXE_baton-batch-sender"), &shared, &url, workers);
    let kill_at = 10 + (now_ms() as usize) % 30;
    kill_first_at(&mut children, &vendor, kill_at).await;
    assert!(vendor.received().len() < super::engine_crash::AUDIENCE, "killed too late to test anything");
    // The others finish, the dead worker's leased sends included, each exiting when the outbox is
    // empty.
    let storage = baton_tests::open_store(&shared);
    let finished = eventually(Duration::from_secs(120), || storage.outbox_len() == 0).await;
    for child in &mut children[1..] {
        child.wait().unwrap();
    }
    stop(&mut children);
    assert!(finished, "{} sends left in the outbox", storage.outbox_len());
    super::engine_crash::assert_batch_delivered_once(&storage, &vendor, &expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_one_killed_mid_batch_send_every_member_once_per_key() {
    batch_send_with_a_worker_killed(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_one_killed_mid_batch_send_every_member_once_per_key() {
    batch_send_with_a_worker_killed(3).await;
}

async fn journey_timers_with_a_worker_killed(workers: usize) {
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = shared_store(dir.path()) else { return };
    let vendor = Vendor::start().await;
    vendor.set_delay_ms(3);
    let shared = dir.path().join("shared");
    let (engine, _clock) = super::journeys::engine_at(&shared, now_ms());
    let (profiles, expected) = super::journeys::prepare_two_reminders(&engine, &vendor, now_ms());

    let mut children = children(env!("CARGO_BIN_EXE_baton-journey-runner"), &shared, &url, workers);
    let kill_at = 10 + (now_ms() as usize) % super::journeys::REMINDED;
    kill_first_at(&mut children, &vendor, kill_at).await;
    assert!(vendor.received().len() < 2 * super::journeys::REMINDED, "killed too late to test anything");
    let finished =
        eventually(Duration::from_secs(120), || super::journeys::two_reminders_finished(&engine)).await;
    stop(&mut children);
    assert!(finished, "the surviving workers did not finish the journey");
    super::journeys::assert_two_reminders_done(&engine, &vendor, &profiles, &expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_one_killed_while_journey_timers_fire_lose_no_step_and_send_nothing_twice() {
    journey_timers_with_a_worker_killed(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_one_killed_while_journey_timers_fire_lose_no_step_and_send_nothing_twice() {
    journey_timers_with_a_worker_killed(3).await;
}

/// The config section every process of a test shares, as DEPLOYMENT.md asks: one secret key
/// file (the one the child workers over the `shared` data directory use by default).
fn shared_key(dir: &std::path::Path) -> String {
    format!("[storage]\nsecret_key_file = {:?}\n", dir.join("shared.secret-key"))
}

/// Starts `n` `baton serve` workers over `url`, each with a data directory of its own and the
/// shared key, with `config` (TOML) as their config file.
fn serve_workers(dir: &std::path::Path, url: &str, n: usize, config: &str) -> Vec<ServeProcess> {
    let file = dir.join("baton.toml");
    std::fs::write(&file, format!("{}{config}", shared_key(dir))).unwrap();
    (0..n)
        .map(|i| {
            let data = dir.join(format!("worker-{i}"));
            ServeProcess::start(
                &data,
                &["--store".as_ref(), url.as_ref(), "--config-file".as_ref(), file.as_os_str()],
            )
        })
        .collect()
}

/// Runs `baton` on the shared store; returns its standard output.
fn baton_on(dir: &std::path::Path, url: &str, args: &[&str]) -> String {
    let config = dir.join("admin.toml");
    std::fs::write(&config, shared_key(dir)).unwrap();
    let output = baton_command(&dir.join("admin"))
        .env("BATON_STORE", url)
        .arg("--config-file")
        .arg(&config)
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_store_every_acknowledged_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = shared_store(dir.path()) else { return };
    let key = baton_on(dir.path(), &url, &["token", "create", "--name", "site", "--role", "connector"]);
    let key = key.trim().to_owned();
    let workers = serve_workers(dir.path(), &url, 3, "");
    let urls: Vec<String> = workers.iter().map(|w| w.url.clone()).collect();

    // Four clients send 25 batches of 20 events each. Every batch goes to one worker and then,
    // as a client retrying after a lost answer would, to another at the same time; some events
    // share a customer across batches, so the workers resolve the same identities at once.
    let mut clients = Vec::new();
    for client in 0..4usize {
        let (urls, key) = (urls.clone(), key.clone());
        clients.push(tokio::spawn(async move {
            let http = http();
            let mut acknowledged = Vec::new();
            for batch in 0..25usize {
                let events: Vec<serde_json::Value> = (0..20usize)
                    .map(|i| {
                        serde_json::json!({
                            "id": format!("c{client}-b{batch}-e{i}"),
                            "user_id": format!("u{}", (client * 7 + batch + i) % 40),
                            "name": "page",
                            "timestamp": 1_750_000_000_000i64 + (batch * 20 + i) as i64,
                        })
                    })
                    .collect();
                let first = &urls[(client + batch) % urls.len()];
                let second = &urls[(client + batch + 1) % urls.len()];
                let send = |base: &String| {
                    http.post(format!("{base}/v1/events")).bearer_auth(&key).json(&events).send()
                };
                let (a, b) = tokio::join!(send(first), send(second));
                for answer in [a, b] {
                    let answer = answer.unwrap();
                    assert_eq!(answer.status(), 200);
                    let body: serde_json::Value = answer.json().await.unwrap();
                    let results = body["results"].as_array().unwrap();
                    for (event, result) in events.iter().zip(results) {
                        let status = result["status"].as_str().unwrap();
                        assert!(status == "stored" || status == "duplicate", "{result}");
                        acknowledged.push(event["id"].as_str().unwrap().to_owned());
                    }
                }
            }
            acknowledged
        }));
    }
    let mut acknowledged = BTreeSet::new();
    for client in clients {
        acknowledged.extend(client.await.unwrap());
    }
    assert_eq!(acknowledged.len(), 4 * 25 * 20);

    let storage = baton_tests::open_store(&dir.path().join("shared"));
    for id in &acknowledged {
        assert!(storage.event(id).unwrap().is_some(), "acknowledged event {id} lost");
    }
    let stored: Vec<String> = storage.scan_events().map(|e| e.unwrap().id).collect();
    assert_eq!(stored.len(), acknowledged.len(), "an event was stored twice");
    assert_eq!(stored.into_iter().collect::<BTreeSet<_>>(), acknowledged);
    // Forty customers, each one profile, however many workers met them at once.
    assert_eq!(storage.scan_profiles().count(), 40);
}

/// Loopback vendors over plain HTTP, which production refuses.
const LOOPBACK_VENDORS: &str =
    "[engine.delivery.outbound]\nallow_http = true\nallow_networks = [\"127.0.0.0/8\"]\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binding_changed_through_one_worker_is_used_by_the_other_for_the_next_event() {
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = shared_store(dir.path()) else { return };
    let vendor = Vendor::start().await;
    let run = |args: &[&str]| baton_on(dir.path(), &url, args);
    let key = run(&["token", "create", "--name", "site", "--role", "connector"]).trim().to_owned();
    let admin = run(&["token", "create", "--name", "ops", "--role", "orchestrator"]).trim().to_owned();
    let hash = |out: String| {
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["hash"].as_str().unwrap().to_owned()
    };
    let conditions = hash(run(&["plugin", "install", "first-party:segment-conditions", "--output", "json"]));
    let webhook = hash(run(&["plugin", "install", "first-party:channel-webhook", "--output", "json"]));
    let campaign = dir.path().join("welcome.json");
    let definition = serde_json::json!({
        "id": "welcome", "name": "Welcome", "state": "draft",
        "trigger": { "type": "event", "event": "signed_up" },
        "channel": "email", "purpose": "marketing",
        "message": { "subject": "Hello", "body": "Welcome aboard." },
        "created_at": 0, "updated_at": 0
    });
    std::fs::write(&campaign, definition.to_string()).unwrap();
    run(&["campaign", "create", campaign.to_str().unwrap()]);
    run(&[
        "campaign",
        "bind",
        "welcome",
        "segment",
        "--plugin",
        &conditions,
        "--config",
        r#"{"bucket": {"percent": 100}}"#,
    ]);
    let first = serde_json::json!({ "url": vendor.url("/first") }).to_string();
    run(&[
        "campaign",
        "bind",
        "welcome",
        "channel",
        "--plugin",
        &webhook,
        "--config",
        &first,
        "--grant-host",
        "127.0.0.1",
    ]);
    run(&["campaign", "activate", "welcome"]);
    let workers = serve_workers(dir.path(), &url, 2, LOOPBACK_VENDORS);

    let client = http();
    // A customer signs up, as Segment's libraries send it: who they are, then what they did.
    let sign_up = |worker: usize, user: &str| {
        let batch = serde_json::json!({"batch": [
            {"type": "identify", "userId": user, "messageId": format!("id-{user}"),
             "traits": {"email": format!("{user}@example.com"), "email_opt_in": true}},
            {"type": "track", "userId": user, "event": "signed_up", "messageId": format!("signup-{user}")}
        ]});
        client
            .post(format!("{}/v1/batch", workers[worker].url))
            .basic_auth(&key, Some(""))
            .json(&batch)
            .send()
    };
    assert_eq!(sign_up(1, "ada").await.unwrap().status(), 200);
    assert!(eventually(Duration::from_secs(30), || vendor.received().len() == 1).await, "no first send");
    assert_eq!(vendor.received()[0].line, "POST /first");

    // The channel's URL changes through worker 0; the next event through worker 1 uses it.
    let bind = serde_json::json!({
        "plugin": webhook, "config": { "url": vendor.url("/second") },
        "grants": { "allowed_hosts": ["127.0.0.1"] }
    });
    let changed = client
        .put(format!("{}/v1/campaigns/welcome/bindings/channel", workers[0].url))
        .bearer_auth(&admin)
        .json(&bind)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200, "{}", changed.text().await.unwrap());
    let at = Instant::now();
    assert_eq!(sign_up(1, "bob").await.unwrap().status(), 200);
    assert!(eventually(Duration::from_secs(30), || vendor.received().len() == 2).await, "no second send");
    assert_eq!(vendor.received()[1].line, "POST /second", "worker 1 sent with the binding worker 0 replaced");
    // Well within the second the issue allows: no cache stands between a worker and the store.
    assert!(at.elapsed() < Duration::from_secs(10), "{:?}", at.elapsed());
}

/// What a worker keeps in memory hears of other workers' changes (`LISTEN/NOTIFY`): a plugin
/// quarantined through one worker is refused by the other, and enabled again, is called again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quarantine_and_its_lifting_reach_the_other_worker_at_once() {
    let dir = tempfile::tempdir().unwrap();
    if shared_store(dir.path()).is_none() {
        return;
    }
    let shared = dir.path().join("shared");
    let (first, _) = super::journeys::engine_at(&shared, now_ms());
    let (second, _) = super::journeys::engine_at(&shared, now_ms());
    first.follow_changes();
    second.follow_changes();
    let hash = baton_tests::install(first.runtime(), "seg-vip").hash();
    let loaded = second.runtime().plugin(&hash).unwrap();
    assert_eq!(loaded.quarantined(), None);

    let quarantine = baton::Quarantine { since: now_ms(), reason: "12 failed calls in a row".into() };
    first.storage().set_quarantine(&hash, Some(quarantine), "system", now_ms()).unwrap();
    let heard = eventually(Duration::from_secs(5), || loaded.quarantined().is_some()).await;
    assert!(heard, "the second worker still calls a plugin the first quarantined");
    assert_eq!(loaded.quarantined().as_deref(), Some("12 failed calls in a row"));

    first.enable_plugin("ops", &hash).unwrap();
    assert!(eventually(Duration::from_secs(5), || loaded.quarantined().is_none()).await, "still quarantined");
}

/// A plugin installed through one worker is loaded by the others as soon as they hear of it,
/// before an event needs it (a compile on the first event held that event's send for the
/// compile's length); a worker asked for one plugin by many threads at once loads it once; a
/// worker that starts next to the others loads what they installed when it starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_installed_through_one_worker_is_loaded_by_the_others_before_use() {
    let dir = tempfile::tempdir().unwrap();
    if shared_store(dir.path()).is_none() {
        return;
    }
    let shared = dir.path().join("shared");
    let loads = |engine: &baton::Engine| {
        let stats = engine.runtime_stats();
        stats.compilations + stats.artifact_loads
    };
    let (first, _) = super::journeys::engine_at(&shared, now_ms());
    let (second, _) = super::journeys::engine_at(&shared, now_ms());
    first.follow_changes();
    second.follow_changes();
    let hash = baton_tests::install(first.runtime(), "seg-vip").hash();
    let heard = eventually(Duration::from_secs(30), || loads(&second) == 1).await;
    assert!(heard, "the second worker did not load the plugin the first installed");
    // The installer compiled it once, at install; hearing its own announcement loaded nothing.
    assert_eq!(loads(&first), 1);

    let (third, _) = super::journeys::engine_at(&shared, now_ms());
    let askers: Vec<_> = (0..4)
        .map(|_| {
            let third = third.clone();
            std::thread::spawn(move || third.runtime().plugin(&hash).unwrap().hash())
        })
        .collect();
    for asker in askers {
        assert_eq!(asker.join().unwrap(), hash);
    }
    assert_eq!(loads(&third), 1, "four callers at once loaded the plugin once");

    let (fourth, _) = super::journeys::engine_at(&shared, now_ms());
    assert_eq!(loads(&fourth), 0);
    fourth.follow_changes();
    let loaded = eventually(Duration::from_secs(30), || loads(&fourth) == 1).await;
    assert!(loaded, "a worker starting next to the others did not load the installed plugin");
    assert_eq!(loads(&second), 1);
}

/// Every worker must seal and sign with one key (secrets set through one worker are opened by
/// another; an unsubscribe link signed by one is checked by another). A worker started without
/// the key file, where the database's workers already use one, is refused before it makes a
/// key of its own, and leaves no key file behind; a worker with another key is refused; both
/// messages say to copy the key file. With the copy, the worker starts.
#[test]
fn a_worker_without_the_shared_secret_key_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = shared_store(dir.path()) else { return };
    let baton = |data: &str| {
        let output = baton_command(&dir.path().join(data))
            .env("BATON_STORE", &url)
            .args(["secret", "list"])
            .output()
            .unwrap();
        (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
    };
    assert_eq!(baton("first").0, Some(0));
    let first_key = dir.path().join("first.secret-key");
    assert!(first_key.exists());

    let (code, err) = baton("second");
    let second_key = dir.path().join("second.secret-key");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!("there is no secret key file at {}", second_key.display()))
            && err.contains("copy the key file of a worker already running on this database"),
        "{err}"
    );
    assert!(!second_key.exists(), "a refused worker made a key of its own");

    std::fs::write(dir.path().join("third.secret-key"), "ab".repeat(32)).unwrap();
    let (code, err) = baton("third");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("is not the key this database's workers use"), "{err}");

    std::fs::copy(&first_key, &second_key).unwrap();
    let (code, started) = baton("second");
    assert_eq!(code, Some(0), "{started}");
    // The key never appears in a message.
    let key = std::fs::read_to_string(&first_key).unwrap();
    assert!(!err.contains(key.trim()));
}
