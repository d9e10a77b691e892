//! The `data` section: named feeders of rows (CSV or JSON-lines files) for templates.
//!
//! ```yaml
//! data:
//!   users:
//!     file: users.csv
//!     strategy: unique
//! ```
//!
//! Decoding is pure: the files are read later, by [`crate::plan::load_table`].

// Until `document` decodes the section (then this goes: the expectation fails the build).

use std::path::{Path, PathBuf};

use crate::decoder::{self, Ctx, child};
use crate::plan::{DataFormat, Each, Exhausted, Feeder, Strategy, is_identifier};
use crate::step::non_empty_string;
use crate::suggest::{did_you_mean, one_of};
use crate::yaml::Node;

const FIELDS: &[&str] = &["file", "format", "strategy", "each", "on_exhausted"];

const FORMATS: &[(&str, DataFormat)] =
    &[("csv", DataFormat::Csv), ("jsonl", DataFormat::JsonLines)];
const STRATEGIES: &[(&str, Strategy)] = &[
    ("sequential", Strategy::Sequential),
    ("random", Strategy::Random),
    ("unique", Strategy::Unique),
];
const EACH: &[(&str, Each)] = &[("user", Each::User), ("iteration", Each::Iteration)];
const EXHAUSTED: &[(&str, Exhausted)] = &[
    ("stop_user", Exhausted::StopUser),
    ("recycle", Exhausted::Recycle),
    ("fail", Exhausted::Fail),
];

/// Decodes `data` (a mapping of feeder names to feeders), in file order; `None` if anything in
/// it is invalid (reported).
pub(crate) fn decode(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Vec<Feeder>> {
    let before = ctx.error_count();
    let mut feeders = Vec::new();
    for entry in decoder::entries(ctx, node, path)? {
        let path = child(path, entry.key);
        if !is_identifier(entry.key) {
            let message = format!("invalid feeder name `{}`", entry.key);
            let hint = "feeder names are letters, digits and `_`, not starting with a digit \
                        (templates use them as `{{ name.column }}`)";
            ctx.error(Some(entry.key_node), &path, message, Some(hint.into()));
        }
        if let Some(feeder) = feeder(ctx, entry.value, &path, entry.key) {
            feeders.push(feeder);
        }
    }
    (ctx.error_count() == before).then_some(feeders)
}

fn feeder(ctx: &mut Ctx, node: &Node, path: &str, name: &str) -> Option<Feeder> {
    let f = decoder::fields(ctx, node, path, FIELDS)?;
    let before = ctx.error_count();
    let hint = "the CSV or JSON-lines file of rows, e.g. `file: users.csv`".to_owned();
    let file_node = f.required(ctx, "file", Some(hint));
    let file = file_node.and_then(|n| non_empty_string(ctx, n, &f.path("file")));
    let format = match f.get("format") {
        Some(n) => keyword(ctx, n, &f.path("format"), "format", FORMATS),
        None => file_node
            .zip(file.as_deref())
            .and_then(|(n, file)| format_of(ctx, n, &f.path("file"), file)),
    };
    let strategy = match f.get("strategy") {
        Some(n) => keyword(ctx, n, &f.path("strategy"), "strategy", STRATEGIES),
        None => Some(Strategy::default()),
    };
    let each = f
        .get("each")
        .map(|n| keyword(ctx, n, &f.path("each"), "`each` value", EACH));
    let on_exhausted = f.entry("on_exhausted").map(|e| {
        let path = f.path("on_exhausted");
        (
            e,
            keyword(ctx, e.value, &path, "`on_exhausted` value", EXHAUSTED),
        )
    });
    if let (Some(Strategy::Random), Some((entry, _))) = (strategy, on_exhausted) {
        let message = "`on_exhausted` does not apply to `strategy: random`".to_owned();
        let hint = "random never runs out: remove `on_exhausted`".to_owned();
        let path = f.path("on_exhausted");
        ctx.error(Some(entry.key_node), &path, message, Some(hint));
    }
    if ctx.error_count() > before {
        return None;
    }
    let strategy = strategy?;
    Some(Feeder {
        name: name.to_owned(),
        file: PathBuf::from(file?),
        format: format?,
        strategy,
        each: each.unwrap_or(Some(strategy.default_each()))?,
        on_exhausted: match on_exhausted {
            Some((_, value)) => value?,
            None => strategy.default_exhausted(),
        },
    })
}

/// The format implied by the file's extension: `.csv`, or `.jsonl` / `.ndjson`.
fn format_of(ctx: &mut Ctx, node: &Node, path: &str, file: &str) -> Option<DataFormat> {
    let extension = Path::new(file).extension().and_then(|e| e.to_str());
    let extension = extension.map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("csv") => return Some(DataFormat::Csv),
        Some("jsonl" | "ndjson") => return Some(DataFormat::JsonLines),
        _ => {}
    }
    let message = format!("cannot tell the format of `{file}` from its name");
    let hint = match extension.as_deref() {
        Some("json") => {
            "only JSON lines are read (one object per line): if that is what the \
                         file holds, add `format: jsonl`"
        }
        _ => "add `format: csv` or `format: jsonl`, or name the file `.csv` or `.jsonl`",
    };
    ctx.error(Some(node), path, message, Some(hint.to_owned()));
    None
}

