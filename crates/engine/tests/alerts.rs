//! Alerts end to end: a real condition through the simulators raises one alert per cause and a
//! resolved message after the fix; each bot format is posted to a local receiver that checks the
//! body and recomputes the signatures independently; bursts become digests within the limit;
//! undelivered outbox rows are sent after a restart; no secret reaches a log line.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use clock::Clock;
use domain::alert::{Alert, AlertKind, Severity, Transition};
use domain::{JobName, Lang, RetailerId, StoreId};
use engine::alerts::{AlertConfig, Answer, Channel, Format, Sender, send_test};
use ring::hmac;
use secret::Secret;
use serde_json::{Value, json};
use sim::dsco::{Gap, UNKNOWN_RETAILER_ID};
use store::{DeliveryState, Store};

use crate::orders::{default_runtime_config, world};
use crate::{Db, t0};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Got {
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Got {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn query(&self, k: &str) -> Option<String> {
        let q = self.uri.split_once('?')?.1;
        q.split('&').find_map(|p| {
            let (a, b) = p.split_once('=')?;
            (a == k).then(|| percent_decode(b))
        })
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() + 1 && i + 2 <= b.len() - 1 + 1 {
            let h = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(h, 16).unwrap());
            i += 3;
        } else if b[i] == b'+' {
            out.push(b' ');
            i += 1;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// A local bot: records every request and answers with the next queued answer, or `ok`.
#[derive(Clone)]
pub struct Receiver {
    pub got: Arc<Mutex<Vec<Got>>>,
    answers: Arc<Mutex<VecDeque<(u16, String)>>>,
    ok: String,
    pub url: String,
}

impl Receiver {
    pub async fn start(ok: Value) -> Receiver {
        let got = Arc::new(Mutex::new(Vec::new()));
        let answers = Arc::new(Mutex::new(VecDeque::new()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let r = Receiver {
            got,
            answers,
            ok: ok.to_string(),
            url,
        };
        let rr = r.clone();
        let app = Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let rr = rr.clone();
            async move {
                rr.got.lock().unwrap().push(Got {
                    uri: uri.to_string(),
                    headers,
                    body: body.to_vec(),
                });
                let (status, text) = rr
                    .answers
                    .lock()
                    .unwrap()
                    .pop_front()
                    .unwrap_or((200, rr.ok.clone()));
                (
                    StatusCode::from_u16(status).unwrap(),
                    [("content-type", "application/json")],
                    text,
                )
                    .into_response()
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        r
    }
    pub fn answer_next(&self, status: u16, body: Value) {
        self.answers
            .lock()
            .unwrap()
            .push_back((status, body.to_string()));
    }
    pub fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
}

pub fn channel(name: &str, format: Format, url: &str, secret: Option<&str>) -> Channel {
    Channel {
        name: name.into(),
        format,
        url: Secret::new(url),
        sign_secret: secret.map(Secret::new),
        min_severity: Severity::Info,
        kinds: Vec::new(),
        keyword: Some("DL".into()),
        quiet_hours: None,
    }
}

fn config(channels: Vec<Channel>, lang: Lang) -> Arc<AlertConfig> {
    Arc::new(AlertConfig::new(
        channels,
        lang,
        chrono_tz::Asia::Shanghai,
        Some("https://console.example.com/".into()),
    ))
}

fn alert(key: &str, kind: AlertKind, severity: Severity) -> Alert {
    Alert {
        key: key.into(),
        kind,
        severity,
        subject: "pull_dsco_orders".into(),
        transition: Transition::Open,
        facts: BTreeMap::from([
            ("failures".into(), "3".into()),
            ("error".into(), "LingXing is down".into()),
        ]),
        path: "/runs/r1".into(),
    }
}

async fn sqlite_store() -> (Arc<dyn Store>, Db) {
    let db = Db::sqlite().await;
    (db.open().await, db)
}

fn hmac_b64(key: &[u8], msg: &[u8]) -> String {
    B64.encode(hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), msg).as_ref())
}

/// Each format's body shape, and its signature recomputed here from the vendor's recipe.
#[tokio::test]
async fn each_format_is_posted_with_its_shape_and_signature() {
    let (store, _db) = sqlite_store().await;
    let clock = Clock::simulated(t0());
    let wecom = Receiver::start(json!({"errcode": 0, "errmsg": "ok"})).await;
    let ding = Receiver::start(json!({"errcode": 0, "errmsg": "ok"})).await;
    let feishu = Receiver::start(json!({"code": 0, "msg": "success"})).await;
    let generic = Receiver::start(json!({})).await;
    let cfg = config(
        vec![
            channel(
                "wecom",
                Format::WeCom,
                &format!("{}/cgi-bin/webhook/send?key=WECOM-KEY", wecom.url),
                None,
            ),
            channel(
                "ding",
                Format::DingTalk,
                &format!("{}/robot/send?access_token=DING-TOKEN", ding.url),
                Some("SECding-secret"),
            ),
            channel(
                "feishu",
                Format::Feishu,
                &format!("{}/open-apis/bot/v2/hook/FEISHU-ID", feishu.url),
                Some("feishu-secret"),
            ),
            channel(
                "hook",
                Format::Generic,
                &format!("{}/hook", generic.url),
                Some("hook-secret"),
            ),
        ],
        Lang::Zh,
    );
    let a = alert(
        "job_failing:pull_dsco_orders",
        AlertKind::JobFailing,
        Severity::Critical,
    );
    store.apply_alerts(&[a], clock.now()).await.unwrap();
    let sender = Sender::new(store.clone(), clock.clone(), cfg);
    assert_eq!(sender.tick().await.unwrap(), 4);

    // WeCom: markdown, the keyword first, the console link, Beijing time.
    let w = wecom.got();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].query("key").as_deref(), Some("WECOM-KEY"));
    let b = w[0].json();
    assert_eq!(b["msgtype"], "markdown");
    let content = b["markdown"]["content"].as_str().unwrap();
    assert!(
        content.contains("DL [严重] 任务 pull_dsco_orders 连续 3 次运行失败"),
        "{content}"
    );
    assert!(
        content.contains("(https://console.example.com/runs/r1)"),
        "{content}"
    );
    assert!(
        content.contains("2026-03-01 16:00:00 (Asia/Shanghai)"),
        "{content}"
    );
    assert!(content.len() <= 4096);

    // DingTalk: markdown with title and text; timestamp (ms) and sign in the URL.
    let d = ding.got();
    assert_eq!(d.len(), 1);
    let ts = d[0].query("timestamp").unwrap();
    assert_eq!(ts, t0().timestamp_millis().to_string());
    let expected = hmac_b64(
        b"SECding-secret",
        format!("{ts}\nSECding-secret").as_bytes(),
    );
    assert_eq!(d[0].query("sign").unwrap(), expected);
    assert_eq!(d[0].query("access_token").as_deref(), Some("DING-TOKEN"));
    let b = d[0].json();
    assert_eq!(b["msgtype"], "markdown");
    assert!(b["markdown"]["title"].as_str().unwrap().starts_with("DL "));
    assert!(
        b["markdown"]["text"]
            .as_str()
            .unwrap()
            .contains("DL [严重]")
    );

    // Feishu: an interactive card, timestamp (s) and sign in the body, key = ts + "\n" + secret.
    let f = feishu.got();
    assert_eq!(f.len(), 1);
    let b = f[0].json();
    assert_eq!(b["msg_type"], "interactive");
    let ts = b["timestamp"].as_str().unwrap();
    assert_eq!(ts, t0().timestamp().to_string());
    assert_eq!(
        b["sign"].as_str().unwrap(),
        hmac_b64(format!("{ts}\nfeishu-secret").as_bytes(), b"")
    );
    assert_eq!(b["card"]["header"]["template"], "red");
    assert!(
        b["card"]["header"]["title"]["content"]
            .as_str()
            .unwrap()
            .starts_with("DL [严重]")
    );
    assert_eq!(
        b["card"]["elements"][1]["actions"][0]["url"],
        "https://console.example.com/runs/r1"
    );
    assert!(f[0].body.len() <= 20 * 1024);

    // Generic: our schema, and X-Signature = sha256=hex(HMAC(secret, body)).
    let g = generic.got();
    assert_eq!(g.len(), 1);
    let sig = g[0].headers["x-signature"].to_str().unwrap().to_owned();
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, b"hook-secret"),
        &g[0].body,
    );
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(sig, format!("sha256={hex}"));
    let b = g[0].json();
    assert_eq!(b["source"], "dsco-lingxing");
    assert_eq!(b["digest"], false);
    assert_eq!(b["alerts"][0]["key"], "job_failing:pull_dsco_orders");
    assert_eq!(b["alerts"][0]["transition"], "open");
    assert_eq!(b["alerts"][0]["severity"], "critical");
    assert_eq!(
        b["alerts"][0]["link"],
        "https://console.example.com/runs/r1"
    );

    // Delivered once: the next pass posts nothing.
    assert_eq!(sender.tick().await.unwrap(), 0);
    let d = store.recent_deliveries(10).await.unwrap();
    assert_eq!(d.len(), 4);
    assert!(
        d.iter().all(|d| d.state == DeliveryState::Delivered),
        "{d:?}"
    );
}

