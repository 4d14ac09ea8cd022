//! Login: the users of the deployment file, the server-side sessions, the rate limit of login
//! attempts, and the `/login` and `/logout` pages.
//!
//! - A session is a random id in the `dl_session` cookie (`HttpOnly; SameSite=Strict`, and
//!   `Secure` when the console is served behind TLS) naming an entry of a map in this process:
//!   the user, their role, the CSRF token of their forms and when they were last seen. An entry
//!   idle for longer than `idle` is gone (the next request logs in again). Restarting the
//!   process logs everyone out.
//! - Failed attempts are counted per client address and per user name: after
//!   [`MAX_FAILURES`] within [`FAILURE_WINDOW`] the next attempt is refused before the password
//!   is looked at, whichever it is, and nothing changes. (Behind a reverse proxy every client
//!   has the proxy's address, so the per-address limit then counts for everyone together.)
//! - Passwords are argon2id PHC strings ([`hash_password`]); the predecessor's single plain
//!   `console.password` is compared in constant time. Neither is ever logged or shown.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2};
use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, TimeDelta, Utc};
use clock::Clock;
use secret::Secret;
use serde::Deserialize;

use super::Pages;
use super::layout::{Cx, Layout, error_page, render};
use super::session::{Operator, Role, Session, cookie, new_token, same_token};

/// The cookie that holds the session id.
pub(super) const SESSION_COOKIE: &str = "dl_session";
/// Failed login attempts allowed per client address and per user name within the window.
pub const MAX_FAILURES: usize = 10;
/// The window failed attempts are counted in.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// The default idle timeout of a session (`console.session_idle_minutes`).
pub const DEFAULT_IDLE: Duration = Duration::from_secs(30 * 60);

/// How a user proves who they are. Debug never shows the value.
#[derive(Clone)]
pub enum Password {
    /// An argon2id PHC string (`$argon2id$v=19$…`), checked by [`check_hash`].
    Hash(Secret),
    /// The predecessor's single admin password, kept as given.
    Plain(Secret),
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Password::Hash(_) => f.write_str("Password::Hash(<redacted>)"),
            Password::Plain(_) => f.write_str("Password::Plain(<redacted>)"),
        }
    }
}

/// One operator of `[[console.users]]`.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub role: Role,
    pub password: Password,
}

/// The login settings of the console. With no users nobody logs in: the operator is `local`,
/// an admin, and the pages are served on loopback only ([`super::check_listen`]).
#[derive(Debug, Clone)]
pub struct Login {
    pub users: Vec<User>,
    /// Mark the session cookie `Secure` (the console is reached over TLS, at a proxy).
    pub secure_cookie: bool,
    /// A session idle for longer ends.
    pub idle: Duration,
    /// The time of sessions and of the attempt counts (simulated in tests).
    pub clock: Clock,
}

impl Login {
    /// No login: the `local` operator.
    pub fn none() -> Login {
        Login::new(Vec::new())
    }

    /// `users`, with the default idle timeout, no `Secure` flag, the real clock.
    pub fn new(users: Vec<User>) -> Login {
        Login {
            users,
            secure_cookie: false,
            idle: DEFAULT_IDLE,
            clock: Clock::real(),
        }
    }

    pub fn required(&self) -> bool {
        !self.users.is_empty()
    }
}

fn argon2() -> Argon2<'static> {
    Argon2::new(
        Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::default(),
    )
}

/// The argon2id PHC string of `password` (a fresh random salt, the crate's default cost:
/// 19 MiB, 2 passes), for `[[console.users]] password_hash`.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Whether `phc` is an argon2id PHC string this console can verify; the error says what is
/// wrong without repeating the value.
pub fn check_hash(phc: &str) -> Result<(), String> {
    let h = PasswordHash::new(phc.trim()).map_err(|e| {
        format!(
            "not a PHC password hash ({e}); make one with `dsco-lingxing console hash-password`"
        )
    })?;
    if h.algorithm.as_str() != "argon2id" {
        return Err(format!(
            "must be an argon2id hash, got algorithm `{}`; make one with `dsco-lingxing console hash-password`",
            h.algorithm
        ));
    }
    if h.hash.is_none() || h.salt.is_none() {
        return Err("the hash has no salt or no hash part".into());
    }
    argon2::Params::try_from(&h).map_err(|e| format!("bad argon2 parameters: {e}"))?;
    Ok(())
}

fn verify(password: &Password, given: &str) -> bool {
    match password {
        Password::Hash(phc) => PasswordHash::new(phc.expose().trim())
            .is_ok_and(|h| argon2().verify_password(given.as_bytes(), &h).is_ok()),
        Password::Plain(p) => same_token(p.expose(), given),
    }
}

/// A hash nobody's password matches, verified for unknown names so that a wrong name costs as
/// long as a wrong password (the answer does not tell which names exist).
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&new_token()).unwrap_or_default())
}

