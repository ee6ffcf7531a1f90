//! The store's promises for profiles and events, on a real sled directory.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use baton::{Identity, IngestOutcome, NewEvent, Storage};

fn event(id: &str, user: Option<&str>, anon: Option<&str>, name: &str, ts: i64) -> NewEvent {
    NewEvent {
        id: id.into(),
        user_id: user.map(Into::into),
        anonymous_id: anon.map(Into::into),
        name: name.into(),
        timestamp: ts,
        properties: serde_json::Map::new(),
        campaign: None,
    }
}

fn names(events: &[baton::Event]) -> Vec<&str> {
    events.iter().map(|e| e.id.as_str()).collect()
}

#[test]
fn ingest_reports_each_event_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let storage = baton_tests::open_store(dir.path());
    let batch = vec![
        event("e1", Some("ada"), None, "signed_up", 10),
        event("e2", Some("ada"), None, "page", 20),
        event("e1", Some("ada"), None, "signed_up", 10),
        event("", Some("ada"), None, "page", 30),
        event("e3", None, None, "page", 30),
        event("e4", Some("ada"), None, " ", 30),
    ];
    let outcomes = storage.ingest(&batch, 1).unwrap();
    let ada = storage.profile_by_identity(&Identity::User("ada".into())).unwrap().unwrap().id;
    assert_eq!(
        outcomes,
        vec![
            IngestOutcome::Stored { profile: ada },
            IngestOutcome::Stored { profile: ada },
            IngestOutcome::Duplicate,
            IngestOutcome::Rejected { reason: "`id` must not be empty".into() },
            IngestOutcome::Rejected { reason: "an event needs a `user_id` or an `anonymous_id`".into() },
            IngestOutcome::Rejected { reason: "`name` must not be empty".into() },
        ]
    );
    let again = storage.ingest(&[event("e2", Some("ada"), None, "page", 20)], 2).unwrap();
    assert_eq!(again, vec![IngestOutcome::Duplicate]);
    assert_eq!(storage.event_count(), 2);
}

#[test]
fn a_profiles_events_come_back_in_time_order_and_persist() {
    let dir = tempfile::tempdir().unwrap();
    {
        let storage = baton_tests::open_store(dir.path());
        let batch = vec![
            event("late", Some("bo"), None, "page", 300),
            event("early", Some("bo"), None, "page", -5),
            event("middle", Some("bo"), None, "page", 100),
            event("other", Some("cy"), None, "page", 50),
        ];
        storage.ingest(&batch, 1).unwrap();
    }
    let storage = baton_tests::open_store(dir.path());
    let bo = storage.profile_by_identity(&Identity::User("bo".into())).unwrap().unwrap();
    assert_eq!(bo.identities, vec![Identity::User("bo".into())]);
    assert_eq!(names(&storage.events_of(bo.id).unwrap()), vec!["early", "middle", "late"]);
    assert_eq!(storage.event("other").unwrap().unwrap().name, "page");
}

#[test]
fn a_campaigns_events_come_back_in_time_order() {
    let (storage, _dir) = baton_tests::temporary_store();
    let mut batch = vec![
        event("c2", Some("a"), None, "email_opened", 200),
        event("c1", Some("b"), None, "email_delivered", 100),
        event("x", Some("a"), None, "page", 150),
        event("c3", Some("c"), None, "email_clicked", 300),
    ];
    for e in batch.iter_mut().filter(|e| e.id.starts_with('c')) {
        e.campaign = Some("welcome".into());
    }
    storage.ingest(&batch, 1).unwrap();
    assert_eq!(names(&storage.campaign_events("welcome").unwrap()), vec!["c1", "c2", "c3"]);
    assert!(storage.campaign_events("welcom").unwrap().is_empty());
}

#[test]
fn identifying_an_anonymous_visitor_stitches_their_history() {
    let (storage, _dir) = baton_tests::temporary_store();
    // Browsing before login, then signing up as a known user on another device.
    storage
        .ingest(
            &[event("v1", None, Some("anon-1"), "page", 10), event("v2", None, Some("anon-1"), "page", 30)],
            1,
        )
        .unwrap();
    storage.ingest(&[event("u1", Some("dee"), None, "signed_up", 20)], 2).unwrap();
    let anon = storage.profile_by_identity(&Identity::Anonymous("anon-1".into())).unwrap().unwrap().id;
    let known = storage.profile_by_identity(&Identity::User("dee".into())).unwrap().unwrap().id;
    assert_ne!(anon, known);

    let traits = serde_json::json!({"plan": "pro"}).as_object().unwrap().clone();
    let merged = storage.identify(Some("dee"), Some("anon-1"), &traits, 40).unwrap();
    assert_eq!(merged, known);
    let profile = storage.profile(known).unwrap().unwrap();
    assert_eq!(profile.identities, vec![Identity::User("dee".into()), Identity::Anonymous("anon-1".into())]);
    assert_eq!(profile.attributes.get("plan"), Some(&serde_json::json!("pro")));
    assert_eq!(names(&storage.events_of(known).unwrap()), vec!["v1", "u1", "v2"]);
    assert!(storage.events_of(known).unwrap().iter().all(|e| e.profile == known));
    // The merged-away id still leads to the one customer.
    assert_eq!(storage.profile(anon).unwrap().unwrap().id, known);
    // New anonymous events land on the known profile.
    storage.ingest(&[event("v3", None, Some("anon-1"), "page", 50)], 3).unwrap();
    assert_eq!(names(&storage.events_of(known).unwrap()), vec!["v1", "u1", "v2", "v3"]);
}

