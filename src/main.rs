//! The `orderhook` binary: `orderhook [serve]` runs the gateway; `orderhook migrate`
//! applies the store's migrations and exits.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use orderhook::app::Application;
use orderhook::config::{CONFIG_FILE_ENV, LogFormat, Settings};
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(version, about = "Webhook gateway for restaurant integrations")]
struct Cli {
    /// A TOML file overriding the built-in defaults.
    #[arg(long, env = CONFIG_FILE_ENV, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve webhooks (the default).
    Serve,
    /// Apply the store's migrations and exit.
    Migrate,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref(), std::env::vars())?;
    init_tracing(settings.log.format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Migrate => {
            orderhook::store::open(&settings).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Serve => serve(settings).await,
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    if app.generated_admin_token {
        // Printed once, to the terminal only: it is not written to the log.
        eprintln!(
            "No ORDERHOOK_ADMIN_TOKEN set; the operator token for this run is:\n  {}",
            app.state().admin_token.expose_secret()
        );
    }
    tracing::info!(
        addr = %app.local_addr(),
        store = app.state().store_kind,
        "orderhook listening"
    );
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    app.run_until(shutdown.cancelled_owned())
        .await
        .context("orderhook stopped with an error")?;
    tracing::info!("orderhook stopped");
    Ok(())
}

async fn stop_on_signal(shutdown: CancellationToken) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
    shutdown.cancel();
}

fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
