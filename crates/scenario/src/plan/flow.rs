//! Flows: what a virtual user does, as a tree of actions (requests, groups, loops, conditions,
//! scripts, custom metrics), and the parts of a request that are rendered per request.

use super::{Method, Template, ThinkTime};
use std::time::Duration;

pub use stampede_extract::{CheckSpec, Source as ExtractSource};

/// One thing a virtual user does.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// An HTTP request.
    Request(Box<Step>),
    /// Actions measured as a whole: the group's time is recorded as the trend
    /// `group.<name>` (milliseconds).
    Group {
        name: String,
        actions: Vec<Action>,
        /// Pause after the whole group (the steps keep their own).
        think_time: Option<ThinkTime>,
    },
    /// The actions `count` times.
    Repeat { count: u32, actions: Vec<Action> },
    /// The actions once per item of the list variable `list`, with the item in `var`.
    ForEach {
        list: String,
        var: String,
        actions: Vec<Action>,
    },
    /// `then` when the condition holds, else `otherwise`.
    If {
        condition: Condition,
        then: Vec<Action>,
        otherwise: Vec<Action>,
    },
    /// An embedded script ([`Script`]).
    Script(Box<Script>),
    /// A custom metric update.
    Metric(MetricOp),
}

/// A condition of an `if`.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// The variable is set and not empty (`if: name`); `negate` for `if: { var: x, exists: false }`.
    Exists { var: String, negate: bool },
    /// The variable equals (or not) the rendered value.
    Equals {
        var: String,
        value: Template,
        negate: bool,
    },
    /// The variable matches the regular expression.
    Matches { var: String, pattern: String },
    /// Every check of the previous request passed (`passed: true`) or one failed (`false`).
    LastCheck { passed: bool },
}

/// A script step: Lua code run by the user's interpreter.
#[derive(Clone, Debug, PartialEq)]
pub struct Script {
    /// Row its errors and failures are recorded under.
    pub row: u32,
    /// The file named in errors: the script file, or the scenario file for inline code.
    pub origin: String,
    /// Line of `origin` where `code` starts.
    pub first_line: u32,
    pub code: String,
    /// Variables the script may set (so templates can use them).
    pub sets: Vec<String>,
}

/// A custom metric update (`counter`, `trend`, `gauge`).
#[derive(Clone, Debug, PartialEq)]
pub struct MetricOp {
    pub kind: MetricKind,
    pub name: String,
    /// The value (counter: the increment, default 1); rendered, then parsed as a number.
    pub value: Template,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Trend,
    Gauge,
}

/// One HTTP request of a flow.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Index into [`super::Plan::rows`].
    pub row: u32,
    pub method: Method,
    /// Path and query relative to the target (starting with `/`), already joined with the
    /// target's base path; or an absolute `http(s)://` URL.
    pub url: Template,
    /// Extra headers, in order (step headers after default headers).
    pub headers: Vec<(String, Template)>,
    /// Body and its content type.
    pub body: Option<Body>,
    pub expect: Expect,
    /// Values taken from the response into variables, in order.
    pub extract: Vec<Extraction>,
    /// Overrides the default request timeout.
    pub timeout: Option<Duration>,
    /// Overrides the scenario's think time after this step.
    pub think_time: Option<ThinkTime>,
    /// Also fetch the page's embedded resources, like a browser.
    pub resources: Option<Resources>,
}

/// A request body and its content type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Body {
    pub content_type: String,
    pub content: Content,
}

/// What a body is made of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    /// Fixed bytes.
    Static(Vec<u8>),
    /// Text with placeholders (`body:`).
    Text(Template),
    /// URL-encoded fields with placeholders in the values (`form:`).
    Form(Vec<(String, Template)>),
    /// JSON with placeholders in string values (`json:`).
    Json(Vec<JsonPart>),
}

impl Content {
    /// The bytes of a body without placeholders.
    pub fn static_bytes(&self) -> Option<&[u8]> {
        match self {
            Content::Static(bytes) => Some(bytes),
            _ => None,
        }
    }
}

/// A piece of a templated JSON body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JsonPart {
    /// JSON text, sent as written.
    Raw(String),
    /// A string value with placeholders: rendered, then quoted as a JSON string.
    Quoted(Template),
    /// A string value that is exactly one placeholder: a value that is a JSON number, `true`,
    /// `false` or `null` is sent as such, anything else as a JSON string.
    Typed(Template),
}