struct Entry {
    user: String,
    role: Role,
    csrf: String,
    last_seen: DateTime<Utc>,
}

/// The login state of the process: settings, sessions, failed attempts.
pub(super) struct Auth {
    pub(super) login: Login,
    sessions: Mutex<HashMap<String, Entry>>,
    /// Failed attempts by `ip:ADDR` and `user:NAME`.
    failures: Mutex<HashMap<String, VecDeque<DateTime<Utc>>>>,
}

/// What the session cookie of a request names.
pub(super) enum Found {
    Live(Session),
    /// The cookie names a session that ended (idle timeout, logout, restart).
    Ended,
    NoCookie,
}

impl Auth {
    pub(super) fn new(login: Login) -> Auth {
        Auth {
            login,
            sessions: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn idle(&self) -> TimeDelta {
        TimeDelta::from_std(self.login.idle).unwrap_or(TimeDelta::MAX)
    }

    /// The live session `sid` names, touched (its idle time starts again).
    pub(super) fn session(&self, sid: Option<&str>) -> Found {
        let Some(sid) = sid else {
            return Found::NoCookie;
        };
        let now = self.login.clock.now();
        let idle = self.idle();
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, e| now - e.last_seen <= idle);
        match map.get_mut(sid) {
            Some(e) => {
                e.last_seen = now;
                Found::Live(Session {
                    operator: Operator {
                        name: e.user.clone(),
                        role: e.role,
                    },
                    csrf: e.csrf.clone(),
                    logged_in: true,
                })
            }
            None => Found::Ended,
        }
    }

    fn open(&self, user: &User) -> String {
        let sid = new_token();
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(
            sid.clone(),
            Entry {
                user: user.name.clone(),
                role: user.role,
                csrf: new_token(),
                last_seen: self.login.clock.now(),
            },
        );
        sid
    }

    pub(super) fn close(&self, sid: &str) {
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(sid);
    }

    /// Whether any of `keys` has used up its failed attempts.
    fn limited(&self, keys: &[String]) -> bool {
        let now = self.login.clock.now();
        let window = TimeDelta::from_std(FAILURE_WINDOW).unwrap_or(TimeDelta::MAX);
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        f.retain(|_, q| {
            while q.front().is_some_and(|t| now - *t > window) {
                q.pop_front();
            }
            !q.is_empty()
        });
        keys.iter()
            .any(|k| f.get(k).is_some_and(|q| q.len() >= MAX_FAILURES))
    }

    fn failed(&self, keys: &[String]) {
        let now = self.login.clock.now();
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        for k in keys {
            f.entry(k.clone()).or_default().push_back(now);
        }
    }

    pub(super) fn cookie(&self, sid: &str, max_age: Option<u32>) -> Option<HeaderValue> {
        let secure = if self.login.secure_cookie {
            "; Secure"
        } else {
            ""
        };
        let age = max_age
            .map(|a| format!("; Max-Age={a}"))
            .unwrap_or_default();
        HeaderValue::from_str(&format!(
            "{SESSION_COOKIE}={sid}; Path=/; HttpOnly; SameSite=Strict{secure}{age}"
        ))
        .ok()
    }
}

/// A path of this site to go back to after login (`/orders?stage=2`), else `/`.
pub(super) fn safe_next(next: Option<&str>) -> String {
    next.filter(|b| {
        b.starts_with('/')
            && !b.starts_with("//")
            && !b.contains('\\')
            && !b.starts_with("/login")
            && !b.starts_with("/logout")
    })
    .unwrap_or("/")
    .to_owned()
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    l: Layout,
    next: String,
    name: String,
    /// Why the form is shown again (wrong password, too many attempts, session ended).
    message: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct LoginQuery {
    next: Option<String>,
    ended: Option<String>,
}

fn login_page(cx: &Cx, next: String, name: String, message: Option<String>) -> Response {
    render(LoginPage {
        l: cx.layout("login", "login.title"),
        next,
        name,
        message,
    })
}

/// `GET /login`: the form (or, without login, the overview).
pub(super) async fn login_form(State(p): State<Pages>, cx: Cx, q: Query<LoginQuery>) -> Response {
    if p.auth.is_none() {
        return Redirect::to("/").into_response();
    }
    if cx.session.logged_in {
        return Redirect::to(&safe_next(q.next.as_deref())).into_response();
    }
    let message = q.ended.is_some().then(|| cx.t.t("login.ended").to_owned());
    login_page(&cx, safe_next(q.next.as_deref()), String::new(), message)
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// `POST /login`: checks the form's token (double submit, the `dl_csrf` cookie), the attempt
/// limit, then the password; opens a session and goes to `next`.
pub(super) async fn login_post(State(p): State<Pages>, req: Request) -> Response {
    let Some(auth) = p.auth.clone() else {
        return Redirect::to("/").into_response();
    };
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    let (mut parts, body) = req.into_parts();
    let cx = match Cx::from_request_parts(&mut parts, &p).await {
        Ok(cx) => cx,
        Err(never) => match never {},
    };
    let Ok(Form(f)) = Form::<LoginForm>::from_request(Request::from_parts(parts, body), &p).await
    else {
        return error_page(
            cx.layout("login", "common.error"),
            StatusCode::BAD_REQUEST,
            "common.error",
            cx.t.t("act.bad_form").to_owned(),
        );
    };
    let next = safe_next(f.next.as_deref());
    let name = f.name.trim().to_owned();
    if !same_token(&cx.session.csrf, &f.csrf) {
        return error_page(
            cx.layout("login", "common.error"),
            StatusCode::FORBIDDEN,
            "act.refused",
            cx.t.t("act.csrf").to_owned(),
        );
    }
    let keys = [format!("ip:{peer}"), format!("user:{name}")];
    if auth.limited(&keys) {
        tracing::warn!(client = %peer, user = %name, "console login refused: too many failed attempts");
        let mut res = login_page(&cx, next, name, Some(cx.t.t("login.limited").to_owned()));
        *res.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        return res;
    }
    let user = auth.login.users.iter().find(|u| u.name == name).cloned();
    let given = f.password;
    // argon2 takes tens of milliseconds of CPU: off the async threads.
    let ok = tokio::task::spawn_blocking(move || match &user {
        Some(u) => verify(&u.password, &given).then(|| u.clone()),
        None => {
            let _ = verify(&Password::Hash(Secret::new(dummy_hash())), &given);
            None
        }
    })
    .await
    .ok()
    .flatten();
    let Some(user) = ok else {
        auth.failed(&keys);
        tracing::warn!(client = %peer, user = %name, "console login failed: wrong name or password");
        let mut res = login_page(&cx, next, name, Some(cx.t.t("login.wrong").to_owned()));
        *res.status_mut() = StatusCode::UNAUTHORIZED;
        return res;
    };
    let sid = auth.open(&user);
    tracing::info!(client = %peer, user = %user.name, "console login");
    let mut res = Redirect::to(&next).into_response();
    if let Some(v) = auth.cookie(&sid, None) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

#[derive(Deserialize)]
pub(super) struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout` (viewers too): ends the session and clears its cookie.
pub(super) async fn logout(
    State(p): State<Pages>,
    headers: axum::http::HeaderMap,
    cx: Cx,
    Form(f): Form<LogoutForm>,
) -> Response {
    let Some(auth) = p.auth.clone() else {
        return Redirect::to("/").into_response();
    };
    if !cx.session.logged_in || !same_token(&cx.session.csrf, &f.csrf) {
        return error_page(
            cx.layout("", "common.error"),
            StatusCode::FORBIDDEN,
            "act.refused",
            cx.t.t("act.csrf").to_owned(),
        );
    }
    if let Some(sid) = cookie(&headers, SESSION_COOKIE) {
        auth.close(sid);
    }
    tracing::info!(user = %cx.session.operator.name, "console logout");
    let mut res = Redirect::to("/login").into_response();
    if let Some(v) = auth.cookie("", Some(0)) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        check_hash(&h).unwrap();
        let p = Password::Hash(Secret::new(h));
        assert!(verify(&p, "correct horse"));
        assert!(!verify(&p, "correct hors"));
        assert!(!format!("{p:?}").contains("argon2"));
    }

    #[test]
    fn bad_hashes_are_named() {
        assert!(check_hash("hunter2").unwrap_err().contains("hash-password"));
        let bcrypt_like = "$argon2i$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";
        assert!(check_hash(bcrypt_like).unwrap_err().contains("argon2id"));
    }

    #[test]
    fn attempts_count_per_address_and_per_name_within_the_window() {
        let clock = Clock::simulated(Utc::now());
        let mut login = Login::none();
        login.clock = clock.clone();
        let auth = Auth::new(login);
        let keys = |ip: &str, name: &str| [format!("ip:{ip}"), format!("user:{name}")];
        for i in 0..MAX_FAILURES {
            // One name guessed from ten addresses.
            let k = keys(&format!("10.0.0.{i}"), "li.lei");
            assert!(!auth.limited(&k));
            auth.failed(&k);
        }
        // An eleventh address is refused for that name, not for another name.
        assert!(auth.limited(&keys("10.0.1.1", "li.lei")));
        assert!(!auth.limited(&keys("10.0.1.1", "han.mei")));
        clock
            .sim()
            .unwrap()
            .advance(FAILURE_WINDOW + Duration::from_secs(1));
        assert!(!auth.limited(&keys("10.0.1.1", "li.lei")));
    }

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/orders?stage=2")), "/orders?stage=2");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/login?next=/")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
