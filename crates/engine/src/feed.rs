//! Data feeders at run time: the rows of one feeder, shared by every virtual user of a generator.
//!
//! A [`Feed`] hands out row indices. Sequential and unique feeds share one atomic cursor, so a
//! draw is a single `fetch_add` however many virtual users draw at once; random feeds keep no
//! state at all (each virtual user brings its own generator).
//!
//! In a cluster, each agent gets a *partition*: a contiguous block of the rows that no other
//! agent uses, so `unique` rows stay unique across the whole run.

// Until the virtual users draw from feeds (then this goes: the expectation fails the build).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use stampede_scenario::{Exhausted, Feeder, Strategy, Table};

/// What a virtual user gets when it asks a [`Feed`] for a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Draw {
    /// An index into the table's rows (not into the partition): read it with [`Feed::row`].
    Row(usize),
    /// No row is left (`on_exhausted: stop_user`, or nothing to recycle): the virtual user stops.
    StopUser,
    /// No row is left and `on_exhausted: fail`: the user stops and it is counted.
    Fail,
}

/// The rows of one feeder and the state of its draws; `Send + Sync`, shared behind an `Arc`.
#[derive(Debug)]
pub(crate) struct Feed {
    table: Arc<Table>,
    strategy: Strategy,
    on_exhausted: Exhausted,
    /// First row of this generator's partition.
    start: usize,
    /// Rows in the partition.
    len: usize,
    /// Draws made so far (sequential and unique).
    cursor: AtomicU64,
}

impl Feed {
    /// A feed over `table` (the rows of `feeder`).
    ///
    /// `partition`: `Some((index, count))` → this generator only uses its slice of the rows,
    /// the contiguous block `rows[index*n/count .. (index+1)*n/count]`; that is how `unique`
    /// rows stay unique across a cluster of agents: the controller hands each agent a different
    /// index. `count == 0` is taken as 1, and an `index` past the end as the last one.
    pub fn new(feeder: &Feeder, table: Arc<Table>, partition: Option<(u32, u32)>) -> Feed {
        let (start, end) = slice(table.rows.len(), partition);
        Feed {
            table,
            strategy: feeder.strategy,
            on_exhausted: feeder.on_exhausted,
            start,
            len: end - start,
            cursor: AtomicU64::new(0),
        }
    }

    /// Column names, in the order of the values of [`Feed::row`].
    #[cfg(test)]
    pub fn columns(&self) -> &[String] {
        &self.table.columns
    }

    /// The next row for a virtual user, or what to do when none is left.
    ///
    /// Sequential and unique: rows in order, one cursor shared by every virtual user; past the
    /// end, `recycle` wraps around, `stop_user` gives [`Draw::StopUser`], `fail` [`Draw::Fail`].
    /// Random: uniform over the partition, never exhausted. An empty partition (more agents
    /// than rows) has nothing to give: [`Draw::Fail`] with `on_exhausted: fail`, else
    /// [`Draw::StopUser`].
    pub fn next(&self, rng: &mut impl rand::Rng) -> Draw {
        if self.len == 0 {
            return self.exhausted();
        }
        if self.strategy == Strategy::Random {
            return Draw::Row(self.start + rng.random_range(0..self.len));
        }
        // Relaxed: the cursor only has to hand out distinct numbers; rows are immutable.
        let drawn = self.cursor.fetch_add(1, Ordering::Relaxed);
        let len = self.len as u64;
        if drawn < len {
            return Draw::Row(self.start + drawn as usize);
        }
        match self.on_exhausted {
            Exhausted::Recycle => Draw::Row(self.start + (drawn % len) as usize),
            Exhausted::StopUser | Exhausted::Fail => self.exhausted(),
        }
    }

    fn exhausted(&self) -> Draw {
        match self.on_exhausted {
            Exhausted::Fail => Draw::Fail,
            Exhausted::StopUser | Exhausted::Recycle => Draw::StopUser,
        }
    }

    /// The values of row `index` (from [`Draw::Row`]), in the order of [`Feed::columns`].
    pub fn row(&self, index: usize) -> &[String] {
        &self.table.rows[index]
    }

    #[cfg(test)]
    /// Rows in this generator's partition.
    pub fn len(&self) -> usize {
        self.len
    }
}