/// A refusal (non-zero errcode) is a failed delivery with the bot's message, not retried; the
/// failing channel raises an alert on the others. A transient failure is retried after back-off.
#[tokio::test]
async fn refusals_are_recorded_and_transient_failures_retried() {
    let (store, _db) = sqlite_store().await;
    let clock = Clock::simulated(t0());
    let ding = Receiver::start(json!({"errcode": 0, "errmsg": "ok"})).await;
    let feishu = Receiver::start(json!({"code": 0, "msg": "success"})).await;
    ding.answer_next(
        200,
        json!({"errcode": 310000, "errmsg": "keywords not in content"}),
    );
    feishu.answer_next(502, json!({"error": "bad gateway"}));
    let cfg = config(
        vec![
            channel(
                "ding",
                Format::DingTalk,
                &format!("{}/robot/send?access_token=T", ding.url),
                None,
            ),
            channel(
                "feishu",
                Format::Feishu,
                &format!("{}/hook/ID", feishu.url),
                None,
            ),
        ],
        Lang::En,
    );
    let a = alert(
        "job_failing:ship_to_dsco",
        AlertKind::JobFailing,
        Severity::Critical,
    );
    store.apply_alerts(&[a], clock.now()).await.unwrap();
    let sender = Sender::new(store.clone(), clock.clone(), cfg);
    sender.tick().await.unwrap();
    let d = store.recent_deliveries(10).await.unwrap();
    let ding_d = d.iter().find(|d| d.channel == "ding").unwrap();
    assert_eq!(ding_d.state, DeliveryState::Failed);
    assert_eq!(ding_d.answer, "310000 keywords not in content");
    let f = d
        .iter()
        .find(|d| d.channel == "feishu" && d.alert_key == "job_failing:ship_to_dsco")
        .unwrap();
    assert_eq!(f.state, DeliveryState::Pending);
    assert!(f.answer.contains("502"), "{}", f.answer);
    // The failing DingTalk robot is an alert of its own.
    let open = store.open_alerts().await.unwrap();
    assert!(open.contains_key("channel_failing:ding"), "{open:?}");

    // Not before the back-off: nothing. After it: the Feishu retry and the channel alert.
    sender.tick().await.unwrap();
    let job_on_feishu = |d: &[store::DeliveryRecord]| {
        d.iter()
            .find(|d| d.channel == "feishu" && d.alert_key == "job_failing:ship_to_dsco")
            .map(|d| (d.state, d.attempts))
    };
    let d = store.recent_deliveries(10).await.unwrap();
    assert_eq!(
        job_on_feishu(&d),
        Some((DeliveryState::Pending, 1)),
        "not retried before the back-off"
    );
    clock.sim().unwrap().advance(Duration::from_secs(61));
    sender.tick().await.unwrap();
    let texts: Vec<String> = feishu.got().iter().map(Got::text).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("job pull_dsco_orders failed 3 runs in a row")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("alert channel ding keeps failing")),
        "{texts:?}"
    );
    // The refused DingTalk delivery is not retried; the channel alert is not sent to DingTalk.
    assert_eq!(ding.got().len(), 1);
    let d = store.recent_deliveries(20).await.unwrap();
    assert_eq!(job_on_feishu(&d), Some((DeliveryState::Delivered, 2)));
    assert!(
        d.iter()
            .filter(|d| d.channel == "feishu")
            .all(|d| d.state == DeliveryState::Delivered),
        "{d:?}"
    );
}

