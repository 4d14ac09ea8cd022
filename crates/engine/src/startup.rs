//! One start-up path for every process of the service: `run`, `job run`, the demo, the
//! benchmarks and the engine's tests all build an [`Application`] from its parts and, when they
//! want the scheduler or a server, [`Application::start`] it.
//!
//! - [`connect`] / [`connect_writable`]: the store from its URL, migrated; errors name the URL
//!   with its password redacted.
//! - [`Application::build`]: the DSCO and LingXing clients (the LingXing token shared through the
//!   store, sealed, when [`Parts::shared_token`]), the engine with the chosen jobs registered.
//! - [`Application::start`]: the scheduler and, when given, a [`Server`] (the console, which
//!   lives in a crate above this one, so it comes in as a function) on a bound address. The
//!   returned [`Running`] has the address, a [`Stopper`], [`Running::stop_jobs`] and
//!   [`Running::join`].
//!
//! The clock is a part like any other: tests and benchmarks pass a simulated one.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clock::Clock;
use futures::future::BoxFuture;
use store::{Store, StoreError, redact_url};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::jobs::{Clients, register_order_jobs};
use crate::stock::{StockClients, register_stock_jobs};
use crate::token_cache::StoreTokenCache;
use crate::{Engine, EngineSettings, Scheduler};

/// Why a process could not start, or its scheduler or server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the store {url}: {source}")]
    Store { url: String, source: StoreError },
    #[error("the store {url} is read-only, and `run` writes to it: {source}")]
    ReadOnly { url: String, source: StoreError },
    #[error("cannot write to the store {url}: {source}")]
    NotWritable { url: String, source: StoreError },
    #[error("dsco: {0}")]
    Dsco(#[from] dsco::DscoError),
    #[error("lingxing.app_id: {0}")]
    LingxingAppId(lingxing::ConfigError),
    #[error("lingxing: {0}")]
    Lingxing(lingxing::ConfigError),
    #[error("cannot listen on {listen} (console.listen): {source}")]
    Listen {
        listen: SocketAddr,
        source: std::io::Error,
    },
    #[error("scheduler: {0}")]
    Scheduler(StoreError),
    #[error("{task} task: {message}")]
    Task { task: &'static str, message: String },
}

/// Opens (creating or migrating) the store at `url`.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StartupError> {
    store::connect(url)
        .await
        .map_err(|source| StartupError::Store {
            url: redact_url(url),
            source,
        })
}

/// [`connect`], then checks that the store takes writes: a store that refuses them would fail
/// every run, so a service says so before serving.
pub async fn connect_writable(url: &str) -> Result<Arc<dyn Store>, StartupError> {
    let store = connect(url).await?;
    match store.check_writable().await {
        Ok(()) => Ok(store),
        Err(source @ StoreError::ReadOnly(_)) => Err(StartupError::ReadOnly {
            url: redact_url(url),
            source,
        }),
        Err(source) => Err(StartupError::NotWritable {
            url: redact_url(url),
            source,
        }),
    }
}

/// Where the far sides are and how the clients reach them.
#[derive(Debug, Clone)]
pub struct FarSides {
    pub dsco: dsco::DscoConfig,
    pub lingxing: lingxing::LingxingConfig,
    /// LingXing `platform_code` orders are created under.
    pub platform_code: u32,
}

impl FarSides {
    /// OAuth2 client credentials for DSCO, the app's credentials for LingXing, every other
    /// client setting at its default.
    pub fn oauth(
        dsco_url: impl Into<String>,
        client_id: &str,
        client_secret: &str,
        lingxing_url: impl Into<String>,
        app_id: &str,
        app_secret: &str,
        platform_code: u32,
    ) -> FarSides {
        FarSides {
            dsco: dsco::DscoConfig::new(
                dsco_url,
                dsco::Auth::OAuth2 {
                    client_id: client_id.to_owned(),
                    client_secret: client_secret.to_owned().into(),
                },
            ),
            lingxing: lingxing::LingxingConfig::new(lingxing_url, app_id, app_secret),
            platform_code,
        }
    }

    /// Both clients' real-time limit for one HTTP exchange.
    pub fn request_timeout(mut self, t: std::time::Duration) -> FarSides {
        self.dsco.request_timeout = t;
        self.lingxing.timeout = t;
        self
    }
}

