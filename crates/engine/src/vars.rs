//! Per-user variables and template rendering.
//!
//! Every variable name of a plan gets a slot when the plan is prepared, so a user's variables
//! are a plain vector and rendering a placeholder is an index, never a hash lookup.

use rand::Rng;
use rand::rngs::SmallRng;
use stampede_scenario::{Expr, Part, Template};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A variable's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    Text(String),
    /// Every match of an `all: true` extraction (what `for_each` walks).
    List(Arc<[String]>),
}

impl Value {
    /// The text of a value; a list renders as its items joined with `,`.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Value::Text(t) => t.as_str().into(),
            Value::List(items) => items.join(",").into(),
        }
    }
}

/// Name → slot, for every variable of a plan.
#[derive(Debug, Default)]
pub(crate) struct Slots {
    names: Vec<String>,
    /// Looked up by name on every `vars.name` of a script. Names come from the user's own plan
    /// and scripts, so a DoS-resistant hash (std's SipHash, ~4x the cost for a short name) buys
    /// nothing here: foldhash's fixed-seed hasher.
    index: HashMap<String, usize, foldhash::fast::FixedState>,
}

impl Slots {
    /// The slot of `name`, added if new.
    pub fn slot(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        self.names.push(name.to_owned());
        self.index.insert(name.to_owned(), self.names.len() - 1);
        self.names.len() - 1
    }

    pub fn get(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    pub fn name(&self, slot: usize) -> &str {
        &self.names[slot]
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }
}

/// One user's variables.
#[derive(Clone, Debug, Default)]
pub(crate) struct Vars {
    values: Vec<Option<Value>>,
    /// Bumped by every [`Vars::set`]: a user's Lua interpreter keeps the values its scripts
    /// read while this stays the same (`stampede_script::Host::vars_version`).
    version: u64,
}

impl Vars {
    pub fn new(slots: usize) -> Vars {
        Vars {
            values: vec![None; slots],
            version: 0,
        }
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn get(&self, slot: usize) -> Option<&Value> {
        self.values.get(slot).and_then(Option::as_ref)
    }

    pub fn set(&mut self, slot: usize, value: Option<Value>) {
        if slot >= self.values.len() {
            self.values.resize(slot + 1, None);
        }
        self.values[slot] = value;
        self.version += 1;
    }
}

/// A template with its variables resolved to slots.
#[derive(Debug)]
pub(crate) struct Compiled {
    parts: Box<[Piece]>,
}

#[derive(Debug)]
enum Piece {
    Text(Box<str>),
    Var(usize),
    Vu,
    Iteration,
    Uuid,
    RandomInt(i64, i64),
    RandomString(u32),
    Timestamp,
    TimestampMs,
}

/// What a placeholder needs besides the variables.
pub(crate) struct Scope<'a> {
    pub vars: &'a Vars,
    pub vu: u64,
    pub iteration: u64,
    pub rng: &'a mut SmallRng,
}

/// A placeholder's variable is not set (its extraction failed, or has not run yet).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Unset(pub usize);

impl Compiled {
    pub fn new(template: &Template, slots: &mut Slots) -> Compiled {
        let parts = template
            .parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => Piece::Text(t.as_str().into()),
                Part::Expr(e) => match e {
                    Expr::Var(name) => Piece::Var(slots.slot(name)),
                    Expr::Vu => Piece::Vu,
                    Expr::Iteration => Piece::Iteration,
                    Expr::Uuid => Piece::Uuid,
                    Expr::RandomInt { min, max } => Piece::RandomInt(*min, *max),
                    Expr::RandomString { len } => Piece::RandomString(*len),
                    Expr::Timestamp => Piece::Timestamp,
                    Expr::TimestampMs => Piece::TimestampMs,
                },
            })
            .collect();
        Compiled { parts }
    }

    /// Appends the rendered text to `out`; `escape` transforms placeholder values (never the
    /// literal text), e.g. to percent-encode them in a URL.
    pub fn render_into(
        &self,
        scope: &mut Scope<'_>,
        out: &mut String,
        escape: Escape,
    ) -> Result<(), Unset> {
        for piece in self.parts.iter() {
            let start = out.len();
            match piece {
                Piece::Text(t) => {
                    out.push_str(t);
                    continue;
                }
                Piece::Var(slot) => match scope.vars.get(*slot) {
                    Some(v) => out.push_str(&v.text()),
                    None => return Err(Unset(*slot)),
                },
                Piece::Vu => write_num(out, scope.vu),
                Piece::Iteration => write_num(out, scope.iteration),
                Piece::Uuid => uuid(scope.rng, out),
                Piece::RandomInt(a, b) => {
                    let _ = write!(out, "{}", scope.rng.random_range(*a..=*b));
                }
                Piece::RandomString(len) => {
                    const CHARS: &[u8] =
                        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
                    for _ in 0..*len {
                        out.push(char::from(CHARS[scope.rng.random_range(0..CHARS.len())]));
                    }
                }
                Piece::Timestamp => write_num(out, unix().as_secs()),
                Piece::TimestampMs => {
                    write_num(out, u64::try_from(unix().as_millis()).unwrap_or(u64::MAX));
                }
            }
            escape.apply(out, start);
        }
        Ok(())
    }

    pub fn render(&self, scope: &mut Scope<'_>) -> Result<String, Unset> {
        let mut out = String::new();
        self.render_into(scope, &mut out, Escape::None)?;
        Ok(out)
    }
}

