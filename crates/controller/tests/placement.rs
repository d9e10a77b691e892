//! Capacity metering across runs sharing a pool of agents.

use stampede_controller::placement::{
    Placed, Placement, PlacementError, Pool, RunRequest, Selector,
};
use stampede_controller::split::{Demand, split};
use std::collections::BTreeMap;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    (pairs.iter())
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn run(id: &str, users: u32, selector: &[(&str, &str)]) -> RunRequest {
    RunRequest {
        run_id: id.into(),
        users,
        selector: labels(selector),
    }
}

fn reserved(p: &Placement) -> Vec<(String, u32)> {
    p.agents
        .iter()
        .map(|a| (a.agent_id.clone(), a.users))
        .collect()
}

fn eu_us_pool() -> Pool {
    let mut pool = Pool::new();
    pool.add_agent("eu-1", 2_000, labels(&[("region", "eu")]));
    pool.add_agent("eu-2", 1_200, labels(&[("region", "eu"), ("zone", "b")]));
    pool.add_agent("us-1", 4_000, labels(&[("region", "us")]));
    pool
}

#[test]
fn runs_share_the_pool_and_are_split_within_their_reservation() {
    let mut pool = eu_us_pool();
    let Ok(Placed::Now(a)) = pool.request(run("a", 1_600, &[("region", "eu")])) else {
        panic!("fits");
    };
    // In proportion to free capacity (2,000 and 1,200).
    assert_eq!(
        reserved(&a),
        [("eu-1".to_owned(), 1_000), ("eu-2".to_owned(), 600)]
    );
    assert_eq!(pool.free(&labels(&[("region", "eu")])), (1_600, 2));
    // The splitter divides the run inside its reservation.
    let shares = split(&Demand::weighted(1_600, &[1, 3]), &a.agents).unwrap();
    assert_eq!(shares[0].users() + shares[1].users(), 1_600);
    assert!(shares[0].users() <= 1_000 && shares[1].users() <= 600);
    // A run without a selector may use every agent.
    let Ok(Placed::Now(b)) = pool.request(run("b", 5_000, &[])) else {
        panic!("fits");
    };
    let total: u32 = b.agents.iter().map(|a| a.users).sum();
    assert_eq!(total, 5_000);
    assert_eq!(pool.free(&Selector::new()).0, 7_200 - 1_600 - 5_000);
}

#[test]
fn a_run_that_does_not_fit_is_queued_with_a_reason_and_starts_on_release() {
    let mut pool = eu_us_pool();
    pool.request(run("a", 1_600, &[("region", "eu")])).unwrap();
    let queued = pool
        .request(run("big", 3_000, &[("region", "eu")]))
        .unwrap();
    assert_eq!(
        queued,
        Placed::Queued {
            position: 0,
            reason: "needs 3,000 users, 1,600 free on agents matching region=eu".into()
        }
    );
    // A run elsewhere is not held up by it.
    assert!(matches!(
        pool.request(run("us", 500, &[("region", "us")])).unwrap(),
        Placed::Now(_)
    ));
    let started = pool.release("a");
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].run_id, "big");
    assert!(pool.queued().is_empty());
    assert!(pool.placement("a").is_none());
    assert_eq!(pool.free(&labels(&[("region", "eu")])).0, 200);
}

#[test]
fn queued_runs_start_in_order_and_small_ones_do_not_jump_ahead() {
    let mut pool = Pool::new();
    pool.add_agent("x", 1_000, BTreeMap::new());
    pool.request(run("first", 800, &[])).unwrap();
    assert!(matches!(
        pool.request(run("large", 900, &[])).unwrap(),
        Placed::Queued { position: 0, .. }
    ));
    // 200 are free, but "large" waits for the same agent: "small" queues behind it.
    let Placed::Queued { position, reason } = pool.request(run("small", 100, &[])).unwrap() else {
        panic!("must queue");
    };
    assert_eq!(position, 1);
    assert_eq!(
        reason,
        "waiting behind run large (queued earlier, needs the same agents)"
    );
    let started: Vec<String> = pool
        .release("first")
        .into_iter()
        .map(|p| p.run_id)
        .collect();
    assert_eq!(started, ["large", "small"]);
}

#[test]
fn reasons_say_what_to_do() {
    let mut pool = Pool::new();
    let Placed::Queued { reason, .. } = pool.request(run("a", 10, &[])).unwrap() else {
        panic!();
    };
    assert_eq!(reason, "no agent is connected: start agents to run it");
    pool.add_agent("eu-1", 100, labels(&[("region", "eu")]));
    let Placed::Queued { reason, .. } = pool.request(run("b", 10, &[("region", "ap")])).unwrap()
    else {
        panic!();
    };
    assert_eq!(reason, "no agent matches region=ap (1 agent connected)");
    let Placed::Queued { reason, .. } = pool.request(run("c", 5_000, &[("region", "eu")])).unwrap()
    else {
        panic!();
    };
    assert_eq!(
        reason,
        "needs 5,000 users but agents matching region=eu have 100 in total: add agents or lower the load"
    );
    // "a" (no selector) was queued while no agent existed; adding one started it.
    assert!(pool.placement("a").is_some());
    assert_eq!(
        pool.request(run("a", 1, &[])),
        Err(PlacementError::Duplicate("a".into()))
    );
    assert_eq!(
        pool.request(run("z", 0, &[])),
        Err(PlacementError::NoUsers("z".into()))
    );
}

#[test]
fn adding_an_agent_dequeues_and_removing_one_reports_affected_runs() {
    let mut pool = Pool::new();
    pool.add_agent("a", 100, BTreeMap::new());
    pool.request(run("r1", 100, &[])).unwrap();
    assert!(matches!(
        pool.request(run("r2", 150, &[])).unwrap(),
        Placed::Queued { .. }
    ));
    let started = pool.add_agent("b", 150, BTreeMap::new());
    assert_eq!(started.len(), 1);
    assert_eq!(reserved(&started[0]), [("b".to_owned(), 150)]);
    assert_eq!(pool.remove_agent("a"), ["r1"]);
    assert!(pool.placement("r1").unwrap().agents.is_empty());
    // A rebalance may move users onto a survivor, within its capacity.
    pool.add_agent("c", 50, BTreeMap::new());
    assert!(pool.reserve_more("r1", "c", 50));
    assert!(!pool.reserve_more("r1", "c", 1), "c is full");
    assert_eq!(
        reserved(pool.placement("r1").unwrap()),
        [("c".to_owned(), 50)]
    );
    // Releasing returns the capacity.
    pool.release("r1");
    assert_eq!(pool.free(&Selector::new()).0, 50);
}

#[test]
fn many_runs_never_overbook_an_agent() {
    let mut pool = Pool::new();
    for i in 0..5 {
        pool.add_agent(&format!("agent-{i}"), 100 + i * 37, BTreeMap::new());
    }
    let capacity: u64 = (0..5).map(|i| 100 + i * 37).sum();
    let mut running = Vec::new();
    for r in 0..60u32 {
        let id = format!("run-{r}");
        match pool.request(run(&id, 1 + (r * 53) % 200, &[])).unwrap() {
            Placed::Now(p) => running.push(p),
            Placed::Queued { .. } => {}
        }
        if r % 3 == 2 && !running.is_empty() {
            let done = running.remove(0);
            running.extend(pool.release(&done.run_id));
        }
        let reserved: u64 = running
            .iter()
            .flat_map(|p| &p.agents)
            .map(|a| u64::from(a.users))
            .sum();
        let (free, _) = pool.free(&Selector::new());
        assert_eq!(reserved + free, capacity, "after run {r}");
    }
}
