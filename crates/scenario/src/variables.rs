//! `variables`: fixed values every virtual user starts with (e.g. an API version, a password
//! read from the environment with `{{ env.NAME }}`), overridable per environment.

use crate::decoder::{self, Ctx, child};
use crate::environment::Environment;
use crate::template::{self, BUILTINS, DefKind};
use crate::yaml::Node;

/// The file's variables with the environment's on top (replacing or adding), in order.
pub(crate) fn decode(
    ctx: &mut Ctx,
    node: Option<&Node>,
    env: Option<&Environment>,
) -> Option<Vec<(String, String)>> {
    let mut out = match node {
        Some(n) => values(ctx, n, "variables")?,
        None => Vec::new(),
    };
    if let Some(env) = env {
        for (name, value) in &env.variables {
            match out.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1.clone_from(value),
                None => out.push((name.clone(), value.clone())),
            }
        }
    }
    Some(out)
}

/// A map of variable names to fixed values (strings, numbers, booleans; `{{ env.NAME }}`
/// resolved). Defines each name.
pub(crate) fn values(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Vec<(String, String)>> {
    let before = ctx.error_count();
    let mut out = Vec::new();
    for entry in decoder::entries(ctx, node, path)? {
        let p = child(path, entry.key);
        if !template::is_identifier(entry.key) || BUILTINS.contains(&entry.key) {
            let message = format!("`{}` cannot be a variable name", entry.key);
            let hint = "letters, digits and `_`, and not a built-in such as `vu`".to_owned();
            ctx.error(Some(entry.key_node), &p, message, Some(hint));
            continue;
        }
        // Defined even when its value is wrong, so uses of it are not reported as well.
        ctx.define_var(entry.key, entry.key_node, &p, DefKind::Other);
        let Some(text) = decoder::string(ctx, entry.value, &p) else {
            continue;
        };
        let Some(t) = template::parse(ctx, entry.value, &p, &text) else {
            continue;
        };
        let Some(value) = t.static_text() else {
            let message = format!("the value of `{}` changes at run time", entry.key);
            let hint = "variables are fixed values (`{{ env.NAME }}` is allowed); write the \
                        placeholder where the value is used instead"
                .to_owned();
            ctx.error(Some(entry.value), &p, message, Some(hint));
            continue;
        };
        out.push((entry.key.to_owned(), value));
    }
    (ctx.error_count() == before).then_some(out)
}
