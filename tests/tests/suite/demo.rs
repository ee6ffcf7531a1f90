//! `baton demo`'s scenario: deterministic, and its numbers add up.

use baton::SkipReason;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_is_deterministic_and_its_numbers_add_up() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first =
        baton::demo_scenario::run_on(a.path(), &baton_tests::store_config(a.path()), 400, 7).await.unwrap();
    let second =
        baton::demo_scenario::run_on(b.path(), &baton_tests::store_config(b.path()), 400, 7).await.unwrap();
    assert_eq!(baton::demo_scenario::render(&first), baton::demo_scenario::render(&second));

    assert_eq!(first.profiles, 400);
    // Welcome: everyone with an email is in the audience; consent decides who is messaged.
    let welcome = &first.welcome;
    assert_eq!((welcome.evaluated, welcome.audience), (400, 400));
    assert_eq!(welcome.queued + welcome.skipped.get(&SkipReason::NoConsent).copied().unwrap_or(0), 400);
    // Win-back: every audience member is queued, refused consent, or held out.
    let winback = &first.winback;
    let skipped: usize = winback.skipped.values().sum();
    assert_eq!(winback.queued + skipped, winback.audience);
    assert!(winback.audience > 0 && winback.audience < 400);
    assert_eq!(winback.variants.values().sum::<usize>(), winback.queued);
    // The summer sale: every subscriber, 20% held out.
    let summer = &first.summer;
    assert_eq!(summer.queued + summer.skipped.values().sum::<usize>(), summer.audience);
    // Everything queued was delivered, once, to the stand-in vendor.
    assert_eq!(first.delivered["welcome"], welcome.queued);
    assert_eq!(first.delivered["summer-sale"], summer.queued);
    assert_eq!(first.delivered["win-back"], winback.queued);
    let journey_sent: usize = first.journey.delivered.values().sum();
    assert_eq!(
        first.vendor_requests as usize,
        welcome.queued + summer.queued + winback.queued + journey_sent
    );
    // The onboarding journey: every sign-up entered; two days on, each went one way or the
    // other; each message step's sends were delivered (or not sent, for a reason counted).
    let step = |id: &str| &first.journey.steps.iter().find(|(s, _, _)| s == id).unwrap().2;
    assert_eq!(step("two-days").entered, 400);
    let decided = step("ordered").passed;
    assert_eq!(step("thanks").entered + step("reminder").entered, decided);
    assert!(step("thanks").entered > 0 && step("reminder").entered > 0, "{:?}", first.journey);
    for (message, campaign) in [("thanks", "thank-you"), ("reminder", "reminder-offer")] {
        let not_sent: u64 = step(message).skipped.values().sum();
        assert_eq!(first.journey.delivered[campaign] as u64 + not_sent, step(message).passed, "{message}");
    }
    assert_eq!(
        step("order-wait").passed,
        step("converted").ended.values().sum::<u64>() + step("done").entered - step("thanks").passed
    );
    assert!(step("converted").ended.values().sum::<u64>() > 0, "{:?}", first.journey);
    // The saved segment of lapsed customers moved both ways over the history: entries by the
    // clock, exits by orders, and the stored count is what they add up to.
    let lapsed = &first.lapsed;
    assert!(lapsed.entered > 0 && lapsed.exited > 0, "{lapsed:?}");
    assert_eq!(lapsed.members as usize, lapsed.entered - lapsed.exited);
    // Results measured from untagged orders: each variant and the holdout, with the groups the
    // runs made, and the funnel counting the same conversions.
    let results = &first.results["summer-sale"];
    let group = |id: &str| results.groups.iter().find(|g| g.group == id).unwrap();
    for (variant, n) in &summer.variants {
        assert_eq!(group(variant).recipients as usize, *n, "{variant}");
    }
    assert_eq!(group("control").recipients as usize, summer.skipped[&SkipReason::ControlGroup]);
    assert!(group("all").converted > 0 && group("control").converted > 0);
    let funnel = first.kpis["summer-sale"].iter().find(|s| s.kpi == "funnel").unwrap();
    let converted = funnel
        .metrics
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "conversion_rate")
        .unwrap()["numerator"]
        .as_f64()
        .unwrap();
    assert_eq!(converted as u64, group("all").converted);
    // The KPI calculator saw the same deliveries.
    for (campaign, snapshots) in &first.kpis {
        let funnel = snapshots.iter().find(|s| s.kpi == "funnel").unwrap();
        let delivered = funnel.metrics.as_array().unwrap().iter().find(|m| m["name"] == "delivered").unwrap()
            ["value"]
            .as_f64()
            .unwrap();
        assert_eq!(delivered as usize, first.delivered[campaign], "{campaign}");
    }
    let text = baton::demo_scenario::render(&first);
    assert!(text.starts_with("Baton demo: 400 profiles, "));
    assert!(text.contains("KPIs: win-back"));
    assert!(text.contains("[attribution] the revenue of "), "{text}");
    assert!(text.contains("[romi]"));
    assert!(text.contains("    - The campaign against the control group: "), "{text}");
    assert!(text.contains("    - Variant bestsellers against variant discount: "), "{text}");
}
