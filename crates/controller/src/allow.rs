//! The target allow-list: which hosts a controller lets runs send load to.
//!
//! A controller started with `--allow-target PATTERN` (or `--allow-targets-file FILE`) refuses,
//! before anything is sent, every run whose target — or any absolute URL one of its requests
//! names, in the scenarios, `setup` or `teardown` — is not covered by a pattern.
//!
//! Patterns:
//!
//! * a host name, matched exactly (`localhost`, `shop.staging.example.com`), or every
//!   sub-domain of a name (`*.staging.example.com` covers `a.staging.example.com` and
//!   `a.b.staging.example.com`, not `staging.example.com` itself);
//! * an IP network in CIDR notation (`127.0.0.0/8`, `::1/128`), or a single address
//!   (`10.0.0.5`, `::1`, the same as `/32` and `/128`);
//! * either followed by `:port` to allow that port only (`localhost:8080`, `10.0.0.0/8:443`,
//!   `[::1]:8080`, `[fd00::/8]:443`); without a port every port is allowed.
//!
//! **Names are matched as written, never resolved.** The controller does not look names up:
//! what a name resolves to can change between the check and the run (and differs between the
//! controller and agents on other networks), so a check on resolved addresses would only look
//! safe. A host written as a name must therefore be allowed by a name pattern, and a host written
//! as an IP address by a network: `localhost` is not covered by `127.0.0.0/8`.
//!
//! Hosts only known at run time cannot be checked: when an allow-list is set, a request whose
//! URL starts with a placeholder (`{{ next_url }}`), or has one in its host or port
//! (`https://{{ host }}/`), is refused. Hosts an allowed target itself sends users to (redirects,
//! a page's embedded resources fetched by `resources:`) are not checked here.
//!
//! Everything here is pure (no I/O but [`AllowList::add_file`]), so it is tested exhaustively.

use stampede_scenario::{Action, Part, Plan, Step, Template};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// An invalid pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid allow-list pattern `{pattern}`: {reason}")]
pub struct PatternError {
    pub pattern: String,
    pub reason: String,
}

/// An allow-list that could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllowError {
    #[error(transparent)]
    Pattern(#[from] PatternError),
    #[error("cannot read the allow-list file {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("{path}:{line}: {error}")]
    InFile {
        path: String,
        line: usize,
        error: PatternError,
    },
    #[error(
        "the allow-list file {path} holds no pattern: write one host name, `*.domain` or CIDR \
         per line"
    )]
    EmptyFile { path: String },
}

/// Why a run is refused: the message is meant for the person who submitted it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    pub message: String,
}

/// The host part of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// An exact host name, lower-case, without a trailing dot.
    Name(String),
    /// `*.suffix`: stores `.suffix` (lower-case).
    Subdomains(String),
    /// A network: its first address and prefix length.
    Net(IpAddr, u8),
}

/// One pattern of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    host: HostPattern,
    port: Option<u16>,
}

/// A host as a request names it: an IP address literal or a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Ip(IpAddr),
    Name(String),
}

