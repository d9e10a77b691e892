//! Security of distributed runs with real processes on loopback: TLS on the controller's ports
//! (certificates made here with rcgen), mutual TLS, and the target allow-list.

use crate::common::{output, read_result, row, stampede, temp_dir, text, write};
use crate::distributed::{Procs, TOKEN, spawn_controller};
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use stampede_testkit::TestTarget;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a refused agent that may retry is watched; one that must exit gets `LONG`.
const SHORT: Duration = Duration::from_secs(4);
const LONG: Duration = Duration::from_secs(20);

/// A throwaway CA with a server certificate for 127.0.0.1 and a client certificate, as PEM
/// files in `dir`.
struct Pki {
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

fn ca(name: &str) -> (CertificateParams, KeyPair) {
    let key = KeyPair::generate().expect("CA key");
    let mut params = CertificateParams::new(Vec::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    (params, key)
}

fn make_pki(dir: &Path, name: &str) -> Pki {
    let (ca_params, ca_key) = ca(name);
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().expect("server key");
    let mut server = CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("params");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server.signed_by(&server_key, &issuer).expect("server cert");
    let client_key = KeyPair::generate().expect("client key");
    let mut client = CertificateParams::new(Vec::new()).expect("params");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client.signed_by(&client_key, &issuer).expect("client cert");
    let file = |suffix: &str, pem: String| write(dir, &format!("{name}-{suffix}.pem"), &pem);
    Pki {
        ca: file("ca", ca_cert.pem()),
        server_cert: file("server", server_cert.pem()),
        server_key: file("server-key", server_key.serialize_pem()),
        client_cert: file("client", client_cert.pem()),
        client_key: file("client-key", client_key.serialize_pem()),
    }
}

/// Starts `stampede controller EXTRA…` on ports chosen by the system; returns the agent and API
/// URLs (`https://` with a certificate) and the token file.
fn controller(
    dir: &Path,
    extra: &[&std::ffi::OsStr],
    procs: &mut Procs,
) -> (String, String, PathBuf) {
    spawn_controller(
        stampede(),
        "127.0.0.1:0",
        extra,
        dir,
        &dir.join("data"),
        procs,
    )
}

fn agent_command(url: &str, tokens: &Path, tls: &[&std::ffi::OsStr]) -> Command {
    let mut c = stampede();
    c.args(["agent", "--controller", url, "--id", "secure-agent"])
        .arg("--token-file")
        .arg(tokens)
        .args(tls);
    c
}

/// An agent that must be refused: waits (at most `wait`) for it to give up, else stops it (a
/// connection closed during set-up is retried), and returns its output.
async fn refused_agent(mut cmd: Command, wait: Duration) -> Output {
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start an agent");
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline && child.try_wait().expect("poll").is_none() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    tokio::task::spawn_blocking(move || child.wait_with_output().expect("agent output"))
        .await
        .expect("join")
}

fn scenario(dir: &Path, target: &str) -> PathBuf {
    let yaml = format!(
        "version: 1\ntarget: {target}\nload: {{ users: 2, spawn_rate: 100/s, duration: 20s, iterations: {{ per_user: 3 }} }}\n\
         setup:\n  - get: /setup\n\
         scenarios:\n  - name: s\n    steps:\n      - get: /secure\n"
    );
    write(dir, "secure.yaml", &yaml)
}

async fn submit(file: &Path, api: &str, tokens: &Path, extra: &[&std::ffi::OsStr]) -> Output {
    output({
        let mut c = stampede();
        c.arg("run")
            .arg(file)
            .args(["--controller", api, "--quiet", "--wait-agents", "20s"])
            .arg("--token-file")
            .arg(tokens)
            .arg("--out")
            .arg(file.with_file_name("result.json"))
            .args(extra);
        c
    })
    .await
}

fn assert_ran(out: &Output, target: &TestTarget, file: &Path) {
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let result = read_result(&file.with_file_name("result.json"));
    assert_eq!(row(&result, "s", "/secure")["requests"].as_u64(), Some(6));
    assert_eq!(target.count("/secure"), 6, "{:?}", target.counts());
    assert_eq!(
        target.count("/setup"),
        1,
        "setup runs once, on the controller"
    );
}

fn os(s: &Path) -> &std::ffi::OsStr {
    s.as_os_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_controller_serves_agents_and_runs_that_trust_its_ca() {
    let target = TestTarget::start().await;
    let dir = temp_dir("sec-tls");
    let pki = make_pki(&dir, "main");
    let mut procs = Procs(Vec::new());
    let tls: [&std::ffi::OsStr; 4] = [
        "--tls-cert".as_ref(),
        os(&pki.server_cert),
        "--tls-key".as_ref(),
        os(&pki.server_key),
    ];
    let (agents, api, tokens) = controller(&dir, &tls, &mut procs);
    let trust: [&std::ffi::OsStr; 2] = ["--ca-file".as_ref(), os(&pki.ca)];
    let file = scenario(&dir, &target.url());

    // Plain http:// to the TLS port: the agent says to use https:// (and stops, when the TLS
    // record it got shows it for sure; a connection merely closed is retried).
    let plain = agents.replacen("https://", "http://", 1);
    let out = refused_agent(agent_command(&plain, &tokens, &[]), SHORT).await;
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("connected to the controller"), "{stderr}");
    assert!(
        stderr.contains(&format!("with an https:// URL: {agents}")),
        "{stderr}"
    );

    // https:// without the CA: the built-in public roots do not trust it; final.
    let out = refused_agent(agent_command(&agents, &tokens, &[]), LONG).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("UnknownIssuer"), "{stderr}");
    assert!(stderr.contains("--ca-file"), "{stderr}");

    // A CA file that is a key, not a certificate: named, and what to do.
    let bad: [&std::ffi::OsStr; 2] = ["--ca-file".as_ref(), os(&pki.server_key)];
    let out = submit(&file, &api, &tokens, &bad).await;
    let stderr = text(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr.contains("main-server-key.pem holds no certificate"),
        "{stderr}"
    );
    assert!(stderr.contains("BEGIN CERTIFICATE"), "{stderr}");

    // With the CA: the agent connects and the run completes over TLS on both ports.
    let child = agent_command(&agents, &tokens, &trust)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start an agent");
    procs.0.push(child);
    let out = submit(&file, &api, &tokens, &trust).await;
    assert_ran(&out, &target, &file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_refuses_agents_without_a_client_certificate_signed_by_the_client_ca() {
    let target = TestTarget::start().await;
    let dir = temp_dir("sec-mtls");
    let pki = make_pki(&dir, "main");
    let stranger = make_pki(&dir, "stranger");
    let mut procs = Procs(Vec::new());
    let args: [&std::ffi::OsStr; 6] = [
        "--tls-cert".as_ref(),
        os(&pki.server_cert),
        "--tls-key".as_ref(),
        os(&pki.server_key),
        "--client-ca".as_ref(),
        os(&pki.ca),
    ];
    let (agents, api, tokens) = controller(&dir, &args, &mut procs);
    let file = scenario(&dir, &target.url());
    let trust_only: [&std::ffi::OsStr; 2] = ["--ca-file".as_ref(), os(&pki.ca)];

    // No client certificate: refused, and told to give one.
    let out = refused_agent(agent_command(&agents, &tokens, &trust_only), SHORT).await;
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("connected to the controller"), "{stderr}");
    assert!(stderr.contains("client certificate"), "{stderr}");
    assert!(stderr.contains("--tls-cert"), "{stderr}");

    // A client certificate from another CA: never registered either.
    let foreign: [&std::ffi::OsStr; 6] = [
        "--ca-file".as_ref(),
        os(&pki.ca),
        "--tls-cert".as_ref(),
        os(&stranger.client_cert),
        "--tls-key".as_ref(),
        os(&stranger.client_key),
    ];
    let out = refused_agent(agent_command(&agents, &tokens, &foreign), SHORT).await;
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("connected to the controller"), "{stderr}");
    assert!(stderr.contains("--client-ca"), "{stderr}");

    // The API port requires one too.
    let out = submit(&file, &api, &tokens, &trust_only).await;
    let stderr = text(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("client certificate"), "{stderr}");
    assert_eq!(target.total(), 0);

    // With the client certificate: both sides get in and the run completes.
    let with_cert: [&std::ffi::OsStr; 6] = [
        "--ca-file".as_ref(),
        os(&pki.ca),
        "--tls-cert".as_ref(),
        os(&pki.client_cert),
        "--tls-key".as_ref(),
        os(&pki.client_key),
    ];
    let child = agent_command(&agents, &tokens, &with_cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start an agent");
    procs.0.push(child);
    let out = submit(&file, &api, &tokens, &with_cert).await;
    assert_ran(&out, &target, &file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_allow_list_refuses_runs_aimed_elsewhere_before_any_request() {
    let target = TestTarget::start().await;
    let dir = temp_dir("sec-allow");
    let mut procs = Procs(Vec::new());
    let only_lab: [&std::ffi::OsStr; 2] = ["--allow-target".as_ref(), "10.0.0.0/8".as_ref()];
    let (agents, api, tokens) = controller(&dir, &only_lab, &mut procs);
    let child = agent_command(&agents, &tokens, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start an agent");
    procs.0.push(child);
    let file = scenario(&dir, &target.url());
    let out = submit(&file, &api, &tokens, &[]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("the controller refused the run"),
        "{stderr}"
    );
    assert!(
        stderr.contains("refused before sending any request"),
        "{stderr}"
    );
    let port = target.addr().port();
    assert!(
        stderr.contains(&format!("host `127.0.0.1` port {port}")),
        "{stderr}"
    );
    assert!(stderr.contains("--allow-target 127.0.0.1"), "{stderr}");
    assert_eq!(target.total(), 0, "not even setup: {:?}", target.counts());

    // A controller allowing loopback (from a file) accepts the same run...
    let dir = temp_dir("sec-allow-ok");
    let list = write(&dir, "allow.txt", "# the test machine\n127.0.0.0/8\n");
    let from_file: [&std::ffi::OsStr; 2] = ["--allow-targets-file".as_ref(), os(&list)];
    let (agents, api, tokens) = controller(&dir, &from_file, &mut procs);
    let child = agent_command(&agents, &tokens, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start an agent");
    procs.0.push(child);
    let file = scenario(&dir, &target.url());
    let out = submit(&file, &api, &tokens, &[]).await;
    assert_ran(&out, &target, &file);

    // ...but not one whose step names a host outside it (`localhost` is a name: not covered by
    // 127.0.0.0/8, since names are not resolved).
    let before = target.total();
    let yaml = format!(
        "version: 1\ntarget: {}\nload: {{ users: 1, duration: 2s }}\nscenarios:\n  - name: s\n    steps:\n      - get: /ok\n      - get: http://localhost:{port}/elsewhere\n",
        target.url()
    );
    let other = write(&dir, "elsewhere.yaml", &yaml);
    let out = submit(&other, &api, &tokens, &[]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("host `localhost`"), "{stderr}");
    assert!(stderr.contains("--allow-target localhost"), "{stderr}");
    assert_eq!(target.total(), before, "{:?}", target.counts());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_security_files_stop_the_controller_with_the_file_named() {
    let dir = temp_dir("sec-files");
    let pki = make_pki(&dir, "main");
    let tokens = write(&dir, "ctl.token", &format!("{TOKEN}\n"));
    let run = |extra: Vec<&std::ffi::OsStr>| {
        let mut c = stampede();
        c.args([
            "controller",
            "--listen",
            "127.0.0.1:0",
            "--api",
            "127.0.0.1:0",
        ])
        .arg("--token-file")
        .arg(&tokens)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(extra);
        output(c)
    };
    let missing = dir.join("missing.pem");
    let out = run(vec![
        "--tls-cert".as_ref(),
        os(&missing),
        "--tls-key".as_ref(),
        os(&pki.server_key),
    ])
    .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot read the certificate file"),
        "{stderr}"
    );
    assert!(stderr.contains("missing.pem"), "{stderr}");
    let out = run(vec![
        "--tls-cert".as_ref(),
        os(&pki.server_cert),
        "--tls-key".as_ref(),
        os(&pki.client_key),
    ])
    .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("main-client-key.pem cannot be used with the certificate"),
        "{stderr}"
    );
    let list = write(&dir, "allow.txt", "localhost\n10.0.0.1/8\n");
    let out = run(vec!["--allow-targets-file".as_ref(), os(&list)]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("allow.txt:2:"), "{stderr}");
    assert!(stderr.contains("did you mean 10.0.0.0/8"), "{stderr}");
}