/// 100 causes at once to a 20-a-minute robot: a few digests, every alert listed, none dropped.
#[tokio::test]
async fn a_burst_becomes_digests_within_the_rate_limit() {
    let (store, _db) = sqlite_store().await;
    let clock = Clock::simulated(t0());
    let wecom = Receiver::start(json!({"errcode": 0, "errmsg": "ok"})).await;
    let cfg = config(
        vec![channel(
            "wecom",
            Format::WeCom,
            &format!("{}/send?key=K", wecom.url),
            None,
        )],
        Lang::En,
    );
    let burst: Vec<Alert> = (0..100)
        .map(|i| {
            let mut a = alert(
                &format!("needs_attention:shop_unmapped:R{i:03}"),
                AlertKind::NeedsAttention,
                Severity::Warning,
            );
            a.facts = BTreeMap::from([
                ("count".into(), "1".into()),
                ("code".into(), "shop_unmapped".into()),
                ("subject".into(), format!("R{i:03}")),
            ]);
            a
        })
        .collect();
    assert_eq!(
        store.apply_alerts(&burst, clock.now()).await.unwrap().len(),
        100
    );
    let sender = Sender::new(store.clone(), clock.clone(), cfg);
    let posts = sender.tick().await.unwrap();
    assert!(posts <= 20, "{posts} posts in a minute");
    let got = wecom.got();
    assert_eq!(got.len(), posts);
    let all: String = got
        .iter()
        .map(|g| g.json()["markdown"]["content"].as_str().unwrap().to_owned())
        .collect();
    for g in &got {
        assert!(g.json()["markdown"]["content"].as_str().unwrap().len() <= 4096);
    }
    let listed = (0..100)
        .filter(|i| all.contains(&format!("R{i:03}")))
        .count();
    let more: usize = all
        .match_indices("and ")
        .filter_map(|(i, _)| all[i + 4..].split(' ').next()?.parse::<usize>().ok())
        .sum();
    assert_eq!(listed + more, 100, "every alert listed or counted: {all}");
    assert!(all.contains("Alert digest"), "{all}");
    let d = store.recent_deliveries(200).await.unwrap();
    assert_eq!(d.len(), 100);
    assert!(d.iter().all(|d| d.state == DeliveryState::Delivered));
}

