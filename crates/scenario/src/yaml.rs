//! A located YAML tree: every node keeps its line and column, mappings keep all their entries in
//! order (duplicates included, so the decoder can report them).
//!
//! Built from `saphyr-parser` events; scalars are resolved with saphyr's YAML 1.2 core schema.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr::Scalar as Resolved;
use saphyr_parser::{Event, Marker, Parser, ScalarStyle, Span, Tag};

/// A node with its position (1-based line and column of its first character).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    pub value: Value,
    pub line: usize,
    pub col: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    /// A scalar, resolved, with its source text.
    Scalar(Scalar, String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str,
}

/// What the decoder calls a node in "expected X, found Y" messages.
pub(crate) fn kind_name(node: &Node) -> &'static str {
    match &node.value {
        Value::Seq(_) => "a list",
        Value::Map(_) => "a mapping",
        Value::Scalar(Scalar::Null, _) => "nothing (null)",
        Value::Scalar(Scalar::Bool(_), _) => "a boolean",
        Value::Scalar(Scalar::Int(_), _) => "an integer",
        Value::Scalar(Scalar::Float(_), _) => "a number",
        Value::Scalar(Scalar::Str, _) => "a string",
    }
}

/// A parse failure: YAML syntax, or a structure this loader does not accept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct YamlError {
    pub line: usize,
    pub col: usize,
    pub message: String,
    pub hint: Option<String>,
}

/// Alias expansion budget, in nodes (guards against "billion laughs").
const ALIAS_BUDGET: usize = 100_000;
/// Deepest nesting accepted (keeps the recursive decoder far from stack limits).
const MAX_DEPTH: usize = 64;

/// Parses a single YAML document. `Ok(None)` for an empty file (no document or only comments).
pub(crate) fn parse(source: &str) -> Result<Option<Node>, YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(source);
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| {
            let (line, col) = within(source, e.marker().line(), e.marker().col() + 1);
            YamlError {
                line,
                col,
                message: format!("invalid YAML: {}", e.info()),
                hint: None,
            }
        })?;
        builder.on_event(event, span)?;
    }
    Ok(builder.docs.pop())
}

/// A position inside `source`: the parser reports errors at the end of the input on the line
/// after the last one (column 1), which an editor cannot show; that becomes the end of the last
/// line.
fn within(source: &str, line: usize, col: usize) -> (usize, usize) {
    let last = source.lines().count().max(1);
    if line <= last {
        return (line, col);
    }
    let text = source.lines().last().unwrap_or("");
    (last, text.chars().count() + 1)
}

enum Open {
    Seq(Node),
    Map(Node, Option<Node>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<(Open, usize)>,
    docs: Vec<Node>,
    anchors: HashMap<usize, Node>,
    alias_nodes: usize,
}

impl Builder {
    fn on_event(&mut self, event: Event<'_>, span: Span) -> Result<(), YamlError> {
        let at = span.start;
        if self.stack.len() > MAX_DEPTH {
            return Err(error(at, "the YAML is nested too deeply".into(), None));
        }
        match event {
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => Ok(()),
            Event::DocumentStart(_) => match self.docs.is_empty() {
                true => Ok(()),
                false => Err(error(
                    at,
                    "a scenario file holds a single YAML document".into(),
                    Some("remove the `---` separator and everything after it"),
                )),
            },
            Event::SequenceStart(anchor, tag) => {
                check_tag(tag.as_deref(), at)?;
                let node = located(Value::Seq(Vec::new()), at);
                self.stack.push((Open::Seq(node), anchor));
                Ok(())
            }
            Event::MappingStart(anchor, tag) => {
                check_tag(tag.as_deref(), at)?;
                let node = located(Value::Map(Vec::new()), at);
                self.stack.push((Open::Map(node, None), anchor));
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some((Open::Seq(node) | Open::Map(node, _), anchor)) => self.insert(node, anchor),
                None => Ok(()),
            },
            Event::Scalar(text, style, anchor, tag) => {
                check_tag(tag.as_deref(), at)?;
                let node = scalar(text, style, tag, at)?;
                self.insert(node, anchor)
            }
            Event::Alias(id) => {
                let Some(node) = self.anchors.get(&id) else {
                    return Err(error(at, "unknown alias".into(), None));
                };
                self.alias_nodes += count(node);
                if self.alias_nodes > ALIAS_BUDGET {
                    return Err(error(at, "too many nodes created by aliases".into(), None));
                }
                let node = node.clone();
                self.insert(node, 0)
            }
        }
    }

    fn insert(&mut self, node: Node, anchor: usize) -> Result<(), YamlError> {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some((Open::Seq(seq), _)) => {
                if let Value::Seq(items) = &mut seq.value {
                    items.push(node);
                }
            }
            Some((Open::Map(map, key), _)) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    if let Value::Map(entries) = &mut map.value {
                        entries.push((k, node));
                    }
                }
            },
        }
        Ok(())
    }
}

fn located(value: Value, at: Marker) -> Node {
    Node {
        value,
        line: at.line(),
        col: at.col() + 1,
    }
}

fn error(at: Marker, message: String, hint: Option<&str>) -> YamlError {
    YamlError {
        line: at.line(),
        col: at.col() + 1,
        message,
        hint: hint.map(str::to_owned),
    }
}

/// Core-schema tags (`!!str`, `!!int`, ...) are fine; application tags (`!env`) are not.
fn check_tag(tag: Option<&Tag>, at: Marker) -> Result<(), YamlError> {
    match tag {
        Some(tag) if !tag.is_yaml_core_schema() => Err(error(
            at,
            format!("YAML tags like `{tag}` are not supported"),
            Some("remove the tag"),
        )),
        _ => Ok(()),
    }
}

fn scalar(
    text: Cow<'_, str>,
    style: ScalarStyle,
    tag: Option<Cow<'_, Tag>>,
    at: Marker,
) -> Result<Node, YamlError> {
    let resolved = Resolved::parse_from_cow_and_metadata(text.clone(), style, tag.as_ref());
    let value = match resolved {
        Some(Resolved::Null) => Scalar::Null,
        Some(Resolved::Boolean(b)) => Scalar::Bool(b),
        Some(Resolved::Integer(i)) => Scalar::Int(i),
        Some(Resolved::FloatingPoint(f)) => Scalar::Float(f.0),
        Some(Resolved::String(_)) => Scalar::Str,
        None => {
            let tag = tag.map(|t| t.to_string()).unwrap_or_default();
            return Err(error(at, format!("`{text}` is not a valid `{tag}`"), None));
        }
    };
    Ok(located(Value::Scalar(value, text.into_owned()), at))
}

fn count(node: &Node) -> usize {
    1 + match &node.value {
        Value::Scalar(..) => 0,
        Value::Seq(items) => items.iter().map(count).sum(),
        Value::Map(entries) => entries.iter().map(|(k, v)| count(k) + count(v)).sum(),
    }
}