/// Everything a process is built from besides its store.
#[derive(Debug, Clone)]
pub struct Parts {
    pub clock: Clock,
    /// This process's name on leases and runs ([`crate::default_holder`] for a service).
    pub holder: String,
    pub engine: EngineSettings,
    pub far: FarSides,
    /// Share the LingXing token through the store, sealed with a key derived from the app
    /// secret (every replica of a deployment does); `false`: the client keeps its own.
    pub shared_token: bool,
    /// Register the five order jobs.
    pub order_jobs: bool,
    /// Register the stock, pair and cleanup jobs, with this export folder.
    pub stock_jobs: Option<PathBuf>,
}

impl Parts {
    /// A service process: the default engine settings, the token shared, every job registered.
    pub fn service(
        clock: Clock,
        holder: impl Into<String>,
        far: FarSides,
        exports: PathBuf,
    ) -> Parts {
        Parts {
            clock,
            holder: holder.into(),
            engine: EngineSettings::default(),
            far,
            shared_token: true,
            order_jobs: true,
            stock_jobs: Some(exports),
        }
    }
}

/// A built process: its clients and its engine, nothing running yet.
pub struct Application {
    engine: Arc<Engine>,
    clients: Arc<Clients>,
    stock_clients: Arc<StockClients>,
    alerts: Option<Arc<crate::alerts::AlertConfig>>,
}

impl Application {
    /// The clients and the engine on `store`, with the jobs `parts` asks for.
    pub fn build(store: Arc<dyn Store>, parts: Parts) -> Result<Application, StartupError> {
        let Parts {
            clock,
            holder,
            engine: settings,
            far,
            shared_token,
            order_jobs,
            stock_jobs,
        } = parts;
        let dsco = dsco::DscoClient::new(far.dsco, clock.clone())?;
        let cache: Option<Arc<dyn lingxing::TokenCache>> = shared_token.then(|| {
            Arc::new(StoreTokenCache::new(
                store.clone(),
                clock.clone(),
                far.lingxing.app_secret.expose(),
            )) as Arc<dyn lingxing::TokenCache>
        });
        let lingxing = lingxing::LingxingClient::new(far.lingxing, clock.clone(), cache).map_err(
            |e| match e {
                lingxing::ConfigError::AppIdLength(_) => StartupError::LingxingAppId(e),
                _ => StartupError::Lingxing(e),
            },
        )?;
        // The stock jobs' clients are clones: they share the token and the endpoint limits.
        let stock_clients = Arc::new(StockClients {
            dsco: dsco.clone(),
            lingxing: lingxing.clone(),
        });
        let clients = Arc::new(Clients {
            dsco,
            lingxing,
            platform_code: far.platform_code,
            feed: Default::default(),
        });
        let mut engine = Engine::new(store, clock, holder, settings);
        if order_jobs {
            register_order_jobs(&mut engine, clients.clone());
        }
        if let Some(dir) = stock_jobs {
            register_stock_jobs(&mut engine, stock_clients.clone(), dir);
        }
        Ok(Application {
            engine: Arc::new(engine),
            clients,
            stock_clients,
            alerts: None,
        })
    }