/// Outbox rows written before a crash are delivered by the next process, once.
#[tokio::test]
async fn undelivered_outbox_rows_are_sent_after_a_restart() {
    let db = Db::sqlite().await;
    let clock = Clock::simulated(t0());
    {
        let store = db.open().await;
        let a = alert(
            "credentials_refused:pull_dsco_orders",
            AlertKind::CredentialsRefused,
            Severity::Critical,
        );
        store.apply_alerts(&[a], clock.now()).await.unwrap();
        // The process dies before its sender ran.
    }
    let wecom = Receiver::start(json!({"errcode": 0, "errmsg": "ok"})).await;
    let cfg = config(
        vec![channel(
            "wecom",
            Format::WeCom,
            &format!("{}/send?key=K", wecom.url),
            None,
        )],
        Lang::Zh,
    );
    clock.sim().unwrap().advance(Duration::from_secs(600));
    let store = db.open().await;
    let sender = Sender::new(store.clone(), clock.clone(), cfg.clone());
    assert_eq!(sender.tick().await.unwrap(), 1);
    // A second replica's sender finds nothing left.
    let other = Sender::new(db.open().await, clock.clone(), cfg);
    assert_eq!(other.tick().await.unwrap(), 0);
    assert_eq!(wecom.got().len(), 1);
    assert!(wecom.got()[0].text().contains("凭据被拒绝"));
}