/// How placeholder values are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Escape {
    None,
    /// Percent-encode what may not appear in a URL (spaces, quotes, non-ASCII...), keeping
    /// `/`, `?`, `&`, `=` and `%` so a value may hold a path or a query.
    Url,
    /// Escape for the inside of a JSON string.
    JsonString,
}

impl Escape {
    fn apply(self, out: &mut String, start: usize) {
        match self {
            Escape::None => {}
            Escape::Url => {
                if out[start..].bytes().all(url_safe) {
                    return;
                }
                let value = out.split_off(start);
                for b in value.bytes() {
                    if url_safe(b) {
                        out.push(char::from(b));
                    } else {
                        let _ = write!(out, "%{b:02X}");
                    }
                }
            }
            Escape::JsonString => {
                let value = out.split_off(start);
                let quoted = serde_json::Value::from(value).to_string();
                out.push_str(&quoted[1..quoted.len() - 1]);
            }
        }
    }
}

/// Bytes a URL may hold as they are (RFC 3986 unreserved, reserved, and `%`).
fn url_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b)
}

fn write_num(out: &mut String, n: u64) {
    let _ = write!(out, "{n}");
}

fn unix() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// A random (version 4) UUID.
fn uuid(rng: &mut SmallRng, out: &mut String) {
    let mut b: [u8; 16] = rng.random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        let _ = write!(out, "{byte:02x}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn template(text: &str) -> Template {
        // Parsed by the scenario crate through a whole file; here by hand.
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].into()));
            }
            let close = rest.find("}}").unwrap();
            let name = rest[open + 2..close].trim();
            parts.push(Part::Expr(match name {
                "vu" => Expr::Vu,
                "iteration" => Expr::Iteration,
                "uuid" => Expr::Uuid,
                "random_int" => Expr::RandomInt { min: 5, max: 7 },
                "random_string" => Expr::RandomString { len: 12 },
                n => Expr::Var(n.into()),
            }));
            rest = &rest[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.into()));
        }
        Template {
            source: text.into(),
            parts,
        }
    }

    #[test]
    fn renders_variables_builtins_and_reports_unset() {
        let mut slots = Slots::default();
        let t = Compiled::new(
            &template("/u/{{ id }}/{{ vu }}-{{ iteration }}?q={{ q }}"),
            &mut slots,
        );
        let mut vars = Vars::new(slots.len());
        vars.set(slots.get("id").unwrap(), Some(Value::Text("42".into())));
        let mut rng = SmallRng::seed_from_u64(1);
        let mut scope = Scope {
            vars: &vars,
            vu: 3,
            iteration: 9,
            rng: &mut rng,
        };
        let unset = t.render(&mut scope).unwrap_err();
        assert_eq!(slots.name(unset.0), "q");
        vars.set(
            slots.get("q").unwrap(),
            Some(Value::Text("red shoes é".into())),
        );
        let mut scope = Scope {
            vars: &vars,
            vu: 3,
            iteration: 9,
            rng: &mut rng,
        };
        assert_eq!(t.render(&mut scope).unwrap(), "/u/42/3-9?q=red shoes é");
        let mut url = String::new();
        t.render_into(&mut scope, &mut url, Escape::Url).unwrap();
        assert_eq!(url, "/u/42/3-9?q=red%20shoes%20%C3%A9");
        let list = Value::List(vec!["a".to_owned(), "b".to_owned()].into());
        assert_eq!(list.text(), "a,b");
    }

    #[test]
    fn builtins_have_the_right_shape() {
        let mut slots = Slots::default();
        let mut rng = SmallRng::seed_from_u64(7);
        let vars = Vars::new(0);
        let mut scope = Scope {
            vars: &vars,
            vu: 1,
            iteration: 1,
            rng: &mut rng,
        };
        let u = Compiled::new(&template("{{ uuid }}"), &mut slots)
            .render(&mut scope)
            .unwrap();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!("89ab".contains(&u[19..20]), "{u}");
        let s = Compiled::new(&template("{{ random_string }}"), &mut slots);
        let s = s.render(&mut scope).unwrap();
        assert_eq!(s.len(), 12);
        assert!(s.chars().all(|c| c.is_ascii_alphanumeric()));
        let r = Compiled::new(&template("{{ random_int }}"), &mut slots);
        for _ in 0..100 {
            let n: i64 = r.render(&mut scope).unwrap().parse().unwrap();
            assert!((5..=7).contains(&n));
        }
    }

    #[test]
    fn json_escape_quotes_values_only() {
        let mut slots = Slots::default();
        let t = Compiled::new(&template("say \"{{ x }}\""), &mut slots);
        let mut vars = Vars::new(slots.len());
        vars.set(0, Some(Value::Text("a\"b\n".into())));
        let mut rng = SmallRng::seed_from_u64(1);
        let mut scope = Scope {
            vars: &vars,
            vu: 1,
            iteration: 1,
            rng: &mut rng,
        };
        let mut out = String::new();
        t.render_into(&mut scope, &mut out, Escape::JsonString)
            .unwrap();
        assert_eq!(out, "say \"a\\\"b\\n\"");
    }
}
