//! `stampede run --agents N`: an in-process controller on loopback and N `stampede agent` child
//! processes, torn down when the run ends (children are killed on drop, and also exit on their
//! own once the controller is gone).

use super::api::serve;
use anyhow::Context;
use stampede_controller::auth::Tokens;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use tokio_util::sync::CancellationToken;

pub struct LocalCluster {
    pub api_url: String,
    pub token: String,
    children: Vec<Child>,
    shutdown: CancellationToken,
    data_dir: PathBuf,
}

/// A one-off token: 32 hex digits from the standard library's random hasher keys.
fn random_token() -> String {
    use std::hash::{BuildHasher, RandomState};
    let a = RandomState::new().hash_one(std::time::SystemTime::now());
    let b = RandomState::new().hash_one(std::process::id());
    format!("{a:016x}{b:016x}")
}

impl LocalCluster {
    pub async fn start(agents: u32) -> anyhow::Result<LocalCluster> {
        let token = random_token();
        let tokens = Tokens::new([&token])?;
        let data_dir = std::env::temp_dir().join(format!("stampede-local-{}", std::process::id()));
        let shutdown = CancellationToken::new();
        let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let running = serve(
            loopback,
            loopback,
            tokens,
            data_dir.clone(),
            shutdown.clone(),
        )
        .await?;
        let exe = std::env::current_exe().context("finding the stampede executable")?;
        let mut cluster = LocalCluster {
            api_url: format!("http://{}", running.api_addr),
            token: token.clone(),
            children: Vec::new(),
            shutdown,
            data_dir,
        };
        for i in 0..agents {
            let child = Command::new(&exe)
                .arg("agent")
                .arg("--controller")
                .arg(format!("http://{}", running.agents_addr))
                .arg("--id")
                .arg(format!("local-{}", i + 1))
                .arg("--exit-on-disconnect")
                .env("STAMPEDE_TOKEN", &token)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("starting a local agent process")?;
            cluster.children.push(child);
        }
        Ok(cluster)
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.shutdown.cancel();
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}