impl Host {
    /// Classifies a host as written in a URL (brackets around IPv6 addresses optional):
    /// lower-cased, one trailing dot dropped, IPv4-mapped IPv6 addresses taken as IPv4.
    pub fn parse(host: &str) -> Host {
        let h = host.trim_start_matches('[').trim_end_matches(']');
        match h.parse::<IpAddr>() {
            Ok(ip) => Host::Ip(canonical(ip)),
            Err(_) => Host::Name(normalize_name(h)),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(ip) => write!(f, "{ip}"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn normalize_name(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    lower.strip_suffix('.').unwrap_or(&lower).to_owned()
}

/// Whether a name's last label is numeric (`127.1`, `0x7f.1`, `2130706433`): system resolvers
/// read such names as IPv4 addresses in legacy forms, so they are neither names nor addresses
/// here.
fn numeric_last_label(name: &str) -> bool {
    let last = name.rsplit('.').next().unwrap_or(name);
    let digits = last.strip_prefix("0x").map_or(last, |hex| {
        hex.trim_start_matches(|c: char| c.is_ascii_hexdigit())
    });
    !last.is_empty() && (digits.is_empty() || last.chars().all(|c| c.is_ascii_digit()))
}

fn pattern_error(pattern: &str, reason: impl Into<String>) -> PatternError {
    PatternError {
        pattern: pattern.to_owned(),
        reason: reason.into(),
    }
}

fn valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && (label.chars()).all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Masks `ip` to its first `prefix` bits.
fn network(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

fn parse_host_pattern(text: &str, host: &str) -> Result<HostPattern, PatternError> {
    if host.is_empty() {
        return Err(pattern_error(text, "the host is empty"));
    }
    if let Some((addr, prefix)) = host.split_once('/') {
        let ip: IpAddr = addr.parse().map_err(|_| {
            pattern_error(
                text,
                format!("`{addr}` is not an IP address (a CIDR is written like 10.0.0.0/8)"),
            )
        })?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = (prefix.parse().ok())
            .filter(|p| *p <= max)
            .ok_or_else(|| pattern_error(text, format!("the prefix length must be 0 to {max}")))?;
        let ip = match canonical(ip) {
            IpAddr::V4(v4) if ip.is_ipv6() => {
                // `::ffff:a.b.c.d/n`: the IPv4 network it maps.
                return match prefix.checked_sub(96) {
                    Some(p) => Ok(HostPattern::Net(network(IpAddr::V4(v4), p), p)),
                    None => Err(pattern_error(
                        text,
                        "an IPv4-mapped network needs a prefix of at least 96",
                    )),
                };
            }
            other => other,
        };
        let net = network(ip, prefix);
        if net != ip {
            return Err(pattern_error(
                text,
                format!(
                    "`{ip}` has bits set after the first {prefix}: did you mean {net}/{prefix}?"
                ),
            ));
        }
        return Ok(HostPattern::Net(net, prefix));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        let ip = canonical(ip);
        let bits = if ip.is_ipv4() { 32 } else { 128 };
        return Ok(HostPattern::Net(ip, bits));
    }
    let name = normalize_name(host);
    let (subdomains, rest) = match name.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, name.as_str()),
    };
    if rest.contains('*') || name == "*" {
        return Err(pattern_error(
            text,
            "`*` is only allowed as the whole first label, as in `*.example.com`",
        ));
    }
    if !rest.split('.').all(valid_label) {
        return Err(pattern_error(
            text,
            "expected a host name (letters, digits, `-`, `_` between dots), `*.domain`, an IP \
             address or a CIDR",
        ));
    }
    if numeric_last_label(rest) {
        return Err(pattern_error(
            text,
            "a name cannot end with a numeric label: write IPv4 addresses as a.b.c.d or a CIDR",
        ));
    }
    Ok(if subdomains {
        HostPattern::Subdomains(format!(".{rest}"))
    } else {
        HostPattern::Name(rest.to_owned())
    })
}

fn parse_port(text: &str, port: &str) -> Result<u16, PatternError> {
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(pattern_error(
            text,
            format!("invalid port `{port}` (1 to 65535)"),
        )),
    }
}

impl Pattern {
    /// Parses one pattern (see the module documentation).
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(pattern_error(text, "the pattern is empty"));
        }
        if t.contains("://") {
            return Err(pattern_error(
                text,
                "write the host only, without a scheme or path (e.g. `shop.example.com` or \
                 `shop.example.com:443`)",
            ));
        }
        let (host, port) = if let Some(rest) = t.strip_prefix('[') {
            // `[v6addr]` or `[v6addr/prefix]`, optionally `:port`.
            let (inside, after) = rest
                .split_once(']')
                .ok_or_else(|| pattern_error(text, "missing `]`"))?;
            let port = match after {
                "" => None,
                p => Some(parse_port(
                    text,
                    p.strip_prefix(':')
                        .ok_or_else(|| pattern_error(text, "expected `:port` after `]`"))?,
                )?),
            };
            (inside, port)
        } else if t.matches(':').count() > 1 {
            (t, None) // a bare IPv6 address or network
        } else if let Some((host, port)) = t.split_once(':') {
            (host, Some(parse_port(text, port)?))
        } else {
            (t, None)
        };
        Ok(Pattern {
            host: parse_host_pattern(text, host)?,
            port,
        })
    }