/// `[start, end)` of partition `index` of `count` over `n` rows.
fn slice(n: usize, partition: Option<(u32, u32)>) -> (usize, usize) {
    let Some((index, count)) = partition else {
        return (0, n);
    };
    let count = u64::from(count.max(1));
    let index = u64::from(index).min(count - 1);
    let bound = |i: u64| (n as u64 * i / count) as usize;
    (bound(index), bound(index + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;
    use stampede_scenario::{DataFormat, Each};
    use std::collections::HashSet;

    fn table(n: usize) -> Arc<Table> {
        Arc::new(Table {
            columns: vec!["id".into(), "name".into()],
            rows: (0..n)
                .map(|i| vec![i.to_string(), format!("user{i}")])
                .collect(),
        })
    }

    fn feeder(strategy: Strategy, on_exhausted: Exhausted) -> Feeder {
        Feeder {
            name: "users".into(),
            file: "users.csv".into(),
            format: DataFormat::Csv,
            strategy,
            each: Each::Iteration,
            on_exhausted,
        }
    }

    fn feed(n: usize, strategy: Strategy, on_exhausted: Exhausted) -> Feed {
        Feed::new(&feeder(strategy, on_exhausted), table(n), None)
    }

    fn draws(feed: &Feed, count: usize) -> Vec<Draw> {
        let mut rng = SmallRng::seed_from_u64(7);
        (0..count).map(|_| feed.next(&mut rng)).collect()
    }

    fn rows(indices: &[usize]) -> Vec<Draw> {
        indices.iter().map(|&i| Draw::Row(i)).collect()
    }

    #[test]
    fn feed_is_shareable() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Feed>();
    }

    #[test]
    fn sequential_gives_rows_in_order_and_wraps() {
        let feed = feed(3, Strategy::Sequential, Exhausted::Recycle);
        assert_eq!(draws(&feed, 7), rows(&[0, 1, 2, 0, 1, 2, 0]));
        assert_eq!(feed.len(), 3);
        assert_eq!(feed.columns(), ["id", "name"]);
        assert_eq!(feed.row(2), ["2", "user2"]);
    }

    #[test]
    fn exhaustion_policies() {
        for strategy in [Strategy::Sequential, Strategy::Unique] {
            for (policy, after) in [
                (Exhausted::StopUser, Draw::StopUser),
                (Exhausted::Fail, Draw::Fail),
            ] {
                let feed = feed(2, strategy, policy);
                let mut expected = rows(&[0, 1]);
                expected.extend([after; 3]);
                assert_eq!(draws(&feed, 5), expected, "{strategy:?} {policy:?}");
            }
            let feed = feed(2, strategy, Exhausted::Recycle);
            assert_eq!(draws(&feed, 5), rows(&[0, 1, 0, 1, 0]), "{strategy:?}");
        }
    }

    #[test]
    fn an_empty_partition_has_nothing_to_give() {
        for (strategy, on_exhausted, draw) in [
            (Strategy::Sequential, Exhausted::Recycle, Draw::StopUser),
            (Strategy::Random, Exhausted::Recycle, Draw::StopUser),
            (Strategy::Unique, Exhausted::StopUser, Draw::StopUser),
            (Strategy::Unique, Exhausted::Fail, Draw::Fail),
        ] {
            // 2 rows over 3 agents: agent 0 gets none.
            let feeder = feeder(strategy, on_exhausted);
            let feed = Feed::new(&feeder, table(2), Some((0, 3)));
            assert_eq!(feed.len(), 0);
            assert_eq!(draws(&feed, 2), [draw; 2], "{strategy:?} {on_exhausted:?}");
        }
    }

    #[test]
    fn unique_never_repeats_across_threads() {
        const THREADS: usize = 8;
        const DRAWS: usize = 10_000;
        // One row short of the draws: exactly one draw must stop its user.
        let n = THREADS * DRAWS - 1;
        let feed = feed(n, Strategy::Unique, Exhausted::StopUser);
        let per_thread: Vec<Vec<Draw>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|t| {
                    let feed = &feed;
                    s.spawn(move || {
                        let mut rng = SmallRng::seed_from_u64(t as u64);
                        (0..DRAWS).map(|_| feed.next(&mut rng)).collect()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut seen = HashSet::new();
        let mut stopped = 0;
        for draw in per_thread.into_iter().flatten() {
            match draw {
                Draw::Row(i) => assert!(seen.insert(i), "row {i} handed out twice"),
                Draw::StopUser => stopped += 1,
                Draw::Fail => panic!("unexpected Fail"),
            }
        }
        assert_eq!(seen.len(), n);
        assert_eq!(stopped, 1);
        assert!(seen.iter().all(|&i| i < n));
    }

    #[test]
    fn random_covers_every_row_of_its_partition() {
        let feeder = feeder(Strategy::Random, Exhausted::Recycle);
        let feed = Feed::new(&feeder, table(100), Some((1, 4)));
        assert_eq!(feed.len(), 25);
        let mut seen = HashSet::new();
        for draw in draws(&feed, 5_000) {
            let Draw::Row(i) = draw else {
                panic!("random ran out: {draw:?}");
            };
            assert!((25..50).contains(&i), "row {i} is outside the partition");
            seen.insert(i);
        }
        // 5000 draws over 25 rows: missing one has probability ~25·(24/25)^5000 ≈ 0.
        assert_eq!(seen.len(), 25);
    }

    #[test]
    fn partitions_are_disjoint_and_cover_every_row() {
        for n in 0..50 {
            for count in 1..7u32 {
                let mut covered = vec![0u32; n];
                let mut sizes = Vec::new();
                for index in 0..count {
                    let feeder = feeder(Strategy::Unique, Exhausted::StopUser);
                    let feed = Feed::new(&feeder, table(n), Some((index, count)));
                    sizes.push(feed.len());
                    for draw in draws(&feed, feed.len() + 1) {
                        match draw {
                            Draw::Row(i) => covered[i] += 1,
                            Draw::StopUser => {}
                            Draw::Fail => panic!("unexpected Fail"),
                        }
                    }
                }
                assert!(covered.iter().all(|&c| c == 1), "{n} rows, {count} agents");
                // Blocks differ in size by at most one row.
                let (min, max) = (sizes.iter().min(), sizes.iter().max());
                assert!(max.unwrap() - min.unwrap() <= 1, "{n} {count} {sizes:?}");
            }
        }
        // Without a partition, or with one of one, every row is used.
        let feeder = feeder(Strategy::Sequential, Exhausted::Recycle);
        assert_eq!(Feed::new(&feeder, table(9), None).len(), 9);
        assert_eq!(Feed::new(&feeder, table(9), Some((0, 1))).len(), 9);
        // Out-of-range partitions are clamped rather than panicking.
        assert_eq!(Feed::new(&feeder, table(9), Some((0, 0))).len(), 9);
        let last = Feed::new(&feeder, table(9), Some((5, 3)));
        assert_eq!(draws(&last, 1), [Draw::Row(6)]);
    }
}
