use super::*;
use rand::SeedableRng;

fn rng(seed: u64) -> SmallRng {
    SmallRng::seed_from_u64(seed)
}

#[test]
fn uniform_think_time_stays_in_bounds_and_is_reproducible() {
    let think_time = ThinkTime::Uniform {
        min: Duration::from_millis(200),
        max: Duration::from_millis(400),
    };
    let (mut a, mut b, mut c) = (rng(7), rng(7), rng(8));
    let (mut lo, mut hi) = (Duration::MAX, Duration::ZERO);
    let mut differs = false;
    for _ in 0..1000 {
        let x = think(&mut a, think_time, 1.0);
        assert_eq!(x, think(&mut b, think_time, 1.0));
        differs |= x != think(&mut c, think_time, 1.0);
        lo = lo.min(x);
        hi = hi.max(x);
    }
    assert!(differs, "different seeds draw different pauses");
    assert!(lo >= Duration::from_millis(200) && hi <= Duration::from_millis(400));
    assert!(lo < Duration::from_millis(210) && hi > Duration::from_millis(390));
    assert_eq!(think(&mut a, ThinkTime::None, 3.0), Duration::ZERO);
    let doubled = think(&mut a, ThinkTime::Constant(Duration::from_secs(1)), 2.0);
    assert_eq!(doubled, Duration::from_secs(2));
}

#[test]
fn normal_is_truncated_at_zero_and_exponential_is_memoryless() {
    let mut r = rng(1);
    let wide = Distribution::Normal {
        mean: 0.1,
        stddev: 1.0,
    };
    assert!((0..10_000).all(|_| sample(&mut r, &wide) >= 0.0));
    let exp = Distribution::Exponential { mean: 2.0 };
    let draws: Vec<f64> = (0..20_000).map(|_| sample(&mut r, &exp)).collect();
    let mean = draws.iter().sum::<f64>() / draws.len() as f64;
    assert!((mean - 2.0).abs() < 0.1, "mean {mean}");
    // P(X > 2 | X > 1) = P(X > 1) = e^-0.5 ≈ 0.607.
    let over1 = draws.iter().filter(|x| **x > 1.0).count() as f64;
    let over2 = draws.iter().filter(|x| **x > 2.0).count() as f64;
    assert!((over2 / over1 - 0.6065).abs() < 0.03, "{}", over2 / over1);
}

/// The rows of the table in `docs/scenario.md`: (the form as written, the distribution, unit).
fn documented() -> Vec<(&'static str, Distribution, &'static str)> {
    let secs = |t: ThinkTime| t.distribution();
    let d = Duration::from_millis;
    vec![
        ("`think_time: 2s`", secs(ThinkTime::Constant(d(2000))), "s"),
        (
            "`think_time: { min: 1s, max: 3s }`",
            secs(ThinkTime::Uniform {
                min: d(1000),
                max: d(3000),
            }),
            "s",
        ),
        (
            "`think_time: { normal: { mean: 2s, stddev: 500ms } }`",
            secs(ThinkTime::Normal {
                mean: d(2000),
                stddev: d(500),
            }),
            "s",
        ),
        (
            "`think_time: { log_normal: { median: 2s, sigma: 0.5 } }`",
            secs(ThinkTime::LogNormal {
                median: d(2000),
                sigma: 0.5,
            }),
            "s",
        ),
        (
            "`think_time: { exponential: { mean: 2s } }`",
            secs(ThinkTime::Exponential { mean: d(2000) }),
            "s",
        ),
        (
            "`pace_factor: { log_normal: { median: 1.0, sigma: 0.3 } }`",
            Distribution::LogNormal {
                median: 1.0,
                sigma: 0.3,
            },
            "×",
        ),
    ]
}

/// Percentiles of 10,000 draws (seed 1), as a Markdown table.
fn table() -> String {
    let mut out = String::from(
        "| Form | p1 | p10 | p50 | p90 | p99 | mean |\n|---|---|---|---|---|---|---|\n",
    );
    for (form, dist, unit) in documented() {
        let mut r = rng(1);
        let mut draws: Vec<f64> = (0..10_000).map(|_| sample(&mut r, &dist)).collect();
        draws.sort_by(f64::total_cmp);
        let q = |p: f64| draws[((draws.len() as f64 * p) as usize).min(draws.len() - 1)];
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        let cells: Vec<String> = [q(0.01), q(0.10), q(0.50), q(0.90), q(0.99), mean]
            .iter()
            .map(|v| match unit {
                "s" => format!("{v:.2} s"),
                _ => format!("{v:.2}×"),
            })
            .collect();
        out.push_str(&format!("| {form} | {} |\n", cells.join(" | ")));
    }
    out
}

/// The table in the docs is this code's output, not invented.
#[test]
fn documented_percentile_table_matches_the_sampler() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/scenario.md");
    let docs = std::fs::read_to_string(path).expect("docs/scenario.md");
    let marker = "<!-- pause-percentiles: checked by crates/engine/src/pace/tests.rs -->\n";
    let expected = table();
    let found = docs
        .split_once(marker)
        .map(|(_, rest)| rest.split("\n\n").next().unwrap_or("").to_owned() + "\n");
    assert_eq!(
        found.as_deref(),
        Some(expected.as_str()),
        "docs/scenario.md must contain, right after the marker line, exactly:\n{marker}{expected}"
    );
}
