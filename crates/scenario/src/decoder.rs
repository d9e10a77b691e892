//! The building blocks of the hand-written decoder: a diagnostics sink, field paths, mappings
//! checked against their allowed keys, and typed scalar readers. Every reader reports a problem
//! and returns `None` instead of stopping, so one pass finds every error.

use std::time::Duration;

use crate::diagnostic::{Diagnostic, Severity};
use crate::suggest::{did_you_mean, one_of};
use crate::template::{DefKind, VarRef, VarTable};
use crate::units;
use crate::yaml::{Node, Scalar, Value, kind_name};

/// Collects diagnostics while decoding.
#[derive(Default)]
pub(crate) struct Ctx {
    items: Vec<Diagnostic>,
    /// Variables used and defined so far (checked once the whole file is decoded).
    vars: VarTable,
    /// Environment variables for `{{ env.NAME }}`; `None` reads the process environment.
    pub env: Option<std::collections::HashMap<String, String>>,
    /// The included file being decoded (`include`), which new diagnostics are in.
    pub file: Option<String>,
    /// Included files and their text (to show problems in them).
    pub included: Vec<(String, String)>,
    /// Every file read while loading (included files, scripts, feeders), as opened.
    pub files: Vec<std::path::PathBuf>,
}

impl Ctx {
    /// An environment variable, for `{{ env.NAME }}`.
    pub fn env_var(&self, name: &str) -> Option<String> {
        match &self.env {
            Some(map) => map.get(name).cloned(),
            None => std::env::var(name).ok(),
        }
    }

    /// Records that a template at `node` uses variable `name`.
    pub fn use_var(&mut self, name: &str, node: &Node, path: &str) {
        let mut var = var_ref(name, node, path);
        var.file.clone_from(&self.file);
        self.vars.uses.push(var);
    }

    /// Records that `name` is defined at `node` (an extraction, loop, script, feeder column...).
    pub fn define_var(&mut self, name: &str, node: &Node, path: &str, kind: DefKind) {
        let mut var = var_ref(name, node, path);
        var.file.clone_from(&self.file);
        self.vars.defs.push((var, kind));
    }

    /// Records that a feeder's file could not be read, so uses of its columns are not reported.
    pub fn feeder_unread(&mut self, name: &str) {
        self.vars.unread_feeders.push(name.to_owned());
    }

    /// Records a script's code (it may read any variable).
    pub fn script_code(&mut self, code: &str) {
        self.vars.scripts.push(code.to_owned());
    }

    /// Notes a file read while loading (see [`crate::Loaded::files`]).
    pub fn read_file(&mut self, path: &std::path::Path) {
        if !self.files.iter().any(|f| f == path) {
            self.files.push(path.to_path_buf());
        }
    }

    pub fn take_included(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.included)
    }

    pub fn take_vars(&mut self) -> VarTable {
        std::mem::take(&mut self.vars)
    }

    pub fn error_at(
        &mut self,
        line: usize,
        col: usize,
        path: &str,
        message: String,
        hint: Option<String>,
    ) {
        self.push_at(Severity::Error, line, col, path, message, hint);
    }

    pub fn warning_at(
        &mut self,
        line: usize,
        col: usize,
        path: &str,
        message: String,
        hint: Option<String>,
    ) {
        self.push_at(Severity::Warning, line, col, path, message, hint);
    }

    fn push_at(
        &mut self,
        severity: Severity,
        line: usize,
        col: usize,
        path: &str,
        message: String,
        hint: Option<String>,
    ) {
        self.items.push(Diagnostic {
            severity,
            line: Some(line),
            column: Some(col),
            path: path.to_owned(),
            message,
            hint,
            file: self.file.clone(),
        });
    }

    pub fn error(&mut self, at: Option<&Node>, path: &str, message: String, hint: Option<String>) {
        self.push(Severity::Error, at, path, message, hint);
    }

    pub fn warning(
        &mut self,
        at: Option<&Node>,
        path: &str,
        message: String,
        hint: Option<String>,
    ) {
        self.push(Severity::Warning, at, path, message, hint);
    }

    fn push(
        &mut self,
        severity: Severity,
        at: Option<&Node>,
        path: &str,
        message: String,
        hint: Option<String>,
    ) {
        self.items.push(Diagnostic {
            severity,
            line: at.map(|n| n.line),
            column: at.map(|n| n.col),
            path: path.to_owned(),
            message,
            hint,
            file: self.file.clone(),
        });
    }

    pub fn error_count(&self) -> usize {
        let errors = self.items.iter().filter(|d| d.severity == Severity::Error);
        errors.count()
    }

    pub fn into_items(self) -> Vec<Diagnostic> {
        self.items
    }
}

