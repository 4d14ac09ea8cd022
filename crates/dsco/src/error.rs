//! Failure classification. Every failure of a call is one of these, so the engine can decide
//! between "retry later", "record a rejection" and "find out whether it happened".

use std::time::Duration;

use crate::model::ApiMessage;

#[derive(Debug, thiserror::Error)]
pub enum DscoError {
    /// A failure that did not change anything at DSCO (connection refused, 5xx on a read, …);
    /// retrying later is safe.
    #[error("DSCO temporarily unavailable{}: {detail}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Transient { status: Option<u16>, detail: String },
    /// DSCO answered 429 (or the client's own limiter gave up waiting) after the retries.
    #[error("DSCO throttled the request (HTTP 429)")]
    Throttled { retry_after: Option<Duration> },
    /// The credentials were refused, or a fresh token was refused again.
    #[error("DSCO authentication failed: {detail}")]
    AuthExpired { detail: String },
    /// DSCO refused the request with its validation messages; do not retry unchanged.
    #[error(
        "DSCO rejected the request (HTTP {status}): {}",
        join_messages(messages)
    )]
    Rejected {
        status: u16,
        messages: Vec<ApiMessage>,
    },
    /// A write whose outcome is unknown (timeout, 500/502/504 after sending): it may have been
    /// applied. Find out (change log, read-back) before sending it again.
    #[error("outcome of the DSCO write is unknown: {detail}")]
    Ambiguous { detail: String },
    /// 403: DSCO's gateway answers wrong paths and malformed credentials this way.
    #[error("DSCO refused access (HTTP 403): {hint}")]
    Forbidden { hint: String },
    /// 404 with DSCO's messages (unknown order, expired scroll).
    #[error("not found at DSCO: {}", join_messages(messages))]
    NotFound { messages: Vec<ApiMessage> },
    /// The request was not sent because it is invalid as built (e.g. `until` too recent, one
    /// batch item larger than the body limit).
    #[error("invalid DSCO request: {0}")]
    InvalidRequest(String),
    /// DSCO answered with a body this client cannot read.
    #[error("unreadable DSCO response (HTTP {status}): {detail}")]
    Decode { status: u16, detail: String },
}

impl DscoError {
    /// Whether trying the same call again later is safe and may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            DscoError::Transient { .. } | DscoError::Throttled { .. }
        )
    }
}

pub(crate) const FORBIDDEN_HINT: &str = "DSCO answers 403 for a wrong path or a malformed \
Authorization header: check the base URL (it must end in /api/v3) and the credentials";

fn join_messages(messages: &[ApiMessage]) -> String {
    if messages.is_empty() {
        return "no messages".into();
    }
    messages
        .iter()
        .map(|m| match &m.code {
            Some(c) => format!("[{c}] {}", m.description),
            None => m.description.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}
