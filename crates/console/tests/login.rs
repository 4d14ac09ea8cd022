//! Login and the write switch over real HTTP: the console behind `[[console.users]]` (argon2id
//! hashes), a SQLite store in a temporary folder, sessions and attempt counts on a simulated
//! clock. Every refusal is checked to change nothing.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use clock::Clock;
use console::{ConsoleConfig, Login, Password, Role, User, i18n::Lang};
use secret::Secret;
use store::Store;

const ADMIN_PW: &str = "correct horse battery";
const VIEWER_PW: &str = "viewer staple 42";

struct Console {
    base: String,
    http: reqwest::Client,
    store: Arc<dyn Store>,
    clock: Clock,
    /// The PHC strings of the users (they must never show).
    hashes: Vec<String>,
    _dir: tempfile::TempDir,
}

/// A browser's cookies, by hand: `dl_csrf` (before login) and `dl_session`.
#[derive(Default, Clone)]
struct Jar {
    csrf_cookie: Option<String>,
    session: Option<String>,
    /// The token of the forms of the last page read.
    token: String,
}

fn hashes() -> &'static (String, String) {
    static H: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    H.get_or_init(|| {
        (
            console::hash_password(ADMIN_PW).unwrap(),
            console::hash_password(VIEWER_PW).unwrap(),
        )
    })
}

async fn serve_with(login: impl FnOnce(Clock) -> Login) -> Console {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/store.db", dir.path().display());
    let store = store::connect(&url).await.unwrap();
    let clock = Clock::simulated(Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap());
    let (admin, viewer) = hashes();
    let app = console::pages_router_with_login(
        store.clone(),
        ConsoleConfig {
            language: Lang::En,
            timezone: chrono_tz::Asia::Shanghai,
        },
        login(clock.clone()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });
    Console {
        base: format!("http://{addr}"),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        store,
        clock,
        hashes: vec![admin.clone(), viewer.clone()],
        _dir: dir,
    }
}

fn users() -> Vec<User> {
    let (admin, viewer) = hashes();
    vec![
        User {
            name: "li.lei".into(),
            role: Role::Admin,
            password: Password::Hash(Secret::new(admin.clone())),
        },
        User {
            name: "han.mei".into(),
            role: Role::Viewer,
            password: Password::Hash(Secret::new(viewer.clone())),
        },
    ]
}

async fn serve() -> Console {
    serve_with(|clock| {
        let mut l = Login::new(users());
        l.clock = clock;
        l
    })
    .await
}

fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn cookie_value(header: &str) -> String {
    header
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned()
}

fn form_token(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no form token in {html}"));
    html[at + 19..at + 19 + 64].to_owned()
}

impl Console {
    fn cookies(&self, jar: &Jar) -> String {
        let mut c = vec!["lang=en".to_owned()];
        if let Some(t) = &jar.csrf_cookie {
            c.push(format!("dl_csrf={t}"));
        }
        if let Some(s) = &jar.session {
            c.push(format!("dl_session={s}"));
        }
        c.join("; ")
    }

    async fn get(&self, jar: &mut Jar, path: &str) -> reqwest::Response {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookies(jar))
            .send()
            .await
            .unwrap();
        if let Some(c) = set_cookie(&res, "dl_csrf") {
            jar.csrf_cookie = Some(cookie_value(&c));
        }
        res
    }

    /// A page (200), remembering its form token.
    async fn page(&self, jar: &mut Jar, path: &str) -> String {
        let res = self.get(jar, path).await;
        assert_eq!(res.status(), 200, "{path}");
        let html = res.text().await.unwrap();
        if html.contains("name=\"csrf\"") {
            jar.token = form_token(&html);
        }
        html
    }

    async fn post(&self, jar: &Jar, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookies(jar))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// The login form, then a POST with its token.
    async fn try_login(&self, jar: &mut Jar, name: &str, pw: &str) -> reqwest::Response {
        self.page(jar, "/login").await;
        let token = jar.token.clone();
        let res = self
            .post(
                jar,
                "/login",
                &[
                    ("csrf", &token),
                    ("name", name),
                    ("password", pw),
                    ("next", "/orders"),
                ],
            )
            .await;
        if let Some(c) = set_cookie(&res, "dl_session") {
            jar.session = Some(cookie_value(&c));
        }
        res
    }

    async fn login(&self, name: &str, pw: &str) -> Jar {
        let mut jar = Jar::default();
        let res = self.try_login(&mut jar, name, pw).await;
        assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
        assert_eq!(res.headers()["location"], "/orders");
        let cookie = set_cookie(&res, "dl_session").unwrap();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        self.page(&mut jar, "/").await;
        jar
    }

    fn advance(&self, d: Duration) {
        self.clock.sim().unwrap().advance(d);
    }

    async fn writes_enabled(&self) -> Option<bool> {
        self.store
            .runtime_config()
            .await
            .unwrap()
            .map(|c| c.config.writes_enabled())
    }

    async fn audit_len(&self) -> usize {
        self.store.audit_log(100).await.unwrap().len()
    }
}

