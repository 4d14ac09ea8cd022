//! Async outcomes: the change logs read by `requestId`, scrolled to the end, turned into one
//! typed outcome per submitted item, correlated by the key the payload echoes.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::Value;

use crate::client::{Call, DscoClient, Mode};
use crate::error::DscoError;
use crate::limit::Family;
use crate::model::{ApiMessage, RequestId};

/// Which async call a request id belongs to: decides the log and the correlation key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// `/order/acknowledge` → `/order/log`, key `id`.
    Acknowledge,
    /// `/order/shipment/batch/small` → `/order/log`, key `poNumber`.
    Shipment,
    /// `/invoice/batch/small` → `/invoice/log`, key `invoiceId`.
    Invoice,
    /// `/inventory/batch/small` → `/inventory/log`, key `sku`.
    Inventory,
}

impl RequestKind {
    fn log_path(self) -> &'static str {
        match self {
            RequestKind::Acknowledge | RequestKind::Shipment => "/order/log",
            RequestKind::Invoice => "/invoice/log",
            RequestKind::Inventory => "/inventory/log",
        }
    }

    fn key_of(self, payload: &Value) -> Option<String> {
        let field = |k: &str| match payload.get(k) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        match self {
            RequestKind::Acknowledge => field("id"),
            RequestKind::Shipment => field("poNumber")
                .or_else(|| field("dscoOrderId"))
                .or_else(|| field("supplierOrderNumber")),
            RequestKind::Invoice => field("invoiceId"),
            RequestKind::Inventory => field("sku"),
        }
    }
}

/// What DSCO says about one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemState {
    Pending,
    /// Applied; `messages` carries any info/warn results (e.g. an unknown SKU skipped).
    Success {
        messages: Vec<ApiMessage>,
    },
    Failure {
        messages: Vec<ApiMessage>,
    },
}

#[derive(Debug, Clone)]
pub struct ItemOutcome {
    /// The correlation key (`id`, `poNumber`, `invoiceId` or `sku`).
    pub key: String,
    pub state: ItemState,
    /// The payload DSCO echoed.
    pub payload: Value,
}

/// The outcome of one async request.
#[derive(Debug, Clone)]
pub struct RequestOutcome {
    pub request_id: RequestId,
    /// DSCO's top-level `COMPLETED` (every item decided).
    pub completed: bool,
    /// One outcome per logged item, in log order. Empty while DSCO has logged nothing yet.
    pub items: Vec<ItemOutcome>,
}

impl RequestOutcome {
    /// The outcome for `key`; with several entries for one key (e.g. a PO in two chunks) a
    /// failure wins over pending, and pending over success.
    pub fn for_key(&self, key: &str) -> Option<&ItemState> {
        let rank = |s: &ItemState| match s {
            ItemState::Failure { .. } => 0,
            ItemState::Pending => 1,
            ItemState::Success { .. } => 2,
        };
        self.items
            .iter()
            .filter(|i| i.key == key)
            .map(|i| &i.state)
            .min_by_key(|s| rank(s))
    }
}

impl DscoClient {
    /// Reads the change log of `request_id` to its end. An expired log scroll restarts the read.
    pub async fn request_outcome(
        &self,
        kind: RequestKind,
        request_id: &RequestId,
    ) -> Result<RequestOutcome, DscoError> {
        let mut restarts = 0;
        'restart: loop {
            let mut items = Vec::new();
            let mut completed = false;
            let mut scroll: Option<String> = None;
            // Guards against a server that keeps returning the same non-empty page.
            let mut seen_pages: BTreeMap<String, usize> = BTreeMap::new();
            loop {
                let query = match &scroll {
                    Some(s) => vec![("scrollId", s.clone())],
                    None => vec![("requestId", request_id.0.clone())],
                };
                let res = self
                    .execute(Call {
                        method: Method::GET,
                        path: kind.log_path(),
                        query,
                        body: None,
                        family: Family::Unpublished,
                        mode: Mode::Read,
                    })
                    .await;
                let mut v = match res {
                    Ok(a) => a.json()?,
                    Err(DscoError::NotFound { .. }) if scroll.is_some() && restarts < 3 => {
                        restarts += 1;
                        continue 'restart;
                    }
                    Err(DscoError::NotFound { .. }) if scroll.is_none() => {
                        // Nothing logged under this id (yet).
                        return Ok(RequestOutcome {
                            request_id: request_id.clone(),
                            completed: false,
                            items,
                        });
                    }
                    Err(e) => return Err(e),
                };
                if scroll.is_none() {
                    completed = v.get("status").and_then(Value::as_str) == Some("COMPLETED");
                }
                // Taken out of the page, not copied: a page carries thousands of entries, each
                // with the item as sent.
                let logs = match v.get_mut("logs").map(Value::take) {
                    Some(Value::Array(logs)) => logs,
                    _ => Vec::new(),
                };
                if logs.is_empty() {
                    break;
                }
                for entry in logs {
                    items.push(parse_entry(kind, entry));
                }
                match v.get("scrollId").and_then(Value::as_str) {
                    Some(s) if !s.is_empty() => {
                        let n = seen_pages.entry(s.to_string()).or_default();
                        *n += 1;
                        if *n > 100_000 {
                            break;
                        }
                        scroll = Some(s.to_string());
                    }
                    _ => break,
                }
            }
            return Ok(RequestOutcome {
                request_id: request_id.clone(),
                completed,
                items,
            });
        }
    }
}

fn parse_entry(kind: RequestKind, mut entry: Value) -> ItemOutcome {
    let payload = entry
        .get_mut("payload")
        .map(Value::take)
        .unwrap_or(Value::Null);
    let messages: Vec<ApiMessage> = entry
        .get("results")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(ApiMessage::from_value).collect())
        .unwrap_or_default();
    let state = match entry.get("status").and_then(Value::as_str) {
        Some("success") => ItemState::Success { messages },
        Some("failure") => ItemState::Failure { messages },
        _ => ItemState::Pending,
    };
    ItemOutcome {
        key: kind.key_of(&payload).unwrap_or_default(),
        state,
        payload,
    }
}
