use super::*;
use stampede_scenario::RateStage;

fn arrival(stages: &[(u64, f64)], arrivals: Arrivals) -> Arrival {
    Arrival {
        stages: stages
            .iter()
            .map(|&(ms, rate)| RateStage {
                duration: Duration::from_millis(ms),
                rate,
            })
            .collect(),
        pre_allocated_users: 1,
        max_users: 1,
        arrivals,
    }
}

#[test]
fn even_arrivals_are_exact_with_no_drift() {
    // 2,000/s for 10 s: arrival n at exactly n × 500 µs, 20,000 of them.
    let a = arrival(&[(0, 2000.0), (10_000, 2000.0)], Arrivals::Even);
    let times: Vec<Duration> = Schedule::new(&a, 1).collect();
    assert_eq!(times.len(), 20_000);
    for (n, t) in times.iter().enumerate() {
        let ideal = Duration::from_micros(500 * n as u64);
        assert!(t.abs_diff(ideal) <= Duration::from_nanos(1), "{n}: {t:?}");
    }
    // Per second: exactly 2,000.
    for s in 0..10u64 {
        let in_second = times.iter().filter(|t| t.as_secs() == s).count();
        assert_eq!(in_second, 2000, "second {s}");
    }
}

#[test]
fn a_phase_delays_every_arrival_by_that_fraction_of_a_gap() {
    // Two agents at 1,000/s each, phases 0 and 0.5: together one arrival every 500 µs.
    let a = arrival(&[(0, 1000.0), (1_000, 1000.0)], Arrivals::Even);
    let first: Vec<Duration> = Schedule::new(&a, 1).collect();
    let second: Vec<Duration> = Schedule::new(&a, 1).with_phase(0.5).collect();
    assert_eq!((first.len(), second.len()), (1000, 1000));
    let mut all: Vec<Duration> = first.into_iter().chain(second).collect();
    all.sort();
    for (n, t) in all.iter().enumerate() {
        let ideal = Duration::from_micros(500 * n as u64);
        assert!(t.abs_diff(ideal) <= Duration::from_nanos(1), "{n}: {t:?}");
    }
}

#[test]
fn a_ramp_spaces_arrivals_by_the_rising_rate() {
    // 0 → 100/s over 10 s: 500 arrivals, a quarter of them in the first half.
    let a = arrival(&[(10_000, 100.0)], Arrivals::Even);
    let times: Vec<Duration> = Schedule::new(&a, 1).collect();
    assert_eq!(times.len(), 500);
    let first_half = times.iter().filter(|t| t.as_secs_f64() < 5.0).count();
    assert_eq!(first_half, 125);
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn poisson_arrivals_are_seeded_and_average_the_rate() {
    let a = arrival(&[(0, 1000.0), (20_000, 1000.0)], Arrivals::Poisson);
    let one: Vec<Duration> = Schedule::new(&a, 7).collect();
    let again: Vec<Duration> = Schedule::new(&a, 7).collect();
    let other: Vec<Duration> = Schedule::new(&a, 8).collect();
    assert_eq!(one, again, "reproducible from the seed");
    assert_ne!(one, other);
    // 20,000 expected; a Poisson count has a standard deviation of √20000 ≈ 141.
    assert!(one.len().abs_diff(20_000) < 700, "{}", one.len());
    // Gaps are exponential: their coefficient of variation is 1 (0 for even spacing).
    let gaps: Vec<f64> = one
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
    let cv = var.sqrt() / mean;
    assert!((cv - 1.0).abs() < 0.05, "cv {cv}");
}

/// Sleeping until each computed instant in paused time lands exactly on schedule: the loop
/// computes instants from the start, so waking late never shifts later arrivals.
#[tokio::test(start_paused = true)]
async fn sleeping_to_each_instant_does_not_drift() {
    let a = arrival(&[(0, 300.0), (60_000, 300.0)], Arrivals::Even);
    let start = Instant::now();
    let mut count = 0u64;
    for offset in Schedule::new(&a, 1) {
        tokio::time::sleep_until(start + offset).await;
        // Simulated work that makes the loop late by 2 ms now and then.
        if count.is_multiple_of(97) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        count += 1;
    }
    assert_eq!(count, 18_000);
    let elapsed = start.elapsed();
    // The last arrival is at 59.99667 s; the paused clock shows no accumulated lateness.
    assert!(elapsed < Duration::from_millis(60_003), "{elapsed:?}");
}
