//! Tests of the SQL itself: query plans and migrations of older schemas.

use super::*;

/// Candidates (and their PO numbers alone) come out of an index in their order: no sort, which
/// would copy every matching order with its payload.
#[tokio::test]
async fn candidates_are_read_in_index_order_without_a_sort() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/plan.db", dir.path().display());
    let store = SqlStore::connect(&url).await.unwrap();
    let Pool::Sqlite(pool) = &store.pool else {
        unreachable!()
    };
    for sql in [CANDIDATES, CANDIDATE_POS] {
        let plan: Vec<String> = sqlx::query(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
            .bind(3)
            .bind(0)
            .bind(500)
            .fetch_all(pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.s("detail").unwrap())
            .collect();
        assert!(
            plan.iter()
                .any(|d| d.contains("USING INDEX orders_stage_order")),
            "{plan:?}"
        );
        assert!(!plan.iter().any(|d| d.contains("TEMP B-TREE")), "{plan:?}");
    }
}

/// A new SQLite database at `url` with the migrations before `version` applied, as an older
/// release left it.
async fn migrated_before(url: &str, version: i64) -> SqlitePool {
    let opts = SqliteConnectOptions::from_str(url)
        .unwrap()
        .create_if_missing(true);
    let pool = SqlitePool::connect_with(opts).await.unwrap();
    let mut before = Migrator::new(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/migrations/sqlite"
    )))
    .await
    .unwrap();
    let older: Vec<_> = before
        .migrations
        .iter()
        .filter(|m| m.version < version)
        .cloned()
        .collect();
    assert_eq!(older.last().unwrap().version, version - 1);
    before.migrations = older.into();
    before.run(&pool).await.unwrap();
    pool
}

