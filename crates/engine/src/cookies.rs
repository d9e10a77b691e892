//! A per-virtual-user cookie jar: a small subset of RFC 6265.
//!
//! Supported: `Set-Cookie: name=value` with the `Path`, `Domain`, `Max-Age`, `Expires` and
//! `Secure` attributes; matching cookies are sent in one `Cookie` header, longest path first.
//!
//! * `Max-Age` wins over `Expires`; `Max-Age <= 0` deletes the cookie.
//! * `Expires` is parsed with the RFC 6265 §5.1.1 date algorithm: a date in the past deletes the
//!   cookie, a future one makes it expire then; an unparsable date leaves a session cookie.
//! * `Domain` must domain-match the request host (no public-suffix list: a server could set a
//!   cookie for a whole TLD; irrelevant for load tests). Without it the cookie is host-only.
//! * `Path` defaults to the directory of the request path.
//! * `Secure` cookies are only sent over HTTPS. `HttpOnly`, `SameSite` and other attributes are
//!   ignored; so are non-UTF-8 headers and cookies without `=`.
//! * At most [`MAX_COOKIES`] cookies are kept; a new one beyond that evicts the oldest.

use http::HeaderValue;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Cookies kept per jar.
pub(crate) const MAX_COOKIES: usize = 64;
/// Longest `name=value` accepted, in bytes.
const MAX_COOKIE_LEN: usize = 4096;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Cookie {
    name: String,
    value: String,
    /// Lower-case; the request host itself when `host_only`.
    domain: String,
    host_only: bool,
    path: String,
    secure: bool,
    /// `None`: a session cookie (lives as long as the virtual user).
    expires: Option<Instant>,
}

/// The cookies of one virtual user.
#[derive(Clone, Debug, Default)]
pub(crate) struct CookieJar {
    cookies: Vec<Cookie>,
    /// Bumped on every change, so callers can cache the `Cookie` header they built.
    generation: u64,
    /// Earliest expiry among the cookies.
    next_expiry: Option<Instant>,
}

impl CookieJar {
    pub fn new() -> CookieJar {
        CookieJar::default()
    }

    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }

    /// Changes whenever the set of cookies changes (including expiry, once [`Self::expire`] ran).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Drops cookies that expired by `now`.
    pub fn expire(&mut self, now: Instant) {
        if self.next_expiry.is_some_and(|t| t <= now) {
            self.cookies.retain(|c| c.expires.is_none_or(|t| t > now));
            self.changed();
        }
    }

    /// Stores one `Set-Cookie` header received from `host` for a request to `path`.
    pub fn store(&mut self, set_cookie: &HeaderValue, host: &str, path: &str, now: Instant) {
        let Ok(header) = set_cookie.to_str() else {
            return;
        };
        let Some(parsed) = parse(header, host, path, now) else {
            return;
        };
        let existing = self.cookies.iter().position(|c| {
            c.name == parsed.name && c.domain == parsed.domain && c.path == parsed.path
        });
        if let Some(i) = existing {
            self.cookies.remove(i);
        }
        if parsed.expires.is_some_and(|t| t <= now) {
            // Expired on arrival: a deletion.
            if existing.is_some() {
                self.changed();
            }
            return;
        }
        if self.cookies.len() >= MAX_COOKIES {
            self.cookies.remove(0);
        }
        self.cookies.push(parsed);
        self.changed();
    }

    /// The `Cookie` header for a request to `host` and `path` (`https` over TLS), or `None` when
    /// no cookie matches. Call [`Self::expire`] first.
    pub fn header(&self, host: &str, path: &str, https: bool) -> Option<HeaderValue> {
        let mut matching: Vec<&Cookie> = self
            .cookies
            .iter()
            .filter(|c| {
                (!c.secure || https)
                    && if c.host_only {
                        c.domain == host
                    } else {
                        domain_matches(host, &c.domain)
                    }
                    && path_matches(path, &c.path)
            })
            .collect();
        if matching.is_empty() {
            return None;
        }
        // Longest path first; stable, so older cookies first among equals.
        matching.sort_by_key(|c| std::cmp::Reverse(c.path.len()));
        let mut value = String::new();
        for c in matching {
            if !value.is_empty() {
                value.push_str("; ");
            }
            value.push_str(&c.name);
            value.push('=');
            value.push_str(&c.value);
        }
        HeaderValue::from_str(&value).ok()
    }

    /// Applies to this jar what changed from `before` to `after` (a copy of `before` that another
    /// connection of the same user used meanwhile): cookies added or replaced there are stored
    /// here, cookies gone there (deleted, expired, evicted) are removed here. Changes made here in
    /// the meantime are kept unless `after` touched the same cookie.
    pub fn apply_changes(&mut self, before: &CookieJar, after: &CookieJar) {
        if after.generation == before.generation {
            return;
        }
        let key = |c: &Cookie| (c.name.clone(), c.domain.clone(), c.path.clone());
        let mut touched = false;
        for gone in
            (before.cookies.iter()).filter(|c| !after.cookies.iter().any(|a| key(a) == key(c)))
        {
            let len = self.cookies.len();
            self.cookies.retain(|c| key(c) != key(gone));
            touched |= self.cookies.len() != len;
        }
        for set in (after.cookies.iter()).filter(|a| !before.cookies.contains(a)) {
            self.cookies.retain(|c| key(c) != key(set));
            if self.cookies.len() >= MAX_COOKIES {
                self.cookies.remove(0);
            }
            self.cookies.push(set.clone());
            touched = true;
        }
        if touched {
            self.changed();
        }
    }

    fn changed(&mut self) {
        self.generation += 1;
        self.next_expiry = self.cookies.iter().filter_map(|c| c.expires).min();
    }
}

