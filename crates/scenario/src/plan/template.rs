//! Templates: text with `{{ expression }}` placeholders, parsed once when the file is loaded.

/// A parsed template. `source` is the text as written (used for names and messages: it never
/// holds the value of a secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub source: String,
    pub parts: Vec<Part>,
}

/// A piece of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Literal text, sent as written.
    Text(String),
    /// A `{{ ... }}` placeholder, rendered per request.
    Expr(Expr),
}

/// What a placeholder stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// A variable: from `variables`, an extraction, a `for_each` loop, a script's `sets`, a
    /// `setup` extraction, or a feeder column (`users.username`).
    Var(String),
    /// The virtual user's number (`vu`, from 1).
    Vu,
    /// The iteration number of this user (`iteration`, from 1; 0 in `on_start`).
    Iteration,
    /// A random UUID v4 (`uuid`).
    Uuid,
    /// A random integer in `[min, max]` (`random_int(min, max)`).
    RandomInt { min: i64, max: i64 },
    /// A random alphanumeric string (`random_string(len)`).
    RandomString { len: u32 },
    /// Seconds since the Unix epoch (`timestamp`).
    Timestamp,
    /// Milliseconds since the Unix epoch (`timestamp_ms`).
    TimestampMs,
}

impl Template {
    /// A template without placeholders.
    pub fn text(text: impl Into<String>) -> Template {
        let text = text.into();
        Template {
            parts: if text.is_empty() {
                Vec::new()
            } else {
                vec![Part::Text(text.clone())]
            },
            source: text,
        }
    }

    /// True when it renders the same every time (no placeholders).
    pub fn is_static(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// The literal text of a static template.
    pub fn static_text(&self) -> Option<String> {
        self.is_static().then(|| {
            self.parts
                .iter()
                .map(|p| match p {
                    Part::Text(t) => t.as_str(),
                    Part::Expr(_) => "",
                })
                .collect()
        })
    }

    /// The single expression when the template is exactly one placeholder (`"{{ id }}"`).
    pub fn sole_expr(&self) -> Option<&Expr> {
        match self.parts.as_slice() {
            [Part::Expr(e)] => Some(e),
            _ => None,
        }
    }

    /// Names of the variables it uses.
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Expr(Expr::Var(name)) => Some(name.as_str()),
            _ => None,
        })
    }
}