/// A database made before the payloads moved out of `orders` keeps every payload.
#[tokio::test]
async fn orders_keep_their_payloads_through_the_move_to_their_own_table() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/old.db", dir.path().display());
    {
        let pool = migrated_before(&url, 4).await;
        for (po, payload) in [
            ("PO-1", r#"{"poNumber":"PO-1","x":1}"#),
            ("PO-2", r#"{"poNumber":"PO-2"}"#),
        ] {
            sqlx::query(
                "INSERT INTO orders (po, stage, skus, payload, stage_entered_at, created_at, updated_at) \
                 VALUES ($1, 2, '', $2, 0, 0, 0)",
            )
            .bind(po)
            .bind(payload)
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;
    }
    let store = SqlStore::connect(&url).await.unwrap();
    let o = store
        .get_order(&PoNumber::parse("PO-1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o.pulled.payload.get(), r#"{"poNumber":"PO-1","x":1}"#);
    assert_eq!(o.stage, Stage::Pushed);
    let both = store
        .orders_by_po(&[
            PoNumber::parse("PO-1").unwrap(),
            PoNumber::parse("PO-2").unwrap(),
        ])
        .await
        .unwrap();
    assert_eq!(both.len(), 2);
    let Pool::Sqlite(pool) = &store.pool else {
        unreachable!()
    };
    let cols: Vec<String> = sqlx::query("SELECT name FROM pragma_table_info('orders')")
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.s("name").unwrap())
        .collect();
    assert!(!cols.contains(&"payload".to_owned()), "{cols:?}");
}

/// Writes left open on orders already past them when 0008 runs are closed by it; open writes
/// of orders still waiting for them are left alone.
#[tokio::test]
async fn open_writes_of_orders_already_past_them_are_closed_by_0008() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/old.db", dir.path().display());
    {
        let pool = migrated_before(&url, 8).await;
        for (po, stage, kind, state) in [
            ("PO-DONE", 5, "ack", "pending"),
            ("PO-SHIP", 3, "ack", "ambiguous"),
            ("PO-CXL", 6, "create", "pending"),
            ("PO-WAIT", 2, "ack", "pending"),
            ("PO-SENT", 3, "shipment", "pending"),
        ] {
            sqlx::query(
                "INSERT INTO orders (po, stage, skus, stage_entered_at, created_at, updated_at) \
                 VALUES ($1, $2, '', 0, 0, 0)",
            )
            .bind(po)
            .bind(stage)
            .execute(&pool)
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO intents (kind, key, po, state, created_at, updated_at) \
                 VALUES ($1, $2, $2, $3, 0, 0)",
            )
            .bind(kind)
            .bind(po)
            .bind(state)
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;
    }
    let store = SqlStore::connect(&url).await.unwrap();
    let state = |po: &'static str| {
        let store = &store;
        async move {
            store
                .intents_for(&PoNumber::parse(po).unwrap())
                .await
                .unwrap()[0]
                .state
        }
    };
    assert_eq!(state("PO-DONE").await, IntentState::Confirmed);
    assert_eq!(state("PO-SHIP").await, IntentState::Confirmed);
    assert_eq!(state("PO-CXL").await, IntentState::Failed);
    assert_eq!(state("PO-WAIT").await, IntentState::Pending);
    assert_eq!(state("PO-SENT").await, IntentState::Pending);
}

/// Every batch statement loops over its items and reaches table rows through an index.
/// Given a constant on a prefix of a key (an intent's kind), SQLite's planner may instead
/// loop over the table and scan the items for each row: quadratic, and only visible at
/// scale. Checked on the bundled SQLite's plans, not on timings.
#[tokio::test]
async fn batch_statements_loop_over_the_items_not_the_tables() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/plan.db", dir.path().display());
    let store = SqlStore::connect(&url).await.unwrap();
    let Pool::Sqlite(pool) = &store.pool else {
        unreachable!()
    };
    let b = &store.batch;
    // The writes over items with two items (their rows `j`).
    let statements = [
        b.cas_update.text(2),
        b.events_insert.text(2),
        b.last_events.to_string(),
        b.events_bump.text(2),
        b.reasons_update.text(2),
        b.views_lock.to_string(),
        b.stages_lock.to_string(),
        b.views_update.text(2),
        b.intents_update.text(2),
        b.intents_insert.text(2),
        b.intents_restart.to_string(),
        b.intents_read.to_string(),
        b.order_stages.to_string(),
        b.orders_insert.text(2),
        b.payloads_read.to_string(),
        b.orders_refresh.text(2),
        b.orders_read.to_string(),
        b.views_read.to_string(),
        b.dirty_mark.to_string(),
        b.remark.text(2),
        b.intents_of_read.to_string(),
        b.tracking_read.to_string(),
        b.tracking_update.text(2),
        b.invoice_update.text(2),
    ];
    let tables = ["orders", "order_payloads", "order_events", "intents"];
    for sql in statements {
        // A read's `$1` is a JSON list; a write's items and further parameters are `?`, `?n`.
        let params = if sql.contains('$') {
            (1..=9).filter(|n| sql.contains(&format!("${n}"))).count()
        } else {
            let after: Vec<&str> = sql
                .split('?')
                .skip(1)
                .map(|r| &r[..r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len())])
                .collect();
            let numbered: HashSet<&str> = after.iter().copied().filter(|n| !n.is_empty()).collect();
            after.iter().filter(|n| n.is_empty()).count() + numbered.len()
        };
        let mut q = sqlx::query(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")));
        for n in 0..params {
            q = if n == 0 && sql.contains('$') {
                q.bind("[]")
            } else {
                q.bind("x")
            };
        }
        let rows = q.fetch_all(pool).await.unwrap();
        let plan: Vec<(i64, String)> = rows
            .iter()
            .map(|r| (r.i64("parent").unwrap(), r.s("detail").unwrap()))
            .collect();
        let on_table = |d: &str| {
            tables.iter().any(|t| {
                d.starts_with(&format!("SCAN {t}")) || d.starts_with(&format!("SEARCH {t} "))
            })
        };
        for (_, d) in &plan {
            assert!(
                !tables.iter().any(|t| d.starts_with(&format!("SCAN {t}"))),
                "a table scan in {sql}: {plan:?}"
            );
        }
        // In a join (top-level loops, outer first) the items must be the outer loop.
        let top: Vec<&str> = plan
            .iter()
            .filter(|(parent, _)| *parent == 0)
            .map(|(_, d)| d.as_str())
            .collect();
        if let (Some(items), Some(table)) = (
            top.iter()
                .position(|d| d.contains("json_each") || d.starts_with("SCAN j")),
            top.iter().position(|d| on_table(d)),
        ) {
            assert!(
                items < table,
                "the table is the outer loop in {sql}: {plan:?}"
            );
        }
    }
}

/// A stored reason code outside the catalogue reads as `Corrupt`, naming the column and the
/// value (the catalogue only ever grows, so only a damaged row can hold one).
#[tokio::test]
async fn an_unknown_stored_reason_code_is_named_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/codes.db", dir.path().display());
    let store = SqlStore::connect(&url).await.unwrap();
    let Pool::Sqlite(pool) = &store.pool else {
        unreachable!()
    };
    sqlx::query(
        "INSERT INTO orders (po, stage, skus, reason_code, reason_kind, stage_entered_at, created_at, updated_at) \
         VALUES ('PO-X', 2, '', 'no_such_code', 'waiting', 0, 0, 0)",
    )
    .execute(pool)
    .await
    .unwrap();
    let err = store
        .get_order(&PoNumber::parse("PO-X").unwrap())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            StoreError::Corrupt {
                table: "orders",
                ..
            }
        ),
        "{text}"
    );
    assert!(
        text.contains("reason_code") && text.contains("no_such_code"),
        "{text}"
    );
}

