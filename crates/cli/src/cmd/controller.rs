//! `stampede controller`: serves the agent port and the run API until Ctrl-C.

use crate::args::ControllerArgs;
use crate::dist::api::{Security, serve_secure};
use crate::dist::tls::ServerFiles;
use crate::exit;
use stampede_controller::allow::AllowList;
use stampede_controller::auth::Tokens;
use tokio_util::sync::CancellationToken;

/// TLS and the target allow-list from the command line, every file read and checked.
fn security(args: &ControllerArgs) -> anyhow::Result<Security> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(
            ServerFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: args.client_ca.clone(),
            }
            .load()?,
        ),
        _ => None,
    };
    let mut allow = AllowList::from_patterns(&args.allow_targets)
        .map_err(|e| anyhow::anyhow!("--allow-target: {e}"))?;
    for file in &args.allow_targets_files {
        allow.add_file(file)?;
    }
    Ok(Security { tls, allow })
}

pub async fn controller(args: ControllerArgs) -> anyhow::Result<u8> {
    let tokens = match Tokens::from_file(&args.token_file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::INVALID);
        }
    };
    let security = match security(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(exit::INVALID);
        }
    };
    let scheme = if security.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let allowed = security.allow.len();
    let shutdown = CancellationToken::new();
    let running = serve_secure(
        args.listen,
        args.api,
        tokens,
        args.data_dir.clone(),
        security,
        shutdown.clone(),
    )
    .await?;
    // Printed on stdout (and flushed) so scripts and tests can read the bound ports; a closed
    // stdout must not stop the controller, so write errors are ignored.
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "agents listening on {}", running.agents_addr);
        let _ = writeln!(out, "api listening on {}", running.api_addr);
        let _ = writeln!(out, "results written to {}", args.data_dir.display());
        let _ = match (scheme, &args.client_ca) {
            ("https", Some(_)) => writeln!(out, "TLS on both ports, client certificates required"),
            ("https", None) => writeln!(out, "TLS on both ports (dial https://)"),
            _ => writeln!(out, "no TLS (plain http://; see --tls-cert)"),
        };
        let _ = match allowed {
            0 => writeln!(out, "every target allowed (see --allow-target)"),
            n => writeln!(out, "targets limited by an allow-list of {n} pattern(s)"),
        };
        let _ = out.flush();
    }
    tokio::select! {
        r = tokio::signal::ctrl_c() => {
            r?;
            shutdown.cancel();
            eprintln!("controller: shutting down");
        }
        r = running.servers => { r??; }
    }
    Ok(exit::OK)
}
