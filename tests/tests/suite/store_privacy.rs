//! Erasure, export and retention: each removes exactly what it must, and each is audited.

use baton::{Identity, NewEvent};

fn event(id: &str, user: &str, ts: i64, campaign: Option<&str>) -> NewEvent {
    NewEvent {
        id: id.into(),
        user_id: Some(user.into()),
        anonymous_id: None,
        name: "page".into(),
        timestamp: ts,
        properties: serde_json::Map::new(),
        campaign: campaign.map(Into::into),
    }
}

#[test]
fn erasure_removes_a_customer_and_only_that_customer() {
    let (storage, _dir) = baton_tests::temporary_store();
    storage
        .ingest(
            &[
                event("a1", "ann", 1, Some("promo")),
                event("a2", "ann", 2, None),
                event("b1", "ben", 3, Some("promo")),
            ],
            1,
        )
        .unwrap();
    storage.identify(Some("ann"), Some("anon-9"), &serde_json::Map::new(), 2).unwrap();
    let ann = storage.profile_by_identity(&Identity::User("ann".into())).unwrap().unwrap().id;
    let ben = storage.profile_by_identity(&Identity::User("ben".into())).unwrap().unwrap().id;
    storage
        .enqueue(&[
            baton_tests::pending_send("promo", ann, "1", 5),
            baton_tests::pending_send("promo", ann, "2", 6),
            baton_tests::pending_send("promo", ben, "1", 5),
        ])
        .unwrap();
    storage
        .finish_send(&format!("promo:{ann}:1"), baton::SendOutcome::Delivered { receipt: None }, 7)
        .unwrap();
    storage
        .record_skips(&[baton::SkipRecord {
            campaign: "promo".into(),
            profile: ann,
            reason: baton::SkipReason::QuietHours,
            detail: String::new(),
            at: 8,
        }])
        .unwrap();

    let erased = storage.erase_profile(ann, "admin-token", 10).unwrap().unwrap();
    assert_eq!(erased, baton::Erasure { identities: 2, events: 2, sends: 2, skips: 1 });
    assert!(storage.deliveries("promo").unwrap().is_empty());
    assert!(storage.skips("promo").unwrap().is_empty());
    assert!(storage.sends_to(ann, 0).unwrap().is_empty());
    let pending: Vec<_> = storage.pending_sends().unwrap().iter().map(|s| s.profile).collect();
    assert_eq!(pending, vec![ben]);
    assert_eq!(storage.profile(ann).unwrap(), None);
    assert_eq!(storage.profile_by_identity(&Identity::User("ann".into())).unwrap(), None);
    assert_eq!(storage.profile_by_identity(&Identity::Anonymous("anon-9".into())).unwrap(), None);
    assert_eq!(storage.event("a1").unwrap(), None);
    assert_eq!(storage.event("a2").unwrap(), None);
    assert_eq!(
        storage.campaign_events("promo").unwrap().iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        vec!["b1"]
    );
    assert_eq!(storage.event_count(), 1);

    let audit = storage.audit_log(10).unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "profile_erased");
    assert_eq!(audit[0].actor, "admin-token");
    assert_eq!(audit[0].target, ann.to_string());
    assert_eq!(audit[0].detail, serde_json::json!({"identities": 2, "events": 2, "sends": 2, "skips": 1}));
    assert!(!audit[0].detail.to_string().contains("ann"), "no personal data in the audit log");

    assert_eq!(storage.erase_profile(ann, "admin-token", 11).unwrap(), None);
    // The same customer can come back as new data.
    storage.ingest(&[event("a3", "ann", 5, None)], 12).unwrap();
    let again = storage.profile_by_identity(&Identity::User("ann".into())).unwrap().unwrap();
    assert_ne!(again.id, ann);
}