#[tokio::test]
async fn pages_redirect_to_login_and_back_after_it() {
    let c = serve().await;
    let mut jar = Jar::default();
    let res = c.get(&mut jar, "/orders?stage=2").await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        "/login?next=%2Forders%3Fstage%3D2"
    );
    // The ops endpoints are another router; here the stylesheet and the form are open.
    assert_eq!(c.get(&mut jar, "/assets/console.css").await.status(), 200);
    let form = c.page(&mut jar, "/login?next=%2Forders%3Fstage%3D2").await;
    assert!(form.contains("value=\"/orders?stage=2\""), "{form}");
    assert!(
        !form.contains("href=\"/orders\""),
        "no navigation before login"
    );
    // A POST without a session is refused.
    let res = c
        .post(
            &jar,
            "/writes",
            &[("csrf", &jar.token), ("writes", "off"), ("reason", "x")],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("Log in first"));
    assert_eq!(c.writes_enabled().await, None);

    let jar = c.login("li.lei", ADMIN_PW).await;
    let mut jar2 = jar.clone();
    let page = c.page(&mut jar2, "/orders").await;
    assert!(page.contains("li.lei"), "the header names the user");
    assert!(page.contains("action=\"/logout\""));
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_opens_no_session() {
    let c = serve().await;
    for (name, pw) in [
        ("li.lei", "correct horse"),
        ("nobody", ADMIN_PW),
        ("li.lei", ""),
    ] {
        let mut jar = Jar::default();
        let res = c.try_login(&mut jar, name, pw).await;
        assert_eq!(res.status(), 401, "{name}");
        assert!(set_cookie(&res, "dl_session").is_none());
        let html = res.text().await.unwrap();
        assert!(html.contains("Wrong user name or password"), "{html}");
        assert_eq!(c.get(&mut jar, "/").await.status(), 303);
    }
    // A login POST without the form's token is refused before the password is looked at.
    let mut jar = Jar::default();
    c.page(&mut jar, "/login").await;
    let res = c
        .post(
            &jar,
            "/login",
            &[("name", "li.lei"), ("password", ADMIN_PW)],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert!(set_cookie(&res, "dl_session").is_none());
}

#[tokio::test]
async fn the_eleventh_rapid_attempt_is_refused_even_with_the_right_password() {
    let c = serve().await;
    let mut jar = Jar::default();
    for i in 0..console::MAX_FAILURES {
        let res = c.try_login(&mut jar, "li.lei", &format!("guess {i}")).await;
        assert_eq!(res.status(), 401, "attempt {}", i + 1);
    }
    let res = c.try_login(&mut jar, "li.lei", ADMIN_PW).await;
    assert_eq!(res.status(), 429);
    assert!(set_cookie(&res, "dl_session").is_none());
    let html = res.text().await.unwrap();
    assert!(html.contains("Too many failed attempts"), "{html}");
    assert_eq!(c.get(&mut jar, "/").await.status(), 303, "still logged out");
    // Another name from the same client: the client's count applies too.
    let res = c.try_login(&mut Jar::default(), "han.mei", VIEWER_PW).await;
    assert_eq!(res.status(), 429);
    // Once the window has passed, the right password works again.
    c.advance(console::FAILURE_WINDOW + Duration::from_secs(1));
    let res = c.try_login(&mut jar, "li.lei", ADMIN_PW).await;
    assert_eq!(res.status(), 303);
}

#[tokio::test]
async fn a_forged_post_without_the_token_is_refused_and_changes_nothing() {
    let c = serve().await;
    let jar = c.login("li.lei", ADMIN_PW).await;
    let audit = c.audit_len().await;
    for token in [
        "",
        "0000000000000000000000000000000000000000000000000000000000000000",
    ] {
        let res = c
            .post(
                &jar,
                "/writes",
                &[("csrf", token), ("writes", "off"), ("reason", "forged")],
            )
            .await;
        assert_eq!(res.status(), 403);
        assert!(res.text().await.unwrap().contains("CSRF"));
    }
    // The token of the login form (the dl_csrf cookie) is not the session's either.
    let mut other = Jar::default();
    c.page(&mut other, "/login").await;
    let mut forged = jar.clone();
    forged.csrf_cookie = other.csrf_cookie.clone();
    let res = c
        .post(
            &forged,
            "/writes",
            &[
                ("csrf", &other.token),
                ("writes", "off"),
                ("reason", "forged"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(c.writes_enabled().await, None, "no config version saved");
    assert_eq!(c.audit_len().await, audit);
}

#[tokio::test]
async fn a_viewer_sees_no_buttons_and_their_post_is_refused() {
    let c = serve().await;
    let mut jar = c.login("han.mei", VIEWER_PW).await;
    let overview = c.page(&mut jar, "/").await;
    assert!(!overview.contains("action=\"/writes\""), "{overview}");
    assert!(overview.contains("han.mei"));
    assert!(overview.contains("read only"));
    let res = c
        .post(
            &jar,
            "/writes",
            &[
                ("csrf", &jar.token),
                ("writes", "off"),
                ("reason", "viewer"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("Viewers cannot act"));
    assert_eq!(c.writes_enabled().await, None);
    assert_eq!(c.audit_len().await, 0);
    // With writes stopped (by an admin), the viewer sees the banner without the resume form.
    engine::ops::set_writes(&*c.store, false, "li.lei", "outage", Utc::now())
        .await
        .unwrap();
    let page = c.page(&mut jar, "/orders").await;
    assert!(page.contains("All writes are stopped"), "{page}");
    assert!(!page.contains("action=\"/writes\""), "{page}");
}

#[tokio::test]
async fn logout_ends_the_session() {
    let c = serve().await;
    let mut jar = c.login("li.lei", ADMIN_PW).await;
    // Without the token, logout is refused (another site cannot log the user out).
    let res = c.post(&jar, "/logout", &[("csrf", "")]).await;
    assert_eq!(res.status(), 403);
    assert_eq!(c.get(&mut jar, "/").await.status(), 200);
    let res = c.post(&jar, "/logout", &[("csrf", &jar.token)]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/login");
    assert!(
        set_cookie(&res, "dl_session")
            .unwrap()
            .contains("Max-Age=0")
    );
    // The old cookie opens nothing any more.
    let res = c.get(&mut jar, "/orders").await;
    assert_eq!(res.status(), 303);
    let to = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        to.starts_with("/login?next=%2Forders") && to.contains("ended=1"),
        "{to}"
    );
    let res = c
        .post(
            &jar,
            "/writes",
            &[("csrf", &jar.token), ("writes", "off"), ("reason", "after")],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(c.writes_enabled().await, None);
}

#[tokio::test]
async fn an_idle_session_ends_and_an_active_one_lives_on() {
    let c = serve_with(|clock| {
        let mut l = Login::new(users());
        l.clock = clock;
        l.idle = Duration::from_secs(5 * 60);
        l
    })
    .await;
    let mut jar = c.login("li.lei", ADMIN_PW).await;
    // Active: every request starts the idle time again.
    for _ in 0..3 {
        c.advance(Duration::from_secs(4 * 60));
        assert_eq!(c.get(&mut jar, "/").await.status(), 200);
    }
    c.advance(Duration::from_secs(5 * 60 + 1));
    let res = c.get(&mut jar, "/").await;
    assert_eq!(res.status(), 303);
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .contains("ended=1"),
        "told why"
    );
    let html = c.page(&mut jar, "/login?ended=1").await;
    assert!(html.contains("Your session ended"), "{html}");
}

#[tokio::test]
async fn the_password_hash_never_appears_in_pages() {
    let c = serve().await;
    let mut jar = c.login("li.lei", ADMIN_PW).await;
    engine::ops::set_writes(&*c.store, false, "li.lei", "check pages", Utc::now())
        .await
        .unwrap();
    let mut anonymous = Jar::default();
    let login_page = c.page(&mut anonymous, "/login").await;
    for path in [
        "/",
        "/orders",
        "/runs",
        "/stock",
        "/mappings",
        "/config",
        "/audit",
        "/login",
    ] {
        let html = if path == "/login" {
            login_page.clone()
        } else {
            c.page(&mut jar, path).await
        };
        for h in &c.hashes {
            let tail = h.rsplit('$').next().unwrap();
            assert!(!html.contains(tail) && !html.contains("$argon2"), "{path}");
        }
        assert!(!html.contains(ADMIN_PW), "{path}");
    }
}

/// Action 8 end to end: an admin stops writes (a new config version, the audit entry names
/// them), every page shows the banner with the resume form, and resuming removes it.
#[tokio::test]
async fn the_write_switch_stops_and_resumes_writes_with_the_user_in_the_audit() {
    let c = serve().await;
    let mut jar = c.login("li.lei", ADMIN_PW).await;
    let overview = c.page(&mut jar, "/").await;
    assert!(overview.contains("Stop all writes"), "{overview}");
    assert!(!overview.contains("All writes are stopped"));

    // No reason, no change.
    let res = c
        .post(
            &jar,
            "/writes",
            &[("csrf", &jar.token), ("writes", "off"), ("reason", " ")],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(c.writes_enabled().await, None);

    let res = c
        .post(
            &jar,
            "/writes",
            &[
                ("csrf", &jar.token),
                ("writes", "off"),
                ("reason", "carrier outage"),
                ("back", "/orders"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/orders");
    let stored = c.store.runtime_config().await.unwrap().unwrap();
    assert!(!stored.config.writes_enabled());
    assert_eq!(stored.version, 1);
    assert_eq!(stored.actor, "li.lei");
    let audit = c.store.audit_log(10).await.unwrap();
    let off = audit
        .iter()
        .find(|r| r.entry.action == "writes.off")
        .unwrap();
    assert_eq!(off.entry.actor, "li.lei");
    assert_eq!(off.entry.reason, "carrier outage");

    for path in ["/", "/orders", "/audit"] {
        let html = c.page(&mut jar, path).await;
        assert!(html.contains("All writes are stopped"), "{path}");
        assert!(html.contains("Resume writes"), "{path}");
    }
    let audit_page = c.page(&mut jar, "/audit").await;
    assert!(audit_page.contains("writes.off") && audit_page.contains("carrier outage"));

    let res = c
        .post(
            &jar,
            "/writes",
            &[
                ("csrf", &jar.token),
                ("writes", "on"),
                ("reason", "carrier back"),
                ("back", "/audit"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(c.writes_enabled().await, Some(true));
    let html = c.page(&mut jar, "/audit").await;
    assert!(!html.contains("All writes are stopped"));
    assert!(html.contains("writes.on") && html.contains("carrier back"));
}

/// Without users nobody logs in: the operator is `local`, and the form carries the token of
/// the `dl_csrf` cookie.
#[tokio::test]
async fn without_login_the_audit_names_local() {
    let c = serve_with(|_| Login::none()).await;
    let mut jar = Jar::default();
    let html = c.page(&mut jar, "/").await;
    assert!(!html.contains("action=\"/logout\""));
    let res = c
        .post(
            &jar,
            "/writes",
            &[
                ("csrf", &jar.token),
                ("writes", "off"),
                ("reason", "local stop"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let audit = c.store.audit_log(10).await.unwrap();
    let off = audit
        .iter()
        .find(|r| r.entry.action == "writes.off")
        .unwrap();
    assert_eq!(off.entry.actor, "local");
    // `/login` without users goes to the overview.
    assert_eq!(c.get(&mut jar, "/login").await.status(), 303);
}

/// `console.secure_cookie`: the session cookie is marked `Secure` (TLS at a proxy).
#[tokio::test]
async fn the_session_cookie_is_secure_when_asked() {
    let c = serve_with(|clock| {
        let mut l = Login::new(users());
        l.clock = clock;
        l.secure_cookie = true;
        l
    })
    .await;
    let mut jar = Jar::default();
    let res = c.try_login(&mut jar, "li.lei", ADMIN_PW).await;
    assert_eq!(res.status(), 303);
    let cookie = set_cookie(&res, "dl_session").unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
}
