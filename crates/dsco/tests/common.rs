//! Shared helpers: a simulator on loopback with a simulated clock, a client for it, and a
//! driver that moves simulated time whenever the code under test sleeps on the clock.

use std::future::Future;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use clock::Clock;
use dsco::{Auth, DscoClient, DscoConfig, RetryPolicy};
use sim::dsco::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DscoSim, DscoSimConfig};

pub fn sim_clock() -> Clock {
    Clock::simulated(Utc.with_ymd_and_hms(2026, 1, 5, 8, 0, 0).unwrap())
}

pub async fn start_sim(config: DscoSimConfig, clock: &Clock) -> DscoSim {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    DscoSim::start(config, clock.clone(), listener)
        .await
        .unwrap()
}

pub fn oauth() -> Auth {
    Auth::OAuth2 {
        client_id: DEFAULT_CLIENT_ID.into(),
        client_secret: DEFAULT_CLIENT_SECRET.to_string().into(),
    }
}

pub fn client_config(base_url: &str) -> DscoConfig {
    let mut c = DscoConfig::new(base_url, oauth());
    c.request_timeout = Duration::from_secs(20);
    c.retry = RetryPolicy {
        max_attempts: 6,
        initial_backoff: Duration::from_millis(500),
        max_backoff: Duration::from_secs(10),
        ..RetryPolicy::default()
    };
    c
}

pub fn client(base_url: &str, clock: &Clock) -> DscoClient {
    DscoClient::new(client_config(base_url), clock.clone()).unwrap()
}

/// Runs `fut`; whenever something parks on the simulated clock, moves time to the earliest
/// deadline. Lets back-off and rate-limit waits pass instantly.
pub async fn drive<F: Future>(clock: &Clock, fut: F) -> F::Output {
    let sim = clock.sim().expect("simulated clock");
    tokio::pin!(fut);
    loop {
        tokio::select! {
            biased;
            out = &mut fut => return out,
            _ = sim.wait_for_sleepers(1) => {
                if let Some(d) = sim.next_deadline() {
                    sim.advance_to(d);
                }
                tokio::task::yield_now().await;
            }
        }
    }
}