#[test]
fn alias_of_two_known_users_merges_only_where_the_operator_allows_it() {
    let two_users = |storage: &Storage| {
        storage
            .ingest(
                &[event("a", Some("old-id"), None, "page", 1), event("b", Some("new-id"), None, "page", 2)],
                1,
            )
            .unwrap();
        storage.alias(&Identity::User("old-id".into()), "new-id", 3).unwrap()
    };
    // By default two known users stay two profiles, and the refusal is audited.
    let (storage, _dir) = baton_tests::temporary_store();
    let survivor = two_users(&storage);
    let old = storage.profile_by_identity(&Identity::User("old-id".into())).unwrap().unwrap().id;
    assert_ne!(old, survivor);
    assert_eq!(names(&storage.events_of(survivor).unwrap()), vec!["b"]);
    assert!(storage.audit_log(5).unwrap().iter().any(|r| r.action == "merge_refused" && r.actor == "system"));
    // An operator who trusts every source to identify users merges them.
    let dir = tempfile::tempdir().unwrap();
    let settings = baton::StorageConfig { merge_known_users: true, ..baton_tests::store_config(dir.path()) };
    let storage = Storage::open_with(dir.path(), &settings).unwrap();
    let survivor = two_users(&storage);
    assert_eq!(storage.profile_by_identity(&Identity::User("old-id".into())).unwrap().unwrap().id, survivor);
    assert_eq!(names(&storage.events_of(survivor).unwrap()), vec!["a", "b"]);
}

/// Starts a child process that ingests batches from four threads, kills it with SIGKILL at a
/// random point, reopens the store, and checks that every acknowledged batch is there in full
/// and that no batch is there in part.
#[test]
fn acknowledged_events_survive_kill_dash_nine() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_baton-ingest-writer"))
        .envs(baton_tests::store_url(dir.path()).map(|url| ("BATON_STORE", url)))
        .arg(dir.path())
        .arg("4")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let kill_after = 20 + (nanos % 60) as usize;
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = Vec::new();
    while acked.len() < kill_after {
        let line = lines.next().expect("writer ended early").unwrap();
        acked.push(line);
    }
    child.kill().unwrap(); // SIGKILL on Unix: no destructors, no flush.
    child.wait().unwrap();
    // Acknowledgements already in the pipe were printed before the kill: they count too.
    acked.extend(lines.map_while(Result::ok));

    let storage = baton_tests::open_store(dir.path());
    let mut highest = [0usize; 4];
    for line in &acked {
        let parts: Vec<usize> = line.split_whitespace().skip(1).map(|p| p.parse().unwrap()).collect();
        let (thread, batch) = (parts[0], parts[1]);
        highest[thread] = highest[thread].max(batch);
        for i in 0..20 {
            let id = format!("t{thread}-b{batch}-e{i}");
            assert!(storage.event(&id).unwrap().is_some(), "acknowledged event {id} lost");
        }
    }
    for (thread, top) in highest.iter().enumerate() {
        for batch in 0..top + 3 {
            let present = (0..20)
                .filter(|i| storage.event(&format!("t{thread}-b{batch}-e{i}")).unwrap().is_some())
                .count();
            assert!(present == 0 || present == 20, "batch t{thread}-b{batch} is partial: {present} of 20");
        }
    }
}

#[test]
fn a_data_directory_in_use_is_refused_with_a_clear_message() {
    // sled's directory admits one process; PostgreSQL admits any number (multi_worker.rs).
    let dir = tempfile::tempdir().unwrap();
    let _held = Storage::open(dir.path()).unwrap();
    let err = Storage::open(dir.path()).err().expect("a second handle must be refused");
    assert_eq!(
        err.to_string(),
        format!(
            "store: the data directory {} is in use by another Baton process; stop it, or talk to \
             it through its API, or pass another --data directory",
            dir.path().display()
        )
    );
}

