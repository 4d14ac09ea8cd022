//! Time for every part of dsco-lingxing: the engine, the clients and the simulators.
//!
//! # Layout
//! - [`Clock`]: a cheap, cloneable handle with [`Clock::now`], [`Clock::sleep_until`],
//!   [`Clock::sleep`] and [`Clock::timeout`]. Everything that schedules, leases, backs off or
//!   stamps a record takes its time from a `Clock`, never from `Utc::now()` directly.
//! - [`SimClock`]: the simulated clock behind [`Clock::simulated`]. Its time moves only when a
//!   test or benchmark calls [`SimClock::advance`] / [`SimClock::advance_to`]; sleepers wake in
//!   deadline order. [`SimClock::wait_for_sleepers`] lets a driver wait until a known number of
//!   tasks are parked on the clock (that is, idle) before it moves time on, so simulated hours
//!   pass in seconds without sleeping for real.
//!
//! All times are UTC (`DateTime<Utc>`).

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::{oneshot, watch};

/// A source of time. Clone it freely: clones share the same underlying clock.
#[derive(Clone)]
pub struct Clock(Kind);

#[derive(Clone)]
enum Kind {
    Real,
    Sim(Arc<SimClock>),
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Real => f.write_str("Clock::Real"),
            Kind::Sim(s) => write!(f, "Clock::Sim({})", s.now()),
        }
    }
}

/// A far side's clock read during one call: this side's clock just before and just after it,
/// and the time the server said (`None` when its answer did not say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerTime {
    pub before: DateTime<Utc>,
    pub server: Option<DateTime<Utc>>,
    pub after: DateTime<Utc>,
}

impl ServerTime {
    /// How far the server's time lies outside the call's interval (positive: this machine is
    /// behind the server; zero inside the interval); `None` without a server time.
    pub fn offset(&self) -> Option<TimeDelta> {
        let server = self.server?;
        Some(if server > self.after {
            server - self.after
        } else if server < self.before {
            server - self.before
        } else {
            TimeDelta::zero()
        })
    }
}

/// The error of [`Clock::timeout`]: the deadline passed before the future finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline elapsed")
    }
}
impl std::error::Error for Elapsed {}

impl Clock {
    /// The wall clock.
    pub fn real() -> Self {
        Clock(Kind::Real)
    }

    /// A simulated clock starting at `start`; it moves only through [`SimClock`].
    pub fn simulated(start: DateTime<Utc>) -> Self {
        Clock(Kind::Sim(Arc::new(SimClock::new(start))))
    }

    /// The simulated clock's controls, or `None` for the real clock.
    pub fn sim(&self) -> Option<&SimClock> {
        match &self.0 {
            Kind::Real => None,
            Kind::Sim(s) => Some(s),
        }
    }

    pub fn is_simulated(&self) -> bool {
        matches!(self.0, Kind::Sim(_))
    }

    /// The current time, UTC.
    pub fn now(&self) -> DateTime<Utc> {
        match &self.0 {
            Kind::Real => Utc::now(),
            Kind::Sim(s) => s.now(),
        }
    }

    /// Completes once `now() >= deadline`. Cancel-safe: dropping the future unregisters it.
    pub async fn sleep_until(&self, deadline: DateTime<Utc>) {
        match &self.0 {
            Kind::Real => {
                let wait = (deadline - Utc::now()).to_std().unwrap_or(Duration::ZERO);
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
            }
            Kind::Sim(s) => s.sleep_until(deadline).await,
        }
    }

    /// Completes after `d` has passed on this clock.
    pub async fn sleep(&self, d: Duration) {
        let deadline = self.now() + to_delta(d);
        self.sleep_until(deadline).await
    }

    /// Runs `fut` until it completes or `d` passes on this clock, whichever is first.
    pub async fn timeout<F: Future>(&self, d: Duration, fut: F) -> Result<F::Output, Elapsed> {
        tokio::select! {
            biased;
            out = fut => Ok(out),
            _ = self.sleep(d) => Err(Elapsed),
        }
    }
}

/// Converts a std duration to a chrono delta, saturating at chrono's range.
pub fn to_delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// A clock whose time is moved only by whoever drives it (a test or a benchmark).
pub struct SimClock {
    state: Mutex<SimState>,
    sleepers_tx: watch::Sender<usize>,
}

struct SimState {
    now: DateTime<Utc>,
    seq: u64,
    sleepers: BTreeMap<(DateTime<Utc>, u64), oneshot::Sender<()>>,
}

