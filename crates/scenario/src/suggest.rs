//! "Did you mean ...?" suggestions for misspelt field names.

/// The closest candidate to `word`, if it is close enough to be a plausible typo.
///
/// Comparison ignores case and treats `-` like `_`; an edit (insert, delete, substitute, swap of
/// two adjacent characters) costs 1. Up to a third of the word's length may differ (at least 1).
pub(crate) fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let normal = normalise(word);
    let limit = (normal.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| (distance(&normal, &normalise(c)), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn normalise(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '-' {
                '_'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j] = distance between a[..i] and b[..j]
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    rows[a.len()][b.len()]
}

/// `` `a`, `b` or `c` `` for hints listing the allowed values.
pub(crate) fn one_of(candidates: &[&str]) -> String {
    let quoted: Vec<String> = candidates.iter().map(|c| format!("`{c}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOAD: &[&str] = &["users", "spawn_rate", "duration", "stages", "jitter_start"];

    #[test]
    fn distances() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("thinktime", "think_time"), 1);
        assert_eq!(distance("usres", "users"), 1);
    }

    #[test]
    fn suggests_close_fields_only() {
        let scenario = ["name", "weight", "think_time", "on_start", "steps"];
        assert_eq!(did_you_mean("thinktime", &scenario), Some("think_time"));
        assert_eq!(did_you_mean("thinkTime", &scenario), Some("think_time"));
        assert_eq!(did_you_mean("think-time", &scenario), Some("think_time"));
        assert_eq!(did_you_mean("step", &scenario), Some("steps"));
        assert_eq!(did_you_mean("usres", LOAD), Some("users"));
        assert_eq!(did_you_mean("spawnRate", LOAD), Some("spawn_rate"));
        assert_eq!(did_you_mean("ramp_up", LOAD), None);
        assert_eq!(did_you_mean("x", LOAD), None);
    }

    #[test]
    fn lists_alternatives() {
        assert_eq!(one_of(&["a"]), "`a`");
        assert_eq!(one_of(&["a", "b", "c"]), "`a`, `b` or `c`");
    }
}
