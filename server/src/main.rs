//! `tickets-server`: serves the API; `tickets-server healthcheck` probes a
//! running one; `tickets-server tokens ...` manages organisers' API tokens.
//! Configuration is from the environment (see `config.rs`).

use std::process::ExitCode;

use tickets_server::config::{AuthSettings, Config, DEFAULT_LISTEN_ADDR};
use tickets_server::startup::Application;
use tickets_server::{healthcheck, telemetry, tokens_cli};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => serve().await,
        Some("healthcheck") => probe().await,
        Some("tokens") => tokens_cli::run(&args[1..]).await,
        Some(other) => {
            eprintln!(
                "unknown argument {other:?}; usage: tickets-server [healthcheck | tokens ...]\n{}",
                tokens_cli::USAGE
            );
            ExitCode::from(2)
        }
    }
}

async fn serve() -> ExitCode {
    let _log = telemetry::init();
    // A setting that cannot be used stops the server before it starts, with
    // exit code 2, as for a bad argument.
    let (config, auth_settings) = match Config::from_env().and_then(|config| {
        let auth_settings = AuthSettings::from_env()?;
        Ok((config, auth_settings))
    }) {
        Ok(settings) => settings,
        Err(error) => {
            tracing::error!(error = %error, "invalid configuration");
            return ExitCode::from(2);
        }
    };
    if let Err(error) = auth_settings.check_at_start() {
        tracing::error!(error = %error, "invalid configuration");
        return ExitCode::from(2);
    }
    let run = async {
        tracing::info!(?config, "starting");
        Application::build(&config, &auth_settings)
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
