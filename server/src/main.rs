//! `tickets-server`: serves the API; `tickets-server healthcheck` probes a
//! running one. Configuration is from the environment (see `config.rs`).

use std::process::ExitCode;

use tickets_server::config::{Config, DEFAULT_LISTEN_ADDR};
use tickets_server::startup::Application;
use tickets_server::{healthcheck, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        None => serve().await,
        Some("healthcheck") => probe().await,
        Some(other) => {
            eprintln!("unknown argument {other:?}; usage: tickets-server [healthcheck]");
            ExitCode::from(2)
        }
    }
}

async fn serve() -> ExitCode {
    let _log = telemetry::init();
    // A setting that cannot be used stops the server before it starts, with
    // exit code 2, as for a bad argument.
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(error = %error, "invalid configuration");
            return ExitCode::from(2);
        }
    };
    let run = async {
        tracing::info!(?config, "starting");
        Application::build(&config)
            .await?
            .run_until(shutdown_signal())
            .await
    };
    match run.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "the server failed");
            ExitCode::FAILURE
        }
    }
}

async fn probe() -> ExitCode {
    let listen_addr =
        std::env::var("LISTEN_ADDR").unwrap_or_else(|_| DEFAULT_LISTEN_ADDR.to_owned());
    let result = match listen_addr.parse() {
        Ok(addr) => healthcheck::probe(addr).await,
        Err(error) => Err(anyhow::anyhow!(
            "LISTEN_ADDR={listen_addr:?} is not valid: {error}"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(error = %error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received"),
        () = terminate => tracing::info!("SIGTERM received"),
    }
}
