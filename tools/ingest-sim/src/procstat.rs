//! CPU time and memory of a process, from Linux's `/proc/<pid>/stat` and `/proc/<pid>/status`.

use anyhow::{Context, bail};
use std::time::Instant;

/// CPU time used so far by a process (all its threads), and when it was read.
#[derive(Clone, Copy, Debug)]
pub struct CpuSample {
    /// utime + stime, in clock ticks.
    pub ticks: u64,
    pub at: Instant,
}

/// Which process: a pid, or this one.
#[derive(Clone, Debug)]
pub struct Proc {
    dir: String,
    /// Clock ticks per second (`getconf CLK_TCK`, 100 on Linux).
    clk_tck: u64,
}

impl Proc {
    /// The process `pid`, checked to exist now.
    pub fn pid(pid: u32, clk_tck: u64) -> anyhow::Result<Self> {
        let p = Proc {
            dir: format!("/proc/{pid}"),
            clk_tck,
        };
        p.cpu().with_context(|| {
            format!("cannot read the CPU time of process {pid}: is it running?")
        })?;
        Ok(p)
    }

    /// This process.
    pub fn current(clk_tck: u64) -> Self {
        Proc {
            dir: "/proc/self".to_owned(),
            clk_tck,
        }
    }

    /// Reads utime + stime (fields 14 and 15 of `stat`, after the parenthesised command name).
    pub fn cpu(&self) -> anyhow::Result<CpuSample> {
        let path = format!("{}/stat", self.dir);
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        let at = Instant::now();
        let Some((_, rest)) = text.rsplit_once(')') else {
            bail!("{path}: no ')' after the command name");
        };
        // `rest` starts at field 3 (state): utime is field 14, so index 11 here.
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |i: usize| -> anyhow::Result<u64> {
            let f = fields
                .get(i)
                .with_context(|| format!("{path}: too few fields"))?;
            f.parse()
                .with_context(|| format!("{path}: field {} is not a number", i + 3))
        };
        Ok(CpuSample {
            ticks: field(11)? + field(12)?,
            at,
        })
    }

    /// Cores used between two samples (CPU seconds per wall-clock second).
    pub fn cores(&self, from: CpuSample, to: CpuSample) -> f64 {
        let cpu_s = to.ticks.saturating_sub(from.ticks) as f64 / self.clk_tck as f64;
        let wall_s = to.at.saturating_duration_since(from.at).as_secs_f64();
        if wall_s > 0.0 { cpu_s / wall_s } else { 0.0 }
    }

    /// A `status` field in KiB (`VmRSS`, `VmHWM`).
    pub fn kib(&self, key: &str) -> anyhow::Result<u64> {
        let path = format!("{}/status", self.dir);
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        let line = (text.lines())
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .with_context(|| format!("{path}: no {key} line"))?;
        let value = line.trim().trim_end_matches("kB").trim();
        value
            .parse()
            .with_context(|| format!("{path}: {key} is not a number: {line:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = Proc::current(100);
        let a = me.cpu().unwrap();
        // Burn a little CPU so the counter can move.
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let b = me.cpu().unwrap();
        assert!(b.ticks >= a.ticks);
        assert!(me.kib("VmRSS").unwrap() > 0);
        assert!(me.kib("VmHWM").unwrap() >= me.kib("VmRSS").unwrap() / 2);
        assert!(Proc::pid(u32::MAX, 100).is_err());
    }
}
