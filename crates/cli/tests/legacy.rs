//! `import legacy` through the real binary: a legacy PostgreSQL database made by the test with
//! the Go service's schema, imported into a SQLite store. Needs PostgreSQL: in `postgres`,
//! skipped when `TEST_DATABASE_URL` is unset.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::json;
use sqlx::Connection;

const SCHEMA: &str = r#"
CREATE TABLE runtime_config (
    id bigserial PRIMARY KEY, domain text UNIQUE, config jsonb, updated_at bigint);
CREATE TABLE dsco_order_sync (
    id bigserial PRIMARY KEY, po_number text UNIQUE, dsco_create_time bigint, dsco_status text,
    status smallint, payload jsonb, mskus text[], warehouse_id text, shipment text,
    dsco_retailer_id text, shipped_tracking_no text, dsco_invoice_id text,
    created_at bigint, updated_at bigint);
CREATE TABLE dsco_warehouse_sync (
    id bigserial PRIMARY KEY, sync_time bigint, dsco_warehouse_id text, dsco_warehouse_sku text,
    dsco_warehouse_num integer, lingxing_warehouse_id text, lingxing_warehouse_sku text,
    lingxing_warehouse_num integer, diff integer, status smallint, reason text);
"#;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A legacy database (`with_tables`: the Go service's schema and a few rows); its URL with a
/// password the output must never show.
fn legacy_db(base: &str, with_tables: bool) -> String {
    rt().block_on(async {
        let url = store::testing::fresh_postgres_database(base).await;
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        if with_tables {
            sqlx::raw_sql(SCHEMA).execute(&mut c).await.unwrap();
            let config = json!({
                "domain": "dsco_lingxing",
                "jobs": {"push_to_lingxing": {"enable": true, "cron": "0 */15 * * * *", "size": 50}},
                "mapping": {"shop": {"1000012345": "110283406273996288"}, "warehouse": {"US-CA-01": "1300"},
                            "shipment": {"US-CA-01-UPCG": "101"}, "sku": {"SKU-1001": "LX-1001"}}
            });
            sqlx::query("INSERT INTO runtime_config (domain, config, updated_at) VALUES ('dsco_lingxing', $1::jsonb, 1)")
                .bind(config.to_string())
                .execute(&mut c)
                .await
                .unwrap();
            let shipped = json!({"poNumber": "PO-CLI-1", "dscoOrderId": "1", "dscoStatus": "shipped",
                                 "dscoLifecycle": "completed", "lineItems": [{"sku": "SKU-1001", "quantity": 1}]});
            let created = json!({"poNumber": "PO-CLI-2", "dscoOrderId": "2", "dscoStatus": "created",
                                 "lineItems": [{"sku": "SKU-1001", "quantity": 1}]});
            for (po, status, payload) in [
                (Some("PO-CLI-1"), Some(1i16), Some(shipped.to_string())),
                (Some("PO-CLI-2"), Some(1), Some(created.to_string())),
                (Some("PO-CLI-3"), None, Some("[1, 2]".to_owned())),
            ] {
                sqlx::query("INSERT INTO dsco_order_sync (po_number, status, payload) VALUES ($1, $2, $3::jsonb)")
                    .bind(po)
                    .bind(status)
                    .bind(payload)
                    .execute(&mut c)
                    .await
                    .unwrap();
            }
            sqlx::query("INSERT INTO dsco_warehouse_sync (sync_time, dsco_warehouse_sku, dsco_warehouse_num, status) VALUES (1767225600, 'SKU-1001', 3, 1)")
                .execute(&mut c)
                .await
                .unwrap();
        }
        let _ = c.close().await;
        url.replacen("postgres://postgres@", "postgres://postgres:pw-not-shown@", 1)
    })
}

struct Env {
    _dir: tempfile::TempDir,
    config: PathBuf,
    store: String,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dsco-lingxing.toml");
    let store = format!("sqlite://{}/store.db", dir.path().display());
    std::fs::write(
        &config,
        format!(
            "[dsco]\nclient_id = \"c\"\nclient_secret = \"s\"\n[lingxing]\napp_id = \"ak_SimulatorApp1\"\napp_secret = \"x\"\n[store]\nurl = \"{store}\"\n"
        ),
    )
    .unwrap();
    rt().block_on(async { store::connect(&store).await.unwrap() });
    Env {
        _dir: dir,
        config,
        store,
    }
}

fn bin(env: &Env, args: &[&str]) -> (Output, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_dsco-lingxing"))
        .arg("--config")
        .arg(&env.config)
        .args(args)
        .env_remove("DSCO_LINGXING_CONFIG")
        .env("USER", "tester")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!text.contains("pw-not-shown"), "a password printed: {text}");
    (o, text)
}

/// Orders and config versions in the store.
fn store_state(env: &Env) -> (i64, Option<i64>) {
    rt().block_on(async {
        let s = store::connect(&env.store).await.unwrap();
        (
            s.count_by_stage().await.unwrap().values().sum(),
            s.runtime_config_version().await.unwrap(),
        )
    })
}

fn import_dry_run_then_import_then_nothing(base: &str) {
    let env = env();
    let url = legacy_db(base, true);
    let (o, t) = bin(&env, &["import", "legacy", "--pg", &url, "--dry-run"]);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("corrected PO-CLI-1: status 1 → 5 done 完成"),
        "{t}"
    );
    assert!(t.contains("DSCO shows shipped"), "{t}");
    assert!(t.contains("bad row legacy:PO-CLI-3"), "{t}");
    assert!(t.contains("1 pulled 待推单: 2"), "before: {t}");
    assert!(t.contains("5 done 完成: 1"), "after: {t}");
    assert!(t.contains("dry run: nothing written"), "{t}");
    assert!(
        t.contains("mapping.shop.\"1000012345\""),
        "the config diff: {t}"
    );
    assert_eq!(store_state(&env), (0, None), "a dry run writes nothing");

    let (o, t) = bin(&env, &["import", "legacy", "--pg", &url]);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("2 new"), "{t}");
    assert!(t.contains("1 bad"), "{t}");
    assert!(t.contains("stock-sync log: 1 rows read, 1 added"), "{t}");
    assert!(t.contains("imported / 导入完成"), "{t}");
    assert_eq!(store_state(&env), (2, Some(1)));

    let (o, t) = bin(&env, &["import", "legacy", "--pg", &url]);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("nothing to write"), "config unchanged: {t}");
    assert!(t.contains("0 new, 0 updated, 2 unchanged"), "{t}");
    assert!(t.contains("nothing changed"), "{t}");
    assert_eq!(store_state(&env), (2, Some(1)));
}

fn a_database_without_the_tables_is_named(base: &str) {
    let env = env();
    let url = legacy_db(base, false);
    let (o, t) = bin(&env, &["import", "legacy", "--pg", &url]);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("no table `runtime_config`"), "{t}");
}

mod postgres {
    #[test]
    fn import_legacy_dry_run_import_and_again() {
        let Some(base) = store::testing::postgres_base_url() else {
            return;
        };
        super::import_dry_run_then_import_then_nothing(&base);
    }

    #[test]
    fn import_legacy_names_a_missing_table() {
        let Some(base) = store::testing::postgres_base_url() else {
            return;
        };
        super::a_database_without_the_tables_is_named(&base);
    }
}
