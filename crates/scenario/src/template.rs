//! Parsing `{{ expression }}` placeholders, and the file-wide check that every variable a
//! template uses is defined somewhere.
//!
//! Expressions: a variable (`token`, `users.username` for a feeder column), `env.NAME` (an
//! environment variable, read when the file is loaded), or a built-in: `vu`, `iteration`,
//! `uuid`, `timestamp`, `timestamp_ms`, `random_int(min, max)`, `random_string(len)`.

use crate::decoder::Ctx;
use crate::plan::{Expr, Part, Template};
use crate::suggest::did_you_mean;
use crate::yaml::Node;

/// Names a variable cannot take: they are built-ins.
pub(crate) const BUILTINS: &[&str] = &[
    "vu",
    "iteration",
    "uuid",
    "timestamp",
    "timestamp_ms",
    "random_int",
    "random_string",
    "env",
];

/// Longest `random_string` (a typo like `random_string(1000000000)` must not allocate a GB).
const MAX_RANDOM_STRING: u32 = 1 << 20;

/// A variable used by a template, or defined by an extraction, script, loop or feeder.
#[derive(Clone, Debug)]
pub(crate) struct VarRef {
    /// The included file it is in (`None`: the scenario file).
    pub file: Option<String>,
    pub name: String,
    pub line: usize,
    pub col: usize,
    pub path: String,
}

/// Parses `text` (the value of `node` at `path`), reporting malformed placeholders and
/// recording the variables it uses. `None` after an error.
pub(crate) fn parse(ctx: &mut Ctx, node: &Node, path: &str, text: &str) -> Option<Template> {
    match parse_text(text, &mut |name| ctx.env_var(name)) {
        Ok(template) => {
            for name in template.vars() {
                ctx.use_var(name, node, path);
            }
            Some(template)
        }
        Err(e) => {
            ctx.error(Some(node), path, e.message, e.hint);
            None
        }
    }
}

/// A placeholder problem.
#[derive(Debug, PartialEq)]
pub(crate) struct TemplateError {
    pub message: String,
    pub hint: Option<String>,
}

fn error(message: String, hint: Option<&str>) -> TemplateError {
    TemplateError {
        message,
        hint: hint.map(str::to_owned),
    }
}

/// Parses a template; `env` looks environment variables up.
pub(crate) fn parse_text(
    text: &str,
    env: &mut dyn FnMut(&str) -> Option<String>,
) -> Result<Template, TemplateError> {
    let mut parts: Vec<Part> = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        literal.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            let message = format!("unclosed `{{{{` in `{}`", clip(text));
            return Err(error(message, Some("close the placeholder with `}}`")));
        };
        let inner = after[..close].trim();
        match expression(inner, env)? {
            Parsed::Expr(e) => {
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                parts.push(Part::Expr(e));
            }
            Parsed::Text(t) => literal.push_str(&t),
        }
        rest = &after[close + 2..];
    }
    if rest.contains("}}") && !text.contains("{{") {
        // A lone `}}` is almost always a typo for a placeholder.
        let message = format!("`}}}}` without `{{{{` in `{}`", clip(text));
        return Err(error(
            message,
            Some("placeholders are written `{{ name }}`"),
        ));
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        parts.push(Part::Text(literal));
    }
    Ok(Template {
        source: text.to_owned(),
        parts,
    })
}

enum Parsed {
    Expr(Expr),
    /// Resolved while loading (`env.NAME`).
    Text(String),
}

fn expression(
    inner: &str,
    env: &mut dyn FnMut(&str) -> Option<String>,
) -> Result<Parsed, TemplateError> {
    if inner.is_empty() {
        let hint = "write a variable name, e.g. `{{ token }}`";
        return Err(error("empty placeholder `{{ }}`".into(), Some(hint)));
    }
    if let Some(open) = inner.find('(') {
        return call(inner, open).map(Parsed::Expr);
    }
    if let Some(name) = inner.strip_prefix("env.") {
        if !is_identifier(name) {
            let message = format!("invalid environment variable name `{name}`");
            return Err(error(message, Some("e.g. `{{ env.API_TOKEN }}`")));
        }
        return match env(name) {
            Some(value) => Ok(Parsed::Text(value)),
            None => {
                let message = format!("environment variable `{name}` is not set");
                let hint = format!("set it before running, e.g. `export {name}=...`");
                Err(TemplateError {
                    message,
                    hint: Some(hint),
                })
            }
        };
    }
    let expr = match inner {
        "vu" => Expr::Vu,
        "iteration" => Expr::Iteration,
        "uuid" => Expr::Uuid,
        "timestamp" => Expr::Timestamp,
        "timestamp_ms" => Expr::TimestampMs,
        "env" | "random_int" | "random_string" => {
            let message = format!("`{inner}` needs arguments");
            let hint = match inner {
                "env" => "e.g. `{{ env.API_TOKEN }}`",
                "random_int" => "e.g. `{{ random_int(1, 100) }}`",
                _ => "e.g. `{{ random_string(8) }}`",
            };
            return Err(error(message, Some(hint)));
        }
        name if is_var_path(name) => Expr::Var(name.to_owned()),
        other => {
            let message = format!("invalid placeholder `{{{{ {other} }}}}`");
            let hint = "a variable name (letters, digits, `_`; `feeder.column` for data), \
                        `env.NAME`, or a built-in such as `vu` or `random_int(1, 10)`";
            return Err(error(message, Some(hint)));
        }
    };
    Ok(Parsed::Expr(expr))
}

