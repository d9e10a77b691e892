//! Compiler-style text rendering of [`Diagnostics`].

use std::fmt::Write as _;

use crate::diagnostic::{Diagnostic, Diagnostics, Severity};

struct Style {
    on: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    fn severity(&self, severity: Severity, text: &str) -> String {
        match severity {
            Severity::Error => self.paint("1;31", text),
            Severity::Warning => self.paint("1;33", text),
        }
    }
    fn gutter(&self, text: &str) -> String {
        self.paint("1;34", text)
    }
    fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }
}

/// Renders every item, then a summary line (`shop.yaml: 3 errors, 1 warning`). Every line,
/// the last included, ends with `\n`.
pub(crate) fn render(diags: &Diagnostics, color: bool) -> String {
    let style = Style { on: color };
    let lines: Vec<&str> = diags.source.lines().collect();
    let mut out = String::new();
    for item in &diags.items {
        match &item.file {
            None => render_item(&mut out, &style, &diags.file, &lines, item),
            Some(file) => {
                // A problem in a file named by `include`: shown against that file's text.
                let source = (diags.included.iter())
                    .find(|(f, _)| f == file)
                    .map_or("", |(_, s)| s.as_str());
                let lines: Vec<&str> = source.lines().collect();
                render_item(&mut out, &style, file, &lines, item);
            }
        }
        out.push('\n');
    }
    let errors = diags.error_count();
    let warnings = diags.warning_count();
    let summary = format!(
        "{}: {errors} {}, {warnings} {}",
        diags.file,
        plural(errors, "error"),
        plural(warnings, "warning")
    );
    out.push_str(&style.bold(&summary));
    out.push('\n');
    out
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_owned()
    } else {
        format!("{word}s")
    }
}

fn render_item(out: &mut String, style: &Style, file: &str, lines: &[&str], d: &Diagnostic) {
    let label = style.severity(d.severity, d.severity.as_str());
    let _ = writeln!(out, "{label}{}", style.bold(&format!(": {}", d.message)));
    let width = d.line.map_or(1, |l| l.to_string().len());
    let pad = " ".repeat(width);
    let mut location = file.to_owned();
    if let Some(line) = d.line {
        let _ = write!(location, ":{line}:{}", d.column.unwrap_or(1));
    }
    if !d.path.is_empty() {
        let _ = write!(location, " ({})", d.path);
    }
    let _ = writeln!(out, "{pad}{} {location}", style.gutter("-->"));
    let source_line = d
        .line
        .and_then(|l| l.checked_sub(1))
        .and_then(|i| lines.get(i));
    if let (Some(line), Some(text)) = (d.line, source_line) {
        let text: Vec<char> = text
            .chars()
            .map(|c| if c == '\t' { ' ' } else { c })
            .collect();
        let col0 = d.column.unwrap_or(1).saturating_sub(1).min(text.len());
        let carets = "^".repeat(underline_len(&text, col0));
        let bar = style.gutter("|");
        let shown: String = text.iter().collect();
        let _ = writeln!(out, "{pad} {bar}");
        let _ = writeln!(
            out,
            "{} {bar} {}",
            style.gutter(&line.to_string()),
            shown.trim_end()
        );
        let indent = " ".repeat(col0);
        let _ = writeln!(
            out,
            "{pad} {bar} {indent}{}",
            style.severity(d.severity, &carets)
        );
    }
    if let Some(hint) = &d.hint {
        let _ = writeln!(
            out,
            "{pad} {} {}",
            style.gutter("="),
            style.bold("help:") + " " + hint
        );
    }
}

/// How many characters to underline from `col0`: a quoted string, a bracketed flow collection,
/// or a plain token (up to `: `, ` #`, and in flow context `,`/`]`/`}`). At least 1.
fn underline_len(line: &[char], col0: usize) -> usize {
    let rest = &line[col0.min(line.len())..];
    let len = match rest.first() {
        None => 0,
        Some('"') => quoted_len(rest, '"'),
        Some('\'') => quoted_len(rest, '\''),
        Some('{' | '[') => bracket_len(rest),
        // A block sequence: point at its first dash.
        Some('-') if rest.get(1).is_none_or(|c| *c == ' ') => 1,
        Some(_) => plain_len(rest, in_flow(&line[..col0.min(line.len())])),
    };
    len.max(1)
}

fn quoted_len(rest: &[char], quote: char) -> usize {
    let mut i = 1;
    while i < rest.len() {
        match rest[i] {
            '\\' if quote == '"' => i += 2,
            '\'' if quote == '\'' && rest.get(i + 1) == Some(&'\'') => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    trimmed_len(rest)
}

fn bracket_len(rest: &[char]) -> usize {
    let mut depth = 0usize;
    let mut quote = None;
    for (i, &c) in rest.iter().enumerate() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '{' | '[') => depth += 1,
            (None, '}' | ']') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            (None, '#') if i > 0 && rest[i - 1] == ' ' => break,
            _ => {}
        }
    }
    trimmed_len(rest)
}

/// Whether `prefix` leaves a flow collection (`{` or `[`) open.
fn in_flow(prefix: &[char]) -> bool {
    let mut depth = 0i32;
    let mut quote = None;
    for &c in prefix {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '{' | '[') => depth += 1,
            (None, '}' | ']') => depth -= 1,
            _ => {}
        }
    }
    depth > 0
}

fn plain_len(rest: &[char], flow: bool) -> usize {
    let mut end = rest.len();
    for (i, &c) in rest.iter().enumerate() {
        let next = rest.get(i + 1).copied();
        let stop = match c {
            ':' => next.is_none_or(|n| n == ' ') || (flow && next == Some(',')),
            '#' => i > 0 && rest[i - 1] == ' ',
            ',' | ']' | '}' => flow,
            _ => false,
        };
        if stop {
            end = i;
            break;
        }
    }
    rest[..end]
        .iter()
        .rposition(|c| *c != ' ')
        .map_or(0, |p| p + 1)
}

fn trimmed_len(rest: &[char]) -> usize {
    rest.iter().rposition(|c| *c != ' ').map_or(0, |p| p + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn underline(line: &str, col: usize) -> String {
        let chars: Vec<char> = line.chars().collect();
        let n = underline_len(&chars, col - 1);
        chars[col - 1..col - 1 + n].iter().collect()
    }

    #[test]
    fn underlines_the_token_at_the_column() {
        assert_eq!(underline("    thinktime: 2s", 5), "thinktime");
        assert_eq!(underline("    thinktime: 2s", 16), "2s");
        assert_eq!(underline("target: http://x:80/a # c", 9), "http://x:80/a");
        assert_eq!(underline("a: \"x: y\" # c", 4), "\"x: y\"");
        assert_eq!(underline("a: 'it''s' # c", 4), "'it''s'");
        assert_eq!(
            underline("t: { min: 1s, max: 3s } # c", 4),
            "{ min: 1s, max: 3s }"
        );
        assert_eq!(underline("t: { min: 1s, max: 3s }", 11), "1s");
        assert_eq!(underline("t: { min: 1s, max: 3s }", 6), "min");
        assert_eq!(underline("s: [200, 2x]", 10), "2x");
        assert_eq!(underline("name: a, b", 7), "a, b");
        assert_eq!(underline("key:", 1), "key");
        assert_eq!(underline("  - name: a", 3), "-");
        assert_eq!(underline("a: -5", 4), "-5");
        assert_eq!(underline_len(&[], 0), 1);
    }
}