/// Parses a `Set-Cookie` value (RFC 6265 §5.2 and §5.3, simplified).
fn parse(header: &str, host: &str, request_path: &str, now: Instant) -> Option<Cookie> {
    let mut parts = header.split(';');
    let (name, value) = parts.next()?.split_once('=')?;
    let (name, value) = (name.trim(), value.trim());
    if name.is_empty() || name.len() + value.len() > MAX_COOKIE_LEN {
        return None;
    }
    let mut max_age: Option<i64> = None;
    let mut expires: Option<SystemTime> = None;
    let mut domain: Option<String> = None;
    let mut path: Option<&str> = None;
    let mut secure = false;
    for attribute in parts {
        let (key, val) = match attribute.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => (attribute.trim(), ""),
        };
        if key.eq_ignore_ascii_case("max-age") {
            let digits = val.strip_prefix('-').unwrap_or(val);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                // Saturate huge values: they all mean "far in the future" (or past).
                max_age = Some(val.parse().unwrap_or(if val.starts_with('-') {
                    i64::MIN
                } else {
                    i64::MAX
                }));
            }
        } else if key.eq_ignore_ascii_case("expires") {
            if let Some(t) = parse_cookie_date(val) {
                expires = Some(t);
            }
        } else if key.eq_ignore_ascii_case("domain") {
            let d = val.strip_prefix('.').unwrap_or(val);
            if !d.is_empty() {
                domain = Some(d.to_ascii_lowercase());
            }
        } else if key.eq_ignore_ascii_case("path") {
            if val.starts_with('/') {
                path = Some(val);
            }
        } else if key.eq_ignore_ascii_case("secure") {
            secure = true;
        }
    }

    let expires = match (max_age, expires) {
        (Some(secs), _) if secs <= 0 => Some(now),
        (Some(secs), _) => now.checked_add(Duration::from_secs(secs.unsigned_abs())),
        (None, Some(at)) => match at.duration_since(SystemTime::now()) {
            Ok(ahead) => now.checked_add(ahead),
            Err(_) => Some(now),
        },
        (None, None) => None,
    };
    let (domain, host_only) = match domain {
        Some(d) if d == host => (d, false),
        Some(d) if domain_matches(host, &d) => (d, false),
        Some(_) => return None,
        None => (host.to_owned(), true),
    };
    Some(Cookie {
        name: name.to_owned(),
        value: value.to_owned(),
        domain,
        host_only,
        path: path.map_or_else(|| default_path(request_path), str::to_owned),
        secure,
        expires,
    })
}

