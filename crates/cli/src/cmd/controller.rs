//! `stampede controller`: serves the agent port and the run API until Ctrl-C.

use crate::args::ControllerArgs;
use crate::dist::api::serve;
use crate::exit;
use stampede_controller::auth::Tokens;
use tokio_util::sync::CancellationToken;

pub async fn controller(args: ControllerArgs) -> anyhow::Result<u8> {
    let tokens = match Tokens::from_file(&args.token_file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::INVALID);
        }
    };
    let shutdown = CancellationToken::new();
    let running = serve(
        args.listen,
        args.api,
        tokens,
        args.data_dir.clone(),
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