    /// Delivers alerts to these channels: [`Application::start`] starts the sender beside the
    /// scheduler (without channels, alerts are kept in the store and logged only).
    pub fn with_alerts(mut self, cfg: crate::alerts::AlertConfig) -> Application {
        self.alerts = (!cfg.channels.is_empty()).then(|| Arc::new(cfg));
        self
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The order jobs' clients.
    pub fn clients(&self) -> &Arc<Clients> {
        &self.clients
    }

    /// The stock jobs' clients (clones of the order jobs').
    pub fn stock_clients(&self) -> &Arc<StockClients> {
        &self.stock_clients
    }

    /// Starts the scheduler and, when given, the server on its address (bound before this
    /// returns, so the address is known and a bad one is an error now).
    pub async fn start(&self, server: Option<Server>) -> Result<Running, StartupError> {
        let (server_stop, server_rx) = watch::channel(false);
        let (address, server) = match server {
            None => (None, None),
            Some(Server { listen, serve }) => {
                let listener = TcpListener::bind(listen)
                    .await
                    .map_err(|source| StartupError::Listen { listen, source })?;
                let addr = listener
                    .local_addr()
                    .map_err(|source| StartupError::Listen { listen, source })?;
                tracing::info!(listen = %addr, "serving the console, /healthz, /readyz and /metrics");
                let mut rx = server_rx;
                let stop: BoxFuture<'static, ()> = Box::pin(async move {
                    let _ = rx.wait_for(|s| *s).await;
                });
                let task = tokio::spawn(serve(listener, self.engine.clone(), stop));
                (Some(addr), Some(task))
            }
        };
        let (jobs_stop, jobs_rx) = watch::channel(false);
        let alerts = self.alerts.clone().map(|cfg| {
            let sender = crate::alerts::Sender::new(
                self.engine.store().clone(),
                self.engine.clock().clone(),
                cfg,
            );
            tokio::spawn(sender.run(jobs_rx.clone()))
        });
        let scheduler = tokio::spawn(Scheduler::new(self.engine.clone()).run(jobs_rx));
        Ok(Running {
            alerts,
            engine: self.engine.clone(),
            address,
            stopper: Stopper(Arc::new((jobs_stop, server_stop))),
            scheduler: Some(scheduler),
            server,
        })
    }
}

/// Serves HTTP beside the jobs: given the bound listener, the engine and a future that completes
/// at shutdown, the serving future.
pub type Serve = Box<
    dyn FnOnce(
            TcpListener,
            Arc<Engine>,
            BoxFuture<'static, ()>,
        ) -> BoxFuture<'static, std::io::Result<()>>
        + Send,
>;

/// A server to start with the process (the console): where, and how it serves.
pub struct Server {
    /// Port 0 picks a free port ([`Running::address`] tells which).
    pub listen: SocketAddr,
    pub serve: Serve,
}

/// Stops a running process from anywhere (a signal handler): no new runs, running jobs get the
/// shutdown grace, the server finishes its requests.
#[derive(Clone)]
pub struct Stopper(Arc<(watch::Sender<bool>, watch::Sender<bool>)>);

impl Stopper {
    pub fn stop(&self) {
        let _ = self.0.0.send(true);
        let _ = self.0.1.send(true);
    }
}

/// A started process.
pub struct Running {
    engine: Arc<Engine>,
    address: Option<SocketAddr>,
    stopper: Stopper,
    scheduler: Option<JoinHandle<Result<(), StoreError>>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    /// The alert sender, stopped with the jobs.
    alerts: Option<JoinHandle<()>>,
}

impl Running {
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The server's bound address, if a server was started.
    pub fn address(&self) -> Option<SocketAddr> {
        self.address
    }

    /// The server's URL (`http://127.0.0.1:PORT/`), if a server was started.
    pub fn url(&self) -> Option<String> {
        self.address.map(|a| format!("http://{a}/"))
    }

    pub fn stopper(&self) -> Stopper {
        self.stopper.clone()
    }

    /// Stops the scheduler (no new runs; running jobs get the shutdown grace) and waits for it;
    /// the server keeps serving.
    pub async fn stop_jobs(&mut self) -> Result<(), StartupError> {
        let _ = self.stopper.0.0.send(true);
        self.join_scheduler().await
    }

    async fn join_scheduler(&mut self) -> Result<(), StartupError> {
        if let Some(a) = self.alerts.take() {
            let _ = a.await;
        }
        let Some(s) = self.scheduler.take() else {
            return Ok(());
        };
        s.await
            .map_err(|e| StartupError::Task {
                task: "scheduler",
                message: e.to_string(),
            })?
            .map_err(StartupError::Scheduler)
    }

    /// Waits until the process is stopped (by its [`Stopper`]), then for the server to finish.
    pub async fn join(mut self) -> Result<(), StartupError> {
        let jobs = self.join_scheduler().await;
        // The scheduler ends only when stopped; make sure the server hears it too.
        self.stopper.stop();
        if let Some(s) = self.server.take()
            && let Ok(Err(e)) = s.await
        {
            tracing::warn!(error = %e, "the console server stopped with an error");
        }
        jobs
    }

    /// Stops everything and waits for it.
    pub async fn shutdown(self) -> Result<(), StartupError> {
        self.stopper.stop();
        self.join().await
    }
}
