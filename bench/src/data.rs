//! Synthetic `trades` batches (timestamp, symbol, price, volume) over a fixed symbol set, built before timing.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use storage::{Batch, Values};

/// 2024-01-02T00:00:00Z in ns: every generated row lies in this one day unless a run is huge.
pub const TS_START_NS: i64 = 1_704_153_600_000_000_000;
/// Time between consecutive generated rows (a 10 M ticks/s market feed).
pub const TS_STEP_NS: i64 = 100;

/// Generates `trades` batches with strictly increasing timestamps, symbols drawn uniformly from
/// `symbols` names, a random-walk price per symbol and volumes 1..=1,000. Seeded: the same
/// seed gives the same rows.
#[derive(Debug)]
pub struct TradesGen {
    rng: SmallRng,
    names: Vec<String>,
    prices: Vec<f64>,
    next_ts: i64,
}

impl TradesGen {
    pub fn new(symbols: usize, seed: u64) -> TradesGen {
        assert!(symbols > 0 && symbols <= u32::MAX as usize);
        let mut rng = SmallRng::seed_from_u64(seed);
        let prices = (0..symbols).map(|_| rng.gen_range(10.0..500.0)).collect();
        TradesGen {
            rng,
            names: (0..symbols).map(|i| format!("SYM{i:03}")).collect(),
            prices,
            next_ts: TS_START_NS,
        }
    }

    /// One batch of `rows` rows. A one-row batch carries only its own symbol in the batch
    /// dictionary (as a decoder would produce); larger batches carry every symbol.
    pub fn batch(&mut self, rows: usize) -> Batch {
        let mut ts = Vec::with_capacity(rows);
        let mut codes = Vec::with_capacity(rows);
        let mut price = Vec::with_capacity(rows);
        let mut volume = Vec::with_capacity(rows);
        let mut single = None;
        for _ in 0..rows {
            let s = self.rng.gen_range(0..self.names.len());
            let p = &mut self.prices[s];
            *p = (*p * (1.0 + self.rng.gen_range(-0.0005..0.0005))).max(0.01);
            ts.push(self.next_ts);
            self.next_ts += TS_STEP_NS;
            codes.push(s as u32);
            price.push(*p);
            volume.push(self.rng.gen_range(1..=1_000));
            single = Some(s);
        }
        let dict = match (rows, single) {
            (1, Some(s)) => {
                codes[0] = 0;
                vec![self.names[s].clone()]
            }
            _ => self.names.clone(),
        };
        Batch::new("trades")
            .i64s("timestamp", ts)
            .symbol_codes("symbol", dict, codes)
            .f64s("price", price)
            .i64s("volume", volume)
    }

    /// `count` batches of `rows` rows each.
    pub fn batches(&mut self, count: usize, rows: usize) -> Vec<Batch> {
        (0..count).map(|_| self.batch(rows)).collect()
    }
}

/// A ring of pre-built batches that can be replayed forever: after each lap every timestamp is
/// moved past the previous lap's last one, so the stream stays in time order.
#[derive(Debug)]
pub struct Pool {
    pub batches: Vec<Batch>,
    /// Index of the next batch to hand out.
    pub next: usize,
    rows: u64,
    lap_shift_ns: i64,
}

impl Pool {
    pub fn new(batches: Vec<Batch>) -> Pool {
        assert!(!batches.is_empty(), "a pool needs batches");
        let rows: u64 = batches.iter().map(|b| b.rows() as u64).sum();
        Pool {
            batches,
            next: 0,
            rows,
            lap_shift_ns: rows as i64 * TS_STEP_NS,
        }
    }

    /// Rows in one lap.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Whether `count` more batches fit before the lap ends.
    pub fn has(&self, count: usize) -> bool {
        self.next + count <= self.batches.len()
    }

    /// Starts the next lap: shifts every timestamp by one lap. Not free (one pass over the
    /// timestamps); callers keep it out of timed regions.
    pub fn next_lap(&mut self) {
        for b in &mut self.batches {
            if let Values::I64(ts) = &mut b.columns[0].data.values {
                for t in ts {
                    *t += self.lap_shift_ns;
                }
            }
        }
        self.next = 0;
    }

    /// Sum of the `price` column over one lap (for checking scans).
    pub fn price_sum(&self) -> f64 {
        self.batches
            .iter()
            .map(|b| match &b.columns[2].data.values {
                Values::F64(p) => p.iter().sum::<f64>(),
                _ => 0.0,
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_time_ordered_across_laps() {
        let mut g = TradesGen::new(100, 7);
        let mut pool = Pool::new(g.batches(3, 10));
        let first = |p: &Pool| match &p.batches[0].columns[0].data.values {
            Values::I64(t) => t[0],
            _ => unreachable!(),
        };
        let last = |p: &Pool| match &p.batches[2].columns[0].data.values {
            Values::I64(t) => t[9],
            _ => unreachable!(),
        };
        let end = last(&pool);
        pool.next_lap();
        assert_eq!(first(&pool), end + TS_STEP_NS);
        assert_eq!(pool.rows(), 30);
    }

    #[test]
    fn one_row_batches_carry_one_symbol() {
        let mut g = TradesGen::new(100, 1);
        let b = g.batch(1);
        assert_eq!(b.symbols.len(), 1);
        assert_eq!(b.rows(), 1);
        assert_eq!(g.batch(1000).symbols.len(), 100);
    }
}
