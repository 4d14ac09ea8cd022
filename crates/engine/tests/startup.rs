//! `engine::startup`: a built process starts its scheduler and server on a bound address;
//! `stop_jobs` leaves the server up, `shutdown` ends both; bad parts are errors naming the key.

use std::time::Duration;

use clock::Clock;
use engine::startup::{self, Application, FarSides, Parts, Serve, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{Db, t0};

fn far(app_id: &str) -> FarSides {
    // Nobody listens there: nothing in these tests calls a far side.
    FarSides::oauth(
        "http://127.0.0.1:9",
        "client",
        "client-secret",
        "http://127.0.0.1:9",
        app_id,
        "app-secret",
        10009,
    )
}

/// A server that writes the engine's holder name to every connection until told to stop.
fn holder_server() -> Serve {
    Box::new(|listener, engine, stop| {
        Box::pin(async move {
            let serve = async move {
                loop {
                    let (mut s, _) = listener.accept().await?;
                    s.write_all(engine.holder().as_bytes()).await?;
                }
            };
            tokio::select! {
                r = serve => r,
                _ = stop => Ok(()),
            }
        })
    })
}

async fn ask(addr: std::net::SocketAddr) -> std::io::Result<String> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut out)).await??;
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_started_process_serves_until_shut_down() {
    let db = Db::sqlite().await;
    let exports = tempfile::tempdir().unwrap();
    let store = startup::connect(&db.url).await.unwrap();
    let parts = Parts::service(
        Clock::simulated(t0()),
        "startup-test",
        far("ak_SimulatorApp1"),
        exports.path().to_owned(),
    );
    let app = Application::build(store, parts).unwrap();
    let mut running = app
        .start(Some(Server {
            listen: "127.0.0.1:0".parse().unwrap(),
            serve: holder_server(),
        }))
        .await
        .unwrap();
    let addr = running.address().expect("a server was started");
    assert_ne!(addr.port(), 0, "port 0 picks a free port");
    assert_eq!(running.url().unwrap(), format!("http://{addr}/"));
    assert_eq!(ask(addr).await.unwrap(), "startup-test");

    // The jobs stop; the server goes on serving (the demo's console after its summary).
    running.stop_jobs().await.unwrap();
    assert_eq!(ask(addr).await.unwrap(), "startup-test");

    running.shutdown().await.unwrap();
    assert!(ask(addr).await.is_err(), "nothing listens after shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parts_are_errors_naming_the_key() {
    let db = Db::sqlite().await;
    let store = startup::connect(&db.url).await.unwrap();
    let parts = |app_id: &str| Parts::service(Clock::simulated(t0()), "t", far(app_id), "x".into());

    let e = Application::build(store.clone(), parts("short"))
        .err()
        .expect("a LingXing appId has 16 characters")
        .to_string();
    assert!(e.starts_with("lingxing.app_id:"), "{e}");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap();
    let app = Application::build(store, parts("ak_SimulatorApp1")).unwrap();
    let e = app
        .start(Some(Server {
            listen,
            serve: holder_server(),
        }))
        .await
        .err()
        .expect("the address is taken")
        .to_string();
    assert!(
        e.contains(&format!("cannot listen on {listen} (console.listen)")),
        "{e}"
    );
}
