use super::*;
use stampede_scenario::{Overrides, load_str};

fn list(patterns: &[&str]) -> AllowList {
    AllowList::from_patterns(patterns).expect("valid patterns")
}

fn reason(pattern: &str) -> String {
    Pattern::parse(pattern).expect_err(pattern).reason
}

#[test]
fn an_empty_list_allows_everything() {
    let l = AllowList::default();
    assert!(l.is_empty());
    assert!(l.allows("anything.example.com", 443));
    assert!(l.allows("8.8.8.8", 53));
}

#[test]
fn exact_names_match_case_insensitively_and_ignore_one_trailing_dot() {
    let l = list(&["localhost", "Shop.Example.com."]);
    assert!(l.allows("localhost", 80));
    assert!(l.allows("LOCALHOST", 8080));
    assert!(l.allows("localhost.", 1));
    assert!(l.allows("shop.example.com", 443));
    assert!(!l.allows("example.com", 443));
    assert!(!l.allows("a.shop.example.com", 443));
    assert!(!l.allows("shop.example.com.evil.net", 443));
    assert!(!l.allows("localhostx", 80));
}

#[test]
fn wildcards_cover_every_subdomain_but_not_the_domain_itself() {
    let l = list(&["*.staging.example.com"]);
    assert!(l.allows("a.staging.example.com", 443));
    assert!(l.allows("a.b.staging.example.com", 443));
    assert!(l.allows("A.Staging.Example.Com", 443));
    assert!(!l.allows("staging.example.com", 443));
    assert!(
        !l.allows("xstaging.example.com", 443),
        "a label boundary is required"
    );
    assert!(!l.allows("staging.example.com.evil.net", 443));
    assert!(!l.allows("example.com", 443));
}

#[test]
fn names_are_never_resolved_so_networks_do_not_cover_names() {
    let l = list(&["127.0.0.0/8", "::1/128"]);
    assert!(l.allows("127.0.0.1", 80));
    assert!(l.allows("127.255.1.2", 80));
    assert!(!l.allows("localhost", 80));
    assert!(!l.allows("128.0.0.1", 80));
    assert!(l.allows("::1", 80));
    assert!(l.allows("[::1]", 80), "brackets as in URLs");
    assert!(!l.allows("::2", 80));
}

#[test]
fn name_patterns_do_not_cover_ip_literals() {
    let l = list(&["localhost", "*.example.com"]);
    assert!(!l.allows("127.0.0.1", 80));
    assert!(!l.allows("::1", 80));
}

#[test]
fn a_single_address_is_a_full_length_network() {
    let l = list(&["10.0.0.5", "fd00::1"]);
    assert!(l.allows("10.0.0.5", 1));
    assert!(!l.allows("10.0.0.6", 1));
    assert!(l.allows("fd00::1", 1));
    assert!(l.allows("FD00:0:0::1", 1), "any IPv6 spelling");
    assert!(!l.allows("fd00::2", 1));
}

#[test]
fn network_boundaries_are_exact() {
    let l = list(&["10.1.2.0/23", "2001:db8::/32"]);
    assert!(l.allows("10.1.2.0", 1));
    assert!(l.allows("10.1.3.255", 1));
    assert!(!l.allows("10.1.4.0", 1));
    assert!(!l.allows("10.1.1.255", 1));
    assert!(l.allows("2001:db8:ffff::1", 1));
    assert!(!l.allows("2001:db9::1", 1));
    let all = list(&["0.0.0.0/0"]);
    assert!(all.allows("255.255.255.255", 1));
    assert!(
        !all.allows("::1", 1),
        "an IPv4 network never covers IPv6 addresses"
    );
    let all6 = list(&["::/0"]);
    assert!(all6.allows("2001:db8::1", 1));
    assert!(!all6.allows("10.0.0.1", 1));
}

