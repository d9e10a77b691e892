//! The Lua-side API against a recording host: vars, response, fail, metrics and helpers.

mod common;

use std::sync::Arc;

use common::{TestHost, run};
use stampede_script::{OwnedValue, Scripts, Vm};

#[test]
fn vars_read_text_lists_and_missing() {
    let mut host = TestHost::default().with_var("name", "ada");
    host.vars
        .insert("ids".into(), OwnedValue::List(vec!["7".into(), "8".into()]));
    run(
        r#"
        assert(vars.name == "ada", "text")
        assert(vars.missing == nil, "missing is nil")
        local ids = vars.ids
        assert(type(ids) == "table" and #ids == 2 and ids[1] == "7" and ids[2] == "8", "list")
        vars.seen = vars.name .. ":" .. table.concat(ids, ",")
        "#,
        &mut host,
    )
    .unwrap();
    assert_eq!(host.text("seen"), Some("ada:7,8"));
}

/// Values read are kept as Lua strings (see host.rs): a value the host changed between runs,
/// or within a run through `vars`, is never served from that cache.
#[test]
fn vars_reads_follow_the_host_across_runs_many_names_and_long_values() {
    let mut scripts = Scripts::new();
    let code = r#"
        local out = {}
        for i = 1, 20 do out[#out + 1] = vars["v" .. i] end
        local before = vars.token
        vars.token = before .. "+"
        vars.seen = table.concat(out, ",") .. "|" .. before .. "|" .. vars.token .. "|" .. #vars.long
    "#;
    let id = scripts.add("test.yaml", 1, code).unwrap();
    let mut vm = Vm::new(Arc::new(scripts), 0).unwrap();
    let mut host = TestHost::default();
    for round in 0..3 {
        for i in 1..=20 {
            host = host.with_var(&format!("v{i}"), &format!("{round}-{i}"));
        }
        host = host
            .with_var("token", &format!("t{round}"))
            .with_var("long", &"x".repeat(2000 + round));
        for repeat in 0..2 {
            vm.run(id, &mut host).unwrap();
            let values: Vec<String> = (1..=20).map(|i| format!("{round}-{i}")).collect();
            let token = format!("t{round}{}", "+".repeat(repeat));
            let expected = format!("{}|{token}|{token}+|{}", values.join(","), 2000 + round);
            assert_eq!(host.text("seen"), Some(expected.as_str()), "round {round}");
        }
    }
}

/// With a host that counts its changes, text values read or written are kept by the interpreter
/// and read again without calling the host, until the host changes a variable outside the
/// scripts. Only what the host really holds is kept: numbers come back as the host's text,
/// names it ignores read as nil, lists are new tables on every read.
#[test]
fn kept_vars_values_follow_the_host() {
    let mut scripts = Scripts::new();
    let id = scripts
        .add(
            "test.yaml",
            1,
            r#"
            local a, b = vars.token, vars.token
            vars.count = tostring(tonumber(vars.count) + 1)
            vars.n = 5
            vars.ignored = "x"
            local ids = vars.ids
            ids[1] = "changed"
            vars.seen = table.concat({a, b, vars.count, vars.count, type(vars.n), vars.n,
              tostring(vars.ignored), vars.ids[1]}, ",")
            "#,
        )
        .unwrap();
    let mut vm = Vm::new(Arc::new(scripts), 0).unwrap();
    let mut host = TestHost {
        version: Some(0),
        ignored: vec!["ignored"],
        ..TestHost::default()
    }
    .with_var("token", "t1")
    .with_var("count", "0");
    host.vars
        .insert("ids".into(), OwnedValue::List(vec!["7".into()]));

    vm.run(id, &mut host).unwrap();
    assert_eq!(host.text("seen"), Some("t1,t1,1,1,string,5,nil,7"));
    let first = host.reads.replace(0);

    // Nothing changed outside the scripts: `token` and `count` are not asked for again.
    vm.run(id, &mut host).unwrap();
    assert_eq!(host.text("seen"), Some("t1,t1,2,2,string,5,nil,7"));
    let second = host.reads.replace(0);
    assert!(
        second + 2 <= first,
        "kept values are not read from the host again: {first} then {second} reads"
    );

    // The host changes a variable between runs: everything is read afresh.
    host.vars
        .insert("token".into(), OwnedValue::Text("t2".into()));
    host.version = host.version.map(|v| v + 1);
    vm.run(id, &mut host).unwrap();
    assert_eq!(host.text("seen"), Some("t2,t2,3,3,string,5,nil,7"));
    assert!(
        host.reads.get() > second,
        "a change makes the values read afresh"
    );

    // A run that fails part-way leaves nothing stale behind.
    let mut scripts = Scripts::new();
    let boom = scripts
        .add(
            "test.yaml",
            1,
            "vars.token = 'during'
error('boom')",
        )
        .unwrap();
    let read = scripts
        .add("test.yaml", 1, "vars.seen = vars.token")
        .unwrap();
    let mut vm = Vm::new(Arc::new(scripts), 0).unwrap();
    vm.run(boom, &mut host).unwrap_err();
    vm.run(read, &mut host).unwrap();
    assert_eq!(host.text("seen"), Some("during"));
}

#[test]
fn vars_write_text_numbers_booleans_lists_and_unset() {
    let mut host = TestHost::default().with_var("gone", "x");
    run(
        r#"
        vars.s = "text"
        vars.i = 42
        vars.f = 2.5
        vars.whole = 3.0
        vars.b = true
        vars.list = { "a", 2, false }
        vars.empty = {}
        vars.gone = nil
        "#,
        &mut host,
    )
    .unwrap();
    let text = |s: &str| Some(OwnedValue::Text(s.into()));
    assert_eq!(host.vars.get("s").cloned(), text("text"));
    assert_eq!(host.vars.get("i").cloned(), text("42"));
    assert_eq!(host.vars.get("f").cloned(), text("2.5"));
    assert_eq!(
        host.vars.get("whole").cloned(),
        text("3.0"),
        "as Lua's tostring writes it"
    );
    assert_eq!(host.vars.get("b").cloned(), text("true"));
    assert_eq!(
        host.vars.get("list").cloned(),
        Some(OwnedValue::List(vec![
            "a".into(),
            "2".into(),
            "false".into()
        ]))
    );
    assert_eq!(
        host.vars.get("empty").cloned(),
        Some(OwnedValue::List(vec![]))
    );
    assert!(!host.vars.contains_key("gone"));
}

#[test]
fn vars_reject_values_they_cannot_hold() {
    let cases = [
        (
            "vars.o = { a = 1 }",
            "vars.o = ...: only arrays (keys 1..n) can be stored",
        ),
        ("vars.n = { {1} }", "vars.n = ...: item 1 is a table"),
        (
            "vars.f = print",
            "vars.f = ...: a function cannot be stored",
        ),
        (
            "vars.bin = '\\255'",
            "vars.bin = ...: the text is not valid UTF-8",
        ),
        (
            "vars[true] = 'x'",
            "vars: variable names must be strings, not a boolean",
        ),
        (
            "local v = vars[{}]",
            "vars: variable names must be strings, not a table",
        ),
    ];
    for (code, expected) in cases {
        let err = common::run_err(code);
        assert!(err.message.starts_with(expected), "{code}: {err}");
        assert_eq!(err.line, Some(1), "{code}: {err}");
    }
}

#[test]
fn response_is_nil_before_the_first_request() {
    let mut host = TestHost::default();
    run("vars.r = tostring(response)", &mut host).unwrap();
    assert_eq!(host.text("r"), Some("nil"));
}

#[test]
fn response_status_body_headers_and_json() {
    let mut headers = http::HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    headers.append("set-cookie", "a=1".parse().unwrap());
    headers.append("set-cookie", "b=2".parse().unwrap());
    let body = br#"{"cart":{"items":[{"sku":"x1","qty":2},{"sku":"y2","qty":1}],"total":12.5},"note":null}"#;
    let mut host = TestHost {
        response: Some((201, body.to_vec(), headers)),
        ..TestHost::default()
    };
    run(
        r#"
        assert(response.status == 201 and math.type(response.status) == "integer")
        assert(#response.body > 10)
        assert(response:header("Content-Type") == "application/json", "case-insensitive")
        assert(response:header("set-cookie") == "a=1", "first value")
        assert(response:header("x-missing") == nil)
        local doc = response:json()
        vars.first = doc.cart.items[1].sku
        vars.qty = doc.cart.items[1].qty + doc.cart.items[2].qty
        vars.total = doc.cart.total
        vars.null = tostring(doc.note == json.null)
        local ok, err = pcall(function() response.status = 1 end)
        vars.ro = tostring(err)
        "#,
        &mut host,
    )
    .unwrap();
    assert_eq!(host.text("first"), Some("x1"));
    assert_eq!(host.text("qty"), Some("3"));
    assert_eq!(host.text("total"), Some("12.5"));
    assert_eq!(host.text("null"), Some("true"));
    assert!(
        host.text("ro").unwrap().contains("response is read-only"),
        "{:?}",
        host.text("ro")
    );
}

#[test]
fn response_json_on_a_non_json_body_is_a_located_error() {
    let mut host = TestHost {
        response: Some((200, b"<html>".to_vec(), http::HeaderMap::new())),
        ..TestHost::default()
    };
    let err = run("local x = 1\nlocal doc = response:json()", &mut host).unwrap_err();
    assert_eq!(err.line, Some(2), "{err}");
    assert!(
        err.message.starts_with("response:json(): not valid JSON"),
        "{err}"
    );
}

#[test]
fn fail_records_a_failure_and_the_script_goes_on() {
    let mut host = TestHost::default();
    run(
        "fail('unexpected ' .. 500)\nfail()\nvars.after = 'yes'",
        &mut host,
    )
    .unwrap();
    assert_eq!(
        host.failures,
        ["unexpected 500", "fail() called without a message"]
    );
    assert_eq!(host.text("after"), Some("yes"));
}

#[test]
fn metrics_reach_the_host_in_order() {
    let mut host = TestHost::default();
    run(
        "metrics.counter('carts')\nmetrics.counter('items', 3)\nmetrics.trend('size', 2.5)\nmetrics.gauge('depth', 7)",
        &mut host,
    )
    .unwrap();
    let got: Vec<_> = host
        .metrics
        .iter()
        .map(|(k, n, v)| (*k, n.as_str(), *v))
        .collect();
    assert_eq!(
        got,
        [
            ("counter", "carts", 1.0),
            ("counter", "items", 3.0),
            ("trend", "size", 2.5),
            ("gauge", "depth", 7.0)
        ]
    );

    let cases = [
        (
            "metrics.trend('size', 'big')",
            "bad argument #2 to metrics.trend: expected a number, got a string",
        ),
        (
            "metrics.gauge(nil, 1)",
            "bad argument #1 to metrics.gauge: expected a string, got nil",
        ),
        (
            "metrics.trend('size')",
            "metrics.trend(\"size\", value): the value must be a finite number, not nil",
        ),
        (
            "metrics.counter('n', 0/0)",
            "metrics.counter(\"n\", value): the value must be a finite number, not the number NaN",
        ),
    ];
    for (code, expected) in cases {
        let err = common::run_err(&format!("\n{code}"));
        assert_eq!(
            (err.line, err.message.as_str()),
            (Some(2), expected),
            "{code}"
        );
    }
}

#[test]
fn hashing_helpers_match_known_vectors() {
    let mut host = TestHost::default();
    run(
        r#"
        vars.sha = sha256_hex("abc")
        -- RFC 4231, test case 2.
        vars.hmac = hmac_sha256_hex("Jefe", "what do ya want for nothing?")
        vars.raw = hex_encode(hmac_sha256("Jefe", "what do ya want for nothing?"))
        vars.len = #sha256("abc")
        "#,
        &mut host,
    )
    .unwrap();
    assert_eq!(
        host.text("sha"),
        Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    let rfc4231 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    assert_eq!(host.text("hmac"), Some(rfc4231));
    assert_eq!(host.text("raw"), Some(rfc4231));
    assert_eq!(host.text("len"), Some("32"));
}

#[test]
fn base64_round_trips_binary_data() {
    let mut host = TestHost::default();
    run(
        r#"
        local all = {}
        for i = 0, 255 do all[#all + 1] = string.char(i) end
        local bytes = table.concat(all)
        assert(base64_decode(base64_encode(bytes)) == bytes, "standard")
        assert(base64url_decode(base64url_encode(bytes)) == bytes, "url-safe")
        vars.hello = base64_encode("hello")
        vars.back = base64_decode("aGVsbG8")
        vars.url = base64url_encode("\251\255")
        "#,
        &mut host,
    )
    .unwrap();
    assert_eq!(host.text("hello"), Some("aGVsbG8="));
    assert_eq!(host.text("back"), Some("hello"));
    assert_eq!(host.text("url"), Some("-_8"));
    let err = common::run_err("base64_decode('a$bc')");
    assert!(
        err.message
            .contains("base64_decode: invalid character '$' at byte 2"),
        "{err}"
    );
}

#[test]
fn json_encode_and_decode() {
    let mut host = TestHost::default();
    run(
        r#"
        vars.obj = json.encode({ b = 1, a = { 1, 2, "x" }, c = json.null, d = true, e = 0.5, f = {} })
        vars.arr = json.encode(json.decode("[]"))
        vars.marked = json.encode(json.array({}))
        vars.round = json.encode(json.decode([[{"z":[1,{"y":null}],"s":"\u00e9\n"}]]))
        local cyclic = {}
        cyclic.self = cyclic
        local ok, err = pcall(json.encode, cyclic)
        vars.cyclic = tostring(err)
        "#,
        &mut host,
    )
    .unwrap();
    assert_eq!(
        host.text("obj"),
        Some(r#"{"a":[1,2,"x"],"b":1,"c":null,"d":true,"e":0.5,"f":{}}"#)
    );
    assert_eq!(host.text("arr"), Some("[]"));
    assert_eq!(host.text("marked"), Some("[]"));
    assert_eq!(
        host.text("round"),
        Some("{\"s\":\"é\\n\",\"z\":[1,{\"y\":null}]}")
    );
    assert!(
        host.text("cyclic")
            .unwrap()
            .contains("nest deeper than 128"),
        "{:?}",
        host.text("cyclic")
    );
    let err = common::run_err("json.decode('{oops')");
    assert!(
        err.message.starts_with("json.decode: not valid JSON"),
        "{err}"
    );
}

#[test]
fn uuid_random_int_and_math_random_follow_the_seed() {
    let code = "vars.u = uuid()\nvars.r = random_int(1, 1000000)\nvars.m = math.random(1, 1000000)";
    let mut scripts = Scripts::new();
    let id = scripts.add("seed.lua", 1, code).unwrap();
    let scripts = Arc::new(scripts);
    let values = |seed: u64| {
        let mut host = TestHost::default();
        Vm::new(scripts.clone(), seed)
            .unwrap()
            .run(id, &mut host)
            .unwrap();
        ["u", "r", "m"].map(|k| host.text(k).unwrap().to_owned())
    };
    let a = values(1);
    assert_eq!(a, values(1), "same seed, same values");
    let b = values(2);
    assert!(a.iter().zip(&b).all(|(x, y)| x != y), "{a:?} vs {b:?}");
    let u = &a[0];
    assert_eq!((u.len(), &u[14..15]), (36, "4"), "{u}");

    let mut host = TestHost::default();
    run(
        "for i = 1, 200 do local v = random_int(-1, 1) assert(v >= -1 and v <= 1) end",
        &mut host,
    )
    .unwrap();
    let err = common::run_err("random_int(5, 1)");
    assert!(
        err.message
            .contains("random_int(5, 1): the first bound must not exceed the second"),
        "{err}"
    );
}

#[test]
fn now_ms_is_the_wall_clock() {
    let mut host = TestHost::default();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    run("vars.t = now_ms()\nvars.os = os.time()", &mut host).unwrap();
    let t: i64 = host.text("t").unwrap().parse().unwrap();
    assert!((before..before + 60_000).contains(&t), "{t} vs {before}");
    let os: i64 = host.text("os").unwrap().parse().unwrap();
    assert!((os - t / 1000).abs() <= 1);
}

#[test]
fn globals_persist_across_runs_and_scripts_of_one_vm() {
    let mut scripts = Scripts::new();
    let a = scripts.add("a.lua", 1, "total = (total or 0) + 1").unwrap();
    let b = scripts.add("b.lua", 1, "vars.total = total").unwrap();
    let mut vm = Vm::new(Arc::new(scripts), 0).unwrap();
    let mut host = TestHost::default();
    for _ in 0..3 {
        vm.run(a, &mut host).unwrap();
    }
    vm.run(b, &mut host).unwrap();
    assert_eq!(host.text("total"), Some("3"));
}

#[test]
fn the_example_from_the_docs_runs() {
    let mut host = TestHost {
        response: Some((503, Vec::new(), http::HeaderMap::new())),
        ..TestHost::default()
    }
    .with_var("secret", "key")
    .with_var("body", "data");
    let code = r#"
local n = tonumber(vars.count or "0") + 1
vars.count = tostring(n)
vars.signature = hmac_sha256_hex(vars.secret, vars.body)
if response and response.status ~= 200 then fail("unexpected " .. response.status) end
metrics.counter("carts", 1)
metrics.trend("cart_size", n)
"#;
    run(code, &mut host).unwrap();
    assert_eq!(host.text("count"), Some("1"));
    assert_eq!(host.text("signature").map(str::len), Some(64));
    assert_eq!(host.failures, ["unexpected 503"]);
    assert_eq!(host.metrics.len(), 2);
}

#[test]
fn a_vm_moves_between_threads_and_keeps_its_state() {
    let mut scripts = Scripts::new();
    let id = scripts
        .add(
            "move.lua",
            1,
            "n = (n or 0) + 1\nvars.n = n\nprint('run', n)",
        )
        .unwrap();
    let mut vm = Vm::new(Arc::new(scripts), 0).unwrap();
    let mut host = TestHost::default();
    vm.run(id, &mut host).unwrap();
    let (vm, host) = std::thread::spawn(move || {
        vm.run(id, &mut host).unwrap();
        (vm, host)
    })
    .join()
    .unwrap();
    assert_eq!(host.text("n"), Some("2"));
    assert!(vm.used_memory() > 0);
}