/// `random_int(a, b)` or `random_string(n)`.
fn call(inner: &str, open: usize) -> Result<Expr, TemplateError> {
    let name = inner[..open].trim();
    let Some(args) = inner[open + 1..].strip_suffix(')') else {
        let message = format!("missing `)` in `{inner}`");
        return Err(error(message, None));
    };
    let args: Vec<&str> = args.split(',').map(str::trim).collect();
    let int = |text: &str| -> Result<i64, TemplateError> {
        text.parse::<i64>().map_err(|_| {
            let message = format!("`{text}` is not an integer (in `{inner}`)");
            error(message, None)
        })
    };
    match (name, args.as_slice()) {
        ("random_int", [a, b]) => {
            let (min, max) = (int(a)?, int(b)?);
            if min > max {
                let message = format!("`{inner}`: the minimum is above the maximum");
                return Err(error(message, None));
            }
            Ok(Expr::RandomInt { min, max })
        }
        ("random_string", [n]) => {
            let len = int(n)?;
            match u32::try_from(len) {
                Ok(len) if (1..=MAX_RANDOM_STRING).contains(&len) => Ok(Expr::RandomString { len }),
                _ => {
                    let message = format!("`{inner}`: the length must be 1 to {MAX_RANDOM_STRING}");
                    Err(error(message, None))
                }
            }
        }
        ("random_int", _) => Err(error(
            format!("`random_int` takes 2 arguments, found {}", args.len()),
            Some("e.g. `{{ random_int(1, 100) }}`"),
        )),
        ("random_string", _) => Err(error(
            format!("`random_string` takes 1 argument, found {}", args.len()),
            Some("e.g. `{{ random_string(8) }}`"),
        )),
        (other, _) => {
            let message = format!("unknown function `{other}`");
            let hint = match did_you_mean(other, &["random_int", "random_string"]) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "the functions are `random_int(min, max)` and `random_string(len)`".into(),
            };
            Err(TemplateError {
                message,
                hint: Some(hint),
            })
        }
    }
}

/// `name` or `feeder.column`.
fn is_var_path(text: &str) -> bool {
    let mut parts = text.split('.');
    let ok = parts.next().is_some_and(is_identifier);
    match (parts.next(), parts.next()) {
        (None, _) => ok,
        (Some(column), None) => ok && is_identifier(column),
        _ => false,
    }
}

pub(crate) use crate::plan::is_identifier;

fn clip(text: &str) -> String {
    const MAX: usize = 60;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// Reports every used variable that nothing defines (with a did-you-mean among the defined
/// names), and warns about extracted variables nothing uses (neither a template, a loop, a
/// condition nor a script).
pub(crate) fn check_names(ctx: &mut Ctx) {
    let vars = ctx.take_vars();
    let defined: Vec<&str> = vars.defs.iter().map(|(d, _)| d.name.as_str()).collect();
    for u in &vars.uses {
        let feeder = u.name.split_once('.').map(|(f, _)| f);
        let unreadable = feeder.is_some_and(|f| vars.unread_feeders.iter().any(|n| n == f));
        if defined.contains(&u.name.as_str()) || unreadable {
            continue;
        }
        let message = format!("unknown variable `{}`", u.name);
        let hint = match did_you_mean(&u.name, &defined) {
            Some(s) => format!("did you mean `{s}`?"),
            None => "define it in `variables`, extract it from an earlier response \
                     (`extract`), or add a feeder under `data`"
                .into(),
        };
        ctx.file.clone_from(&u.file);
        ctx.error_at(u.line, u.col, &u.path, message, Some(hint));
        ctx.file = None;
    }
    for (d, kind) in &vars.defs {
        if *kind != DefKind::Extracted {
            continue;
        }
        let used = vars.uses.iter().any(|u| u.name == d.name)
            || vars.scripts.iter().any(|code| script_reads(code, &d.name));
        if !used {
            let message = format!("`{}` is extracted but never used", d.name);
            let hint = format!("use it as `{{{{ {} }}}}`, or remove the extraction", d.name);
            ctx.file.clone_from(&d.file);
            ctx.warning_at(d.line, d.col, &d.path, message, Some(hint));
            ctx.file = None;
        }
    }
}

/// How a variable got defined (only extractions are warned about when unused: the others are
/// inputs a file may well not use everywhere).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DefKind {
    Extracted,
    Other,
}

