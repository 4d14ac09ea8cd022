//! Action 8, the global write switch: `POST /writes` stops or resumes every write to DSCO and
//! LingXing through `engine::ops::set_writes`, the function `dsco-lingxing writes off|on`
//! calls, so both save the same runtime-config version and the same audit entry.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use engine::ops::{WritesError, set_writes as switch};
use serde::Deserialize;

use super::layout::{error_page, store_error};
use super::login::safe_next;
use super::session::Act;

#[derive(Deserialize)]
pub(super) struct WritesForm {
    /// `on` or `off`.
    writes: String,
    #[serde(default)]
    reason: String,
    /// The page the form was on.
    back: Option<String>,
}

/// `POST /writes`: `writes=off|on`, `reason` (required); back to the page the form was on,
/// where the banner shows (or no longer shows) the switch.
pub(super) async fn set_writes(act: Act<WritesForm>) -> Response {
    let Act { cx, op, form } = act;
    let enabled = match form.writes.as_str() {
        "on" => true,
        "off" => false,
        _ => {
            return error_page(
                cx.layout("", "common.error"),
                StatusCode::BAD_REQUEST,
                "common.error",
                format!("{}: writes", cx.t.t("act.bad_form")),
            );
        }
    };
    match switch(&*cx.store, enabled, &op.name, &form.reason, cx.now).await {
        Ok(_) => {
            let back = safe_next(form.back.as_deref());
            let back = if back.starts_with("/writes") {
                "/".to_owned()
            } else {
                back
            };
            Redirect::to(&back).into_response()
        }
        Err(WritesError::NoReason) => error_page(
            cx.layout("", "common.error"),
            StatusCode::BAD_REQUEST,
            "act.refused",
            cx.t.t("act.no_reason").to_owned(),
        ),
        Err(WritesError::Store(e)) => store_error(cx.layout("", "common.error"), e),
    }
}