/// RFC 6265 §5.1.3: `host` equals `domain`, or ends with `.domain` and is not an IP address.
fn domain_matches(host: &str, domain: &str) -> bool {
    host == domain
        || (host.len() > domain.len()
            && host.ends_with(domain)
            && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
            && host.parse::<std::net::IpAddr>().is_err())
}

/// RFC 6265 §5.1.4 path-match.
fn path_matches(request_path: &str, cookie_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/')
                || request_path.as_bytes().get(cookie_path.len()) == Some(&b'/')))
}

/// RFC 6265 §5.1.4 default-path: the request path up to (not including) its last `/`.
fn default_path(request_path: &str) -> String {
    match request_path.rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(i) if request_path.starts_with('/') => request_path[..i].to_owned(),
        Some(_) => "/".to_owned(),
    }
}

/// RFC 6265 §5.1.1 cookie-date parsing (e.g. `Wed, 21 Oct 2015 07:28:00 GMT`). Dates before the
/// Unix epoch come back as the epoch (in the past either way).
fn parse_cookie_date(text: &str) -> Option<SystemTime> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let is_delimiter = |c: char| matches!(c, '\t' | ' '..='/' | ';'..='@' | '['..='`' | '{'..='~');
    let (mut time, mut day, mut month, mut year) = (None, None, None, None);
    for token in text.split(is_delimiter).filter(|t| !t.is_empty()) {
        if time.is_none()
            && let Some(t) = parse_time(token)
        {
            time = Some(t);
        } else if day.is_none()
            && let Some(d) = leading_number(token, 1, 2)
        {
            day = Some(d);
        } else if month.is_none()
            && let Some(m) = MONTHS
                .iter()
                .position(|m| token.get(..3).is_some_and(|t| t.eq_ignore_ascii_case(m)))
        {
            month = Some(m as u32 + 1);
        } else if year.is_none()
            && let Some(y) = leading_number(token, 2, 4)
        {
            year = Some(y);
        }
    }
    let ((hour, minute, second), day, month, mut year) = (time?, day?, month?, year?);
    match year {
        70..=99 => year += 1900,
        0..=69 => year += 2000,
        _ => {}
    }
    if !(1..=31).contains(&day) || year < 1601 || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
}

/// `h{1,2}:m{1,2}:s{1,2}` followed by anything non-digit.
fn parse_time(token: &str) -> Option<(u32, u32, u32)> {
    let mut fields = token.splitn(3, ':');
    let h = leading_number(fields.next()?, 1, 2)?;
    let m = leading_number(fields.next()?, 1, 2)?;
    let s = leading_number(fields.next()?, 1, 2)?;
    // The hour and minute fields must be digits only.
    let mut parts = token.split(':');
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    (all_digits(parts.next()?) && all_digits(parts.next()?)).then_some((h, m, s))
}