/// `alert test` posts one message and gives the bot's answer.
#[tokio::test]
async fn the_test_message_reports_the_answer() {
    let feishu = Receiver::start(json!({"code": 0, "msg": "success"})).await;
    let ch = channel(
        "f",
        Format::Feishu,
        &format!("{}/hook/ID", feishu.url),
        Some("s"),
    );
    let cfg = config(vec![ch.clone()], Lang::En);
    let a = send_test(&cfg, &ch, t0()).await;
    assert!(
        matches!(a, Answer::Delivered(ref t) if t.contains("success")),
        "{a:?}"
    );
    feishu.answer_next(200, json!({"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}));
    let a = send_test(&cfg, &ch, t0()).await;
    assert_eq!(
        a,
        Answer::Refused(
            "19021 sign match fail or timestamp is not within one hour from current time".into()
        )
    );
    assert!(feishu.got()[0].text().contains("alert test message"));
}

/// A real condition: orders of an unmapped shop raise one alert for the cause (not one per order
/// or per run), delivered once; the mapping added, the orders move and the resolved message goes.
pub async fn an_unmapped_shop_raises_one_alert_and_resolves_after_the_fix(db: &Db) {
    let w = world(db, json!({})).await;
    let pos = w.dsco.generate_orders_with(3, 51, &[Gap::UnknownRetailer]);
    assert_eq!(pos.len(), 3);
    let wecom = Receiver::start(json!({"errcode": 0, "errmsg": "ok"})).await;
    let cfg = config(
        vec![channel(
            "wecom",
            Format::WeCom,
            &format!("{}/send?key=K", wecom.url),
            None,
        )],
        Lang::En,
    );
    let sender = Sender::new(w.store.clone(), w.clock.clone(), cfg);

    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    w.run(JobName::PushToLingxing).await;
    w.advance(60);
    w.run(JobName::PushToLingxing).await;
    let key = format!("needs_attention:shop_unmapped:{UNKNOWN_RETAILER_ID}");
    let open = w.store.open_alerts().await.unwrap();
    assert_eq!(open.keys().collect::<Vec<_>>(), [&key], "{open:?}");
    assert_eq!(open[&key].facts["count"], "3");
    assert_eq!(sender.tick().await.unwrap(), 1);
    assert_eq!(sender.tick().await.unwrap(), 0);
    let got = wecom.got();
    let content = got[0].json()["markdown"]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(content.contains("3 orders need attention"), "{content}");
    assert!(content.contains(UNKNOWN_RETAILER_ID), "{content}");
    assert!(
        content
            .contains("https://console.example.com/orders?kind=needs_attention&code=shop_unmapped&subject=1000099999"),
        "{content}"
    );

    // The fix: the shop mapped; the next push moves the orders and the alert resolves, once.
    let mut cfg = default_runtime_config(json!({}));
    cfg.mapping.shop.insert(
        RetailerId::parse(UNKNOWN_RETAILER_ID).unwrap(),
        StoreId::parse("110283406273996288").unwrap(),
    );
    let v = w.store.runtime_config_version().await.unwrap();
    w.store
        .save_runtime_config(v, &cfg, "test", "test", w.clock.now())
        .await
        .unwrap();
    w.advance(60);
    w.run(JobName::PushToLingxing).await;
    w.advance(60);
    w.run(JobName::PushToLingxing).await;
    assert!(w.store.open_alerts().await.unwrap().is_empty());
    assert_eq!(sender.tick().await.unwrap(), 1);
    assert_eq!(sender.tick().await.unwrap(), 0);
    let got = wecom.got();
    assert_eq!(got.len(), 2);
    let content = got[1].json()["markdown"]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        content.starts_with("### <font color=\"info\">DL [Resolved] 3 orders need attention"),
        "{content}"
    );
}

/// What the flaky job does on its next run.
#[derive(Clone, Copy, PartialEq)]
enum Next {
    Succeed,
    Fail,
    Refuse,
    LoseLease,
}

struct Flaky(Arc<Mutex<Next>>);

#[async_trait::async_trait]
impl engine::Job for Flaky {
    fn name(&self) -> JobName {
        JobName::SyncStock
    }
    async fn run(&self, _ctx: &engine::RunCtx) -> Result<(), engine::JobError> {
        match *self.0.lock().unwrap() {
            Next::Succeed => Ok(()),
            Next::Fail => Err(engine::JobError::Failed(
                "LingXing temporarily unavailable: HTTP 503".into(),
            )),
            Next::Refuse => Err(engine::JobError::CredentialsRefused(
                "LingXing refused the appId/appSecret (2001005)".into(),
            )),
            Next::LoseLease => Err(engine::JobError::Store(store::StoreError::Fenced {
                job: JobName::SyncStock,
                token: 1,
            })),
        }
    }
}

/// A job failing three runs in a row alerts once (not again at the fourth); refused credentials
/// alert at once; the next success resolves both.
pub async fn a_failing_job_and_refused_credentials_alert_once_and_resolve(db: &Db) {
    let clock = Clock::simulated(t0());
    let store = db.open().await;
    let v = json!({"domain": "dsco_lingxing", "jobs": {"sync_stock": {"enable": true, "cron": "0 */5 * * * *", "size": 10}}, "mapping": {}});
    let cfg = domain::RuntimeConfig::from_value(&v, "runtime_config")
        .unwrap()
        .config;
    store
        .save_runtime_config(None, &cfg, "test", "test", clock.now())
        .await
        .unwrap();
    let next = Arc::new(Mutex::new(Next::Succeed));
    let mut e = engine::Engine::new(
        store.clone(),
        clock.clone(),
        "runner",
        engine::EngineSettings::default(),
    );
    e.register(Arc::new(Flaky(next.clone())));
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let run = |n: Next| {
        *next.lock().unwrap() = n;
        clock.sim().unwrap().advance(Duration::from_secs(300));
        e.run_job(
            JobName::SyncStock,
            domain::Trigger::Cron,
            engine::RunOptions::default(),
            rx.clone(),
        )
    };
    let key = "job_failing:sync_stock";
    run(Next::Succeed).await.unwrap();
    run(Next::Fail).await.unwrap();
    run(Next::Fail).await.unwrap();
    assert!(
        store.open_alerts().await.unwrap().is_empty(),
        "two failures are not yet an alert"
    );
    run(Next::Fail).await.unwrap();
    run(Next::Fail).await.unwrap();
    let open = store.open_alerts().await.unwrap();
    assert_eq!(open.keys().collect::<Vec<_>>(), [key]);
    assert_eq!(
        open[key].facts["failures"], "3",
        "raised at the third failure, not again"
    );
    assert_eq!(
        open[key].facts["error"],
        "LingXing temporarily unavailable: HTTP 503"
    );
    run(Next::Refuse).await.unwrap();
    let open = store.open_alerts().await.unwrap();
    assert!(
        open.contains_key("credentials_refused:sync_stock"),
        "{open:?}"
    );
    run(Next::Succeed).await.unwrap();
    assert!(store.open_alerts().await.unwrap().is_empty());
    // Exactly one open and one resolved per key in the outbox.
    let wecom = Receiver::start(json!({"errcode": 0, "errmsg": "ok"})).await;
    let cfg = config(
        vec![channel(
            "wecom",
            Format::WeCom,
            &format!("{}/send?key=K", wecom.url),
            None,
        )],
        Lang::En,
    );
    // Within the limit one post per transition: 2 keys × (open + resolved).
    assert_eq!(
        Sender::new(store.clone(), clock.clone(), cfg)
            .tick()
            .await
            .unwrap(),
        4
    );
    let texts: Vec<String> = wecom.got().iter().map(Got::text).collect();
    assert_eq!(
        texts
            .iter()
            .filter(|t| t.contains("[Critical] job sync_stock failed 3 runs"))
            .count(),
        1,
        "{texts:?}"
    );
    assert_eq!(
        texts
            .iter()
            .filter(|t| t.contains("[Resolved] job sync_stock failed"))
            .count(),
        1,
        "{texts:?}"
    );
    assert_eq!(
        texts
            .iter()
            .filter(|t| t.contains("[Critical] credentials refused"))
            .count(),
        1,
        "{texts:?}"
    );
}

/// A writer into a shared buffer, for the captured log.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Deliveries, refusals, transport failures and the test message log what happened, never a
/// webhook key or a signing secret.
#[tokio::test]
async fn no_secret_reaches_a_log_line() {
    // The global subscriber (a per-thread default misses lines when other tests run at once);
    // it also takes the other tests' lines, which must not hold these secrets either.
    static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    let captured = CAPTURED
        .get_or_init(|| {
            let c = Captured::default();
            let w = c.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_writer(move || w.clone())
                .with_ansi(false)
                .finish();
            tracing::subscriber::set_global_default(subscriber).unwrap();
            c
        })
        .clone();

    let (store, _db) = sqlite_store().await;
    let clock = Clock::simulated(t0());
    let ok = Receiver::start(json!({"errcode": 0, "errmsg": "ok"})).await;
    let refusing = Receiver::start(json!({"code": 19021, "msg": "sign match fail"})).await;
    // A closed port: the transport error must not carry the URL.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let cfg = config(
        vec![
            channel(
                "ok",
                Format::DingTalk,
                &format!("{}/robot/send?access_token=tok-SECRET-1", ok.url),
                Some("SECsign-SECRET-2"),
            ),
            channel(
                "refusing",
                Format::Feishu,
                &format!("{}/hook/hook-SECRET-3", refusing.url),
                Some("sign-SECRET-4"),
            ),
            channel(
                "down",
                Format::WeCom,
                &format!("http://{closed}/send?key=key-SECRET-5"),
                None,
            ),
            channel(
                "hook",
                Format::Generic,
                &format!("{}/hook?token=tok-SECRET-6", ok.url),
                Some("hmac-SECRET-7"),
            ),
        ],
        Lang::En,
    );
    store
        .apply_alerts(
            &[alert(
                "job_failing:ack_to_dsco",
                AlertKind::JobFailing,
                Severity::Critical,
            )],
            clock.now(),
        )
        .await
        .unwrap();
    let sender = Sender::new(store.clone(), clock.clone(), cfg.clone());
    sender.tick().await.unwrap();
    for ch in &cfg.channels {
        let _ = send_test(&cfg, ch, clock.now()).await;
    }
    tracing::info!(channel = ?cfg.channels[0], "a channel logged whole");
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("alert delivered"), "{log}");
    assert!(log.contains("the bot refused the alert"), "{log}");
    assert!(
        log.contains("alert delivery failed; it will be retried"),
        "{log}"
    );
    assert!(!log.contains("SECRET"), "a secret in the log:\n{log}");
    let d = store.recent_deliveries(20).await.unwrap();
    let answers: String = d.iter().map(|d| d.answer.clone()).collect();
    assert!(
        !answers.contains("SECRET"),
        "a secret in a stored answer: {answers}"
    );
}

