//! Per-user HTTP behaviour: cookies and redirects.

use crate::support::{get, ms, plan, run};
use stampede_scenario::{Method, ThinkTime};
use stampede_testkit::TestTarget;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_jar_sends_cookies_back() {
    let target = TestTarget::start().await;
    let steps = || vec![get("login", "/set-cookie/sid/abc"), get("echo", "/echo")];
    let think = ThinkTime::Constant(ms(100));
    let builder = plan(target.addr())
        .users(2, ms(1000))
        .scenario("cookies", 1, think, steps());
    run(builder.build()).await;

    let echoed = target.cookies("/echo");
    assert_eq!(echoed.len() as u64, target.count("/echo"));
    assert!(echoed.len() >= 2);
    assert!(echoed.iter().all(|c| c == "sid=abc"), "{echoed:?}");
    // Each user's very first request had no cookie yet; later ones all carried it.
    let login = target.cookies("/set-cookie/sid/abc");
    assert_eq!(login.len() as u64, target.count("/set-cookie/sid/abc") - 2);

    // Cookies off: nothing is sent back.
    let target = TestTarget::start().await;
    let builder = plan(target.addr())
        .users(1, ms(500))
        .http(|h| h.cookies = false)
        .scenario("cookies", 1, think, steps());
    run(builder.build()).await;
    assert!(target.count("/echo") >= 1);
    assert_eq!(target.cookies("/echo"), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_max_age_zero_deletes() {
    let target = TestTarget::start().await;
    // No think time: one pass through the steps, then the last step is still in flight when
    // the 300 ms profile ends.
    let builder = plan(target.addr()).users(1, ms(300)).scenario(
        "cookies",
        1,
        ThinkTime::None,
        vec![
            get("set", "/set-cookie/a/1"),
            get("also", "/set-cookie/b/2?Path=/check"),
            get("check", "/check"),
            get("delete", "/set-cookie/a/x?Max-Age=0"),
            get("recheck", "/check"),
            get("stop", "/delay/1000"),
        ],
    );
    run(builder.build()).await;
    assert_eq!(target.count("/check"), 2, "one pass through the steps");
    assert_eq!(target.cookies("/check"), vec!["b=2; a=1", "b=2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_one_request_with_the_final_status() {
    let target = TestTarget::start().await;
    let think = ThinkTime::Constant(Duration::from_secs(10));
    let builder = plan(target.addr()).users(1, ms(500)).scenario(
        "r",
        1,
        think,
        vec![get("chain", "/redirect/3")],
    );
    let row = builder.row("r", "chain");
    let out = run(builder.build()).await;

    let chain = out.row(row);
    assert_eq!(chain.requests, 1);
    assert_eq!(chain.status, vec![(200, 1)]);
    assert_eq!(target.total(), 4);
    for n in 0..=3 {
        assert_eq!(target.count(&format!("/redirect/{n}")), 1);
    }

    // Not followed: the 302 itself is the result. A POST redirected by 302 becomes a GET.
    let target = TestTarget::start().await;
    let builder = plan(target.addr())
        .users(1, ms(500))
        .http(|h| h.follow_redirects = false)
        .scenario("r", 1, think, vec![get("chain", "/redirect/3")]);
    let out = run(builder.build()).await;
    assert_eq!(out.row(row).status, vec![(302, 1)]);
    assert_eq!(target.total(), 1);

    let target = TestTarget::start().await;
    let builder = plan(target.addr()).users(1, ms(500)).scenario(
        "r",
        1,
        think,
        vec![
            get("post", "/redirect/1")
                .method(Method::Post)
                .body("text/plain", b"data"),
        ],
    );
    run(builder.build()).await;
    assert_eq!(target.method_count("POST", "/redirect/1"), 1);
    assert_eq!(target.method_count("GET", "/redirect/0"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_to_another_origin_uses_that_origin() {
    let (a, b) = (TestTarget::start().await, TestTarget::start().await);
    let url = format!("/redirect-to?url={}/landing", b.url());
    let builder = plan(a.addr()).users(1, ms(500)).scenario(
        "r",
        1,
        ThinkTime::Constant(Duration::from_secs(10)),
        vec![get("away", &url)],
    );
    let row = builder.row("r", "away");
    let out = run(builder.build()).await;
    assert_eq!(out.row(row).status, vec![(200, 1)]);
    assert_eq!((a.total(), a.count("/redirect-to")), (1, 1));
    assert_eq!((b.total(), b.count("/landing")), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_start_runs_once_per_user_and_is_not_an_iteration() {
    let target = TestTarget::start().await;
    let builder = plan(target.addr())
        .users(3, ms(800))
        .scenario(
            "s",
            1,
            ThinkTime::Constant(ms(150)),
            vec![get("page", "/page")],
        )
        .on_start(vec![get("login", "/login").method(Method::Post)]);
    let (login, page) = (builder.row("s", "login"), builder.row("s", "page"));
    let out = run(builder.build()).await;
    assert_eq!(target.method_count("POST", "/login"), 3);
    assert_eq!(out.requests(login), 3);
    assert!(out.requests(page) >= 6, "{}", out.requests(page));
    assert_eq!(out.requests(page), target.count("/page"));
    assert_eq!(out.iterations(), out.requests(page));
}
