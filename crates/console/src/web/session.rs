//! Who acts: the operator behind a request, their role, and the CSRF token every form of their
//! session carries.
//!
//! The session layer ([`session_layer`]) runs before every page and action and puts a
//! [`Session`] into the request's extensions; [`super::layout::Cx`] reads it for the page frame
//! (user name, whether buttons are shown, the token of the forms) and [`Act`] checks it on every
//! POST: a form without the session's token is refused (403), and so is a viewer's.
//!
//! Without login (loopback, no `[[console.users]]`) the operator is `local`, an admin, and the
//! token lives in a `SameSite=Strict` cookie (double submit): another site can neither read it
//! nor make the browser send it. With login (`super::login`) the operator is the user of the
//! session cookie's server-side session, and the token is that session's own.

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::Pages;
use super::fmt::query_string;
use super::layout::{Cx, error_page};
use super::login::{Found, SESSION_COOKIE};

/// The cookie that holds the CSRF token when nobody logs in.
pub(super) const CSRF_COOKIE: &str = "dl_csrf";

/// What an operator may do: admins act, viewers read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Viewer,
}

/// The person (or `local`) behind a request, as the audit log names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub name: String,
    pub role: Role,
}

impl Operator {
    /// On loopback without login: an admin the audit log names `local`.
    pub fn local() -> Operator {
        Operator {
            name: "local".into(),
            role: Role::Admin,
        }
    }

    pub fn can_act(&self) -> bool {
        self.role == Role::Admin
    }
}

/// Put into every request's extensions by the session layer.
#[derive(Debug, Clone)]
pub(super) struct Session {
    pub(super) operator: Operator,
    /// The token every form of this session carries (`<input name="csrf">`).
    pub(super) csrf: String,
    /// Whether the operator logged in (the frame shows their name and a logout button).
    pub(super) logged_in: bool,
}

/// A new random token (32 bytes, hex).
pub(super) fn new_token() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The value of cookie `name` in the request, if any.
pub(super) fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Tokens are compared in time independent of where they differ.
pub(super) fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The paths served without a session when login is required: the login form, the
/// stylesheet, the language switch.
fn public_path(path: &str) -> bool {
    matches!(path, "/login" | "/assets/console.css" | "/lang")
}

/// Who looks at a public page before logging in: nobody, acting on nothing.
fn anonymous(csrf: String) -> Session {
    Session {
        operator: Operator {
            name: String::new(),
            role: Role::Viewer,
        },
        csrf,
        logged_in: false,
    }
}

/// The session of every request. Without login: `local` with the token of the `dl_csrf`
/// cookie (set when missing). With login: the user of the `dl_session` cookie's live session
/// and its own token; without one, a page redirects to `/login?next=…` and a POST is refused
/// (403), except the public paths (the login form, which carries the `dl_csrf` token).
pub(super) async fn session_layer(
    State(p): State<Pages>,
    mut req: Request,
    next: Next,
) -> Response {
    let existing = cookie(req.headers(), CSRF_COOKIE)
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned);
    let fresh = existing.is_none();
    let csrf = existing.unwrap_or_else(new_token);
    let session = match &p.auth {
        None => Session {
            operator: Operator::local(),
            csrf: csrf.clone(),
            logged_in: false,
        },
        Some(auth) => match auth.session(cookie(req.headers(), SESSION_COOKIE)) {
            Found::Live(s) => s,
            _ if public_path(req.uri().path()) => anonymous(csrf.clone()),
            found => {
                let ended = matches!(found, Found::Ended);
                let mut res = refuse_anonymous(&p, req, ended).await;
                if ended && let Some(v) = auth.cookie("", Some(0)) {
                    res.headers_mut().append(header::SET_COOKIE, v);
                }
                return res;
            }
        },
    };
    req.extensions_mut().insert(session);
    let mut res = next.run(req).await;
    if fresh
        && let Ok(v) = HeaderValue::from_str(&format!(
            "{CSRF_COOKIE}={csrf}; Path=/; HttpOnly; SameSite=Strict"
        ))
    {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// A request without a live session: a page goes to the login form (and back after it), a
/// POST is refused and does nothing.
async fn refuse_anonymous(p: &Pages, req: Request, ended: bool) -> Response {
    let (mut parts, _) = req.into_parts();
    if parts.method == Method::GET || parts.method == Method::HEAD {
        let back = parts
            .uri
            .path_and_query()
            .map(|q| q.as_str())
            .unwrap_or("/");
        let mut q = vec![("next", back)];
        if ended {
            q.push(("ended", "1"));
        }
        return Redirect::to(&format!("/login?{}", query_string(&q))).into_response();
    }
    parts.extensions.insert(anonymous(String::new()));
    let cx = match Cx::from_request_parts(&mut parts, p).await {
        Ok(cx) => cx,
        Err(never) => match never {},
    };
    error_page(
        cx.layout("", "common.error"),
        StatusCode::FORBIDDEN,
        "act.refused",
        cx.t.t("login.required").to_owned(),
    )
}

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// A POSTed form of an admin's session: `cx` for the answer page, `op` for the audit log,
/// `form` the fields. Refused with 403 (and nothing done) when the form lacks the session's
/// token or the operator is a viewer; 400 naming the problem when a field does not parse.
pub(super) struct Act<T> {
    pub(super) cx: Cx,
    pub(super) op: Operator,
    pub(super) form: T,
}

impl<T: DeserializeOwned> FromRequest<Pages> for Act<T> {
    type Rejection = Response;

    async fn from_request(req: Request, p: &Pages) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let cx = match Cx::from_request_parts(&mut parts, p).await {
            Ok(cx) => cx,
            Err(never) => match never {},
        };
        let session = parts.extensions.get::<Session>().cloned();
        let bytes = match axum::body::to_bytes(body, 1 << 20).await {
            Ok(b) => b,
            Err(_) => {
                let l = cx.layout("", "common.error");
                return Err(error_page(
                    l,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "common.error",
                    cx.t.t("act.too_large").to_owned(),
                ));
            }
        };
        let given = serde_urlencoded::from_bytes::<CsrfOnly>(&bytes)
            .map(|c| c.csrf)
            .unwrap_or_default();
        let Some(session) = session.filter(|s| same_token(&s.csrf, &given)) else {
            let l = cx.layout("", "common.error");
            return Err(error_page(
                l,
                StatusCode::FORBIDDEN,
                "act.refused",
                cx.t.t("act.csrf").to_owned(),
            ));
        };
        if !session.operator.can_act() {
            let l = cx.layout("", "common.error");
            return Err(error_page(
                l,
                StatusCode::FORBIDDEN,
                "act.refused",
                cx.t.t("act.viewer").to_owned(),
            ));
        }
        match serde_urlencoded::from_bytes::<T>(&bytes) {
            Ok(form) => Ok(Act {
                cx,
                op: session.operator,
                form,
            }),
            Err(e) => {
                let l = cx.layout("", "common.error");
                Err(error_page(
                    l,
                    StatusCode::BAD_REQUEST,
                    "common.error",
                    format!("{}: {e}", cx.t.t("act.bad_form")),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_by_content() {
        let t = new_token();
        assert_eq!(t.len(), 64);
        assert!(same_token(&t, &t.clone()));
        assert!(!same_token(&t, &new_token()));
        assert!(!same_token(&t, ""));
    }
}
