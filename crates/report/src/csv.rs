//! CSV exports for spreadsheets and scripts: per-request stats, the per-second timeline, and the
//! custom metrics.
//!
//! `--format csv -o stats.csv` writes `stats.csv` (one row per request row plus an `all` row),
//! `stats_timeline.csv` (one row per second) and, when the run recorded custom metrics,
//! `stats_custom.csv` (one row per metric). The columns are fixed: every error kind has its own
//! timeline column, even when zero, and every custom metric row has every figure column (empty
//! where its kind has none), so scripts can rely on the header. Quoting is RFC 4180 (done by the
//! `csv` crate).

use crate::custom::Figure;
use crate::verdict::rate_pct;
use stampede_metrics::ErrorKind;
use stampede_metrics::result::{LatencyMs, RequestRow, RunResult};
use std::path::{Path, PathBuf};

/// The timeline file that goes with a requests file: `stats.csv` → `stats_timeline.csv`.
pub fn timeline_path(requests_path: &Path) -> PathBuf {
    sibling(requests_path, "timeline")
}

/// The custom metrics file that goes with a requests file: `stats.csv` → `stats_custom.csv`.
pub fn custom_path(requests_path: &Path) -> PathBuf {
    sibling(requests_path, "custom")
}

fn sibling(requests_path: &Path, suffix: &str) -> PathBuf {
    let stem = requests_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "stats".into());
    let ext = requests_path
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_else(|| "csv".into());
    requests_path.with_file_name(format!("{stem}_{suffix}.{ext}"))
}

/// Column headers of the requests file.
pub const REQUEST_COLUMNS: [&str; 23] = [
    "scenario",
    "name",
    "method",
    "requests",
    "successes",
    "failures",
    "errors",
    "error_rate_pct",
    "failure_rate_pct",
    "rps",
    "bytes_received",
    "bytes_sent",
    "latency_min_ms",
    "latency_mean_ms",
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "latency_p999_ms",
    "latency_max_ms",
    "status_codes",
    "errors_by_kind",
    "answered",
];

/// Per-request stats, one line per row and a last `all` line with the run totals.
pub fn requests_csv(result: &RunResult) -> String {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    let mut records: Vec<Vec<String>> =
        vec![REQUEST_COLUMNS.iter().map(|c| c.to_string()).collect()];
    for r in &result.requests {
        records.push(request_record(r));
    }
    let s = &result.summary;
    let mut all = vec![
        "all".into(),
        "all requests".into(),
        String::new(),
        s.requests.to_string(),
        s.successes.to_string(),
        s.failures.to_string(),
        s.errors.to_string(),
        pct(rate_pct(s.errors, s.requests)),
        pct(rate_pct(s.failures, s.requests)),
        s.rps.to_string(),
        s.bytes_received.to_string(),
        s.bytes_sent.to_string(),
    ];
    all.extend(latency(&s.latency_ms));
    all.extend([
        String::new(),
        String::new(),
        (s.requests > s.errors).to_string(),
    ]);
    records.push(all);
    for rec in records {
        // Writing to a Vec cannot fail.
        let _ = w.write_record(&rec);
    }
    into_string(w)
}

fn request_record(r: &RequestRow) -> Vec<String> {
    let mut rec = vec![
        r.scenario.clone(),
        r.name.clone(),
        r.method.clone(),
        r.requests.to_string(),
        r.successes.to_string(),
        r.failures.to_string(),
        r.errors.to_string(),
        pct(rate_pct(r.errors, r.requests)),
        pct(rate_pct(r.failures, r.requests)),
        r.rps.to_string(),
        r.bytes_received.to_string(),
        r.bytes_sent.to_string(),
    ];
    rec.extend(latency(&r.latency_ms));
    rec.push(pairs(r.status_codes.iter()));
    rec.push(pairs(r.errors_by_kind.iter()));
    rec.push((r.requests > r.errors).to_string());
    rec
}

/// A percentage cell: three decimals, empty without requests.
fn pct(p: Option<f64>) -> String {
    p.map_or(String::new(), |p| format!("{p:.3}"))
}

fn latency(l: &LatencyMs) -> [String; 8] {
    [l.min, l.mean, l.p50, l.p90, l.p95, l.p99, l.p999, l.max].map(|v| v.to_string())
}

/// `200=12;500=3`: a map in one cell, sorted by key.
fn pairs<'a>(it: impl Iterator<Item = (&'a String, &'a u64)>) -> String {
    it.map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(";")
}

