//! Writes: ACKs, shipments, invoices, inventory. Batches are split so every body stays under
//! the limit; each chunk is its own async request with its own `requestId`.

use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use crate::client::{Answer, Call, DscoClient, Mode};
use crate::error::DscoError;
use crate::limit::Family;
use crate::model::{
    InventoryItem, Invoice, OrderAck, RequestId, ShipmentsForOrder, SyncUpdateResponse,
};

/// DSCO took an async batch (HTTP 202); the outcome per item is in the change log.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub request_id: RequestId,
    /// The immediate status (`pending`, sometimes `success`).
    pub status: Option<String>,
}

/// One chunk of a split batch: which items it carried (their correlation keys) and what
/// happened to the call.
#[derive(Debug)]
pub struct ChunkResult {
    /// Correlation keys of the items in this chunk, in order (`id`, `poNumber`, `invoiceId` or
    /// `sku`, as the change log echoes them).
    pub keys: Vec<String>,
    pub result: Result<Accepted, DscoError>,
}

/// Splits items (already serialised) into JSON arrays of at most `limit` bytes.
pub(crate) fn split_batches(items: Vec<Vec<u8>>, limit: usize) -> Vec<Result<Vec<usize>, usize>> {
    let mut out = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    let mut size = 2; // "[" and "]"
    for (i, item) in items.iter().enumerate() {
        let add = item.len() + usize::from(!cur.is_empty());
        if 2 + item.len() > limit {
            out.push(Err(i));
            continue;
        }
        if size + add > limit {
            out.push(Ok(std::mem::take(&mut cur)));
            size = 2;
        }
        size += item.len() + usize::from(!cur.is_empty());
        cur.push(i);
    }
    if !cur.is_empty() {
        out.push(Ok(cur));
    }
    out
}

fn join_array(items: &[Vec<u8>], idx: &[usize]) -> Vec<u8> {
    let mut body = Vec::with_capacity(idx.iter().map(|i| items[*i].len() + 1).sum::<usize>() + 2);
    body.push(b'[');
    for (n, i) in idx.iter().enumerate() {
        if n > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&items[*i]);
    }
    body.push(b']');
    body
}

fn accepted(ans: Answer) -> Result<Accepted, DscoError> {
    let v = ans.json()?;
    let r: SyncUpdateResponse = serde_json::from_value(v).map_err(|e| DscoError::Decode {
        status: ans.status,
        detail: e.to_string(),
    })?;
    if r.status.as_deref() == Some("failure") {
        return Err(DscoError::Rejected {
            status: ans.status,
            messages: r.messages,
        });
    }
    match r.request_id {
        Some(id) => Ok(Accepted {
            request_id: RequestId(id),
            status: r.status,
        }),
        None => Err(DscoError::Ambiguous {
            detail: format!("HTTP {} without a requestId", ans.status),
        }),
    }
}

fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, DscoError> {
    serde_json::to_vec(v).map_err(|e| DscoError::InvalidRequest(e.to_string()))
}

/// One request as a batch write would send it, built by the same code that sends it (a dry run
/// shows these). The bearer token travels in a header and is never part of it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRequest {
    pub method: &'static str,
    /// The path under the base URL, with its query string.
    pub path: String,
    /// The JSON body exactly as it would be sent.
    pub body: Value,
    /// Correlation keys of the items it carries (`id`, `poNumber`, `invoiceId` or `sku`).
    pub keys: Vec<String>,
    /// Why it would not be sent at all (an item over the body limit), if so.
    pub refused: Option<String>,
}

const ACK_PATH: &str = "/order/acknowledge";
const SHIP_PATH: &str = "/order/shipment/batch/small";
const INVOICE_PATH: &str = "/invoice/batch/small";
const INVENTORY_PATH: &str = "/inventory/batch/small";

fn inventory_query(skip_unknown: bool) -> Vec<(&'static str, String)> {
    if skip_unknown {
        vec![("skipItemsThatDontExist", "true".to_string())]
    } else {
        vec![]
    }
}