/// Orders left at a stage past `stuck_after_periods`, and the write switch off for over an hour,
/// are alerts; they resolve when the orders move and the switch is back on.
pub async fn stuck_orders_and_writes_off_for_long_alert_and_resolve(db: &Db) {
    let w = world(db, json!({})).await;
    w.dsco.generate_orders_with(2, 71, &[]);
    let mut cfg = default_runtime_config(json!({}));
    cfg.writes_enabled = Some(false);
    let v = w.store.runtime_config_version().await.unwrap();
    w.store
        .save_runtime_config(v, &cfg, "test", "test", w.clock.now())
        .await
        .unwrap();
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;
    let open = w.store.open_alerts().await.unwrap();
    assert!(open.is_empty(), "nothing yet: {open:?}");
    // Push runs every minute: four periods pass, and the switch has been off for over an hour.
    w.advance(3700);
    w.engine.evaluate_alerts().await;
    let open = w.store.open_alerts().await.unwrap();
    assert_eq!(
        open.keys().collect::<Vec<_>>(),
        ["stuck:1", "writes_off"],
        "{open:?}"
    );
    assert_eq!(open["stuck:1"].facts["count"], "2");
    assert!(
        open["stuck:1"]
            .title(Lang::En)
            .contains("2 orders stuck at pulled"),
        "{}",
        open["stuck:1"].title(Lang::En)
    );
    assert!(
        open["writes_off"]
            .title(Lang::Zh)
            .contains("全局写入开关已关闭 1h 2m"),
        "{}",
        open["writes_off"].title(Lang::Zh)
    );
    cfg.writes_enabled = Some(true);
    let v = w.store.runtime_config_version().await.unwrap();
    w.store
        .save_runtime_config(v, &cfg, "test", "test", w.clock.now())
        .await
        .unwrap();
    w.run(JobName::PushToLingxing).await;
    assert!(w.store.open_alerts().await.unwrap().is_empty());
}

