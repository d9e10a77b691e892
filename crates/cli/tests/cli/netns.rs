//! A distributed run across network namespaces this test creates (`ip netns` + a veth pair): the
//! agents reach the controller and the target over a real network path, not over loopback, and
//! the target checks every connection came from the agents' address. The controller, the target
//! and the submitter live in one namespace, the two agents in another; nothing is sent outside
//! the two namespaces. When the kernel has `netem`, the agents' side of the link is also delayed
//! by 20 ms and no request may be faster than that (this machine's kernel has no `netem`).
//!
//! Creating namespaces needs root (CAP_NET_ADMIN) and iproute2. Where the kernel refuses, the test
//! prints why and returns without asserting: the issue lists these tests as optional, and a
//! machine that cannot create namespaces cannot run them.

use crate::common::{output, read_result, row, stampede_through, temp_dir, text};
use crate::distributed::{
    Procs, assert_exact_split, scenario, spawn_agent, spawn_controller, submit,
};
use nix::sched::{CloneFlags, setns};
use stampede_testkit::TestTarget;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::Command;

/// One-way delay added to everything the agents send.
const DELAY_MS: f64 = 20.0;

/// The namespaces and the veth pair; deleting a namespace deletes its end of the pair.
struct Net {
    /// Controller, target and submitter.
    ctl: String,
    /// The agents.
    agents: String,
    /// The controller namespace's address, as the agents see it.
    ctl_ip: Ipv4Addr,
    /// Whether `tc netem` delays the agents' traffic by [`DELAY_MS`].
    delayed: bool,
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in [&self.ctl, &self.agents] {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip`: {e}"))?;
    match out.status.success() {
        true => Ok(()),
        false => Err(format!(
            "`ip {}`: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

/// Creates the namespaces and the link between them, or says why it cannot.
fn create() -> Result<Net, String> {
    let id = std::process::id();
    let (ctl, agents) = (format!("stp{id}c"), format!("stp{id}a"));
    ip(&["netns", "add", &ctl])?;
    let mut net = Net {
        ctl,
        agents: String::new(),
        ctl_ip: Ipv4Addr::new(10, 231, (id % 250) as u8, 1),
        delayed: false,
    };
    ip(&["netns", "add", &format!("stp{id}a")])?;
    net.agents = agents;
    let (vc, va) = (format!("stv{id}c"), format!("stv{id}a"));
    ip(&["link", "add", &vc, "type", "veth", "peer", "name", &va])?;
    ip(&["link", "set", &vc, "netns", &net.ctl])?;
    ip(&["link", "set", &va, "netns", &net.agents])?;
    let [a, b, c, _] = net.ctl_ip.octets();
    for (ns, dev, host) in [(&net.ctl, &vc, 1), (&net.agents, &va, 2)] {
        ip(&[
            "-n",
            ns,
            "addr",
            "add",
            &format!("{a}.{b}.{c}.{host}/30"),
            "dev",
            dev,
        ])?;
        ip(&["-n", ns, "link", "set", dev, "up"])?;
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
    }
    let delay = format!("{DELAY_MS}ms");
    let netem = [
        "netns",
        "exec",
        &net.agents,
        "tc",
        "qdisc",
        "add",
        "dev",
        &va,
        "root",
    ];
    net.delayed = ip(&[&netem[..], &["netem", "delay", &delay]].concat()).is_ok();
    Ok(net)
}

/// A listener bound to `addr` inside namespace `ns` (a thread enters it, binds, and ends; the
/// socket stays in the namespace).
fn bind_in(ns: &str, addr: SocketAddr) -> TcpListener {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("the namespace's file");
        setns(&file, CloneFlags::CLONE_NEWNET).expect("enter the namespace");
        TcpListener::bind(addr).expect("bind in the namespace")
    })
    .join()
    .expect("bind thread")
}

/// `stampede` run inside namespace `ns`.
fn in_ns(ns: &str) -> Command {
    stampede_through(&["ip", "netns", "exec", ns])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_in_another_namespace_split_exactly_over_a_real_link() {
    let net = match create() {
        Ok(net) => net,
        Err(why) => {
            eprintln!("skipped: cannot set up network namespaces here ({why}); run as root");
            return;
        }
    };
    let target = TestTarget::serve(bind_in(&net.ctl, SocketAddr::from((net.ctl_ip, 0))));
    let dir = temp_dir("netns");
    let mut procs = Procs(Vec::new());
    let listen = format!("{}:0", net.ctl_ip);
    let (agents_url, api, tokens) = spawn_controller(
        in_ns(&net.ctl),
        &listen,
        &[],
        &dir,
        &dir.join("data"),
        &mut procs,
    );
    assert!(agents_url.contains(&net.ctl_ip.to_string()), "{agents_url}");
    for i in 1..=2 {
        let id = format!("ns-agent-{i}");
        spawn_agent(
            in_ns(&net.agents),
            &agents_url,
            &tokens,
            &id,
            &[],
            &mut procs,
        );
    }
    let file = scenario(&dir, &format!("http://{}", target.addr()));
    let (run, out_file) = submit(in_ns(&net.ctl), &file, &api, &tokens, 2);
    let out = output(run).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("on 2 agent(s)"),
        "{}",
        text(&out.stderr)
    );
    let result = read_result(&out_file);
    assert_exact_split(&target, &result);
    // Every connection came over the link, from the agents' namespace.
    let [a, b, c, _] = net.ctl_ip.octets();
    let agents_ip = std::net::IpAddr::from([a, b, c, 2]);
    assert_eq!(
        target.peers().into_iter().collect::<Vec<_>>(),
        [(agents_ip, 9)]
    );
    if net.delayed {
        // Every request crossed the delayed link: none can be faster than the delay.
        for (scenario, name) in [("a", "/a"), ("b", "/b")] {
            let min = row(&result, scenario, name)["latency_ms"]["min"]
                .as_f64()
                .unwrap();
            assert!(
                min >= DELAY_MS,
                "{name}: min latency {min} ms < {DELAY_MS} ms"
            );
        }
    } else {
        eprintln!("note: `tc netem` is not available: the link was not delayed");
    }
    drop(procs);
    drop(net);
}