impl DscoClient {
    /// The requests [`Self::batch`] would send for `items`, split the same way.
    fn plan_batch<T: Serialize>(
        &self,
        path: &str,
        query: &[(&str, String)],
        items: &[T],
        key: impl Fn(&T) -> String,
    ) -> Result<Vec<PlannedRequest>, DscoError> {
        let bodies = items.iter().map(to_json).collect::<Result<Vec<_>, _>>()?;
        let limit = self.inner.config.max_batch_body_bytes;
        let full_path = if query.is_empty() {
            path.to_owned()
        } else {
            let q: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{path}?{}", q.join("&"))
        };
        let mut out = Vec::new();
        for chunk in split_batches(bodies.clone(), limit) {
            out.push(match chunk {
                Err(i) => PlannedRequest {
                    method: "POST",
                    path: full_path.clone(),
                    body: serde_json::from_slice(&bodies[i]).unwrap_or(Value::Null),
                    keys: vec![key(&items[i])],
                    refused: Some(format!(
                        "one item is {} bytes, over the {limit}-byte body limit",
                        bodies[i].len()
                    )),
                },
                Ok(idx) => PlannedRequest {
                    method: "POST",
                    path: full_path.clone(),
                    body: serde_json::from_slice(&join_array(&bodies, &idx))
                        .map_err(|e| DscoError::InvalidRequest(e.to_string()))?,
                    keys: idx.iter().map(|i| key(&items[*i])).collect(),
                    refused: None,
                },
            });
        }
        Ok(out)
    }

    /// What [`Self::acknowledge`] would send, without sending it.
    pub fn plan_acknowledge(&self, acks: &[OrderAck]) -> Result<Vec<PlannedRequest>, DscoError> {
        self.plan_batch(ACK_PATH, &[], acks, |a| a.id.clone())
    }

    /// What [`Self::ship_batch`] would send, without sending it.
    pub fn plan_ship_batch(
        &self,
        orders: &[ShipmentsForOrder],
    ) -> Result<Vec<PlannedRequest>, DscoError> {
        self.plan_batch(SHIP_PATH, &[], orders, shipment_key)
    }

    /// What [`Self::invoice_batch`] would send, without sending it.
    pub fn plan_invoice_batch(
        &self,
        invoices: &[Invoice],
    ) -> Result<Vec<PlannedRequest>, DscoError> {
        self.plan_batch(INVOICE_PATH, &[], invoices, |i| i.invoice_id.clone())
    }

    /// What [`Self::inventory_batch`] would send, without sending it.
    pub fn plan_inventory_batch(
        &self,
        items: &[InventoryItem],
        skip_unknown: bool,
    ) -> Result<Vec<PlannedRequest>, DscoError> {
        self.plan_batch(INVENTORY_PATH, &inventory_query(skip_unknown), items, |i| {
            i.sku.clone()
        })
    }

    async fn batch<T: Serialize>(
        &self,
        path: &str,
        query: Vec<(&str, String)>,
        family: Family,
        items: &[T],
        key: impl Fn(&T) -> String,
    ) -> Result<Vec<ChunkResult>, DscoError> {
        let bodies = items.iter().map(to_json).collect::<Result<Vec<_>, _>>()?;
        let limit = self.inner.config.max_batch_body_bytes;
        let mut results = Vec::new();
        for chunk in split_batches(bodies.clone(), limit) {
            match chunk {
                Err(i) => results.push(ChunkResult {
                    keys: vec![key(&items[i])],
                    result: Err(DscoError::InvalidRequest(format!(
                        "one item is {} bytes, over the {limit}-byte body limit",
                        bodies[i].len()
                    ))),
                }),
                Ok(idx) => {
                    let body = join_array(&bodies, &idx);
                    let res = self
                        .execute(Call {
                            method: Method::POST,
                            path,
                            query: query.clone(),
                            body: Some(body),
                            family,
                            mode: Mode::Write,
                        })
                        .await
                        .and_then(accepted);
                    results.push(ChunkResult {
                        keys: idx.iter().map(|i| key(&items[*i])).collect(),
                        result: res,
                    });
                }
            }
        }
        Ok(results)
    }

    /// `POST /order/acknowledge` (async; outcome in the order log, keyed by `id`).
    pub async fn acknowledge(&self, acks: &[OrderAck]) -> Result<Vec<ChunkResult>, DscoError> {
        self.batch(ACK_PATH, vec![], Family::Acknowledge, acks, |a| {
            a.id.clone()
        })
        .await
    }

    /// `POST /order/shipment/batch/small` (async; order log, keyed by `poNumber`).
    pub async fn ship_batch(
        &self,
        orders: &[ShipmentsForOrder],
    ) -> Result<Vec<ChunkResult>, DscoError> {
        self.batch(SHIP_PATH, vec![], Family::Unpublished, orders, shipment_key)
            .await
    }

    /// `POST /order/singleShipment` (sync: `Ok` means DSCO recorded it).
    pub async fn ship_single(&self, order: &ShipmentsForOrder) -> Result<(), DscoError> {
        self.single("/order/singleShipment", Family::SingleShipment, order)
            .await
    }