/// `min..=max` leading digits, optionally followed by non-digits.
fn leading_number(token: &str, min: usize, max: usize) -> Option<u32> {
    let digits = token.bytes().take_while(u8::is_ascii_digit).count();
    if digits < min || digits > max {
        return None;
    }
    token[..digits].parse().ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let month = i64::from(month);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jar_with(headers: &[&str], host: &str, path: &str) -> CookieJar {
        let mut jar = CookieJar::new();
        for h in headers {
            jar.store(
                &HeaderValue::from_str(h).unwrap(),
                host,
                path,
                Instant::now(),
            );
        }
        jar
    }

    fn header(jar: &CookieJar, host: &str, path: &str, https: bool) -> Option<String> {
        jar.header(host, path, https)
            .map(|v| v.to_str().unwrap().to_owned())
    }

    #[test]
    fn sends_matching_cookies_longest_path_first() {
        let jar = jar_with(
            &["a=1; Path=/", "b=2; Path=/api", "c=3; Path=/other"],
            "example.com",
            "/login",
        );
        assert_eq!(
            header(&jar, "example.com", "/api/x", false).as_deref(),
            Some("b=2; a=1")
        );
        assert_eq!(
            header(&jar, "example.com", "/apix", false).as_deref(),
            Some("a=1")
        );
        assert_eq!(header(&jar, "other.com", "/", false), None);
    }

    #[test]
    fn replaces_and_deletes() {
        let mut jar = jar_with(&["sid=abc; Path=/", "sid=def; Path=/"], "h", "/");
        assert_eq!(header(&jar, "h", "/", false).as_deref(), Some("sid=def"));
        let before = jar.generation();
        jar.store(
            &HeaderValue::from_static("sid=x; Max-Age=0"),
            "h",
            "/",
            Instant::now(),
        );
        assert!(jar.is_empty());
        assert_ne!(jar.generation(), before);
        let jar = jar_with(
            &["a=1", "a=; Expires=Thu, 01 Jan 1970 00:00:00 GMT"],
            "h",
            "/",
        );
        assert!(jar.is_empty(), "an Expires date in the past deletes");
    }

    #[test]
    fn changes_made_in_a_copy_are_applied_back() {
        let mut main = jar_with(
            &["sid=1; Path=/", "theme=dark; Path=/", "old=x; Path=/"],
            "h",
            "/",
        );
        let before = main.clone();
        let mut lane = main.clone();
        let set = |jar: &mut CookieJar, v: &'static str| {
            jar.store(&HeaderValue::from_static(v), "h", "/", Instant::now())
        };
        // The copy replaces one cookie, adds one and deletes one; the user changes another meanwhile.
        set(&mut lane, "theme=light; Path=/");
        set(&mut lane, "cdn=7; Path=/");
        set(&mut lane, "old=; Max-Age=0");
        set(&mut main, "sid=2; Path=/");
        let generation = main.generation();
        main.apply_changes(&before, &lane);
        assert_ne!(
            main.generation(),
            generation,
            "cached headers must be rebuilt"
        );
        let mut sent: Vec<&str> = Vec::new();
        let value = header(&main, "h", "/", false).unwrap();
        sent.extend(value.split("; "));
        sent.sort_unstable();
        assert_eq!(sent, ["cdn=7", "sid=2", "theme=light"]);
        // An untouched copy changes nothing, not even the generation.
        let generation = main.generation();
        main.apply_changes(&before, &before.clone());
        assert_eq!(main.generation(), generation);
    }

    #[test]
    fn max_age_expires_later() {
        let mut jar = jar_with(&["a=1; Max-Age=1"], "h", "/");
        let now = Instant::now();
        jar.expire(now);
        assert!(!jar.is_empty());
        jar.expire(now + Duration::from_secs(2));
        assert!(jar.is_empty());
    }

    #[test]
    fn domain_secure_and_default_path() {
        let jar = jar_with(
            &[
                "a=1; Domain=.Example.com; Path=/",
                "s=2; Secure",
                "d=3",
                "x=4; Domain=evil.com",
            ],
            "www.example.com",
            "/shop/cart",
        );
        assert_eq!(
            header(&jar, "api.example.com", "/", false).as_deref(),
            Some("a=1")
        );
        assert_eq!(
            header(&jar, "www.example.com", "/shop/item", true).as_deref(),
            Some("s=2; d=3; a=1")
        );
        assert_eq!(
            header(&jar, "www.example.com", "/shop/item", false).as_deref(),
            Some("d=3; a=1")
        );
        assert_eq!(
            header(&jar, "www.example.com", "/", false).as_deref(),
            Some("a=1")
        );
        assert_eq!(header(&jar, "evil.com", "/", false), None);
    }

    #[test]
    fn cookie_dates() {
        let at = |s| parse_cookie_date(s).map(|t| t.duration_since(UNIX_EPOCH).unwrap().as_secs());
        assert_eq!(at("Wed, 21 Oct 2015 07:28:00 GMT"), Some(1_445_412_480));
        assert_eq!(at("Sunday, 06-Nov-94 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(at("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(at("not a date"), None);
        assert_eq!(at("Wed, 32 Oct 2015 07:28:00 GMT"), None);
    }
}
