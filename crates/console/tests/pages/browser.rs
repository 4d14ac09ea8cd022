//! The console in a real browser: Debian's `chromium`, driven through `chromedriver` (W3C
//! WebDriver over loopback HTTP; the few commands used are below, so no client crate and its
//! dependency tree is needed). Walks what an operator does: the overview, a cause row to its
//! orders, a PO search that opens the order, the language switch (kept by its cookie), the CSV
//! export of the filter, the global write switch (the banner on every page, resume); it logs
//! in first (a user is configured) and out at the end; and saves a screenshot of every page under
//! `target/console-screenshots/` (`$CARGO_TARGET_DIR/console-screenshots/` when that is set).
//!
//! Without chromium or chromedriver the test says so and passes, unless
//! `CONSOLE_BROWSER_TEST=require` (CI sets it), where it fails.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use super::{RUN, World, csv_text, seed, seed_stock, serve, serve_with_login, sqlite};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const WIDTH: u64 = 1360;

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// A chromedriver on a free loopback port with one headless chromium session; both end when
/// this is dropped.
struct Browser {
    http: reqwest::Client,
    session: String,
    driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    /// Ends chromedriver's process group (the browser too, also when a step failed before the
    /// session was closed).
    fn drop(&mut self) {
        if let Some(pid) = self.driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", "--", &format!("-{pid}")])
                .status();
        }
    }
}