#[test]
fn ipv4_mapped_ipv6_addresses_are_matched_as_ipv4() {
    let l = list(&["127.0.0.0/8"]);
    assert!(l.allows("::ffff:127.0.0.1", 80));
    assert!(l.allows("[::ffff:7f00:1]", 80));
    assert!(!l.allows("::ffff:10.0.0.1", 80));
    let mapped = list(&["::ffff:10.0.0.0/104"]);
    assert!(mapped.allows("10.9.9.9", 80));
    assert!(!mapped.allows("11.0.0.0", 80));
    assert!(!list(&["::/0"]).allows("::ffff:10.0.0.1", 80));
}

#[test]
fn ports_restrict_when_given() {
    let l = list(&[
        "localhost:8080",
        "10.0.0.0/8:443",
        "[::1]:9000",
        "[fd00::/8]:443",
    ]);
    assert!(l.allows("localhost", 8080));
    assert!(!l.allows("localhost", 8081));
    assert!(l.allows("10.2.3.4", 443));
    assert!(!l.allows("10.2.3.4", 80));
    assert!(l.allows("::1", 9000));
    assert!(!l.allows("::1", 9001));
    assert!(l.allows("fd12::1", 443));
    assert!(!l.allows("fd12::1", 80));
    let wild = list(&["*.example.com:443"]);
    assert!(wild.allows("a.example.com", 443));
    assert!(!wild.allows("a.example.com", 80));
}

#[test]
fn legacy_numeric_ipv4_forms_are_never_allowed() {
    // Resolvers read these as 127.0.0.1; they are not names a name pattern may cover.
    let l = list(&["127.0.0.0/8", "*.example.com", "localhost"]);
    for host in [
        "127.1",
        "2130706433",
        "0x7f000001",
        "0x7f.0.0.1",
        "017700000001",
    ] {
        assert!(!l.allows(host, 80), "{host}");
    }
    assert!(reason("*.1").contains("numeric label"));
    assert!(reason("127.1").contains("numeric label"));
    assert!(reason("0x7f.1").contains("numeric label"));
    assert!(Pattern::parse("a1.example.com").is_ok());
    assert!(Pattern::parse("1a.example").is_ok());
}

#[test]
fn invalid_patterns_say_what_is_wrong() {
    assert!(reason("").contains("empty"));
    assert!(reason("   ").contains("empty"));
    assert!(reason("https://example.com").contains("without a scheme"));
    assert!(reason("*").contains("first label"));
    assert!(reason("a.*.example.com").contains("first label"));
    assert!(reason("*example.com").contains("first label"));
    assert!(reason("exa mple.com").contains("host name"));
    assert!(reason("example..com").contains("host name"));
    assert!(reason("example.com/path").contains("not an IP address"));
    assert!(reason("10.0.0.0/33").contains("0 to 32"));
    assert!(reason("::/129").contains("0 to 128"));
    assert!(reason("10.0.0.0/x").contains("prefix length"));
    assert!(reason("10.0.0.1/8").contains("did you mean 10.0.0.0/8"));
    assert!(reason("localhost:0").contains("invalid port"));
    assert!(reason("localhost:99999").contains("invalid port"));
    assert!(reason("localhost:").contains("invalid port"));
    assert!(reason("[::1").contains("missing `]`"));
    assert!(reason("[::1]8080").contains("`:port`"));
    assert!(reason(":80").contains("host is empty"));
    assert!(reason("::ffff:10.0.0.0/8").contains("at least 96"));
    let e = Pattern::parse("10.0.0.0/33").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("invalid allow-list pattern `10.0.0.0/33`")
    );
}

#[test]
fn from_patterns_stops_at_the_first_invalid_one() {
    let e = AllowList::from_patterns(["localhost", "bad pattern"]).unwrap_err();
    assert_eq!(e.pattern, "bad pattern");
}

#[test]
fn files_hold_one_pattern_per_line_with_comments() {
    let mut l = AllowList::default();
    l.add_text(
        "allow.txt",
        "# staging\n*.staging.example.com\n\n  10.0.0.0/8   # the lab\nlocalhost:8080\n",
    )
    .unwrap();
    assert_eq!(l.len(), 3);
    assert!(l.allows("x.staging.example.com", 1));
    assert!(l.allows("10.1.1.1", 1));
    assert!(l.allows("localhost", 8080));
    assert!(!l.allows("localhost", 80));
}

