//! The console's sign-in through the real server: a token buys a session cookie a script
//! cannot read, every page needs it, sign-out needs the form's CSRF token, and a session ends
//! when it expires or its token is revoked. Pages escape what they show.

use std::sync::Arc;

use baton::{ApiConfig, Role};
use baton_tests::{engine, serve, welcome_campaign};

/// A client that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

/// A form POST, as a browser sends it.
fn form(request: reqwest::RequestBuilder, pairs: &[(&str, &str)]) -> reqwest::RequestBuilder {
    let body: String = pairs
        .iter()
        .map(|(k, v)| {
            let enc = |t: &str| {
                t.bytes()
                    .map(|b| {
                        if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }
                    })
                    .collect::<String>()
            };
            format!("{}={}", enc(k), enc(v))
        })
        .collect::<Vec<_>>()
        .join("&");
    request.header("content-type", "application/x-www-form-urlencoded").body(body)
}

async fn sign_in(client: &reqwest::Client, base: &str, token: &str) -> reqwest::Response {
    form(client.post(format!("{base}/sign-in")), &[("token", token)]).send().await.unwrap()
}

/// The session cookie's `name=value` from a sign-in answer.
fn cookie_of(response: &reqwest::Response) -> String {
    header(response, "set-cookie").split(';').next().unwrap().to_owned()
}

/// The CSRF token in a page's sign-out form.
fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a sign-out form") + "name=\"csrf\" value=\"".len();
    page[at..at + 64].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_signs_in_to_a_session_cookie_that_scripts_cannot_read() {
    let (engine, _clock, _dir) = engine();
    let mut campaign = welcome_campaign();
    campaign.name = "Spring <script>alert(1)</script> & more".into();
    engine.create_campaign("test", campaign).unwrap();
    let engine = Arc::new(engine);
    let viewer = engine.storage().create_token("vera", Role::Viewer, 1).unwrap().0;
    let write_key = engine.storage().create_token("web", Role::Connector, 1).unwrap().0;
    let base = serve(engine.clone(), ApiConfig::default()).await;
    let client = browser();

    // Signed out, every page sends the browser to sign in.
    let page = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!((page.status().as_u16(), header(&page, "location")), (303, "/sign-in".to_owned()));
    let form = client.get(format!("{base}/sign-in")).send().await.unwrap();
    assert_eq!(form.status().as_u16(), 200);
    assert!(form.text().await.unwrap().contains("<label for=\"token\">Access token</label>"));

    let refused = sign_in(&client, &base, "bt_not-a-token").await;
    assert_eq!(refused.status().as_u16(), 401);
    assert!(header(&refused, "set-cookie").is_empty());
    assert!(refused.text().await.unwrap().contains("That token is unknown or revoked."));
    let refused = sign_in(&client, &base, &write_key).await;
    assert_eq!(refused.status().as_u16(), 403);
    assert!(refused.text().await.unwrap().contains("cannot sign in"));
    assert_eq!(sign_in(&client, &base, "  ").await.status().as_u16(), 422);

    let signed = sign_in(&client, &base, &viewer).await;
    assert_eq!((signed.status().as_u16(), header(&signed, "location")), (303, "/".to_owned()));
    let set_cookie = header(&signed, "set-cookie");
    let flags: Vec<&str> = set_cookie.split("; ").skip(1).collect();
    // Over plain HTTP the cookie cannot be `Secure`; behind TLS it is (next test).
    assert_eq!(flags, ["Path=/", "HttpOnly", "SameSite=Strict", "Max-Age=43200"]);
    let cookie = cookie_of(&signed);
    assert!(!cookie.contains(&viewer), "the cookie is a session id, not the token");

    let page = client.get(format!("{base}/")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert_eq!(header(&page, "cache-control"), "no-store");
    assert!(header(&page, "content-security-policy").contains("default-src 'none'"));
    assert_eq!(header(&page, "x-content-type-options"), "nosniff");
    let html = page.text().await.unwrap();
    assert!(html.contains("Spring &lt;script&gt;alert(1)&lt;/script&gt; &amp; more"), "{html}");
    assert!(!html.contains("<script>alert(1)"));
    assert!(html.contains("vera (viewer)"));
    // A date that does not read is said so, not guessed.
    let bad = client.get(format!("{base}/?from=2026-13-01")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    // The session is in the audit log.
    let actions: Vec<String> =
        engine.storage().audit_log(10).unwrap().into_iter().map(|r| r.action).collect();
    assert!(actions.contains(&"console_signed_in".to_owned()), "{actions:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_tls_the_session_cookie_is_secure() {
    let (engine, _clock, _dir) = engine();
    let engine = Arc::new(engine);
    let token = engine.storage().create_token("ana", Role::Analyst, 1).unwrap().0;
    let config = ApiConfig { public_url: Some("https://baton.example.com".into()), ..ApiConfig::default() };
    let base = serve(engine.clone(), config).await;
    let signed = sign_in(&browser(), &base, &token).await;
    assert!(header(&signed, "set-cookie").ends_with("; Secure"), "{}", header(&signed, "set-cookie"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_needs_the_forms_token_and_sessions_end_on_revocation_and_expiry() {
    let (engine, clock, _dir) = engine();
    let engine = Arc::new(engine);
    let (token, record) = engine.storage().create_token("olga", Role::Orchestrator, 1).unwrap();
    let base = serve(engine.clone(), ApiConfig::default()).await;
    let client = browser();
    let cookie = cookie_of(&sign_in(&client, &base, &token).await);
    let page =
        client.get(format!("{base}/")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let csrf = csrf_of(&page);

    // A form from elsewhere (no token, or another) changes nothing.
    for forged in ["", "0000000000000000000000000000000000000000000000000000000000000000"] {
        let out =
            form(client.post(format!("{base}/sign-out")).header("cookie", &cookie), &[("csrf", forged)])
                .send()
                .await
                .unwrap();
        assert_eq!(out.status().as_u16(), 403);
    }
    assert_eq!(
        client.get(format!("{base}/")).header("cookie", &cookie).send().await.unwrap().status().as_u16(),
        200
    );
    let out = form(client.post(format!("{base}/sign-out")).header("cookie", &cookie), &[("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!((out.status().as_u16(), header(&out, "location")), (303, "/sign-in".to_owned()));
    assert!(header(&out, "set-cookie").contains("Max-Age=0"));
    let after = client.get(format!("{base}/")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(after.status().as_u16(), 303, "the old cookie no longer works");

    // Revoking the token ends its sessions at once.
    let cookie = cookie_of(&sign_in(&client, &base, &token).await);
    engine.storage().revoke_token(&record.id, 5).unwrap();
    assert_eq!(
        client.get(format!("{base}/")).header("cookie", &cookie).send().await.unwrap().status().as_u16(),
        303
    );

    // A session lasts `api.console_session_ms` (12 hours), then the browser signs in again.
    let (token, _) = engine.storage().create_token("olga-2", Role::Orchestrator, 1).unwrap();
    let cookie = cookie_of(&sign_in(&client, &base, &token).await);
    let now = engine.now_ms();
    clock.set(now + 12 * 3_600_000 - 1);
    assert_eq!(
        client.get(format!("{base}/")).header("cookie", &cookie).send().await.unwrap().status().as_u16(),
        200
    );
    clock.set(now + 12 * 3_600_000);
    assert_eq!(
        client.get(format!("{base}/")).header("cookie", &cookie).send().await.unwrap().status().as_u16(),
        303
    );
}