/// A read's rows come out whole and in order, whether they arrive at once or trickle in (the
/// collector switches to bursts after the first rows); an error among them ends the read.
#[tokio::test]
async fn rows_are_collected_whole_in_order_and_an_error_ends_the_read() {
    fn trickle(
        n: usize,
        fail_at: Option<usize>,
    ) -> futures::channel::mpsc::UnboundedReceiver<std::result::Result<usize, String>> {
        let (tx, rx) = futures::channel::mpsc::unbounded();
        std::thread::spawn(move || {
            for i in 0..n {
                let item = if Some(i) == fail_at {
                    Err(format!("row {i}"))
                } else {
                    Ok(i)
                };
                if tx.unbounded_send(item).is_err() {
                    return;
                }
                if i % 25 == 0 {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        });
        rx
    }
    let all = collect_rows(trickle(500, None)).await.unwrap();
    assert_eq!(all, (0..500).collect::<Vec<_>>());
    let short = collect_rows(trickle(3, None)).await.unwrap();
    assert_eq!(short, vec![0, 1, 2]);
    let failed = collect_rows(trickle(500, Some(300))).await.unwrap_err();
    assert_eq!(failed, "row 300");
    let none = collect_rows(futures::stream::iter(
        Vec::<std::result::Result<u8, String>>::new(),
    ))
    .await
    .unwrap();
    assert!(none.is_empty());
}

/// A new SQLite file gets pages of `PAGE_SIZE`; an existing file keeps the size it was made with.
#[tokio::test]
async fn a_new_file_gets_larger_pages_and_an_old_one_keeps_its_own() {
    async fn page_size(store: &SqlStore) -> i64 {
        let Pool::Sqlite(pool) = &store.pool else {
            unreachable!()
        };
        sqlx::query("PRAGMA page_size")
            .fetch_one(pool)
            .await
            .unwrap()
            .i64("page_size")
            .unwrap()
    }
    let dir = tempfile::tempdir().unwrap();
    let new = SqlStore::connect(&format!("sqlite://{}/new.db", dir.path().display()))
        .await
        .unwrap();
    assert_eq!(page_size(&new).await, i64::from(PAGE_SIZE));
    // A file made by an earlier version, with SQLite's default pages.
    let old = dir.path().join("old.db");
    let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", old.display()))
        .unwrap()
        .create_if_missing(true)
        .page_size(4096)
        .journal_mode(SqliteJournalMode::Wal);
    let pool = SqlitePoolOptions::new().connect_with(opts).await.unwrap();
    sqlx::query("CREATE TABLE t (x)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let reopened = SqlStore::connect(&format!("sqlite://{}", old.display()))
        .await
        .unwrap();
    assert_eq!(page_size(&reopened).await, 4096);
}

/// A write over items on SQLite: the items take the first parameters (anonymous, a row of
/// `VALUES` each), the statement's own `$2`, `$3`… come after them (a repeated one stays one
/// parameter), and no items still make a statement. An item's values follow the columns: a
/// field it leaves out is NULL, a field no column names is not bound.
#[test]
fn a_write_over_items_binds_the_items_first_and_its_parameters_after() {
    let lite = BatchSql::new(BackendKind::Sqlite).intents_insert;
    let two = lite.text(2);
    assert!(
        two.starts_with("WITH j(idx, k, po, payload) AS (VALUES (?,?,?,?), (?,?,?,?)) INSERT"),
        "{two}"
    );
    assert!(
        two.contains("SELECT ?9, j.k, j.po, 'pending', j.payload, '', 0, ?10, ?11, ?11 FROM j"),
        "{two}"
    );
    let none = lite.text(0);
    assert!(
        none.starts_with(
            "WITH j(idx, k, po, payload) AS (SELECT NULL, NULL, NULL, NULL WHERE false) "
        ),
        "{none}"
    );
    assert!(none.contains("SELECT ?1, j.k"), "{none}");
    let pg = BatchSql::new(BackendKind::Postgres).intents_insert;
    assert_eq!(pg.text(2), pg.text(7));
    // Kept prepared: a full chunk's statement on SQLite (the other sizes are one-offs), every
    // statement on PostgreSQL (one text for all sizes).
    assert!(lite.keep(CHUNK) && !lite.keep(2) && pg.keep(2) && pg.keep(CHUNK));
    assert!(
        pg.text(2).contains("SELECT $2, j.k")
            && pg.text(2).contains("jsonb_to_recordset($1::jsonb)")
    );

    let values: Vec<String> = lite
        .values(item!({"po": "PO-1", "extra": 5_i64, "idx": 3_usize}))
        .map(|v| match v {
            Val::Null => "NULL".to_owned(),
            Val::Int(i) => i.to_string(),
            Val::Text(t) => format!("'{t}'"),
        })
        .collect();
    assert_eq!(values, ["3", "NULL", "'PO-1'", "NULL"]);
    assert_eq!(
        items_json(vec![
            item!({"po": "P\"1", "n": Some(2_i64), "d": None::<String>})
        ]),
        r#"[{"po":"P\"1","n":2,"d":null}]"#
    );
}
