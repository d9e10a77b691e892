//! `include`: files of shared named flows, e.g. a login used by several scenario files.
//!
//! ```yaml
//! # common.yaml
//! flows:
//!   login:
//!     - post: /login
//!       extract: { token: $.token }
//! ```
//!
//! A scenario file lists them (`include: [common.yaml]`, paths relative to it) and uses their
//! flows with `- flow: login`. A flow of the scenario file itself wins over an included one of
//! the same name; two included files may not define the same flow. Problems inside an included
//! flow are reported in that file, at its lines.

use std::path::Path;

use crate::decoder::{self, Ctx, item};
use crate::flow::NamedFlow;
use crate::yaml::{self, Node};

/// What an included file may hold.
const INCLUDED_FIELDS: &[&str] = &["flows"];

/// An included file, parsed.
pub(crate) struct Included {
    /// As written in `include` (how problems in it are located).
    pub file: String,
    pub root: Node,
}

/// Reads and parses every file of `include` (a list of paths relative to `dir`).
pub(crate) fn read(ctx: &mut Ctx, node: &Node, dir: &Path) -> Vec<Included> {
    let mut out = Vec::new();
    for (i, n) in decoder::list(ctx, node, "include")
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let path = item("include", i);
        let Some(file) = decoder::string(ctx, n, &path) else {
            continue;
        };
        let full = dir.join(&file);
        let source = match std::fs::read_to_string(&full) {
            Ok(s) => {
                ctx.read_file(&full);
                s
            }
            Err(e) => {
                let message = format!("cannot read `{}`: {e}", full.display());
                let hint = "paths are relative to the scenario file's directory".to_owned();
                ctx.error(Some(n), &path, message, Some(hint));
                continue;
            }
        };
        match yaml::parse(&source) {
            Ok(Some(root)) => {
                ctx.included.push((file.clone(), source));
                out.push(Included { file, root });
            }
            Ok(None) => {
                let message = format!("`{file}` is empty");
                let hint = "an included file holds `flows:`".to_owned();
                ctx.error(Some(n), &path, message, Some(hint));
            }
            Err(e) => {
                ctx.included.push((file.clone(), source));
                let outer = ctx.file.replace(file.clone());
                ctx.error_at(e.line, e.col, "", e.message, e.hint);
                ctx.file = outer;
            }
        }
    }
    out
}

/// Adds the flows of the included files to `flows` (the scenario file's own, which win).
pub(crate) fn add_flows<'a>(
    ctx: &mut Ctx,
    included: &'a [Included],
    flows: &mut Vec<NamedFlow<'a>>,
) {
    let own = flows.len();
    for inc in included {
        let outer = ctx.file.replace(inc.file.clone());
        if let Some(f) = decoder::fields(ctx, &inc.root, "", INCLUDED_FIELDS)
            && let Some(n) = f.get("flows")
        {
            for e in decoder::entries(ctx, n, "flows").unwrap_or_default() {
                if flows[..own].iter().any(|f| f.name == e.key) {
                    continue;
                }
                if let Some(other) = flows[own..].iter().find(|f| f.name == e.key) {
                    let message = format!(
                        "flow `{}` is also defined in `{}`",
                        e.key,
                        other.file.unwrap_or("")
                    );
                    let hint = "rename one of them".to_owned();
                    ctx.error(
                        Some(e.key_node),
                        &format!("flows.{}", e.key),
                        message,
                        Some(hint),
                    );
                    continue;
                }
                flows.push(NamedFlow {
                    name: e.key,
                    node: e.value,
                    file: Some(inc.file.as_str()),
                });
            }
        }
        ctx.file = outer;
    }
}
