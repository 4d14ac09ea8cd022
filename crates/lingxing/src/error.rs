//! Failure classification, from the code table of §4.2 of the reference.

use std::fmt;

/// A LingXing status code as text: codes come as ints or strings, and some have leading zeros
/// (`0001001`), so text is the faithful form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Code(pub String);

impl Code {
    pub fn new(s: impl Into<String>) -> Self {
        Code(s.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn is(&self, code: &str) -> bool {
        self.0 == code
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Well-known codes.
pub mod codes {
    /// appId unknown to LingXing.
    pub const APP_ID_UNKNOWN: &str = "2001001";
    /// appSecret wrong for the appId.
    pub const APP_SECRET_WRONG: &str = "2001002";
    pub const TOKEN_MISSING_OR_EXPIRED: &str = "2001003";
    pub const TOKEN_NOT_MATCH: &str = "2001005";
    pub const SIGN_NOT_CORRECT: &str = "2001006";
    pub const SIGN_EXPIRED: &str = "2001007";
    pub const REFRESH_TOKEN_EXPIRED: &str = "2001008";
    pub const REFRESH_TOKEN_INVALID: &str = "2001009";
    pub const MISSING_PUBLIC_PARAM: &str = "3001001";
    pub const THROTTLED: &str = "3001008";
    pub const THROTTLED_BUSINESS: &str = "103";
    pub const INVALID_PARAM: &str = "102";
}

/// Every failure of the client, classified so that callers decide without reading codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LingxingError {
    /// Nothing was applied, or a read failed: trying again later is safe (timeouts of reads,
    /// 5xx on reads, connection failures, internal errors, malformed answers to reads).
    #[error("transient LingXing failure: {message}")]
    Transient { message: String },
    /// The server's limiter (3001008 or 103) refused the request and back-off ran out.
    #[error("LingXing throttled the request ({code}) and retries ran out")]
    Throttled { code: Code },
    /// The token could not be obtained or was refused again after a refresh.
    #[error("LingXing token trouble ({code}): {message}")]
    AuthExpired { code: Code, message: String },
    /// The server refused the request for a reason that will not go away by retrying.
    #[error("LingXing rejected the request ({code}): {message}")]
    Rejected { code: Code, message: String },
    /// A write whose outcome is unknown: it may or may not have been applied.
    #[error("LingXing write outcome unknown: {message}")]
    Ambiguous { message: String },
}

impl LingxingError {
    pub fn rejected(code: impl Into<String>, message: impl Into<String>) -> Self {
        LingxingError::Rejected {
            code: Code::new(code),
            message: message.into(),
        }
    }
    pub fn transient(message: impl Into<String>) -> Self {
        LingxingError::Transient {
            message: message.into(),
        }
    }
    /// Whether trying the same thing again later could succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, LingxingError::Rejected { .. })
    }
}

/// What the client does with a non-success code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodeClass {
    /// Refresh or re-issue the token, then retry once.
    Token,
    /// Re-sign with a fresh timestamp, then retry once.
    SignExpired,
    /// Back off and retry.
    Throttle,
    /// A server-side failure; the request may have been processed (for writes: ambiguous).
    Server,
    /// Permanent.
    Reject,
}

pub(crate) fn classify(code: &str) -> CodeClass {
    use codes::*;
    match code {
        TOKEN_MISSING_OR_EXPIRED
        | TOKEN_NOT_MATCH
        | REFRESH_TOKEN_EXPIRED
        | REFRESH_TOKEN_INVALID => CodeClass::Token,
        SIGN_EXPIRED => CodeClass::SignExpired,
        THROTTLED | THROTTLED_BUSINESS => CodeClass::Throttle,
        // Internal errors the SDKs retry (lingxingapi: 1 服务内部错误, 100/500, 104, 3001004).
        "1" | "100" | "104" | "500" | "3001004" => CodeClass::Server,
        _ => CodeClass::Reject,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_table() {
        assert_eq!(classify("2001003"), CodeClass::Token);
        assert_eq!(classify("2001005"), CodeClass::Token);
        assert_eq!(classify("2001008"), CodeClass::Token);
        assert_eq!(classify("2001009"), CodeClass::Token);
        assert_eq!(classify("2001007"), CodeClass::SignExpired);
        assert_eq!(classify("3001008"), CodeClass::Throttle);
        assert_eq!(classify("103"), CodeClass::Throttle);
        assert_eq!(classify("2001006"), CodeClass::Reject);
        assert_eq!(classify("3001001"), CodeClass::Reject);
        assert_eq!(classify("3001002"), CodeClass::Reject);
        assert_eq!(classify("102"), CodeClass::Reject);
        assert_eq!(classify("500"), CodeClass::Server);
    }
}