    /// `POST /invoice/batch/small` (async; invoice log, keyed by `invoiceId`).
    pub async fn invoice_batch(&self, invoices: &[Invoice]) -> Result<Vec<ChunkResult>, DscoError> {
        self.batch(INVOICE_PATH, vec![], Family::Unpublished, invoices, |i| {
            i.invoice_id.clone()
        })
        .await
    }

    /// `POST /invoice` (sync).
    pub async fn invoice_single(&self, invoice: &Invoice) -> Result<(), DscoError> {
        self.single("/invoice", Family::Invoice, invoice).await
    }

    /// `GET /invoice?key=invoiceId&value=…`: the invoices DSCO holds under that id (empty when
    /// none), as raw JSON. The existence check before re-sending an invoice.
    pub async fn find_invoices(&self, invoice_id: &str) -> Result<Vec<Value>, DscoError> {
        let res = self
            .execute(Call {
                method: Method::GET,
                path: "/invoice",
                query: vec![("key", "invoiceId".into()), ("value", invoice_id.into())],
                body: None,
                family: Family::Invoice,
                mode: Mode::Read,
            })
            .await;
        match res {
            Ok(a) => Ok(match a.json()?.get("invoices") {
                Some(Value::Array(v)) => v.clone(),
                _ => Vec::new(),
            }),
            Err(DscoError::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// `POST /inventory/batch/small[?skipItemsThatDontExist=true]` (async; inventory log, keyed
    /// by `sku`). With `skip_unknown`, DSCO ignores SKUs it does not know instead of creating
    /// them.
    pub async fn inventory_batch(
        &self,
        items: &[InventoryItem],
        skip_unknown: bool,
    ) -> Result<Vec<ChunkResult>, DscoError> {
        self.batch(
            INVENTORY_PATH,
            inventory_query(skip_unknown),
            Family::Unpublished,
            items,
            |i| i.sku.clone(),
        )
        .await
    }

    async fn single<T: Serialize>(
        &self,
        path: &str,
        family: Family,
        body: &T,
    ) -> Result<(), DscoError> {
        let body = to_json(body)?;
        let ans = self
            .execute(Call {
                method: Method::POST,
                path,
                query: vec![],
                body: Some(body),
                family,
                mode: Mode::Write,
            })
            .await?;
        // `{"success": false}` or a failure status in a 2xx is still a refusal.
        let v = ans.json().unwrap_or(Value::Null);
        let failed = v.get("success").and_then(Value::as_bool) == Some(false)
            || v.get("status").and_then(Value::as_str) == Some("failure");
        if failed {
            let messages = v
                .get("messages")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(crate::model::ApiMessage::from_value).collect())
                .unwrap_or_default();
            return Err(DscoError::Rejected {
                status: ans.status,
                messages,
            });
        }
        Ok(())
    }
}

fn shipment_key(s: &ShipmentsForOrder) -> String {
    s.po_number
        .clone()
        .or_else(|| s.dsco_order_id.clone())
        .or_else(|| s.supplier_order_number.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_every_body_under_the_limit() {
        let items: Vec<Vec<u8>> = (0..10).map(|i| vec![b'1'; 10 + i]).collect();
        let chunks = split_batches(items.clone(), 40);
        let mut seen = Vec::new();
        for c in &chunks {
            let idx = c.as_ref().unwrap();
            assert!(join_array(&items, idx).len() <= 40);
            seen.extend(idx.iter().copied());
        }
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        let big = split_batches(vec![vec![b'1'; 50], vec![b'2'; 5]], 40);
        assert_eq!(big, vec![Err(0), Ok(vec![1])]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64)
        ))]
        #[test]
        fn split_covers_every_item_once_under_the_limit(
            sizes in proptest::collection::vec(1usize..300, 0..60),
            limit in 3usize..1000,
        ) {
            let items: Vec<Vec<u8>> = sizes.iter().map(|n| vec![b'x'; *n]).collect();
            let mut seen = Vec::new();
            for c in split_batches(items.clone(), limit) {
                match c {
                    Ok(idx) => {
                        proptest::prop_assert!(!idx.is_empty());
                        proptest::prop_assert!(join_array(&items, &idx).len() <= limit);
                        seen.extend(idx);
                    }
                    Err(i) => {
                        proptest::prop_assert!(items[i].len() + 2 > limit);
                        seen.push(i);
                    }
                }
            }
            // Chunks keep item order; an oversized item is reported as soon as it is met.
            seen.sort_unstable();
            proptest::prop_assert_eq!(seen, (0..items.len()).collect::<Vec<_>>());
        }
    }
}