#[test]
fn export_returns_everything_about_a_customer_and_is_audited() {
    let (storage, _dir) = baton_tests::temporary_store();
    storage
        .ingest(&[event("c2", "cat", 20, None), event("c1", "cat", 10, None), event("d1", "dan", 5, None)], 1)
        .unwrap();
    let traits = serde_json::json!({"email": "cat@example.com"}).as_object().unwrap().clone();
    let cat = storage.identify(Some("cat"), None, &traits, 2).unwrap();

    let export = storage.export_profile(cat, "viewer", 3).unwrap().unwrap();
    assert_eq!(export.profile.attributes.get("email"), Some(&serde_json::json!("cat@example.com")));
    assert_eq!(export.events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), vec!["c1", "c2"]);
    let json = serde_json::to_value(&export).unwrap();
    assert_eq!(json["profile"]["identities"], serde_json::json!([{"kind": "user", "value": "cat"}]));
    assert_eq!(storage.audit_log(1).unwrap()[0].action, "profile_exported");
}

#[test]
fn retention_purges_old_events_and_keeps_the_rest() {
    let (storage, _dir) = baton_tests::temporary_store();
    let batch: Vec<NewEvent> = (0..25_000)
        .map(|i| event(&format!("e{i}"), &format!("u{}", i % 50), i, (i % 2 == 0).then_some("c")))
        .collect();
    storage.ingest(&batch, 1).unwrap();

    let purged = storage.purge_events_before(20_000, "system", 2).unwrap();
    assert_eq!(purged, 20_000);
    assert_eq!(storage.event_count(), 5_000);
    assert_eq!(storage.event("e19999").unwrap(), None);
    assert!(storage.event("e20000").unwrap().is_some());
    let campaign = storage.campaign_events("c").unwrap();
    assert_eq!(campaign.len(), 2_500);
    assert!(campaign.iter().all(|e| e.timestamp >= 20_000));
    assert_eq!(
        storage.audit_log(1).unwrap()[0].detail,
        serde_json::json!({"before": 20_000, "events": 20_000})
    );
}

/// Retention across months: ninety days of events and a cutoff in the third month. PostgreSQL
/// keeps events by the month and drops the two whole months at once, then the third month's old
/// days one by one; sled removes every event on its own. Either way exactly the events from the
/// cutoff on remain, with their id and campaign indexes, and an event that arrives late for a
/// dropped month is stored like any other.
#[test]
fn retention_across_months_keeps_exactly_the_events_from_the_cutoff_on() {
    const DAY: i64 = 86_400_000;
    const JANUARY_2025: i64 = 1_735_689_600_000;
    let (storage, _dir) = baton_tests::temporary_store();
    let batch: Vec<NewEvent> = (0..90)
        .map(|i| {
            event(
                &format!("e{i}"),
                &format!("u{}", i % 7),
                JANUARY_2025 + i * DAY,
                (i % 2 == 0).then_some("c"),
            )
        })
        .collect();
    storage.ingest(&batch, 1).unwrap();

    let cutoff = JANUARY_2025 + 75 * DAY; // 2025-03-17
    assert_eq!(storage.purge_events_before(cutoff, "system", 2).unwrap(), 75);
    assert_eq!(storage.event_count(), 15);
    assert_eq!(storage.event("e74").unwrap(), None);
    assert_eq!(storage.event("e0").unwrap(), None);
    assert!(storage.event("e75").unwrap().is_some());
    let campaign = storage.campaign_events("c").unwrap();
    assert_eq!(campaign.len(), (75..90).filter(|i| i % 2 == 0).count());
    assert!(campaign.iter().all(|e| e.timestamp >= cutoff));
    for user in 0..7 {
        let profile =
            storage.profile_by_identity(&baton::Identity::User(format!("u{user}"))).unwrap().unwrap();
        assert!(storage.events_of(profile.id).unwrap().iter().all(|e| e.timestamp >= cutoff));
    }

    // A late event for January, whose month is gone, and an old id sent again.
    let late =
        [event("late", "u1", JANUARY_2025 + DAY, Some("c")), event("e3", "u3", JANUARY_2025 + 3 * DAY, None)];
    let outcomes = storage.ingest(&late, 3).unwrap();
    assert_eq!(outcomes.len(), 2);
    assert!(storage.event("late").unwrap().is_some());
    assert_eq!(storage.event_count(), 17);
    assert_eq!(storage.purge_events_before(cutoff, "system", 4).unwrap(), 2);
    assert_eq!(storage.event_count(), 15);
}