/// The per-second timeline: one line per second, a column per error kind.
pub fn timeline_csv(result: &RunResult) -> String {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = [
        "second", "requests", "failures", "errors", "users", "p50_ms", "p95_ms", "p99_ms",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    header.extend(
        ErrorKind::ALL
            .iter()
            .map(|k| format!("errors_{}", k.as_str())),
    );
    let _ = w.write_record(&header);
    for p in &result.timeline {
        let mut rec = vec![
            p.second.to_string(),
            p.requests.to_string(),
            p.failures.to_string(),
            p.errors.to_string(),
            p.users.to_string(),
            p.latency_ms.p50.to_string(),
            p.latency_ms.p95.to_string(),
            p.latency_ms.p99.to_string(),
        ];
        rec.extend(ErrorKind::ALL.iter().map(|k| {
            p.errors_by_kind
                .get(k.as_str())
                .copied()
                .unwrap_or(0)
                .to_string()
        }));
        let _ = w.write_record(&rec);
    }
    into_string(w)
}

/// Column headers of the custom metrics file.
pub const CUSTOM_COLUMNS: [&str; 13] = [
    "name", "kind", "count", "total", "rate", "last", "min", "mean", "p50", "p90", "p95", "p99",
    "max",
];

/// The custom metrics, one line per metric: `count` is the adds of a counter, the values of a
/// trend, the sets of a gauge; figures a kind does not have are empty.
pub fn custom_csv(result: &RunResult) -> String {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(CUSTOM_COLUMNS);
    for m in &result.custom_metrics {
        let mut rec = vec![m.name().to_owned(), m.kind().to_owned()];
        let figures = crate::custom::figures(m).map(|f| {
            f.map(|f| match f {
                Figure::Count(n) => n.to_string(),
                Figure::Total(x) | Figure::Value(x) => x.to_string(),
            })
        });
        rec.extend(figures.into_iter().map(Option::unwrap_or_default));
        let _ = w.write_record(&rec);
    }
    into_string(w)
}

fn into_string(w: ::csv::Writer<Vec<u8>>) -> String {
    let bytes = w.into_inner().unwrap_or_default();
    // Every field written is a Rust string, so the bytes are UTF-8.
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::sample;
    use stampede_metrics::result::CustomMetricRow;

    fn parse(text: &str) -> (::csv::StringRecord, Vec<::csv::StringRecord>) {
        let mut r = ::csv::Reader::from_reader(text.as_bytes());
        let header = r.headers().expect("header").clone();
        let rows = r.records().map(|r| r.expect("record")).collect();
        (header, rows)
    }

    #[test]
    fn requests_parse_back_with_awkward_names_intact() {
        let mut r = sample();
        r.requests[0].name = "search, \"quoted\"\nand a newline".into();
        let (header, rows) = parse(&requests_csv(&r));
        assert_eq!(header.len(), REQUEST_COLUMNS.len());
        assert_eq!(rows.len(), r.requests.len() + 1);
        assert_eq!(&rows[0][1], "search, \"quoted\"\nand a newline");
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        for (row, rec) in r.requests.iter().zip(&rows) {
            assert_eq!(rec[col("requests")].parse::<u64>().unwrap(), row.requests);
            assert_eq!(
                rec[col("latency_p95_ms")].parse::<f64>().unwrap(),
                row.latency_ms.p95
            );
        }
        let total = rows.last().unwrap();
        assert_eq!(&total[0], "all");
        assert_eq!(
            total[col("requests")].parse::<u64>().unwrap(),
            r.summary.requests
        );
    }

    #[test]
    fn timeline_has_a_line_per_second_and_every_error_kind_column() {
        let r = sample();
        let (header, rows) = parse(&timeline_csv(&r));
        assert_eq!(rows.len(), r.timeline.len());
        assert_eq!(header.len(), 8 + ErrorKind::COUNT);
        let timeout = header.iter().position(|h| h == "errors_timeout").unwrap();
        let from_csv: u64 = rows
            .iter()
            .map(|r| r[timeout].parse::<u64>().unwrap())
            .sum();
        let from_json: u64 = r
            .errors
            .iter()
            .filter(|e| e.kind == "timeout")
            .map(|e| e.count)
            .sum();
        assert!(from_json > 0, "the fixture has timeouts");
        assert_eq!(from_csv, from_json);
    }

    #[test]
    fn custom_metrics_have_a_line_each_with_empty_cells_for_other_kinds() {
        let r = sample();
        let (header, rows) = parse(&custom_csv(&r));
        assert_eq!(header.iter().collect::<Vec<_>>(), CUSTOM_COLUMNS);
        assert_eq!(rows.len(), r.custom_metrics.len());
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        for (m, rec) in r.custom_metrics.iter().zip(&rows) {
            assert_eq!((&rec[0], &rec[1]), (m.name(), m.kind()));
            match m {
                CustomMetricRow::Counter { total, .. } => {
                    assert_eq!(rec[col("total")].parse::<f64>().unwrap(), *total);
                    assert_eq!(&rec[col("p95")], "");
                }
                CustomMetricRow::Trend { p95, .. } => {
                    assert_eq!(rec[col("p95")].parse::<f64>().unwrap(), *p95);
                    assert_eq!(&rec[col("total")], "");
                }
                CustomMetricRow::Gauge { last, .. } => {
                    assert_eq!(rec[col("last")].parse::<f64>().unwrap(), *last);
                    assert_eq!(&rec[col("mean")], "");
                }
            }
        }
        let kinds: Vec<&str> = rows.iter().map(|r| r.get(1).unwrap()).collect();
        assert_eq!(
            kinds,
            ["counter", "trend", "gauge"],
            "the sample has each kind"
        );
    }

    #[test]
    fn timeline_file_sits_next_to_the_requests_file() {
        assert_eq!(
            custom_path(Path::new("out/stats.csv")),
            Path::new("out/stats_custom.csv")
        );
        assert_eq!(
            timeline_path(Path::new("out/stats.csv")),
            Path::new("out/stats_timeline.csv")
        );
        assert_eq!(
            timeline_path(Path::new("stats")),
            Path::new("stats_timeline.csv")
        );
    }
}