    /// Whether this pattern covers `host` on `port`.
    pub fn covers(&self, host: &Host, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        match (&self.host, host) {
            (HostPattern::Name(n), Host::Name(h)) => n == h,
            (HostPattern::Subdomains(suffix), Host::Name(h)) => {
                h.len() > suffix.len() && h.ends_with(suffix.as_str())
            }
            (HostPattern::Net(net, prefix), Host::Ip(ip)) => {
                net.is_ipv4() == ip.is_ipv4() && network(*ip, *prefix) == *net
            }
            _ => false,
        }
    }
}

/// The allow-list: empty means every target is allowed (no allow-list configured).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    patterns: Vec<Pattern>,
}

impl AllowList {
    /// A list of the given patterns (`--allow-target`).
    pub fn from_patterns<S: AsRef<str>>(
        patterns: impl IntoIterator<Item = S>,
    ) -> Result<AllowList, PatternError> {
        let patterns = (patterns.into_iter())
            .map(|p| Pattern::parse(p.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(AllowList { patterns })
    }

    /// Adds the patterns of a file's text: one per line, blank lines and `#` comments (whole
    /// lines or after a pattern) ignored. `path` is only used in errors.
    pub fn add_text(&mut self, path: &str, text: &str) -> Result<(), AllowError> {
        let mut added = 0;
        for (i, line) in text.lines().enumerate() {
            let line = line
                .split_once('#')
                .map_or(line, |(before, _)| before)
                .trim();
            if line.is_empty() {
                continue;
            }
            let pattern = Pattern::parse(line).map_err(|error| AllowError::InFile {
                path: path.to_owned(),
                line: i + 1,
                error,
            })?;
            self.patterns.push(pattern);
            added += 1;
        }
        if added == 0 {
            return Err(AllowError::EmptyFile {
                path: path.to_owned(),
            });
        }
        Ok(())
    }

    /// Adds the patterns of a file (`--allow-targets-file`); see [`AllowList::add_text`].
    pub fn add_file(&mut self, path: &Path) -> Result<(), AllowError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| AllowError::Unreadable {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        self.add_text(&shown, &text)
    }

    /// Whether no pattern is configured (then every target is allowed).
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// How many patterns are configured.
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    /// Whether `host` (as written in a URL) on `port` is allowed. Always true for an empty list.
    pub fn allows(&self, host: &str, port: u16) -> bool {
        let host = Host::parse(host);
        self.is_empty() || self.patterns.iter().any(|p| p.covers(&host, port))
    }

    /// Checks every host `plan` sends requests to: its target and the absolute URLs of its
    /// requests (scenarios, `setup`, `teardown`). Returns the first refusal.
    pub fn check_plan(&self, plan: &Plan) -> Result<(), Refusal> {
        if self.is_empty() {
            return Ok(());
        }
        let target = &plan.target;
        self.check_host(&target.host, target.port, &format!("the target {target}"))?;
        let flows = (plan.scenarios.iter())
            .flat_map(|s| s.actions())
            .chain(&plan.setup)
            .chain(&plan.teardown);
        for action in flows {
            for step in Action::requests(action) {
                self.check_step(plan, step)?;
            }
        }
        Ok(())
    }

    fn check_step(&self, plan: &Plan, step: &Step) -> Result<(), Refusal> {
        let what = match plan.rows.get(step.row as usize) {
            Some(r) => format!("step `{}` of scenario `{}`", r.name, r.scenario),
            None => "a step".to_owned(),
        };
        match url_host(&step.url) {
            UrlHost::OnTarget => Ok(()),
            UrlHost::Fixed { host, port } => {
                self.check_host(&host, port, &format!("{what} (URL `{}`)", step.url.source))
            }
            UrlHost::Templated => Err(Refusal {
                message: format!(
                    "{what} requests `{}`, whose host is only known at run time; this \
                     controller has a target allow-list and cannot check it: write the URL's \
                     scheme and host literally (`https://host/{{{{ path }}}}`) or use a path on \
                     the target (`/...`)",
                    step.url.source
                ),
            }),
        }
    }

    fn check_host(&self, host: &str, port: u16, what: &str) -> Result<(), Refusal> {
        if self.allows(host, port) {
            return Ok(());
        }
        let parsed = Host::parse(host);
        let how = match &parsed {
            Host::Ip(IpAddr::V4(ip)) => format!(
                "start the controller with `--allow-target {ip}` (or a network covering it, e.g. \
                 `--allow-target {}/24`)",
                network(IpAddr::V4(*ip), 24)
            ),
            Host::Ip(ip) => format!(
                "start the controller with `--allow-target {ip}` (or a network covering it, e.g. \
                 `--allow-target {}/64`)",
                network(*ip, 64)
            ),
            Host::Name(n) if numeric_last_label(n) => format!(
                "`{n}` is an IPv4 address in a legacy form, never allowed: write it as a.b.c.d \
                 and allow it with a CIDR"
            ),
            Host::Name(n) => format!(
                "start the controller with `--allow-target {n}` (or a pattern covering it, e.g. \
                 `--allow-target *.{}`); names are matched as written, not resolved",
                n.split_once('.').map_or(n.as_str(), |(_, parent)| parent)
            ),
        };
        Err(Refusal {
            message: format!(
                "the run was refused before sending any request: {what} sends requests to host \
                 `{parsed}` port {port}, which is not in the controller's target allow-list; to \
                 allow it, {how}"
            ),
        })
    }
}

/// Where a request URL template goes, as far as can be known before rendering it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlHost {
    /// A path on the plan's target.
    OnTarget,
    /// An absolute URL with a literal host and port (the scheme's default port when absent).
    Fixed { host: String, port: u16 },
    /// The URL starts with a placeholder, or one is in its scheme, host or port.
    Templated,
}

/// Classifies a step's URL template (see [`UrlHost`]).
pub fn url_host(url: &Template) -> UrlHost {
    let literal = match url.parts.first() {
        Some(Part::Text(t)) => t.as_str(),
        Some(_) => return UrlHost::Templated,
        None => return UrlHost::OnTarget,
    };
    if literal.starts_with('/') {
        return UrlHost::OnTarget;
    }
    let lower = literal.to_ascii_lowercase();
    let (default_port, rest) = if lower.starts_with("https://") {
        (443, &literal[8..])
    } else if lower.starts_with("http://") {
        (80, &literal[7..])
    } else {
        // Not a path nor an absolute URL as written: only rendering decides.
        return UrlHost::Templated;
    };
    let end = rest.find(['/', '?', '#']);
    let authority = match end {
        Some(end) => &rest[..end],
        None if url.parts.len() == 1 => rest,
        None => return UrlHost::Templated, // the host or port continues in a placeholder
    };
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, after)) => (h, after.strip_prefix(':')),
            None => (v6, None),
        }
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    let port = match port {
        None | Some("") => default_port,
        Some(p) => match p.parse() {
            Ok(p) => p,
            Err(_) => return UrlHost::Templated,
        },
    };
    UrlHost::Fixed {
        host: host.to_owned(),
        port,
    }
}

#[cfg(test)]
#[path = "allow_tests.rs"]
mod tests;