/// An enabled job whose last success is older than four of its periods (at least an hour) alerts
/// once, though it has not failed three runs in a row; a run that lost its lease alerts; the next
/// success resolves both.
pub async fn a_job_without_success_for_long_and_a_lost_lease_alert_and_resolve(db: &Db) {
    let clock = Clock::simulated(t0());
    let store = db.open().await;
    let v = json!({"domain": "dsco_lingxing", "jobs": {"sync_stock": {"enable": true, "cron": "0 */5 * * * *", "size": 10}}, "mapping": {}});
    let cfg = domain::RuntimeConfig::from_value(&v, "runtime_config")
        .unwrap()
        .config;
    store
        .save_runtime_config(None, &cfg, "test", "test", clock.now())
        .await
        .unwrap();
    let next = Arc::new(Mutex::new(Next::Succeed));
    let mut e = engine::Engine::new(
        store.clone(),
        clock.clone(),
        "runner",
        engine::EngineSettings::default(),
    );
    e.register(Arc::new(Flaky(next.clone())));
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let run = |n: Next, after: u64| {
        *next.lock().unwrap() = n;
        clock.sim().unwrap().advance(Duration::from_secs(after));
        e.run_job(
            JobName::SyncStock,
            domain::Trigger::Cron,
            engine::RunOptions::default(),
            rx.clone(),
        )
    };
    run(Next::Succeed, 300).await.unwrap();
    // One failure 50 minutes later: under the hour, no alert.
    run(Next::Fail, 3000).await.unwrap();
    assert!(store.open_alerts().await.unwrap().is_empty());
    // Another 20 minutes: 70 minutes without a success, two failures in a row.
    run(Next::Fail, 1200).await.unwrap();
    let open = store.open_alerts().await.unwrap();
    assert_eq!(
        open.keys().collect::<Vec<_>>(),
        ["no_success:sync_stock"],
        "{open:?}"
    );
    let a = &open["no_success:sync_stock"];
    assert_eq!(a.facts["threshold"], "1h 0m");
    assert!(
        a.title(Lang::En)
            .contains("job sync_stock has not succeeded since"),
        "{}",
        a.title(Lang::En)
    );
    run(Next::Succeed, 300).await.unwrap();
    assert!(store.open_alerts().await.unwrap().is_empty());

    run(Next::LoseLease, 300).await.unwrap();
    let open = store.open_alerts().await.unwrap();
    assert_eq!(
        open.keys().collect::<Vec<_>>(),
        ["lease_lost:sync_stock"],
        "{open:?}"
    );
    assert!(
        open["lease_lost:sync_stock"]
            .title(Lang::Zh)
            .contains("失去了租约"),
    );
    run(Next::Succeed, 300).await.unwrap();
    assert!(store.open_alerts().await.unwrap().is_empty());
}

/// Runs `job` once whatever its outcome (moving the simulated clock past the client's back-offs,
/// as `World::run` does); returns the outcome.
async fn run_any(w: &crate::orders::World, job: JobName) -> domain::RunOutcome {
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let engine = w.engine.clone();
    let run = tokio::spawn(async move {
        engine
            .run_job(job, domain::Trigger::Cli, engine::RunOptions::default(), rx)
            .await
    });
    let sim = w.clock.sim().unwrap();
    while !run.is_finished() {
        tokio::time::sleep(Duration::from_millis(5)).await;
        if sim.sleepers() >= 3
            && let Some(d) = sim.next_deadline()
        {
            sim.advance_to(d);
        }
    }
    match run.await.unwrap().unwrap() {
        engine::RunResult::Ran { outcome, .. } => outcome,
        other => panic!("{job}: {other:?}"),
    }
}