#[test]
fn file_errors_name_the_file_and_line() {
    let mut l = AllowList::default();
    let e = l
        .add_text("allow.txt", "localhost\n\nbad host\n")
        .unwrap_err();
    assert!(matches!(e, AllowError::InFile { line: 3, .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with("allow.txt:3: invalid allow-list pattern `bad host`")
    );
    let e = l.add_text("empty.txt", "# nothing\n\n").unwrap_err();
    assert!(e.to_string().contains("empty.txt holds no pattern"), "{e}");
    let missing = Path::new("/nonexistent/stampede/allow.txt");
    let e = l.add_file(missing).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("cannot read the allow-list file /nonexistent/stampede/allow.txt"),
        "{e}"
    );
}

fn template(source: &str) -> Template {
    // Built the way the scenario crate does: text and placeholders.
    let mut parts = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push(Part::Text(rest[..start].to_owned()));
        }
        let end = rest[start..].find("}}").expect("closed") + start + 2;
        let name = rest[start + 2..end - 2].trim().to_owned();
        parts.push(Part::Expr(stampede_scenario::Expr::Var(name)));
        rest = &rest[end..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.to_owned()));
    }
    Template {
        source: source.to_owned(),
        parts,
    }
}

fn fixed(host: &str, port: u16) -> UrlHost {
    UrlHost::Fixed {
        host: host.to_owned(),
        port,
    }
}

#[test]
fn url_hosts_are_read_from_the_literal_part() {
    assert_eq!(url_host(&template("/a?b=1")), UrlHost::OnTarget);
    assert_eq!(url_host(&template("/a/{{ id }}")), UrlHost::OnTarget);
    assert_eq!(url_host(&template("")), UrlHost::OnTarget);
    assert_eq!(
        url_host(&template("http://a.example")),
        fixed("a.example", 80)
    );
    assert_eq!(
        url_host(&template("https://a.example/x")),
        fixed("a.example", 443)
    );
    assert_eq!(
        url_host(&template("HTTPS://A.example:8443?q")),
        fixed("A.example", 8443)
    );
    assert_eq!(
        url_host(&template("http://a.example:81#f")),
        fixed("a.example", 81)
    );
    assert_eq!(
        url_host(&template("http://[::1]:8080/x")),
        fixed("::1", 8080)
    );
    assert_eq!(url_host(&template("http://[::1]/x")), fixed("::1", 80));
    assert_eq!(
        url_host(&template("http://h.example/{{ path }}")),
        fixed("h.example", 80)
    );
    assert_eq!(
        url_host(&template("http://u@h.example/")),
        fixed("h.example", 80)
    );
}

#[test]
fn urls_whose_host_is_rendered_are_templated() {
    for url in [
        "{{ next }}",
        "{{ base }}/x",
        "http://{{ host }}/x",
        "https://api.{{ region }}.example.com/",
        "http://h.example:{{ port }}/x",
        "http://h.example{{ suffix }}",
        "http://h.example:x/",
        "ftp://h.example/",
    ] {
        assert_eq!(url_host(&template(url)), UrlHost::Templated, "{url}");
    }
}

fn plan(yaml: &str) -> Plan {
    let src = format!("version: 1\nload: {{ users: 1, duration: 1s }}\n{yaml}");
    match load_str(&src, "t.yaml", &Overrides::default()) {
        Ok(l) => l.plan,
        Err(d) => panic!("{}", d.render(false)),
    }
}

#[test]
fn a_plan_on_an_allowed_target_passes() {
    let p = plan(
        "target: http://127.0.0.1:8080\nscenarios:\n  - name: s\n    steps:\n      - get: /a\n      \
         - get: http://127.0.0.2:9000/b\n",
    );
    assert_eq!(list(&["127.0.0.0/8"]).check_plan(&p), Ok(()));
    assert_eq!(AllowList::default().check_plan(&p), Ok(()));
}