/// `parent.key` (or `key` at the top level).
pub(crate) fn child(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[i]`.
pub(crate) fn item(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// One key/value pair of a mapping.
#[derive(Clone, Copy)]
pub(crate) struct Entry<'a> {
    pub key: &'a str,
    pub key_node: &'a Node,
    pub value: &'a Node,
}

/// The entries of a mapping, in order, without duplicates (each reported, the first one kept).
/// `None` (and an error) if `node` is not a mapping.
pub(crate) fn entries<'a>(ctx: &mut Ctx, node: &'a Node, path: &str) -> Option<Vec<Entry<'a>>> {
    let Value::Map(pairs) = &node.value else {
        expected(ctx, node, path, "a mapping");
        return None;
    };
    let mut out: Vec<Entry<'a>> = Vec::with_capacity(pairs.len());
    for (key_node, value) in pairs {
        let key = match &key_node.value {
            Value::Scalar(Scalar::Null, _) | Value::Seq(_) | Value::Map(_) => {
                let message = format!("expected a field name, found {}", kind_name(key_node));
                ctx.error(Some(key_node), path, message, None);
                continue;
            }
            Value::Scalar(_, text) => text.as_str(),
        };
        if let Some(first) = out.iter().find(|e| e.key == key) {
            let hint = format!("first defined on line {}", first.key_node.line);
            let message = format!("duplicate field `{key}`");
            ctx.error(Some(key_node), &child(path, key), message, Some(hint));
            continue;
        }
        out.push(Entry {
            key,
            key_node,
            value,
        });
    }
    Some(out)
}

/// A mapping whose keys were checked against a fixed set of field names.
pub(crate) struct Fields<'a> {
    pub node: &'a Node,
    pub path: String,
    entries: Vec<Entry<'a>>,
    /// Whether some key was not an allowed field (already reported).
    pub had_unknown: bool,
    /// Fields suggested for unknown keys: not reported again as missing.
    suggested: Vec<String>,
}

/// Reads a mapping with the fields `allowed`; unknown fields are reported with a suggestion.
pub(crate) fn fields<'a>(
    ctx: &mut Ctx,
    node: &'a Node,
    path: &str,
    allowed: &[&str],
) -> Option<Fields<'a>> {
    let all = entries(ctx, node, path)?;
    let mut kept = Vec::with_capacity(all.len());
    let mut had_unknown = false;
    let mut suggested = Vec::new();
    for entry in all {
        if allowed.contains(&entry.key) {
            kept.push(entry);
            continue;
        }
        had_unknown = true;
        let hint = match did_you_mean(entry.key, allowed) {
            Some(s) => {
                suggested.push(s.to_owned());
                format!("did you mean `{s}`?")
            }
            None => format!("expected {}", one_of(allowed)),
        };
        let message = format!("unknown field `{}`", entry.key);
        ctx.error(
            Some(entry.key_node),
            &child(path, entry.key),
            message,
            Some(hint),
        );
    }
    Some(Fields {
        node,
        path: path.to_owned(),
        entries: kept,
        had_unknown,
        suggested,
    })
}

impl<'a> Fields<'a> {
    pub fn get(&self, key: &str) -> Option<&'a Node> {
        self.entry(key).map(|e| e.value)
    }

    pub fn entry(&self, key: &str) -> Option<Entry<'a>> {
        self.entries.iter().find(|e| e.key == key).copied()
    }

    /// Which of `keys` are present, in file order.
    pub fn present(&self, keys: &[&str]) -> Vec<Entry<'a>> {
        let found = self.entries.iter().filter(|e| keys.contains(&e.key));
        found.copied().collect()
    }

    pub fn path(&self, key: &str) -> String {
        child(&self.path, key)
    }

    /// The value of `key`, or an error "missing field" located at the mapping (unless a misspelt
    /// key was already reported with `key` as the suggestion).
    pub fn required(&self, ctx: &mut Ctx, key: &str, hint: Option<String>) -> Option<&'a Node> {
        let value = self.get(key);
        if value.is_none() && !self.suggested.iter().any(|s| s == key) {
            let message = format!("missing field `{key}`");
            ctx.error(Some(self.node), &self.path(key), message, hint);
        }
        value
    }
}

/// Reports "expected X, found Y" at `node`.
pub(crate) fn expected(ctx: &mut Ctx, node: &Node, path: &str, what: &str) {
    let found = kind_name(node);
    let hint = match (&node.value, what) {
        (Value::Scalar(Scalar::Str, text), "an integer") if text.trim().parse::<i64>().is_ok() => {
            Some("remove the quotes".to_owned())
        }
        (Value::Scalar(Scalar::Str, text), "`true` or `false`") => Some(format!(
            "`{text}` is a string in YAML 1.2; write `true` or `false`"
        )),
        _ => None,
    };
    ctx.error(
        Some(node),
        path,
        format!("expected {what}, found {found}"),
        hint,
    );
}

/// A non-null scalar, as text (numbers and booleans are taken as written).
pub(crate) fn string(ctx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    match &node.value {
        Value::Scalar(Scalar::Null, _) | Value::Seq(_) | Value::Map(_) => {
            expected(ctx, node, path, "a string");
            None
        }
        Value::Scalar(_, text) => Some(text.clone()),
    }
}

/// An integer in `min..=max`; `name` is how the message refers to the value.
pub(crate) fn integer(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    name: &str,
    (min, max): (i64, i64),
) -> Option<i64> {
    let Value::Scalar(Scalar::Int(value), _) = node.value else {
        expected(ctx, node, path, "an integer");
        return None;
    };
    if (min..=max).contains(&value) {
        return Some(value);
    }
    let message = if max == i64::from(u32::MAX) {
        format!("{name} must be at least {min}, found {value}")
    } else {
        format!("{name} must be between {min} and {max}, found {value}")
    };
    ctx.error(Some(node), path, message, None);
    None
}

/// A `u32` of at least `min`.
pub(crate) fn count(ctx: &mut Ctx, node: &Node, path: &str, name: &str, min: u32) -> Option<u32> {
    let value = integer(ctx, node, path, name, (i64::from(min), i64::from(u32::MAX)))?;
    u32::try_from(value).ok()
}

pub(crate) fn boolean(ctx: &mut Ctx, node: &Node, path: &str) -> Option<bool> {
    if let Value::Scalar(Scalar::Bool(b), _) = node.value {
        return Some(b);
    }
    expected(ctx, node, path, "`true` or `false`");
    None
}

/// A duration such as `30s`.
pub(crate) fn duration(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Duration> {
    let text = scalar_text(ctx, node, path, "a duration (e.g. 30s)")?;
    match units::duration(text) {
        Ok(d) => Some(d),
        Err(e) => {
            ctx.error(Some(node), path, e.message, e.hint);
            None
        }
    }
}

/// A duration that must be longer than zero.
pub(crate) fn positive_duration(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Duration> {
    let d = duration(ctx, node, path)?;
    if d.is_zero() {
        let message = "must be longer than 0s".to_owned();
        ctx.error(Some(node), path, message, None);
        return None;
    }
    Some(d)
}

/// A per-second rate such as `10/s`.
pub(crate) fn rate(ctx: &mut Ctx, node: &Node, path: &str) -> Option<f64> {
    let text = scalar_text(ctx, node, path, "a rate (e.g. 10/s)")?;
    match units::rate(text) {
        Ok(r) => Some(r),
        Err(e) => {
            ctx.error(Some(node), path, e.message, e.hint);
            None
        }
    }
}

fn scalar_text<'a>(ctx: &mut Ctx, node: &'a Node, path: &str, what: &str) -> Option<&'a str> {
    match &node.value {
        Value::Scalar(Scalar::Null, _) | Value::Seq(_) | Value::Map(_) => {
            expected(ctx, node, path, what);
            None
        }
        Value::Scalar(_, text) => Some(text),
    }
}

/// The items of a list.
pub(crate) fn list<'a>(ctx: &mut Ctx, node: &'a Node, path: &str) -> Option<&'a [Node]> {
    if let Value::Seq(items) = &node.value {
        return Some(items);
    }
    expected(ctx, node, path, "a list");
    None
}

fn var_ref(name: &str, node: &Node, path: &str) -> VarRef {
    VarRef {
        file: None,
        name: name.to_owned(),
        line: node.line,
        col: node.col,
        path: path.to_owned(),
    }
}