impl Browser {
    async fn start(chromium: &Path, chromedriver: &Path) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = tokio::process::Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            // Its own process group, with the chromium it starts: dropped, all of it ends.
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = match http.get(format!("{base}/status")).send().await {
                Ok(r) => r
                    .json::<Value>()
                    .await
                    .ok()
                    .and_then(|v| v["value"]["ready"].as_bool()),
                Err(_) => None,
            };
            if ready == Some(true) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver not ready on {base} after 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--hide-scrollbars", "--force-device-scale-factor=1",
                    format!("--window-size={WIDTH},900"),
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        }}});
        let res: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {res}"));
        Browser {
            http,
            session: format!("{base}/session/{id}"),
            driver,
            _profile: profile,
        }
    }

    /// One WebDriver command; its `value`, or a panic naming the command and the error.
    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.session);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(b) = body {
            req = req.json(&b);
        } else if method == reqwest::Method::POST {
            req = req.json(&json!({}));
        }
        let res: Value = req.send().await.unwrap().json().await.unwrap();
        if res["value"].get("error").is_some() {
            panic!("WebDriver {method} {path}: {}", res["value"]);
        }
        res["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn source(&self) -> String {
        self.cmd(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT].as_str().unwrap().to_owned()
    }

    async fn text(&self, el: &str) -> String {
        let v = self
            .cmd(reqwest::Method::GET, &format!("/element/{el}/text"), None)
            .await;
        v.as_str().unwrap().to_owned()
    }

    async fn attr(&self, el: &str, name: &str) -> String {
        let v = self
            .cmd(
                reqwest::Method::GET,
                &format!("/element/{el}/property/{name}"),
                None,
            )
            .await;
        v.as_str().unwrap_or_default().to_owned()
    }

    /// Clicks and waits (10 s at most) until the browser is on another address.
    async fn click_away(&self, el: &str) -> String {
        let before = self.url().await;
        self.click(el).await;
        self.wait_away(&before).await
    }

    async fn click(&self, el: &str) {
        self.cmd(reqwest::Method::POST, &format!("/element/{el}/click"), None)
            .await;
    }

    /// Waits (10 s at most) until the element at `css` reads `want`.
    async fn wait_text(&self, css: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let el = self
                .cmd(
                    reqwest::Method::POST,
                    "/elements",
                    Some(json!({"using": "css selector", "value": css})),
                )
                .await;
            if let Some(id) = el[0][ELEMENT].as_str()
                && self.text(id).await == want
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{css} does not read {want:?} after 10 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_away(&self, before: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = self.url().await;
            if now != before {
                return now;
            }
            assert!(Instant::now() < deadline, "still on {before} after 10 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn type_and_enter(&self, el: &str, text: &str) -> String {
        let before = self.url().await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{el}/value"),
            Some(json!({"text": format!("{text}\u{E007}")})),
        )
        .await;
        self.wait_away(&before).await
    }

    async fn cookie(&self, name: &str) -> Option<String> {
        let all = self.cmd(reqwest::Method::GET, "/cookie", None).await;
        all.as_array()?
            .iter()
            .find(|c| c["name"] == name)
            .and_then(|c| c["value"].as_str())
            .map(str::to_owned)
    }

    /// The whole page as a PNG in `dir`, every `<details>` opened (what a person sees after
    /// clicking them: raw JSON must not overflow); the window is made as tall as the page first.
    async fn screenshot(&self, dir: &Path, name: &str) {
        // Short first: a page is never shorter than the window it is measured in.
        self.cmd(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": WIDTH, "height": 600})),
        )
        .await;
        let script = "document.querySelectorAll('details').forEach(d => d.open = true); \
                      return document.documentElement.scrollHeight + window.outerHeight - window.innerHeight";
        let h = self
            .cmd(
                reqwest::Method::POST,
                "/execute/sync",
                Some(json!({"script": script, "args": []})),
            )
            .await
            .as_u64()
            .unwrap_or(900)
            .clamp(600, 8000);
        self.cmd(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": WIDTH, "height": h})),
        )
        .await;
        let png = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        assert_eq!(&bytes[1..4], b"PNG", "{name} is a PNG");
        std::fs::write(dir.join(format!("{name}.png")), bytes).unwrap();
    }
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn an_operator_walks_the_console_in_a_real_browser() {
    let required = std::env::var("CONSOLE_BROWSER_TEST").as_deref() == Ok("require");
    let (Some(chromium), Some(chromedriver)) = (
        which("chromium").or_else(|| which("chromium-browser")),
        which("chromedriver"),
    ) else {
        assert!(
            !required,
            "CONSOLE_BROWSER_TEST=require but chromium or chromedriver is not on PATH (apt-get install chromium chromium-driver)"
        );
        println!(
            "SKIPPED an_operator_walks_the_console_in_a_real_browser: chromium or chromedriver not installed (apt-get install chromium chromium-driver; CONSOLE_BROWSER_TEST=require makes this a failure)"
        );
        return;
    };
    let password = "correct horse battery";
    let login = console::Login::new(vec![console::User {
        name: "li.lei".into(),
        role: console::Role::Admin,
        password: console::Password::Hash(secret::Secret::new(
            console::hash_password(password).unwrap(),
        )),
    }]);
    let w: World = serve_with_login(sqlite().await, login).await;
    let f = seed(&*w.store).await;
    seed_stock(&*w.store, &f).await;
    let dir = screenshot_dir();
    let b = Browser::start(&chromium, &chromedriver).await;

    // A user is configured: the overview asks to log in first, then comes back.
    b.goto(&format!("{}/", w.base)).await;
    let url = b.url().await;
    assert!(
        url.starts_with(&format!("{}/login?next=%2F", w.base)),
        "{url}"
    );
    b.screenshot(&dir, "login").await;
    let name = b.find("form.login input[name='name']").await;
    b.cmd(
        reqwest::Method::POST,
        &format!("/element/{name}/value"),
        Some(json!({"text": "li.lei"})),
    )
    .await;
    let pw = b.find("form.login input[name='password']").await;
    let url = b.type_and_enter(&pw, password).await;
    assert_eq!(url, format!("{}/", w.base));
    let user = b.find("header .user").await;
    assert_eq!(b.text(&user).await, "li.lei");

    // The overview, in Chinese (console.language), with the cause rows.
    let nav = b.find("header nav a[href='/orders']").await;
    assert_eq!(b.text(&nav).await, "订单");
    b.screenshot(&dir, "overview").await;

    // A cause row leads to the orders it stops.
    let cause = b
        .find("a.count[href*='code=sku_unmatched'][href*='subject=ABC-1']")
        .await;
    assert_eq!(b.text(&cause).await, "3");
    let url = b.click_away(&cause).await;
    assert!(
        url.contains("/orders?") && url.contains("subject=ABC-1"),
        "{url}"
    );
    let html = b.source().await;
    for p in ["PO-A1", "PO-A2", "PO-A3"] {
        assert!(
            html.contains(&format!("/orders/{p}\"")),
            "{p} listed:\n{html}"
        );
    }
    assert!(!html.contains("/orders/PO-B1\""), "only that cause");
    b.screenshot(&dir, "orders-by-cause").await;

    // Its CSV export: the link's address fetched with the browser's language and session.
    let csv = b.find("a.button[href^='/orders.csv']").await;
    let href = b.attr(&csv, "href").await;
    assert!(href.contains("subject=ABC-1"), "{href}");
    let session = b.cookie("dl_session").await.expect("the session cookie");
    let text = csv_text(
        w.http
            .get(&href)
            .header("cookie", format!("lang=zh; dl_session={session}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("po,stage,stage_label,reason_kind,reason_code")
            && lines[0].contains("in_stage_since (Asia/Shanghai)"),
        "{}",
        lines[0]
    );
    assert_eq!(lines.len(), 4, "header and three orders:\n{text}");
    for (line, p) in lines[1..].iter().zip(["PO-A1", "PO-A2", "PO-A3"]) {
        assert!(line.starts_with(&format!("{p},1,")), "{line}");
        assert!(line.contains("sku_unmatched,ABC-1"), "{line}");
    }

    // Searching an exact PO opens its page.
    b.goto(&format!("{}/orders", w.base)).await;
    b.screenshot(&dir, "orders").await;
    let q = b.find("form.filters input[name='q']").await;
    let url = b.type_and_enter(&q, "PO-D").await;
    assert_eq!(url, format!("{}/orders/PO-D", w.base));
    let h1 = b.find("h1").await;
    assert!(b.text(&h1).await.contains("PO-D"));
    assert!(b.source().await.contains("req-ship-1"));
    b.screenshot(&dir, "order").await;

    // The language switch: English labels, kept by the cookie on the next page.
    let switch = b.find("header a.lang").await;
    b.click(&switch).await;
    b.wait_text("header nav a[href='/orders']", "Orders").await;
    let url = b.url().await;
    assert_eq!(
        url,
        format!("{}/orders/PO-D", w.base),
        "back on the same page"
    );
    assert_eq!(b.cookie("lang").await.as_deref(), Some("en"));
    b.screenshot(&dir, "order-en").await;
    b.goto(&format!("{}/", w.base)).await;
    let nav = b.find("header nav a[href='/orders']").await;
    assert_eq!(b.text(&nav).await, "Orders", "the cookie keeps English");
    b.screenshot(&dir, "overview-en").await;

    // Every other page, in both languages.
    for lang in ["en", "zh"] {
        if lang == "zh" {
            let switch = b.find("header a.lang").await;
            b.click(&switch).await;
            b.wait_text("header nav a[href='/orders']", "订单").await;
            assert_eq!(b.cookie("lang").await.as_deref(), Some("zh-CN"));
        }
        for (path, name) in [
            ("/runs".to_owned(), "runs"),
            (format!("/runs/{RUN}"), "run"),
            ("/stock".to_owned(), "stock"),
            ("/mappings".to_owned(), "mappings"),
            ("/config".to_owned(), "config"),
            ("/audit".to_owned(), "audit"),
        ] {
            b.goto(&format!("{}{path}", w.base)).await;
            let h1 = b.find("main h1").await;
            assert!(!b.text(&h1).await.is_empty(), "{path} has a title");
            let name = if lang == "en" {
                format!("{name}-en")
            } else {
                name.to_owned()
            };
            b.screenshot(&dir, &name).await;
        }
    }
    // The global write switch: stopped from the overview with a reason, the banner on every
    // page, resumed from the banner.
    b.goto(&format!("{}/", w.base)).await;
    let reason = b.find("form.stop-writes input[name='reason']").await;
    b.cmd(
        reqwest::Method::POST,
        &format!("/element/{reason}/value"),
        Some(json!({"text": "承运商故障\u{E007}"})),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !b.source().await.contains("banner stop") {
        assert!(Instant::now() < deadline, "no banner after 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(b.url().await, format!("{}/", w.base));
    let banner = b.find(".banner.stop strong").await;
    assert!(b.text(&banner).await.contains("全局写入已停止"));
    b.screenshot(&dir, "writes-stopped").await;
    let audit = w.store.audit_log(10).await.unwrap();
    assert_eq!(audit[0].entry.action, "writes.off", "{audit:?}");
    b.goto(&format!("{}/audit", w.base)).await;
    // (Right after a screenshot's resize the source can read empty for a moment.)
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let html = b.source().await;
        if html.contains("writes.off") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no writes.off on /audit:\n{html}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reason = b.find(".banner.stop input[name='reason']").await;
    b.cmd(
        reqwest::Method::POST,
        &format!("/element/{reason}/value"),
        Some(json!({"text": "承运商恢复\u{E007}"})),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.source().await.contains("banner stop") {
        assert!(Instant::now() < deadline, "the banner stays after 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(b.url().await, format!("{}/audit", w.base));
    let audit = w.store.audit_log(10).await.unwrap();
    assert_eq!(audit[0].entry.action, "writes.on");
    assert_eq!(audit[0].entry.actor, "li.lei");

    // Logging out ends the session: the pages ask to log in again.
    let logout = b.find("header form.logout button").await;
    let url = b.click_away(&logout).await;
    assert_eq!(url, format!("{}/login", w.base));
    b.goto(&format!("{}/orders", w.base)).await;
    assert!(b.url().await.contains("/login?next=%2Forders"));

    println!("screenshots in {}", dir.display());
    let _ = b.cmd(reqwest::Method::DELETE, "", None).await;
}

impl Browser {
    /// Types `text` into the element (no Enter).
    async fn type_text(&self, el: &str, text: &str) {
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{el}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }
}

/// The actions of issue 16 in a real browser: from the overview's cause row to its
/// fix-the-cause form, the mapping saved and the waiting order retried (the result page says
/// how many), then the audit page and the order's timeline show it; the order page's ignore
/// form takes another order out of needs attention. Screenshots of each page.
#[tokio::test]
async fn an_operator_fixes_a_cause_from_its_row_in_a_real_browser() {
    let required = std::env::var("CONSOLE_BROWSER_TEST").as_deref() == Ok("require");
    let (Some(chromium), Some(chromedriver)) = (
        which("chromium").or_else(|| which("chromium-browser")),
        which("chromedriver"),
    ) else {
        assert!(
            !required,
            "CONSOLE_BROWSER_TEST=require but chromium or chromedriver is not on PATH"
        );
        println!("SKIPPED: chromium or chromedriver not installed");
        return;
    };
    let w: World = serve(sqlite().await).await;
    seed(&*w.store).await;
    let dir = screenshot_dir();
    let b = Browser::start(&chromium, &chromedriver).await;

    b.goto(&format!("{}/", w.base)).await;
    let fix = b
        .find(".cause-actions a[href*='/mappings/set?mapping=shop'][href*='key=1000099999']")
        .await;
    let url = b.click_away(&fix).await;
    assert!(url.contains("/mappings/set?"), "{url}");
    let key = b.find("form.action input[name='key']").await;
    assert_eq!(
        b.attr(&key, "value").await,
        "1000099999",
        "the key is prefilled"
    );
    assert!(
        b.source().await.contains("PO-B1"),
        "the waiting order is named"
    );
    b.screenshot(&dir, "action-fix-form").await;
    let value = b.find("form.action input[name='value']").await;
    b.type_text(&value, "110283406273996288").await;
    let reason = b.find("form.action textarea[name='reason']").await;
    b.type_text(&reason, "new retailer signed").await;
    let submit = b.find("form.action button[type='submit']").await;
    b.click_away(&submit).await;
    let result = b.source().await;
    assert!(result.contains("1 个订单已重试"), "{result}");
    b.screenshot(&dir, "action-fix-result").await;

    // The audit page lists the action (read again until it shows: a navigation just ended).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        b.goto(&format!("{}/audit", w.base)).await;
        let audit = b.source().await;
        if audit.contains("mapping.set") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no mapping.set in the audit log:\n{audit}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    b.screenshot(&dir, "action-audit").await;
    // Likewise the order's timeline (under load a page can be read before it has loaded).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        b.goto(&format!("{}/orders/PO-B1", w.base)).await;
        let page = b.source().await;
        if page.contains("new retailer signed") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the timeline does not show the action:\n{page}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Ignore from the order page.
    b.goto(&format!("{}/orders/PO-A1", w.base)).await;
    b.screenshot(&dir, "action-order").await;
    let reason = b
        .find("form.action[action$='/ignore'] textarea[name='reason']")
        .await;
    b.type_text(&reason, "known issue, handled by the retailer")
        .await;
    let submit = b
        .find("form.action[action$='/ignore'] button[type='submit']")
        .await;
    b.click_away(&submit).await;
    // (Read until it shows: the source can read empty right after a navigation.)
    b.wait_source("已忽略").await;
    b.goto(&format!("{}/orders?ignored=only", w.base)).await;
    b.wait_source("/orders/PO-A1\"").await;
    b.screenshot(&dir, "action-ignored-list").await;
    let _ = b.cmd(reqwest::Method::DELETE, "", None).await;
}

impl Browser {
    /// Runs `script` (a function body) in the page and returns its value.
    async fn script(&self, script: &str) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// The DOM property `name` of the element, as JSON (`checked` is a boolean).
    async fn prop(&self, el: &str, name: &str) -> Value {
        self.cmd(
            reqwest::Method::GET,
            &format!("/element/{el}/property/{name}"),
            None,
        )
        .await
    }

    /// Waits (10 s at most) until the page's source contains `want`; the source.
    async fn wait_source(&self, want: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let html = self.source().await;
            if html.contains(want) {
                return html;
            }
            assert!(
                Instant::now() < deadline,
                "the page never shows {want:?}:\n{html}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The cells' text of every row of the first `table.grid` in `main`.
    async fn table_rows(&self) -> Vec<Vec<String>> {
        let v = self
            .script(
                "const t = document.querySelector('main table.grid'); \
                 if (!t) return []; \
                 return [...t.querySelectorAll('tbody tr')].map(r => \
                   [...r.children].map(c => c.childNodes.length ? \
                     [...c.childNodes].filter(n => n.nodeName !== 'DETAILS').map(n => n.textContent).join('').trim() : ''))",
            )
            .await;
        serde_json::from_value(v).unwrap()
    }
}

const USER: &str = "wang.fang";
const VIEWER: &str = "zhao.min";
const PASSWORD: &str = "tea and biscuits 42";
const PO: &str = "PO-WALK-1";
const SKU: &str = "SKU-NEW-WALK";

/// The console behind `login` with the engine and both simulators (real HTTP, a SQLite file):
/// DSCO holds [`PO`], whose SKU LingXing does not know and `mapping.sku` lacks, pulled and
/// refused by LingXing (it needs attention), and `more` ordinary orders, pulled and pushed.
async fn unmapped_sku_world(login: console::Login, more: usize) -> crate::actions_run::World {
    // Started an hour ago: the console's ages (wall clock) read like a real morning's.
    let start = chrono::Utc::now() - chrono::TimeDelta::hours(1);
    let start = chrono::DateTime::from_timestamp(start.timestamp(), 0).unwrap();
    let w = crate::actions_run::world_with_login(login, start).await;
    w.dsco
        .add_order(sim::dsco::OrderSpec {
            po_number: Some(PO.into()),
            lines: vec![sim::dsco::LineSpec {
                sku: SKU.into(),
                quantity: 1,
                expected_cost: Some("4.20".parse().unwrap()),
                price_missing: false,
            }],
            ..Default::default()
        })
        .unwrap();
    if more > 0 {
        w.dsco.generate_orders(more, 11);
    }
    w.clock.sim().unwrap().advance(Duration::from_secs(60));
    for job in [
        domain::JobName::PullDscoOrders,
        domain::JobName::PushToLingxing,
    ] {
        let (_tx, rx) = tokio::sync::watch::channel(false);
        w.engine
            .run_job(job, domain::Trigger::Cli, engine::RunOptions::default(), rx)
            .await
            .unwrap();
    }
    let po = domain::PoNumber::parse(PO).unwrap();
    let before = w.store.get_order(&po).await.unwrap().unwrap();
    assert_eq!(before.stage, domain::Stage::Pulled);
    assert!(w.lx.orders_for(PO).is_empty(), "LingXing refused it");
    let causes = w.store.attention_causes(10).await.unwrap();
    assert_eq!(causes.len(), 1, "{causes:?}");
    assert_eq!(causes[0].code, "lingxing_rejected");
    assert!(causes[0].subject.contains(SKU), "{causes:?}");
    w
}

fn user(name: &str, role: console::Role) -> console::User {
    console::User {
        name: name.into(),
        role,
        password: console::Password::Hash(secret::Secret::new(
            console::hash_password(PASSWORD).unwrap(),
        )),
    }
}

impl Browser {
    /// Logs `name` in through the login form (from any page that asks for it).
    async fn log_in(&self, base: &str, name: &str) {
        self.goto(&format!("{base}/")).await;
        let url = self.url().await;
        assert!(url.starts_with(&format!("{base}/login")), "{url}");
        let field = self.find("form.login input[name='name']").await;
        self.type_text(&field, name).await;
        let pw = self.find("form.login input[name='password']").await;
        let url = self.type_and_enter(&pw, PASSWORD).await;
        assert_eq!(url, format!("{base}/"));
        let user = self.find("header .user").await;
        let shown = self.text(&user).await;
        assert!(
            shown == name || shown.starts_with(&format!("{name} · ")),
            "{shown}"
        );
    }
}

/// Issue 16's walk, all of it real: the console behind a login (one admin, an argon2id hash
/// made here), the engine over real HTTP to both simulators, a SQLite file. DSCO holds an
/// order whose SKU LingXing does not know and `mapping.sku` lacks: the push is refused and the
/// order needs attention. In the browser the operator logs in through the form, follows the
/// cause row's fix link, adds the mapping entry with a reason, runs `push_to_lingxing` for the
/// PO from `/run`, and sees the order at stage 2 (LingXing holds exactly one order for it) and
/// both actions in the audit log under their name, with their reasons. Screenshots `walk-*`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_logs_in_fixes_an_unmapped_sku_and_pushes_the_order_in_a_real_browser() {
    let required = std::env::var("CONSOLE_BROWSER_TEST").as_deref() == Ok("require");
    let (Some(chromium), Some(chromedriver)) = (
        which("chromium").or_else(|| which("chromium-browser")),
        which("chromedriver"),
    ) else {
        assert!(
            !required,
            "CONSOLE_BROWSER_TEST=require but chromium or chromedriver is not on PATH"
        );
        println!("SKIPPED: chromium or chromedriver not installed");
        return;
    };
    let lx_sku = sim::defaults::PRODUCTS[0].lingxing_sku;
    let login = console::Login::new(vec![user(USER, console::Role::Admin)]);
    let w = unmapped_sku_world(login, 0).await;
    let po = domain::PoNumber::parse(PO).unwrap();

    let dir = screenshot_dir();
    let b = Browser::start(&chromium, &chromedriver).await;

    // Log in through the form.
    b.log_in(&w.base, USER).await;

    // The overview names the cause; its fix link opens the mapping form for the SKU.
    let html = b.wait_source("lingxing_rejected").await;
    assert!(html.contains(SKU), "the cause row names the SKU:\n{html}");
    b.screenshot(&dir, "walk-overview").await;
    let fix = b
        .find(&format!(
            ".cause-actions a[href*='mapping=sku'][href*='key={SKU}']"
        ))
        .await;
    let url = b.click_away(&fix).await;
    assert!(url.contains("/mappings/set?"), "{url}");
    let key = b.find("form.action input[name='key']").await;
    assert_eq!(b.attr(&key, "value").await, SKU, "the key is prefilled");
    assert!(b.source().await.contains(PO), "the waiting order is named");
    let value = b.find("form.action input[name='value']").await;
    b.type_text(&value, lx_sku).await;
    let reason = b.find("form.action textarea[name='reason']").await;
    b.type_text(&reason, "new DSCO listing of the mug").await;
    b.screenshot(&dir, "walk-fix-form").await;
    let submit = b.find("form.action button[type='submit']").await;
    b.click_away(&submit).await;
    let html = b.wait_source("1 order(s) retried").await;
    assert!(
        html.contains(&format!(
            "href=\"/orders?kind=needs_attention&amp;sku={SKU}\""
        )),
        "the result links to the orders of the SKU:\n{html}"
    );
    b.screenshot(&dir, "walk-fix-result").await;
    let map = w.store.sku_map().await.unwrap().effective();
    assert_eq!(map.get(SKU).map(String::as_str), Some(lx_sku));

    // Run the push for that PO from /run: a dry run first (ticked by default) shows the
    // LingXing create and sends nothing; its "run it for real" link opens the form unticked.
    b.goto(&format!("{}/run?job=push_to_lingxing&po={PO}", w.base))
        .await;
    let job = b.find("form.gridform select[name='job']").await;
    assert_eq!(b.attr(&job, "value").await, "push_to_lingxing");
    let field = b.find("form.gridform input[name='po']").await;
    assert_eq!(b.attr(&field, "value").await, PO);
    let dry = b.find("form.gridform input[name='dry_run']").await;
    assert_eq!(b.prop(&dry, "checked").await, json!(true), "look first");
    let reason = b.find("form.gridform textarea[name='reason']").await;
    b.type_text(&reason, "look before pushing").await;
    b.screenshot(&dir, "walk-run-form").await;
    let submit = b.find("form.gridform button[type='submit']").await;
    let url = b.click_away(&submit).await;
    assert!(url.contains("/runs/"), "{url}");
    let html = b.wait_source("Dry run: nothing was written").await;
    assert!(html.contains("POST /pb/mp/order/v2/create"), "{html}");
    assert!(w.lx.orders_for(PO).is_empty(), "a dry run sends nothing");
    b.screenshot(&dir, "walk-dry-run").await;
    let again = b.find(".callout.dry a.button").await;
    b.click_away(&again).await;
    let dry = b.find("form.gridform input[name='dry_run']").await;
    assert_eq!(b.prop(&dry, "checked").await, json!(false), "for real now");
    let field = b.find("form.gridform input[name='po']").await;
    assert_eq!(b.attr(&field, "value").await, PO);
    let reason = b.find("form.gridform textarea[name='reason']").await;
    b.type_text(&reason, "mapping fixed, push it now").await;
    let submit = b.find("form.gridform button[type='submit']").await;
    let url = b.click_away(&submit).await;
    assert!(url.contains("/runs/"), "{url}");
    let html = b.wait_source("advance 1 pulled → 2").await;
    assert!(html.contains("succeeded"), "{html}");
    assert!(!html.contains("Dry run: nothing was written"), "{html}");
    b.screenshot(&dir, "walk-run-result").await;

    // The order page: stage 2; LingXing holds exactly one order for the PO.
    b.goto(&format!("{}/orders/{PO}", w.base)).await;
    let tag = b.find("h1 .stage-tag").await;
    let tag = b.text(&tag).await;
    assert!(tag.starts_with("2 "), "{tag}");
    b.screenshot(&dir, "walk-order").await;
    let after = w.store.get_order(&po).await.unwrap().unwrap();
    assert_eq!(after.stage, domain::Stage::Pushed);
    assert_eq!(w.lx.orders_for(PO).len(), 1, "exactly one LingXing order");
    assert!(
        w.store.attention_causes(10).await.unwrap().is_empty(),
        "nothing needs attention any more"
    );

    // The audit page: both actions, by the user, with their reasons.
    b.goto(&format!("{}/audit", w.base)).await;
    b.wait_source("job.run").await;
    let rows = b.table_rows().await;
    let row = |action: &str| {
        rows.iter()
            .find(|r| r.get(2).map(String::as_str) == Some(action))
            .unwrap_or_else(|| panic!("no {action} on /audit: {rows:?}"))
            .clone()
    };
    let set = row("mapping.set");
    assert_eq!(set[1], USER, "{set:?}");
    assert!(set[3].contains(SKU), "{set:?}");
    assert!(set[4].contains("new DSCO listing of the mug"), "{set:?}");
    let runs: Vec<&Vec<String>> = rows
        .iter()
        .filter(|r| r.get(2).map(String::as_str) == Some("job.run"))
        .collect();
    assert_eq!(runs.len(), 2, "the dry run and the real one: {rows:?}");
    for (run, why) in runs
        .iter()
        .zip(["mapping fixed, push it now", "look before pushing"])
    {
        assert_eq!(run[1], USER, "{run:?}");
        assert!(run[3].contains(PO), "{run:?}");
        assert!(run[4].contains(why), "{run:?}");
    }
    b.screenshot(&dir, "walk-audit").await;

    println!("screenshots in {}", dir.display());
    let _ = b.cmd(reqwest::Method::DELETE, "", None).await;
}

/// The visual tour: every page of a console with the engine (so `/run` and the config editor
/// are live), in English and Chinese, as an admin and as a viewer, screenshotted as
/// `tour-{admin|viewer}-{en|zh}-{page}.png`. Each page has a title and labels in its language
/// only (no key of the catalogue shows through); the viewer's pages carry no action form, no
/// fix/retry links, no write switch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_in_both_languages_as_admin_and_viewer_in_a_real_browser() {
    let required = std::env::var("CONSOLE_BROWSER_TEST").as_deref() == Ok("require");
    let (Some(chromium), Some(chromedriver)) = (
        which("chromium").or_else(|| which("chromium-browser")),
        which("chromedriver"),
    ) else {
        assert!(
            !required,
            "CONSOLE_BROWSER_TEST=require but chromium or chromedriver is not on PATH"
        );
        println!("SKIPPED: chromium or chromedriver not installed");
        return;
    };
    let login = console::Login::new(vec![
        user(USER, console::Role::Admin),
        user(VIEWER, console::Role::Viewer),
    ]);
    let w = unmapped_sku_world(login, 4).await;
    let run = w
        .store
        .list_runs(Some(domain::JobName::PushToLingxing), 1)
        .await
        .unwrap()
        .remove(0)
        .id;
    let pushed = w.dsco.order_count();
    assert!(pushed >= 5, "{pushed}");
    let dir = screenshot_dir();
    let pages = [
        ("/".to_owned(), "overview"),
        ("/orders".to_owned(), "orders"),
        (format!("/orders/{PO}"), "order"),
        ("/runs".to_owned(), "runs"),
        (format!("/runs/{run}"), "run"),
        (format!("/run?job=push_to_lingxing&po={PO}"), "run-form"),
        ("/stock".to_owned(), "stock"),
        ("/mappings".to_owned(), "mappings"),
        (
            format!("/mappings/set?mapping=sku&key={SKU}"),
            "mapping-form",
        ),
        ("/config".to_owned(), "config"),
        ("/config/edit".to_owned(), "config-edit"),
        ("/config/rollback?version=1".to_owned(), "config-rollback"),
        (
            "/orders/retry?kind=needs_attention&code=lingxing_rejected".to_owned(),
            "retry-all-confirm",
        ),
        (format!("/orders/{PO}/force?to=6"), "force-confirm"),
        ("/audit".to_owned(), "audit"),
        ("/alerts".to_owned(), "alerts"),
        ("/reconcile".to_owned(), "reconcile"),
    ];
    // What only an admin sees.
    let acting = [
        "form.action",
        "form.gridform",
        "form.jobedit",
        "form.stop-writes",
        ".cause-actions",
        ".actions-panel",
    ];
    for (who, admin) in [(USER, true), (VIEWER, false)] {
        let b = Browser::start(&chromium, &chromedriver).await;
        b.log_in(&w.base, who).await;
        for lang in ["en", "zh"] {
            let (to, nav) = if lang == "en" {
                ("en", "Orders")
            } else {
                ("zh-CN", "订单")
            };
            b.goto(&format!("{}/lang?to={to}&back=%2F", w.base)).await;
            b.wait_text("header nav a[href='/orders']", nav).await;
            for (path, name) in &pages {
                b.goto(&format!("{}{path}", w.base)).await;
                let h1 = b.find("main h1").await;
                let title = b.text(&h1).await;
                assert!(!title.is_empty(), "{path} has a title");
                // A catalogue key showing through reads like `section.key`.
                let main = b.find("main").await;
                let text = b.text(&main).await;
                let leaked = b
                    .script(
                        "return [...document.querySelectorAll('main label, main th, main h1, main h2, main h3, main button, main .button')] \
                         .map(e => e.textContent.trim()).filter(t => /^[a-z_]+\\.[a-z_.]+$/.test(t))",
                    )
                    .await;
                assert_eq!(leaked, json!([]), "{path} ({lang}) shows catalogue keys");
                if lang == "zh" {
                    assert!(
                        text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                        "{path} in Chinese:\n{text}"
                    );
                }
                let mut found = vec![];
                for css in acting {
                    let n = b
                        .script(&format!(
                            "return document.querySelectorAll('main {css}').length"
                        ))
                        .await;
                    if n.as_u64().unwrap_or(0) > 0 {
                        found.push(css);
                    }
                }
                if !admin {
                    assert!(found.is_empty(), "the viewer sees {found:?} on {path}");
                    // An action's page says why there is no form.
                    if [
                        "run-form",
                        "mapping-form",
                        "config-edit",
                        "retry-all-confirm",
                        "force-confirm",
                    ]
                    .contains(name)
                    {
                        let why = b.find("main .callout.viewer").await;
                        let why = b.text(&why).await;
                        assert!(
                            why.contains(if lang == "en" {
                                "ask an admin"
                            } else {
                                "管理员"
                            }),
                            "{path}: {why}"
                        );
                    }
                }
                let role = if admin { "admin" } else { "viewer" };
                b.screenshot(&dir, &format!("tour-{role}-{lang}-{name}"))
                    .await;
            }
        }
        let _ = b.cmd(reqwest::Method::DELETE, "", None).await;
    }
    println!("screenshots in {}", dir.display());
}