/// Real conditions through the LingXing simulator: an outage of its inventory endpoint fails
/// sync_stock three runs in a row (one `job_failing` alert, not one per run); the simulator
/// refusing the app secret (2001002) to push_to_lingxing raises `credentials_refused`; LingXing
/// answering again resolves both, and the orders go on.
pub async fn a_lingxing_outage_and_a_refused_app_secret_alert_and_resolve(db: &Db) {
    use sim::lingxing::Fault as LFault;
    let inventory = lingxing::Endpoint::InventoryDetails.path();
    let exports = tempfile::tempdir().unwrap();
    let w = crate::orders::world_stock(
        db,
        json!({}),
        sim::lingxing::LingxingSimConfig::manual(),
        Some(exports.path().to_owned()),
    )
    .await;
    let pos = w.dsco.generate_orders(2, 77);
    w.advance(60);
    w.run(JobName::PullDscoOrders).await;

    w.lx.inject_fault(inventory, LFault::HttpStatus { status: 503 }, None);
    let job_key = "job_failing:sync_stock";
    for n in 1..=4 {
        w.advance(60);
        let outcome = run_any(&w, JobName::SyncStock).await;
        assert_eq!(outcome, domain::RunOutcome::Failed, "run {n}");
        let open = w.store.open_alerts().await.unwrap();
        assert_eq!(
            open.contains_key(job_key),
            n >= 3,
            "after run {n}: {open:?}"
        );
    }
    let open = w.store.open_alerts().await.unwrap();
    assert_eq!(
        open[job_key].facts["failures"], "3",
        "raised once, at the third"
    );
    assert!(
        open[job_key].facts["error"].contains("503"),
        "{:?}",
        open[job_key]
    );
    w.lx.clear_faults();
    w.advance(60);
    w.run(JobName::SyncStock).await;
    assert!(!w.store.open_alerts().await.unwrap().contains_key(job_key));

    w.lx.inject_fault(
        lingxing::Endpoint::OrderList.path(),
        LFault::ErrorCode {
            code: "2001002".into(),
            message: "app secret not correct".into(),
        },
        None,
    );
    w.advance(60);
    // The orders wait as retrying; the run ends, recorded as refused.
    assert_eq!(
        run_any(&w, JobName::PushToLingxing).await,
        domain::RunOutcome::Succeeded
    );
    let open = w.store.open_alerts().await.unwrap();
    assert!(
        open.contains_key("credentials_refused:push_to_lingxing"),
        "{open:?}"
    );
    assert!(
        open["credentials_refused:push_to_lingxing"]
            .title(Lang::En)
            .contains("credentials refused (job push_to_lingxing)")
    );

    w.lx.clear_faults();
    w.advance(60);
    w.run(JobName::PushToLingxing).await;
    let open = w.store.open_alerts().await.unwrap();
    assert!(
        !open.contains_key(job_key) && !open.contains_key("credentials_refused:push_to_lingxing"),
        "{open:?}"
    );
    for po in &pos {
        assert_eq!(w.stage(po).await, domain::Stage::Pushed, "{po}");
    }
    let all = w.store.alert_list(100).await.unwrap();
    for key in [job_key, "credentials_refused:push_to_lingxing"] {
        let a = all.iter().find(|a| a.alert.key == key).unwrap();
        assert!(a.resolved_at.is_some(), "{a:?}");
    }
    // In the outbox: each key once open and once resolved, nothing else.
    let wecom = Receiver::start(json!({"errcode": 0, "errmsg": "ok"})).await;
    let cfg = config(
        vec![channel(
            "wecom",
            Format::WeCom,
            &format!("{}/send?key=K", wecom.url),
            None,
        )],
        Lang::En,
    );
    let sender = Sender::new(w.store.clone(), w.clock.clone(), cfg);
    assert_eq!(sender.tick().await.unwrap(), 4);
    assert_eq!(sender.tick().await.unwrap(), 0);
    let texts: Vec<String> = wecom.got().iter().map(Got::text).collect();
    assert_eq!(
        texts
            .iter()
            .filter(|t| t.contains("failed 3 runs in a row"))
            .count(),
        2,
        "{texts:?}"
    );
}

/// Quiet hours (in the console's time zone): a warning waits for the end of the window, a
/// critical alert goes at once; the warning is delivered once the window has passed.
#[tokio::test]
async fn quiet_hours_hold_warnings_but_not_critical_alerts() {
    let (store, _db) = sqlite_store().await;
    // t0 is 16:00 in Asia/Shanghai: inside 15:00–17:00.
    let clock = Clock::simulated(t0());
    let wecom = Receiver::start(json!({"errcode": 0, "errmsg": "ok"})).await;
    let mut ch = channel(
        "wecom",
        Format::WeCom,
        &format!("{}/send?key=K", wecom.url),
        None,
    );
    let h = |n| chrono::NaiveTime::from_hms_opt(n, 0, 0).unwrap();
    ch.quiet_hours = Some((h(15), h(17)));
    let cfg = config(vec![ch], Lang::En);
    let warning = alert("stuck:2", AlertKind::Stuck, Severity::Warning);
    let critical = alert(
        "job_failing:ack_to_dsco",
        AlertKind::JobFailing,
        Severity::Critical,
    );
    store
        .apply_alerts(&[warning, critical], clock.now())
        .await
        .unwrap();
    let sender = Sender::new(store.clone(), clock.clone(), cfg);
    assert_eq!(sender.tick().await.unwrap(), 1);
    assert_eq!(wecom.got().len(), 1);
    let first = wecom.got()[0].text();
    assert!(first.contains("failed 3 runs in a row"), "{first}");
    // Still quiet half an hour later.
    clock.sim().unwrap().advance(Duration::from_secs(1800));
    assert_eq!(sender.tick().await.unwrap(), 0);
    // After 17:00 the warning goes.
    clock.sim().unwrap().advance(Duration::from_secs(1860));
    assert_eq!(sender.tick().await.unwrap(), 1);
    let got = wecom.got();
    assert_eq!(got.len(), 2);
    assert!(
        !got[1].text().contains("failed 3 runs"),
        "{}",
        got[1].text()
    );
}
