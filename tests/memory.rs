//! No allocation growth per step: the peak of live heap bytes over steps 11..1000 of a SimCLR
//! run is no higher than over steps 1..10. A counting global allocator (this test binary only)
//! tracks live and peak bytes; a one-thread pool makes the allocation sequence deterministic.

mod common;

use common::simclr::{random_views, SimClrStep};
use common::with_threads;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

#[test]
fn peak_memory_after_1000_steps_equals_peak_after_10() {
    with_threads(1, || {
        // Small batch (8 × 2 views) keeps 1000 steps fast; every op of the real step runs.
        let mut s = SimClrStep::<f32>::new(1);
        let views = random_views::<f32>(8, 2);
        let live_before = LIVE.load(Ordering::Relaxed);
        PEAK.store(live_before, Ordering::Relaxed);
        for _ in 0..10 {
            s.step(views.clone()).unwrap();
        }
        let peak_10 = PEAK.load(Ordering::Relaxed);
        let live_10 = LIVE.load(Ordering::Relaxed);
        for _ in 10..1000 {
            s.step(views.clone()).unwrap();
        }
        let peak_1000 = PEAK.load(Ordering::Relaxed);
        let live_1000 = LIVE.load(Ordering::Relaxed);
        eprintln!("live before {live_before} B, after 10 steps {live_10} B, after 1000 {live_1000} B; peak after 10 {peak_10} B, after 1000 {peak_1000} B");
        assert_eq!(
            peak_1000, peak_10,
            "peak grew between step 10 and step 1000"
        );
        assert_eq!(
            live_1000, live_10,
            "live heap grew between step 10 and step 1000"
        );
    });
}