impl SimClock {
    fn new(start: DateTime<Utc>) -> Self {
        SimClock {
            state: Mutex::new(SimState {
                now: start,
                seq: 0,
                sleepers: BTreeMap::new(),
            }),
            sleepers_tx: watch::channel(0).0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SimState> {
        // A panic while holding this lock cannot leave the state half-written (every critical
        // section is a few map operations), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.lock().now
    }

    /// How many tasks are parked in `sleep_until` right now.
    pub fn sleepers(&self) -> usize {
        self.lock().sleepers.len()
    }

    /// The earliest deadline any parked task waits for.
    pub fn next_deadline(&self) -> Option<DateTime<Utc>> {
        self.lock().sleepers.keys().next().map(|(t, _)| *t)
    }

    /// Moves time forward by `d`, waking every sleeper whose deadline is reached.
    pub fn advance(&self, d: Duration) {
        let target = self.now() + to_delta(d);
        self.advance_to(target);
    }

    /// Moves time to `target` (never backwards), waking every sleeper whose deadline is reached.
    pub fn advance_to(&self, target: DateTime<Utc>) {
        let woken = {
            let mut st = self.lock();
            if target > st.now {
                st.now = target;
            }
            let now = st.now;
            let later = st.sleepers.split_off(&(now, u64::MAX));
            std::mem::replace(&mut st.sleepers, later)
        };
        for (_, tx) in woken {
            let _ = tx.send(());
        }
        self.publish();
    }

    /// Waits (for real) until at least `n` tasks are parked on this clock.
    pub async fn wait_for_sleepers(&self, n: usize) {
        let mut rx = self.sleepers_tx.subscribe();
        let _ = rx.wait_for(|count| *count >= n).await;
    }

    /// Drives the clock to `target` in steps of at most `step`, and after each step yields until
    /// `parked` tasks are asleep again. Returns when the clock reads `target`.
    pub async fn run_until(&self, target: DateTime<Utc>, step: Duration, parked: usize) {
        while self.now() < target {
            let next = (self.now() + to_delta(step)).min(target);
            let next = match self.next_deadline() {
                Some(d) if d < next && d > self.now() => d,
                _ => next,
            };
            self.advance_to(next);
            tokio::task::yield_now().await;
            self.wait_for_sleepers(parked).await;
        }
    }

    fn publish(&self) {
        let n = self.sleepers();
        self.sleepers_tx.send_replace(n);
    }

    async fn sleep_until(&self, deadline: DateTime<Utc>) {
        let (key, rx) = {
            let mut st = self.lock();
            if deadline <= st.now {
                return;
            }
            st.seq += 1;
            let key = (deadline, st.seq);
            let (tx, rx) = oneshot::channel();
            st.sleepers.insert(key, tx);
            (key, rx)
        };
        self.publish();
        let guard = Unregister { clock: self, key };
        let _ = rx.await;
        drop(guard);
    }
}

/// Removes a cancelled sleeper from the map so that `sleepers()` stays truthful.
struct Unregister<'a> {
    clock: &'a SimClock,
    key: (DateTime<Utc>, u64),
}

impl Drop for Unregister<'_> {
    fn drop(&mut self) {
        let removed = self.clock.lock().sleepers.remove(&self.key).is_some();
        if removed {
            self.clock.publish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
    }

    #[tokio::test]
    async fn simulated_time_moves_only_when_advanced() {
        let clock = Clock::simulated(t0());
        assert_eq!(clock.now(), t0());
        tokio::task::yield_now().await;
        assert_eq!(clock.now(), t0());
        clock.sim().unwrap().advance(Duration::from_secs(90));
        assert_eq!(clock.now(), t0() + TimeDelta::seconds(90));
    }

    #[tokio::test]
    async fn sleepers_wake_in_deadline_order_and_not_before() {
        let clock = Clock::simulated(t0());
        let sim = clock.sim().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for secs in [30u64, 10, 20] {
            let c = clock.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                c.sleep(Duration::from_secs(secs)).await;
                tx.send((secs, c.now())).unwrap();
            });
        }
        sim.wait_for_sleepers(3).await;
        sim.advance(Duration::from_secs(15));
        let (first, at) = rx.recv().await.unwrap();
        assert_eq!(first, 10);
        assert_eq!(at, t0() + TimeDelta::seconds(15));
        assert!(
            rx.try_recv().is_err(),
            "20 s and 30 s sleepers must still sleep"
        );
        assert_eq!(sim.sleepers(), 2);
        assert_eq!(sim.next_deadline(), Some(t0() + TimeDelta::seconds(20)));
        sim.advance(Duration::from_secs(100));
        let mut rest = vec![rx.recv().await.unwrap().0, rx.recv().await.unwrap().0];
        rest.sort();
        assert_eq!(rest, vec![20, 30]);
    }

    #[tokio::test]
    async fn cancelled_sleep_unregisters() {
        let clock = Clock::simulated(t0());
        let sim = clock.sim().unwrap();
        let c = clock.clone();
        let task = tokio::spawn(async move { c.sleep(Duration::from_secs(60)).await });
        sim.wait_for_sleepers(1).await;
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        assert_eq!(sim.sleepers(), 0);
        assert_eq!(sim.next_deadline(), None);
    }

    #[tokio::test]
    async fn timeout_on_simulated_time() {
        let clock = Clock::simulated(t0());
        let c = clock.clone();
        let task = tokio::spawn(async move {
            c.timeout(Duration::from_secs(5), c.sleep(Duration::from_secs(60)))
                .await
        });
        let sim = clock.sim().unwrap();
        sim.wait_for_sleepers(2).await;
        sim.advance(Duration::from_secs(5));
        assert_eq!(task.await.unwrap(), Err(Elapsed));
        assert_eq!(sim.sleepers(), 0);
    }

    #[tokio::test]
    async fn run_until_steps_through_deadlines() {
        let clock = Clock::simulated(t0());
        let c = clock.clone();
        let ticks = Arc::new(Mutex::new(Vec::new()));
        let t2 = ticks.clone();
        tokio::spawn(async move {
            loop {
                c.sleep(Duration::from_secs(7)).await;
                t2.lock().unwrap().push(c.now());
            }
        });
        let sim = clock.sim().unwrap();
        sim.wait_for_sleepers(1).await;
        sim.run_until(t0() + TimeDelta::seconds(30), Duration::from_secs(60), 1)
            .await;
        let got = ticks.lock().unwrap().clone();
        let want: Vec<_> = [7, 14, 21, 28]
            .iter()
            .map(|s| t0() + TimeDelta::seconds(*s))
            .collect();
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn real_clock_reads_wall_time() {
        let clock = Clock::real();
        let before = Utc::now();
        let now = clock.now();
        assert!(now >= before);
        assert!(clock.sim().is_none());
    }
}
