//! The CSV exports: lines, and the download read from the store and sent a page at a time.

use std::future::Future;

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// Rows read per store query while an export streams.
pub(super) const CSV_PAGE: u32 = 500;

/// A CSV download named `filename`: UTF-8 with a BOM (Excel reads the Chinese right), then
/// `header`, then the rows of `page(after)` written by `lines`, one keyset page of [`CSV_PAGE`]
/// rows at a time (`cursor` of the last row is where the next page starts), so an export of any
/// size never sits in memory. A store failure mid-way cuts the download (the client sees an
/// incomplete transfer, not a short file that looks whole) and is logged.
pub(super) fn paged_csv<R, C, P, Fut>(
    filename: String,
    header: String,
    page: P,
    cursor: fn(&R) -> C,
    lines: impl Fn(&[R]) -> String + Send + Sync + 'static,
) -> Response
where
    R: Send + 'static,
    C: Send + 'static,
    P: Fn(Option<C>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<R>, store::StoreError>> + Send + 'static,
{
    struct State<C> {
        after: Option<C>,
        header: Option<String>,
        done: bool,
    }
    let start = State {
        after: None,
        header: Some(header),
        done: false,
    };
    let page = std::sync::Arc::new(page);
    let lines = std::sync::Arc::new(lines);
    let stream = futures::stream::unfold(start, move |mut st| {
        let (page, lines) = (page.clone(), lines.clone());
        async move {
            if st.done {
                return None;
            }
            let mut chunk = String::new();
            if let Some(h) = st.header.take() {
                chunk.push('\u{feff}');
                chunk.push_str(&h);
            }
            match page(st.after.take()).await {
                Ok(rows) => {
                    st.done = rows.len() < CSV_PAGE as usize;
                    st.after = rows.last().map(cursor);
                    chunk.push_str(&lines(&rows));
                    Some((Ok::<_, std::io::Error>(chunk), st))
                }
                Err(e) => {
                    tracing::warn!(error = %e, "console CSV export: store read failed");
                    st.done = true;
                    Some((Err(std::io::Error::other(e.to_string())), st))
                }
            }
        }
    });
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// One CSV field: quoted when needed, and a leading `= + - @` defused so a spreadsheet does
/// not run it as a formula.
pub(super) fn csv_field(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@']) {
        format!("'{v}")
    } else {
        v.to_owned()
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

pub(super) fn csv_line(fields: &[String]) -> String {
    let mut s = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    s.push_str("\r\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("收货人"), "收货人");
    }
}
