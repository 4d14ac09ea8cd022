//! Transport failures described without the URL (feature `http`): a query string may carry a
//! token or a signature, so an error names the far side's host and port and the cause only.

/// What a transport failure was, in words an operator can act on: the far side's host and port
/// and the cause ("cannot connect to 127.0.0.1:18080: connection refused"), never the URL (a
/// query may carry a token or a signature).
pub fn transport_text(e: &reqwest::Error) -> String {
    let at = e
        .url()
        .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
        .unwrap_or_else(|| "the server".to_owned());
    let cause = root_cause(e);
    if e.is_connect() {
        if e.is_timeout() || cause.as_deref() == Some("timed out") {
            format!("cannot connect to {at}: timed out (no answer within the connect timeout)")
        } else {
            format!(
                "cannot connect to {at}: {}",
                cause.unwrap_or_else(|| "connection failed".into())
            )
        }
    } else if e.is_timeout() {
        format!("timed out: no answer from {at} within the request timeout")
    } else {
        let mut s = e.to_string();
        if let Some(u) = e.url() {
            s = s.replace(u.as_str(), u.path());
        }
        if let Some(c) = cause {
            s = format!("{s}: {c}");
        }
        format!("{at}: {s}")
    }
}

/// The innermost cause of a transport error: an I/O error's kind in words ("connection
/// refused"), else the deepest source's text (a DNS failure).
fn root_cause(e: &reqwest::Error) -> Option<String> {
    use std::error::Error;
    let mut source = e.source();
    let mut last = None;
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            return Some(match io.kind() {
                ConnectionRefused => "connection refused".to_owned(),
                ConnectionReset => "connection reset".to_owned(),
                ConnectionAborted => "connection aborted".to_owned(),
                TimedOut => "timed out".to_owned(),
                HostUnreachable => "host unreachable".to_owned(),
                NetworkUnreachable => "network unreachable".to_owned(),
                _ => io.to_string(),
            });
        }
        last = Some(s.to_string());
        source = s.source();
    }
    last
}