/// Checks on a response. With no explicit status check, a status >= 400 is a failure.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Expect {
    /// Accepted status codes; `None` means "any status below 400".
    pub status: Option<Vec<u16>>,
    /// Body, JSON and header checks, each with its name.
    pub checks: Vec<NamedCheck>,
    /// Response time bound.
    pub max_duration: Option<Duration>,
}

/// A response check with its name (given, or derived from what it checks).
#[derive(Clone, Debug, PartialEq)]
pub struct NamedCheck {
    pub name: Option<String>,
    pub spec: CheckSpec,
}

/// One value taken from a response.
#[derive(Clone, Debug, PartialEq)]
pub struct Extraction {
    /// The variable it sets.
    pub var: String,
    pub source: ExtractSource,
    /// Every match, as a list (for `for_each`), instead of the first.
    pub all: bool,
    pub on_failure: OnFailure,
    /// Value used when nothing matched (then the extraction does not fail).
    pub default: Option<String>,
}

/// What happens when an extraction finds nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OnFailure {
    /// The request counts as failed (check `extract <var>`) and the iteration stops.
    #[default]
    Fail,
    /// The variable is left unset and the flow goes on.
    Continue,
}

/// Embedded resources of a page (`resources:`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resources {
    /// Requests in flight at once (browsers use about 6 per host).
    pub concurrency: u32,
    /// Row every resource request is recorded under (`<step name> resources`).
    pub row: u32,
}

impl Action {
    /// Every request in this action and the actions nested in it, depth first.
    pub fn requests(&self) -> Vec<&Step> {
        let mut out = Vec::new();
        self.visit(&mut |a| {
            if let Action::Request(step) = a {
                out.push(&**step);
            }
        });
        out
    }

    /// Calls `f` with every variable this action and the nested ones read: in templates (URL,
    /// headers, body, `if` values, metric values), `if` conditions and `for_each` lists. Scripts
    /// read variables by name at run time and are not seen here (see [`Action::is_script`]).
    pub fn read_vars<'a>(&'a self, f: &mut dyn FnMut(&'a str)) {
        self.visit(&mut |a| {
            let mut template = |t: &'a Template| t.vars().for_each(&mut *f);
            match a {
                Action::Request(step) => {
                    template(&step.url);
                    step.headers.iter().for_each(|(_, t)| template(t));
                    match step.body.as_ref().map(|b| &b.content) {
                        Some(Content::Text(t)) => template(t),
                        Some(Content::Form(fields)) => fields.iter().for_each(|(_, t)| template(t)),
                        Some(Content::Json(parts)) => {
                            for part in parts {
                                if let JsonPart::Quoted(t) | JsonPart::Typed(t) = part {
                                    template(t);
                                }
                            }
                        }
                        Some(Content::Static(_)) | None => {}
                    }
                }
                Action::If { condition, .. } => match condition {
                    Condition::Exists { var, .. } | Condition::Matches { var, .. } => f(var),
                    Condition::Equals { var, value, .. } => {
                        f(var);
                        value.vars().for_each(&mut *f);
                    }
                    Condition::LastCheck { .. } => {}
                },
                Action::ForEach { list, .. } => f(list),
                Action::Metric(m) => template(&m.value),
                Action::Group { .. } | Action::Repeat { .. } | Action::Script(_) => {}
            }
        });
    }

    /// Whether this is a script step, or holds one.
    pub fn is_script(&self) -> bool {
        let mut found = false;
        self.visit(&mut |a| found |= matches!(a, Action::Script(_)));
        found
    }

    /// Calls `f` on this action and every nested one, depth first.
    pub fn visit<'a>(&'a self, f: &mut dyn FnMut(&'a Action)) {
        f(self);
        for child in self.children() {
            child.visit(f);
        }
    }

    /// The directly nested actions.
    pub fn children(&self) -> impl Iterator<Item = &Action> {
        let (a, b): (&[Action], &[Action]) = match self {
            Action::Group { actions, .. }
            | Action::Repeat { actions, .. }
            | Action::ForEach { actions, .. } => (actions, &[]),
            Action::If {
                then, otherwise, ..
            } => (then, otherwise),
            Action::Request(_) | Action::Script(_) | Action::Metric(_) => (&[], &[]),
        };
        a.iter().chain(b)
    }
}
