//! The console in a real browser (headless chromium driven by Playwright): a person signs in
//! with the keyboard, sees the overview, passes an accessibility scan (axe-core: no serious or
//! critical violation) at a laptop's and a phone's width, and signs out.

use std::sync::Arc;

use baton::{ApiConfig, Role};
use baton_tests::{browser, engine, serve, welcome_campaign};

const SIGN_IN_AND_OUT: &str = r#"
browse(async (page, axe) => {
  const out = {};
  await page.goto(process.env.BASE + '/');
  out.signed_out_url = new URL(page.url()).pathname;
  out.sign_in_violations = await axe(page);
  // Keyboard first: the skip link is the first stop, then the token field.
  await page.keyboard.press('Tab');
  out.first_focus = await page.evaluate(() => document.activeElement.textContent);
  await page.getByLabel('Access token').fill('not-a-token');
  await page.keyboard.press('Enter');
  await page.waitForLoadState();
  out.refused = await page.getByRole('alert').textContent();
  await page.getByLabel('Access token').fill(process.env.TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(process.env.BASE + '/');
  out.heading = await page.getByRole('heading', { level: 1 }).textContent();
  out.campaign = await page.getByRole('rowheader').first().textContent();
  out.cookie_visible_to_scripts = await page.evaluate(() => document.cookie);
  out.overview_violations = await axe(page);
  await page.setViewportSize({ width: 375, height: 740 });
  out.phone_violations = await axe(page);
  out.phone_scrolls_sideways = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(process.env.BASE + '/sign-in');
  await page.goto(process.env.BASE + '/');
  out.after_sign_out_url = new URL(page.url()).pathname;
  return out;
});
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_with_the_keyboard_sees_the_overview_and_signs_out() {
    let (engine, _clock, _dir) = engine();
    engine.create_campaign("test", welcome_campaign()).unwrap();
    let engine = Arc::new(engine);
    let token = engine.storage().create_token("vera", Role::Viewer, 1).unwrap().0;
    let base = serve(engine.clone(), ApiConfig::default()).await;
    let result =
        tokio::task::spawn_blocking(move || browser::script(&base, &[("TOKEN", &token)], SIGN_IN_AND_OUT))
            .await
            .unwrap();
    assert_eq!(result["signed_out_url"], "/sign-in");
    assert_eq!(result["first_focus"], "Skip to content");
    assert_eq!(result["refused"], "That token is unknown or revoked.");
    assert_eq!(result["heading"], "Overview");
    assert_eq!(result["campaign"], "Welcomewelcome");
    assert_eq!(result["cookie_visible_to_scripts"], "", "the session cookie is HttpOnly");
    assert_eq!(result["phone_scrolls_sideways"], false);
    assert_eq!(result["after_sign_out_url"], "/sign-in");
    for page in ["sign_in_violations", "overview_violations", "phone_violations"] {
        let serious: Vec<&serde_json::Value> = result[page]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| matches!(v[1].as_str(), Some("serious" | "critical")))
            .collect();
        assert!(serious.is_empty(), "{page}: {serious:?}");
    }
}
