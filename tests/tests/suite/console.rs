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

/// Each page and change, and which roles the console lets through: the API's role table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_sees_and_may_do_only_what_the_role_table_allows() {
    let (engine, _clock, _dir) = engine();
    engine.create_campaign("test", welcome_campaign()).unwrap();
    let ada = baton_tests::customer(&engine, "ada", serde_json::json!({"email": "ada@example.com"}), true);
    let footer = baton::content::ContentSpec {
        kind: baton::content::ContentKind::Snippet,
        description: String::new(),
        subject: None,
        body: "Thanks, {{ name }}".into(),
        html: None,
        locales: Default::default(),
    };
    engine.save_content("test", "footer", footer).unwrap();
    let engine = Arc::new(engine);
    let base = serve(engine.clone(), ApiConfig::default()).await;
    let client = browser();
    let roles = [Role::Admin, Role::Orchestrator, Role::Analyst, Role::Developer, Role::Viewer];
    let mut sessions = Vec::new();
    for role in roles {
        let token = engine.storage().create_token(role.name(), role, 1).unwrap().0;
        let cookie = cookie_of(&sign_in(&client, &base, &token).await);
        let home = client.get(format!("{base}/")).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(home.status().as_u16(), 200, "{role:?} sees the overview");
        let csrf = csrf_of(&home.text().await.unwrap());
        sessions.push((role, cookie, csrf));
    }
    let personal = |role: Role| matches!(role, Role::Admin | Role::Orchestrator | Role::Analyst);
    let orchestrates = |role: Role| matches!(role, Role::Admin | Role::Orchestrator);
    let everyone = |_: Role| true;
    let admin = |role: Role| role == Role::Admin;
    let pages: [(String, &dyn Fn(Role) -> bool); 15] = [
        ("/".into(), &everyone),
        ("/templates".into(), &everyone),
        ("/templates/footer".into(), &everyone),
        ("/calendar".into(), &everyone),
        ("/attribution".into(), &everyone),
        ("/campaigns".into(), &everyone),
        ("/campaigns/welcome".into(), &everyone),
        ("/journeys".into(), &everyone),
        ("/segments".into(), &everyone),
        ("/campaigns/welcome/preview".into(), &personal),
        ("/segments/new".into(), &personal),
        ("/segments/count?config=%7B%7D".into(), &personal),
        ("/profiles".into(), &personal),
        (format!("/profiles/{ada}"), &personal),
        (format!("/profiles/{ada}/export"), &admin),
    ];
    for (role, cookie, _) in &sessions {
        for (path, allowed) in &pages {
            let status =
                client.get(format!("{base}{path}")).header("cookie", cookie).send().await.unwrap().status();
            if allowed(*role) {
                assert_ne!(status.as_u16(), 403, "{role:?} may open {path}");
                assert!(!status.is_server_error(), "{role:?} {path}: {status}");
            } else {
                assert_eq!(status.as_u16(), 403, "{role:?} may not open {path}");
            }
        }
        // What a page offers follows the role too.
        let get = |path: String| {
            let request = client.get(format!("{base}{path}")).header("cookie", cookie);
            async move { request.send().await.unwrap().text().await.unwrap() }
        };
        let campaign = get("/campaigns/welcome".into()).await;
        assert_eq!(campaign.contains(">Activate</button>"), orchestrates(*role), "{role:?}");
        assert_eq!(campaign.contains("href=\"/campaigns/welcome/preview\""), personal(*role), "{role:?}");
        assert_eq!(campaign.contains("<h2>Deliveries</h2>"), personal(*role), "{role:?}");
        let home = get("/".into()).await;
        assert_eq!(home.contains("href=\"/profiles\""), personal(*role), "{role:?}");
        if personal(*role) {
            let by_id =
                client.get(format!("{base}/profiles?q={ada}")).header("cookie", cookie).send().await.unwrap();
            assert_eq!(
                header(&by_id, "location"),
                format!("/profiles/{ada}"),
                "a profile id goes to its page"
            );
            let profile = get(format!("/profiles/{ada}")).await;
            assert!(profile.contains("ada@example.com"));
            assert_eq!(profile.contains("Erase profile"), admin(*role), "{role:?}");
        }
    }
    // Changes, each with its session's own CSRF token: refused by role before anything happens.
    let changes: [(String, Vec<(&str, String)>, &dyn Fn(Role) -> bool); 5] = [
        ("/templates/footer".into(), vec![("body", String::new())], &orchestrates),
        ("/templates/nothing/publish".into(), vec![], &orchestrates),
        ("/campaigns/welcome/activate".into(), vec![], &orchestrates),
        ("/segments".into(), vec![("id", "vips".into()), ("config", String::new())], &orchestrates),
        (format!("/profiles/{ada}/erase"), vec![("confirm", "no".into())], &admin),
    ];
    for (role, cookie, csrf) in &sessions {
        for (path, fields, allowed) in &changes {
            let mut pairs: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
            pairs.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
            let answer = form(client.post(format!("{base}{path}")).header("cookie", cookie), &pairs)
                .send()
                .await
                .unwrap();
            let status = answer.status().as_u16();
            if allowed(*role) {
                // Allowed, and refused for what the request says: nothing bound, no tree, an
                // empty template, one that does not exist, a confirmation that does not match.
                assert!(matches!(status, 404 | 409 | 422), "{role:?} {path}: {status}");
            } else {
                assert_eq!(status, 403, "{role:?} may not post {path}");
            }
        }
    }
    assert_eq!(engine.campaign("welcome").unwrap().state, baton::CampaignState::Draft);
    assert_eq!(engine.content_view("footer").unwrap().content.latest_version, 1, "no empty version saved");
    assert!(engine.profile(ada).is_ok(), "nobody erased ada");
    // One session's CSRF token does not work with another session's cookie.
    let (_, admin_cookie, _) = &sessions[0];
    let (_, _, orchestrator_csrf) = &sessions[1];
    let forged = form(
        client.post(format!("{base}/profiles/{ada}/erase")).header("cookie", admin_cookie),
        &[("csrf", orchestrator_csrf), ("confirm", &ada.to_string())],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(forged.status().as_u16(), 403);
    assert!(engine.profile(ada).is_ok());
}
