//! The page frame (labels, active tab, language switch), rendering and error pages.

use std::convert::Infallible;
use std::sync::Arc;

use askama::Template;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use store::Store;

use super::Pages;
use super::fmt::query_string;
use super::session::{Operator, Session, cookie};
use crate::i18n::{Lang, Tr, lang_code, parse_lang};

const LANG_COOKIE: &str = "lang";

/// What every page's frame needs: the labels, the active tab, the language switch.
pub(super) struct Layout {
    pub(super) t: Tr,
    pub(super) nav: &'static str,
    pub(super) title: String,
    pub(super) tz: String,
    pub(super) switch_href: String,
    /// The token every form carries (`<input type="hidden" name="csrf" value="{{ l.csrf }}">`).
    pub(super) csrf: String,
    /// Whether the operator may act (admins): viewers see no buttons.
    pub(super) can_act: bool,
    /// The logged-in operator's name (none without login).
    pub(super) user: Option<String>,
    /// Nobody logged in yet where login is required (the login page): no navigation.
    pub(super) anonymous: bool,
    /// The global write switch is off: every page shows the banner (with the resume form for
    /// admins).
    pub(super) writes_off: bool,
    /// The page's own address (where a form in the frame comes back to).
    pub(super) here: String,
}

/// What every page handler starts from: the store, the display zone, the time of the request,
/// the chosen language (the `lang` cookie, else `console.language`) and the page's own address
/// (where the language switch comes back to).
pub(super) struct Cx {
    pub(super) store: Arc<dyn Store>,
    pub(super) tz: Tz,
    pub(super) now: DateTime<Utc>,
    pub(super) t: Tr,
    /// Who is looking (`local` without login) and the token of their forms.
    pub(super) session: Session,
    /// `runtime_config.writes_enabled` as the store has it now.
    pub(super) writes_enabled: bool,
    back: String,
}

impl FromRequestParts<Pages> for Cx {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, p: &Pages) -> Result<Self, Infallible> {
        let lang = cookie(&parts.headers, LANG_COOKIE)
            .and_then(parse_lang)
            .unwrap_or(p.cfg.language);
        let session = parts
            .extensions
            .get::<Session>()
            .cloned()
            .unwrap_or_else(|| Session {
                operator: Operator::local(),
                csrf: String::new(),
                logged_in: false,
            });
        // Read for the frame's banner; a store that cannot answer shows no banner (the page
        // itself reports the store error).
        let writes_enabled = match p.store.runtime_config().await {
            Ok(c) => c.is_none_or(|c| c.config.writes_enabled()),
            Err(_) => true,
        };
        Ok(Cx {
            writes_enabled,
            store: p.store.clone(),
            tz: p.cfg.timezone,
            now: Utc::now(),
            t: Tr::new(lang),
            session,
            back: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/")
                .to_owned(),
        })
    }
}

impl Cx {
    pub(super) fn lang(&self) -> Lang {
        self.t.lang
    }

    /// The frame of a page under the tab `nav`, titled by the catalogue key `title`.
    pub(super) fn layout(&self, nav: &'static str, title: &str) -> Layout {
        let t = self.t;
        let other = match t.lang {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        };
        Layout {
            t,
            nav,
            title: t.t(title).to_owned(),
            tz: self.tz.name().to_owned(),
            switch_href: format!(
                "/lang?{}",
                query_string(&[("to", lang_code(other)), ("back", &self.back)])
            ),
            csrf: self.session.csrf.clone(),
            can_act: self.session.operator.can_act(),
            user: self
                .session
                .logged_in
                .then(|| self.session.operator.name.clone()),
            anonymous: self.session.operator.name.is_empty(),
            writes_off: !self.writes_enabled,
            here: self.back.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    l: Layout,
    message: String,
}

pub(super) fn render(t: impl Template) -> Response {
    match t.render() {
        Ok(html) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot render the page: {e}"),
        )
            .into_response(),
    }
}

pub(super) fn error_page(
    mut l: Layout,
    status: StatusCode,
    title_key: &str,
    message: String,
) -> Response {
    l.title = l.t.t(title_key).to_owned();
    let mut res = render(ErrorPage { l, message });
    *res.status_mut() = status;
    res
}

pub(super) fn store_error(l: Layout, e: store::StoreError) -> Response {
    tracing::warn!(error = %e, "console page: store read failed");
    error_page(
        l,
        StatusCode::SERVICE_UNAVAILABLE,
        "common.error",
        e.to_string(),
    )
}

#[derive(Deserialize)]
pub(super) struct LangQuery {
    to: Option<String>,
    back: Option<String>,
}

/// Remembers the language in a cookie and goes back to the page the switch was on (a path of
/// this site only).
pub(super) async fn switch_lang(State(p): State<Pages>, Query(q): Query<LangQuery>) -> Response {
    let lang =
        q.to.as_deref()
            .and_then(parse_lang)
            .unwrap_or(p.cfg.language);
    let back = q
        .back
        .filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'))
        .unwrap_or_else(|| "/".into());
    let mut res = Redirect::to(&back).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang_code(lang)
    )) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}