/// One of the `choices`; `what` names the value in the message (`unknown strategy `x``).
fn keyword<T: Copy>(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    what: &str,
    choices: &[(&str, T)],
) -> Option<T> {
    let text = decoder::string(ctx, node, path)?;
    let text = text.trim();
    if let Some((_, value)) = choices.iter().find(|(k, _)| *k == text) {
        return Some(*value);
    }
    let names: Vec<&str> = choices.iter().map(|(k, _)| *k).collect();
    let hint = match did_you_mean(text, &names) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("expected {}", one_of(&names)),
    };
    ctx.error(
        Some(node),
        path,
        format!("unknown {what} `{text}`"),
        Some(hint),
    );
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    type Found = (Option<Vec<Feeder>>, Vec<(String, String, Option<String>)>);

    /// The feeders, and each diagnostic as (path, message, hint).
    fn run(src: &str) -> Found {
        let node = yaml::parse(src).unwrap().unwrap();
        let mut ctx = Ctx::default();
        let feeders = decode(&mut ctx, &node, "data");
        let items = ctx.into_items().into_iter();
        (
            feeders,
            items.map(|d| (d.path, d.message, d.hint)).collect(),
        )
    }

    fn one(src: &str) -> Feeder {
        let (feeders, errors) = run(src);
        assert!(errors.is_empty(), "{errors:?}");
        let mut feeders = feeders.unwrap();
        assert_eq!(feeders.len(), 1);
        feeders.remove(0)
    }

    fn messages(src: &str) -> Vec<String> {
        let (feeders, errors) = run(src);
        assert_eq!(feeders, None, "{src}");
        errors.into_iter().map(|(_, m, _)| m).collect()
    }

    #[test]
    fn every_field() {
        let src = "users: { file: data/users.txt, format: csv, strategy: unique, each: iteration, \
                   on_exhausted: fail }";
        let expected = Feeder {
            name: "users".into(),
            file: "data/users.txt".into(),
            format: DataFormat::Csv,
            strategy: Strategy::Unique,
            each: Each::Iteration,
            on_exhausted: Exhausted::Fail,
        };
        assert_eq!(one(src), expected);
        let f = one(
            "ids: { file: ids.csv, format: jsonl, strategy: sequential, each: user, \
                     on_exhausted: stop_user }",
        );
        assert_eq!(f.format, DataFormat::JsonLines);
        assert_eq!(f.strategy, Strategy::Sequential);
        assert_eq!((f.each, f.on_exhausted), (Each::User, Exhausted::StopUser));
        let f = one("ids: { file: ids.csv, strategy: random, each: user }");
        assert_eq!((f.strategy, f.each), (Strategy::Random, Each::User));
        let f = one("ids: { file: ids.csv, on_exhausted: recycle }");
        assert_eq!(f.on_exhausted, Exhausted::Recycle);
    }

    #[test]
    fn defaults_follow_the_strategy() {
        for (strategy, each, exhausted) in [
            ("", Each::Iteration, Exhausted::Recycle),
            (
                ", strategy: sequential",
                Each::Iteration,
                Exhausted::Recycle,
            ),
            (", strategy: random", Each::Iteration, Exhausted::Recycle),
            (", strategy: unique", Each::User, Exhausted::StopUser),
        ] {
            let f = one(&format!("users: {{ file: u.csv{strategy} }}"));
            assert_eq!((f.each, f.on_exhausted), (each, exhausted), "{strategy}");
        }
        assert_eq!(one("users: { file: u.csv }").strategy, Strategy::Sequential);
    }

    #[test]
    fn format_comes_from_the_extension() {
        for (file, format) in [
            ("u.csv", DataFormat::Csv),
            ("dir.d/U.CSV", DataFormat::Csv),
            ("u.jsonl", DataFormat::JsonLines),
            ("u.ndjson", DataFormat::JsonLines),
        ] {
            assert_eq!(
                one(&format!("u: {{ file: '{file}' }}")).format,
                format,
                "{file}"
            );
        }
        // An explicit format wins over the name.
        let f = one("u: { file: u.jsonl, format: csv }");
        assert_eq!(f.format, DataFormat::Csv);
    }

    #[test]
    fn feeders_keep_file_order() {
        let (feeders, errors) =
            run("b: { file: b.csv }\na: { file: a.jsonl }\n_c9: { file: c.csv }");
        assert!(errors.is_empty(), "{errors:?}");
        let names: Vec<String> = feeders.unwrap().into_iter().map(|f| f.name).collect();
        assert_eq!(names, ["b", "a", "_c9"]);
        assert_eq!(run("{}").0, Some(Vec::new()));
    }

    #[test]
    fn resolves_relative_files_against_the_scenario_directory() {
        let mut f = one("u: { file: data/u.csv }");
        f.resolve_paths(Path::new("/srv/tests"));
        assert_eq!(f.file, Path::new("/srv/tests/data/u.csv"));
        let mut f = one("u: { file: /data/u.csv }");
        f.resolve_paths(Path::new("/srv/tests"));
        assert_eq!(f.file, Path::new("/data/u.csv"));
    }

    #[test]
    fn reports_unknown_fields_and_values_with_suggestions() {
        let src = "u: { file: u.csv, stratgy: unique, strategy: uniqe, each: users, \
                   on_exhausted: explode, format: xml }";
        let (feeders, errors) = run(src);
        assert_eq!(feeders, None);
        let hint = |s: &str| Some(s.to_owned());
        assert_eq!(
            errors,
            [
                (
                    "data.u.stratgy".into(),
                    "unknown field `stratgy`".into(),
                    hint("did you mean `strategy`?")
                ),
                (
                    "data.u.format".into(),
                    "unknown format `xml`".into(),
                    hint("expected `csv` or `jsonl`")
                ),
                (
                    "data.u.strategy".into(),
                    "unknown strategy `uniqe`".into(),
                    hint("did you mean `unique`?")
                ),
                (
                    "data.u.each".into(),
                    "unknown `each` value `users`".into(),
                    hint("did you mean `user`?")
                ),
                (
                    "data.u.on_exhausted".into(),
                    "unknown `on_exhausted` value `explode`".into(),
                    hint("expected `stop_user`, `recycle` or `fail`")
                ),
            ]
        );
    }

    #[test]
    fn random_never_runs_out() {
        let (feeders, errors) = run("u: { file: u.csv, strategy: random, on_exhausted: recycle }");
        assert_eq!(feeders, None);
        let (path, message, hint) = &errors[0];
        assert_eq!(path, "data.u.on_exhausted");
        assert_eq!(
            message,
            "`on_exhausted` does not apply to `strategy: random`"
        );
        assert_eq!(
            hint.as_deref(),
            Some("random never runs out: remove `on_exhausted`")
        );
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn reports_bad_names_files_and_shapes() {
        assert_eq!(
            messages("9lives: { file: a.csv }\nmy-users: { file: b.csv }"),
            [
                "invalid feeder name `9lives`",
                "invalid feeder name `my-users`"
            ]
        );
        assert_eq!(
            messages("u: { strategy: unique }"),
            ["missing field `file`"]
        );
        assert_eq!(messages("u: { file: '' }"), ["must not be empty"]);
        assert_eq!(
            messages("u: { file: [a.csv] }"),
            ["expected a string, found a list"]
        );
        assert_eq!(
            messages("u: { file: users.txt }"),
            ["cannot tell the format of `users.txt` from its name"]
        );
        let (_, errors) = run("u: { file: users.json }");
        assert!(errors[0].2.as_deref().unwrap().contains("`format: jsonl`"));
        let (_, errors) = run("u: { file: users }");
        assert_eq!(
            errors[0].2.as_deref(),
            Some("add `format: csv` or `format: jsonl`, or name the file `.csv` or `.jsonl`")
        );
        assert_eq!(
            messages("u: users.csv"),
            ["expected a mapping, found a string"]
        );
        assert_eq!(messages("[u]"), ["expected a mapping, found a list"]);
        assert_eq!(
            messages("u: { file: a.csv }\nu: { file: b.csv }"),
            ["duplicate field `u`"]
        );
        // Every problem of every feeder is reported in one pass.
        assert_eq!(
            messages("a: { file: a.txt }\nb: { file: b.csv, each: 1 }"),
            [
                "cannot tell the format of `a.txt` from its name",
                "unknown `each` value `1`"
            ]
        );
    }
}