#[test]
fn a_target_outside_the_list_is_refused_with_how_to_allow_it() {
    let p = plan(
        "target: http://127.0.0.1:8080\nscenarios:\n  - name: s\n    steps: [ { get: /a } ]\n",
    );
    let e = list(&["10.0.0.0/8"]).check_plan(&p).unwrap_err().message;
    assert!(e.contains("refused before sending any request"), "{e}");
    assert!(e.contains("the target http://127.0.0.1:8080"), "{e}");
    assert!(e.contains("host `127.0.0.1` port 8080"), "{e}");
    assert!(e.contains("--allow-target 127.0.0.1"), "{e}");
    assert!(e.contains("127.0.0.0/24"), "{e}");
    let p = plan(
        "target: https://shop.example.com\nscenarios:\n  - name: s\n    steps: [ { get: /a } ]\n",
    );
    let e = list(&["localhost"]).check_plan(&p).unwrap_err().message;
    assert!(e.contains("host `shop.example.com` port 443"), "{e}");
    assert!(e.contains("--allow-target shop.example.com"), "{e}");
    assert!(e.contains("--allow-target *.example.com"), "{e}");
    assert!(e.contains("not resolved"), "{e}");
}

#[test]
fn absolute_urls_in_every_flow_are_checked() {
    let allow = list(&["127.0.0.1"]);
    let head = "target: http://127.0.0.1:8080\n";
    let cases = [
        "scenarios:\n  - name: s\n    steps:\n      - get: http://10.9.9.9/x\n",
        "scenarios:\n  - name: s\n    on_start: [ { get: http://10.9.9.9/x } ]\n    steps: [ { get: /a } ]\n",
        "scenarios:\n  - name: s\n    on_stop: [ { get: http://10.9.9.9/x } ]\n    steps: [ { get: /a } ]\n",
        "scenarios:\n  - name: s\n    steps:\n      - group: g\n        steps:\n          - repeat: 2\n            steps: [ { get: http://10.9.9.9/x } ]\n",
        "scenarios:\n  - name: s\n    steps:\n      - if: { last_check: failed }\n        steps: [ { get: /a } ]\n        else: [ { get: http://10.9.9.9/x } ]\n",
        "setup:\n  - get: http://10.9.9.9/x\nscenarios:\n  - name: s\n    steps: [ { get: /a } ]\n",
        "teardown:\n  - get: http://10.9.9.9/x\nscenarios:\n  - name: s\n    steps: [ { get: /a } ]\n",
    ];
    for case in cases {
        let p = plan(&format!("{head}{case}"));
        let e = allow.check_plan(&p).expect_err(case).message;
        assert!(e.contains("host `10.9.9.9` port 80"), "{case}: {e}");
        assert!(e.contains("URL `http://10.9.9.9/x`"), "{case}: {e}");
    }
}

#[test]
fn the_refusal_names_the_step_and_scenario() {
    let p = plan(
        "target: http://127.0.0.1:8080\nscenarios:\n  - name: browse\n    steps:\n      - get: http://evil.example/x\n        name: exfil\n",
    );
    let e = list(&["127.0.0.1"]).check_plan(&p).unwrap_err().message;
    assert!(e.contains("step `exfil` of scenario `browse`"), "{e}");
    assert!(e.contains("host `evil.example` port 80"), "{e}");
}

#[test]
fn templated_hosts_are_refused_only_when_a_list_is_set() {
    let p = plan(
        "target: http://127.0.0.1:8080\nvariables: { next: /n }\nscenarios:\n  - name: s\n    steps:\n      - get: '{{ next }}'\n",
    );
    assert_eq!(AllowList::default().check_plan(&p), Ok(()));
    let e = list(&["127.0.0.0/8"]).check_plan(&p).unwrap_err().message;
    assert!(e.contains("`{{ next }}`"), "{e}");
    assert!(e.contains("only known at run time"), "{e}");
    assert!(
        e.contains("write the URL's scheme and host literally"),
        "{e}"
    );
}
