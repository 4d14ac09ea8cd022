//! [`AlertStore`]: alert state per key, the outbox of transitions, deliveries per channel.
//!
//! Every transition is a conditional write (an open only over a key not open, a resolve only over
//! an open one), and the outbox row is written in the same transaction only when the write took:
//! two replicas evaluating the same conditions at once raise each transition once. A delivery is
//! claimed by a conditional upsert on (outbox row, channel), so two senders never post it twice.

use domain::alert::{Alert, Transition};

use super::*;

fn alert_json(a: &Alert) -> String {
    serde_json::to_string(a).expect("an alert serializes")
}

fn alert_of(table: &'static str, text: &str) -> Result<Alert> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        table,
        detail: format!("alert: {e}"),
    })
}

#[async_trait]
impl AlertStore for SqlStore {
    async fn open_alerts(&self) -> Result<BTreeMap<String, Alert>> {
        const T: &str = "alerts";
        with_pool!(self, p => {
            let rows = sqlx::query("SELECT key, alert FROM alerts WHERE state = 'open'")
                .fetch_all(p)
                .await?;
            rows.iter()
                .map(|r| Ok((r.s("key")?, alert_of(T, &r.s("alert")?)?)))
                .collect()
        })
    }

    async fn apply_alerts(&self, transitions: &[Alert], now: DateTime<Utc>) -> Result<Vec<Alert>> {
        if transitions.is_empty() {
            return Ok(Vec::new());
        }
        with_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let mut applied = Vec::new();
            for a in transitions {
                let json = alert_json(a);
                let took = match a.transition {
                    Transition::Open => sqlx::query(
                        "INSERT INTO alerts (key, kind, severity, state, alert, opened_at, resolved_at, updated_at) \
                         VALUES ($1, $2, $3, 'open', $4, $5, NULL, $5) \
                         ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, severity = excluded.severity, \
                           state = 'open', alert = excluded.alert, opened_at = excluded.opened_at, \
                           resolved_at = NULL, updated_at = excluded.updated_at \
                         WHERE alerts.state <> 'open'",
                    )
                    .bind(&a.key)
                    .bind(a.kind.as_str())
                    .bind(a.severity.as_str())
                    .bind(&json)
                    .bind(ms(now))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected(),
                    Transition::Resolved => sqlx::query(
                        "UPDATE alerts SET state = 'resolved', alert = $2, resolved_at = $3, updated_at = $3 \
                         WHERE key = $1 AND state = 'open'",
                    )
                    .bind(&a.key)
                    .bind(&json)
                    .bind(ms(now))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected(),
                };
                if took == 1 {
                    sqlx::query(
                        "INSERT INTO alert_outbox (alert_key, transition, alert, created_at) VALUES ($1, $2, $3, $4)",
                    )
                    .bind(&a.key)
                    .bind(a.transition.as_str())
                    .bind(&json)
                    .bind(ms(now))
                    .execute(&mut *tx)
                    .await?;
                    applied.push(a.clone());
                }
            }
            tx.commit().await?;
            Ok(applied)
        })
    }

    async fn claim_outbox(
        &self,
        channel: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        claim: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>> {
        const T: &str = "alert_outbox";
        let until = now + clock::to_delta(claim);
        with_pool!(self, p => {
            let rows = sqlx::query(
                "SELECT o.id, o.alert, o.created_at, COALESCE(d.attempts, 0) AS attempts FROM alert_outbox o \
                 LEFT JOIN alert_deliveries d ON d.outbox_id = o.id AND d.channel = $1 \
                 WHERE o.created_at >= $2 AND (d.outbox_id IS NULL OR \
                   (d.state = 'pending' AND d.next_attempt_at <= $3 AND d.claimed_until <= $3)) \
                 ORDER BY o.id LIMIT $4",
            )
            .bind(channel)
            .bind(ms(since))
            .bind(ms(now))
            .bind(limit as i64)
            .fetch_all(p)
            .await?;
            let mut out = Vec::new();
            for r in &rows {
                let id = r.i64("id")?;
                let took = sqlx::query(
                    "INSERT INTO alert_deliveries (outbox_id, channel, state, attempts, answer, next_attempt_at, claimed_until) \
                     VALUES ($1, $2, 'pending', 0, '', $3, $4) \
                     ON CONFLICT (outbox_id, channel) DO UPDATE SET claimed_until = excluded.claimed_until \
                     WHERE alert_deliveries.state = 'pending' AND alert_deliveries.claimed_until <= $3 \
                       AND alert_deliveries.next_attempt_at <= $3",
                )
                .bind(id)
                .bind(channel)
                .bind(ms(now))
                .bind(ms(until))
                .execute(p)
                .await?
                .rows_affected();
                if took == 1 {
                    out.push(OutboxEntry {
                        id,
                        alert: alert_of(T, &r.s("alert")?)?,
                        created_at: at(T, r.i64("created_at")?)?,
                        attempts: r.i64("attempts")?,
                    });
                }
            }
            Ok(out)
        })
    }

    async fn record_delivery(
        &self,
        outbox_id: i64,
        channel: &str,
        state: DeliveryState,
        answer: &str,
        next_attempt_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let delivered = (state == DeliveryState::Delivered).then(|| ms(now));
        with_pool!(self, p => sqlx::query(
            "UPDATE alert_deliveries SET state = $3, attempts = attempts + 1, answer = $4, \
             next_attempt_at = $5, claimed_until = 0, delivered_at = $6 \
             WHERE outbox_id = $1 AND channel = $2",
        )
        .bind(outbox_id)
        .bind(channel)
        .bind(state.as_str())
        .bind(answer)
        .bind(ms(next_attempt_at))
        .bind(delivered)
        .execute(p)
        .await?
        .rows_affected());
        Ok(())
    }

    async fn alert_list(&self, limit: u32) -> Result<Vec<AlertRecord>> {
        const T: &str = "alerts";
        with_pool!(self, p => {
            let rows = sqlx::query(
                "SELECT alert, opened_at, resolved_at FROM alerts \
                 ORDER BY CASE WHEN state = 'open' THEN 0 ELSE 1 END, updated_at DESC, key LIMIT $1",
            )
            .bind(limit as i64)
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(AlertRecord {
                        alert: alert_of(T, &r.s("alert")?)?,
                        opened_at: at(T, r.i64("opened_at")?)?,
                        resolved_at: r.oi64("resolved_at")?.map(|v| at(T, v)).transpose()?,
                    })
                })
                .collect()
        })
    }

    async fn recent_deliveries(&self, limit: u32) -> Result<Vec<DeliveryRecord>> {
        const T: &str = "alert_deliveries";
        with_pool!(self, p => {
            let rows = sqlx::query(
                "SELECT d.outbox_id, o.alert_key, o.transition, d.channel, d.state, d.attempts, d.answer, \
                 o.created_at, d.delivered_at FROM alert_deliveries d JOIN alert_outbox o ON o.id = d.outbox_id \
                 ORDER BY d.outbox_id DESC, d.channel LIMIT $1",
            )
            .bind(limit as i64)
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|r| {
                    let corrupt = |what: &str, v: String| StoreError::Corrupt {
                        table: T,
                        detail: format!("{what} `{v}`"),
                    };
                    let tr = r.s("transition")?;
                    let st = r.s("state")?;
                    Ok(DeliveryRecord {
                        outbox_id: r.i64("outbox_id")?,
                        alert_key: r.s("alert_key")?,
                        transition: Transition::parse(&tr).ok_or_else(|| corrupt("transition", tr.clone()))?,
                        channel: r.s("channel")?,
                        state: DeliveryState::parse(&st).ok_or_else(|| corrupt("state", st.clone()))?,
                        attempts: r.i64("attempts")?,
                        answer: r.s("answer")?,
                        created_at: at(T, r.i64("created_at")?)?,
                        delivered_at: r.oi64("delivered_at")?.map(|v| at(T, v)).transpose()?,
                    })
                })
                .collect()
        })
    }
}
