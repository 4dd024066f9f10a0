//! The single-tick append path does not allocate per append once warmed up (DESIGN: "the
//! ingest path does not allocate per row after warm-up"). Alone in its own test binary because
//! it counts every allocation of the process.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use storage::{Batch, FsyncPolicy, Shard, ShardConfig};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `alloc`'s contract, which we pass on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const SYMBOLS: usize = 20;

fn one_row(i: usize, symbols: &[String], as_codes: bool) -> Batch {
    let b = Batch::new("trades").i64s("timestamp", vec![1_700_000_000_000_000_000 + i as i64]);
    let b = if as_codes {
        b.symbol_codes("symbol", vec![symbols[i % SYMBOLS].clone()], vec![0])
    } else {
        b.strs("symbol", [&symbols[i % SYMBOLS]])
    };
    b.f64s("price", vec![i as f64])
        .i64s("volume", vec![i as i64])
}

#[test]
fn one_row_appends_do_not_allocate_after_warm_up() {
    let dir = tempfile::tempdir().unwrap();
    let config = ShardConfig {
        fsync: FsyncPolicy::Never,
        ..ShardConfig::default()
    };
    let (mut shard, _) = Shard::open(dir.path(), config).unwrap();
    let symbols: Vec<String> = (0..SYMBOLS).map(|i| format!("SYM{i}")).collect();
    // Built before counting: the batches are the writer's allocations, not the shard's.
    let batches: Vec<Batch> = (0..40_000)
        .map(|i| one_row(i, &symbols, i % 2 == 0))
        .collect();
    let (warm_up, measured) = batches.split_at(20_000);
    for (i, b) in warm_up.iter().enumerate() {
        shard.append(b).unwrap();
        if i % 100 == 99 {
            shard.commit().unwrap();
        }
    }
    shard.commit().unwrap();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for (i, b) in measured.iter().enumerate() {
        shard.append(b).unwrap();
        if i % 100 == 99 {
            shard.commit().unwrap();
        }
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    // Hot buffers still double now and then (amortized growth); nothing else may allocate.
    // Before scratch reuse this was about five allocations per append.
    assert!(
        allocations <= (measured.len() / 100) as u64,
        "{allocations} allocations in {} one-row appends",
        measured.len()
    );
    assert_eq!(shard.stats().hot_rows, 40_000);
}