/// Everything recorded about variables while decoding.
#[derive(Default)]
pub(crate) struct VarTable {
    pub uses: Vec<VarRef>,
    pub defs: Vec<(VarRef, DefKind)>,
    /// Code of every script (scripts may read any variable as `vars.name`).
    pub scripts: Vec<String>,
    /// Feeders whose file could not be read (already reported): their columns are unknown.
    pub unread_feeders: Vec<String>,
}

/// Whether Lua `code` mentions `vars.name` or `vars["name"]`.
fn script_reads(code: &str, name: &str) -> bool {
    code.contains(&format!("vars.{name}"))
        || code.contains(&format!("vars[\"{name}\"]"))
        || code.contains(&format!("vars['{name}']"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Template, TemplateError> {
        parse_text(text, &mut |name| {
            (name == "HOME_DIR").then(|| "/home/me".to_owned())
        })
    }

    #[test]
    fn literals_variables_and_builtins() {
        let t = parse("/users/{{ id }}/cart?vu={{vu}}&n={{ random_int(1, 9) }}").unwrap();
        assert_eq!(
            t.parts,
            vec![
                Part::Text("/users/".into()),
                Part::Expr(Expr::Var("id".into())),
                Part::Text("/cart?vu=".into()),
                Part::Expr(Expr::Vu),
                Part::Text("&n=".into()),
                Part::Expr(Expr::RandomInt { min: 1, max: 9 }),
            ]
        );
        assert_eq!(t.vars().collect::<Vec<_>>(), ["id"]);
        assert!(!t.is_static());
        let t = parse("plain").unwrap();
        assert_eq!(t.static_text().as_deref(), Some("plain"));
        let t = parse("{{ users.username }}").unwrap();
        assert_eq!(t.sole_expr(), Some(&Expr::Var("users.username".into())));
        for (text, expr) in [
            ("{{ iteration }}", Expr::Iteration),
            ("{{ uuid }}", Expr::Uuid),
            ("{{ timestamp }}", Expr::Timestamp),
            ("{{ timestamp_ms }}", Expr::TimestampMs),
            ("{{ random_string(12) }}", Expr::RandomString { len: 12 }),
        ] {
            assert_eq!(parse(text).unwrap().sole_expr(), Some(&expr), "{text}");
        }
    }

    #[test]
    fn environment_variables_are_resolved_when_loading() {
        let t = parse("{{ env.HOME_DIR }}/x").unwrap();
        assert_eq!(t.static_text().as_deref(), Some("/home/me/x"));
        // The source keeps the placeholder, never the value.
        assert_eq!(t.source, "{{ env.HOME_DIR }}/x");
        let e = parse("{{ env.NOPE }}").unwrap_err();
        assert_eq!(e.message, "environment variable `NOPE` is not set");
    }

    #[test]
    fn malformed_placeholders_are_errors() {
        for (text, message) in [
            ("/a/{{ id", "unclosed `{{` in `/a/{{ id`"),
            ("{{ }}", "empty placeholder `{{ }}`"),
            ("{{ a b }}", "invalid placeholder `{{ a b }}`"),
            ("{{ a.b.c }}", "invalid placeholder `{{ a.b.c }}`"),
            (
                "{{ random_int(5, 1) }}",
                "`random_int(5, 1)`: the minimum is above the maximum",
            ),
            (
                "{{ random_int(1) }}",
                "`random_int` takes 2 arguments, found 1",
            ),
            (
                "{{ random_string(0) }}",
                "`random_string(0)`: the length must be 1 to 1048576",
            ),
            (
                "{{ random_int(1, x) }}",
                "`x` is not an integer (in `random_int(1, x)`)",
            ),
            ("{{ randon_int(1, 2) }}", "unknown function `randon_int`"),
            ("{{ env }}", "`env` needs arguments"),
            ("id }}", "`}}` without `{{` in `id }}`"),
        ] {
            assert_eq!(parse(text).unwrap_err().message, message, "{text}");
        }
        let e = parse("{{ randon_int(1, 2) }}").unwrap_err();
        assert_eq!(e.hint.as_deref(), Some("did you mean `random_int`?"));
    }
}