#[test]
fn reopening_right_after_closing_works_every_time() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..20 {
        let storage = baton_tests::open_store(dir.path());
        storage.ingest(&[event(&format!("r{round}"), Some("eve"), None, "page", round)], 1).unwrap();
        assert_eq!(storage.event_count(), usize::try_from(round).unwrap() + 1);
    }
}

#[test]
fn consents_suppressions_and_time_zone_are_updated_durably() {
    use baton::{ConsentState, Suppression, SuppressionReason};
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let storage = baton_tests::open_store(dir.path());
        storage.ingest(&[event("f1", Some("fay"), Some("anon-f"), "page", 1)], 1).unwrap();
        let fay = storage.profile_by_identity(&Identity::User("fay".into())).unwrap().unwrap().id;
        let updated = storage
            .update_profile(fay, 50, |p| {
                p.set_consent("email", "marketing", ConsentState::Granted, 50);
                p.suppressions
                    .insert("sms".into(), Suppression { reason: SuppressionReason::Unsubscribed, since: 50 });
                p.timezone = Some("Europe/Paris".into());
                p.identities.clear(); // Ignored: identities change only through ingest/identify/alias.
            })
            .unwrap()
            .unwrap();
        assert_eq!(updated.identities.len(), 2);
        fay
    };
    let storage = baton_tests::open_store(dir.path());
    let fay = storage.profile(id).unwrap().unwrap();
    assert_eq!(fay.consent("email", "marketing"), Some(ConsentState::Granted));
    assert_eq!(fay.consent("sms", "marketing"), None);
    assert_eq!(fay.suppressions["sms"].reason, SuppressionReason::Unsubscribed);
    assert_eq!(fay.timezone.as_deref(), Some("Europe/Paris"));
    assert_eq!(fay.updated_at, 50);
    assert_eq!(storage.update_profile(baton::ProfileId(999_999), 1, |_| {}).unwrap(), None);
}

/// Reading many profiles' windows at once (what a rebuild does, one read per page of profiles)
/// gives each profile exactly what reading it alone gives: its own events from `since` on,
/// filtered by name, oldest first; a profile with none gets none; a batch mixing known and new
/// people, a repeated id and a merge in its middle stores what one-by-one ingest would.
#[test]
fn many_profiles_read_at_once_get_what_each_gets_alone() {
    let dir = tempfile::tempdir().unwrap();
    let storage = baton_tests::open_store(dir.path());
    storage.ingest(&[event("old", Some("u0"), None, "page", 5)], 1).unwrap();
    let mut batch = Vec::new();
    for i in 0..40i64 {
        let user = format!("u{}", i % 7);
        let name = if i % 3 == 0 { "order_completed" } else { "page" };
        batch.push(event(&format!("e{i}"), Some(&user), None, name, 1_000 - i * 10));
    }
    batch.push(event("e3", Some("u3"), None, "page", 999));
    batch.push(event("anon", None, Some("visitor"), "page", 500));
    batch.push(event("stitch", Some("u6"), Some("visitor"), "page", 501));
    let outcomes = storage.ingest(&batch, 2).unwrap();
    assert_eq!(outcomes.iter().filter(|o| matches!(o, IngestOutcome::Stored { .. })).count(), 42);
    assert_eq!(outcomes[40], IngestOutcome::Duplicate);
    let mut ids: Vec<_> = (0..7)
        .map(|i| storage.profile_by_identity(&Identity::User(format!("u{i}"))).unwrap().unwrap().id)
        .collect();
    let nobody = storage.identify(Some("nobody"), None, &serde_json::Map::new(), 3).unwrap();
    ids.push(nobody);
    assert_eq!(
        storage.profile_by_identity(&Identity::Anonymous("visitor".into())).unwrap().unwrap().id,
        ids[6]
    );
    for since in [i64::MIN, 700] {
        for keep in [&(|_: &str| true) as &dyn Fn(&str) -> bool, &|n: &str| n == "order_completed"] {
            let together = storage.events_of_many(&ids, since, keep).unwrap();
            let alone: Vec<_> =
                ids.iter().map(|id| storage.events_of_where(*id, since, keep).unwrap()).collect();
            assert_eq!(together, alone);
        }
    }
    let all = storage.events_of_many(&ids, i64::MIN, &|_| true).unwrap();
    assert_eq!(names(&all[0]), ["old", "e35", "e28", "e21", "e14", "e7", "e0"]);
    assert_eq!(names(&all[6]), ["anon", "stitch", "e34", "e27", "e20", "e13", "e6"]);
    assert!(all[7].is_empty());
    assert_eq!(all.iter().map(Vec::len).sum::<usize>(), 43);
}
