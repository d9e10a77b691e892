//! The YAML trees the fuzz grammar builds, and how they are written: block or flow style,
//! scalars plain when that is safe, else quoted.

/// A YAML node to render.
#[derive(Clone, Debug)]
pub enum Tree {
    /// A scalar, already written as YAML (plain or quoted); a single line.
    Leaf(String),
    /// A literal block scalar (`|`) in block context, a quoted string in flow context.
    Block(String),
    /// A sequence; `true` for flow style (`[a, b]`).
    List(Vec<Tree>, bool),
    /// A mapping; `true` for flow style (`{ a: 1 }`).
    Map(Vec<(String, Tree)>, bool),
}

pub fn render(tree: &Tree) -> String {
    let mut out = String::new();
    block(tree, 0, &mut out);
    out
}

fn is_block(tree: &Tree) -> bool {
    match tree {
        Tree::List(items, false) => !items.is_empty(),
        Tree::Map(entries, false) => !entries.is_empty(),
        _ => false,
    }
}

/// Writes a node on lines of its own, at `indent`.
fn block(tree: &Tree, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match tree {
        Tree::Map(entries, false) if !entries.is_empty() => {
            for (key, value) in entries {
                out.push_str(&format!("{pad}{}:", key_text(key)));
                after_key(value, indent, out);
            }
        }
        Tree::List(items, false) if !items.is_empty() => {
            for value in items {
                out.push_str(&format!("{pad}-"));
                after_key(value, indent, out);
            }
        }
        other => out.push_str(&format!("{pad}{}\n", flow(other))),
    }
}

/// Writes a value after `key:` or `-`.
fn after_key(value: &Tree, indent: usize, out: &mut String) {
    match value {
        _ if is_block(value) => {
            out.push('\n');
            block(value, indent + 2, out);
        }
        Tree::Block(text) => {
            out.push_str(" |\n");
            let pad = " ".repeat(indent + 2);
            for line in text.lines() {
                out.push_str(&format!("{pad}{line}\n"));
            }
        }
        _ => out.push_str(&format!(" {}\n", flow(value))),
    }
}

fn flow(tree: &Tree) -> String {
    match tree {
        Tree::Leaf(text) => text.clone(),
        Tree::Block(text) => quote(text),
        Tree::List(items, _) => {
            let items: Vec<String> = items.iter().map(flow).collect();
            format!("[{}]", items.join(", "))
        }
        Tree::Map(entries, _) if entries.is_empty() => "{}".to_owned(),
        Tree::Map(entries, _) => {
            let entries: Vec<String> = (entries.iter())
                .map(|(k, v)| format!("{}: {}", key_text(k), flow(v)))
                .collect();
            format!("{{ {} }}", entries.join(", "))
        }
    }
}

pub fn quote(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// A key as written: plain when it is a simple word, else quoted.
fn key_text(key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.$".contains(c))
        && !key.starts_with('-');
    if plain { key.to_owned() } else { quote(key) }
}
