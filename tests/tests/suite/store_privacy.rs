//! Erasure, export and retention: each removes exactly what it must, and each is audited.

use baton::{Identity, NewEvent, Storage};

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
    let storage = Storage::temporary().unwrap();
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
    let storage = Storage::temporary().unwrap();
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
    let storage = Storage::temporary().unwrap();
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
