//! Client-side rate limits per endpoint family, on the shared `Clock` (not governor's own
//! clock) so that a simulated clock governs waiting in tests and benchmarks.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use clock::Clock;
use tokio::sync::Mutex;

/// Endpoint families with their published limits (§10 of the reference).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Family {
    /// `GET /order/page`, `GET /order/`: 10/s, 500/min.
    OrderRead,
    /// `POST /order/acknowledge`: 15/s, 1000/min.
    Acknowledge,
    /// `POST /order/singleShipment`: 15/s, 300/min.
    SingleShipment,
    /// `POST /invoice`, `GET /invoice`: 15/s, 1000/min.
    Invoice,
    /// Small batches, change logs and the token endpoint have no published rate; 5/s and 250/min
    /// keep well clear of any plausible one.
    Unpublished,
}

impl Family {
    fn limits(self) -> (usize, usize) {
        match self {
            Family::OrderRead => (10, 500),
            Family::Acknowledge => (15, 1000),
            Family::SingleShipment => (15, 300),
            Family::Invoice => (15, 1000),
            Family::Unpublished => (5, 250),
        }
    }
}

#[derive(Clone)]
pub(crate) struct Limiter {
    enabled: bool,
    clock: Clock,
    windows: Arc<Mutex<HashMap<Family, VecDeque<DateTime<Utc>>>>>,
}

impl Limiter {
    pub(crate) fn new(clock: Clock, enabled: bool) -> Self {
        Limiter {
            enabled,
            clock,
            windows: Arc::default(),
        }
    }

    /// Waits until one more call of `family` stays within both windows, then records it.
    pub(crate) async fn acquire(&self, family: Family) {
        if !self.enabled {
            return;
        }
        let (per_sec, per_min) = family.limits();
        loop {
            let wait_until = {
                let mut all = self.windows.lock().await;
                let q = all.entry(family).or_default();
                let now = self.clock.now();
                while q.front().is_some_and(|t| *t <= now - TimeDelta::minutes(1)) {
                    q.pop_front();
                }
                let in_last_sec = q
                    .iter()
                    .rev()
                    .take_while(|t| **t > now - TimeDelta::seconds(1))
                    .count();
                if q.len() >= per_min {
                    Some(q[q.len() - per_min] + TimeDelta::minutes(1))
                } else if in_last_sec >= per_sec {
                    Some(q[q.len() - per_sec] + TimeDelta::seconds(1))
                } else {
                    q.push_back(now);
                    None
                }
            };
            match wait_until {
                None => return,
                Some(t) => self.clock.sleep_until(t).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn eleventh_order_read_in_a_second_waits() {
        let start = Utc::now();
        let clock = Clock::simulated(start);
        let lim = Limiter::new(clock.clone(), true);
        for _ in 0..10 {
            lim.acquire(Family::OrderRead).await;
        }
        let l2 = lim.clone();
        let h = tokio::spawn(async move { l2.acquire(Family::OrderRead).await });
        clock.sim().unwrap().wait_for_sleepers(1).await;
        assert!(!h.is_finished());
        clock
            .sim()
            .unwrap()
            .advance(std::time::Duration::from_secs(1));
        h.await.unwrap();
    }
}
