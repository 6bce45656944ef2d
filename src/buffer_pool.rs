//! One thread-local pool of `f64` buffers for the op graph's passes.
//!
//! The R passes of a product, and the blocks of a dense Hessian, allocate the same large
//! buffers over and over; fresh pages (page faults, zeroing, the allocator returning them to the
//! system) cost more than the arithmetic on them. Finished passes hand their buffers back here
//! and the next pass on the same thread takes them again. Reuse never changes a value: a taken
//! buffer is empty and callers fill it, or (for outputs written whole before any read, as a
//! GEMM's that overwrites) holds initialized values of no meaning, which saves zeroing it.

use std::cell::RefCell;

thread_local! {
    static POOL: RefCell<Vec<Vec<f64>>> = const { RefCell::new(Vec::new()) };
}

/// Most buffers kept per thread.
const POOL_MAX: usize = 48;
/// Most bytes kept per thread: the pool lives as long as the thread (rayon's live as long as
/// the process), so what it holds after a burst of large passes must stay bounded.
const POOL_BYTES: usize = 96 << 20;
/// Buffers shorter than this go back to the allocator, which serves them cheaply.
const POOL_MIN: usize = 2048;

/// The smallest pooled buffer with room for `len` values, emptied, if there is one: best fit,
/// so that small requests do not take the buffers large ones need.
pub(crate) fn take_pooled(len: usize) -> Option<Vec<f64>> {
    take_pooled_keeping(len).map(|mut v| {
        v.clear();
        v
    })
}

/// An empty buffer with room for `len` values: a pooled one that fits, else a new one.
pub(crate) fn take(len: usize) -> Vec<f64> {
    take_pooled(len).unwrap_or_else(|| Vec::with_capacity(len))
}

/// A buffer of `len` values to be overwritten whole before it is read: a pooled one keeps
/// what it held (initialized values of no meaning), so that no pass zeroes what a GEMM then
/// overwrites; only entries past its old length are zeroed (tests and debug builds set every
/// entry to NaN).
pub(crate) fn take_for_overwrite(len: usize) -> Vec<f64> {
    let mut v = take_pooled_keeping(len).unwrap_or_else(|| Vec::with_capacity(len));
    set_len_keeping(&mut v, len);
    // Tests and debug builds poison the buffer, so that an entry left unwritten shows as NaN
    // rather than passing as the zero a fresh page holds.
    if cfg!(any(test, debug_assertions)) {
        v.fill(f64::NAN);
    }
    v
}

/// Gives `v` the length `len`, keeping the values it holds: entries past its old length are
/// zeroed, none is written otherwise.
pub(crate) fn set_len_keeping(v: &mut Vec<f64>, len: usize) {
    if v.len() >= len {
        v.truncate(len);
    } else {
        v.resize(len, 0.0);
    }
}

/// The best-fit pooled buffer for `len` values, as it was returned.
fn take_pooled_keeping(len: usize) -> Option<Vec<f64>> {
    if len < POOL_MIN {
        return None;
    }
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        let best = p
            .iter()
            .enumerate()
            .filter(|(_, v)| v.capacity() >= len)
            .min_by_key(|(_, v)| v.capacity())
            .map(|(i, _)| i);
        best.map(|i| p.swap_remove(i))
    })
}

/// Returns a buffer to this thread's pool; a full pool drops its smallest buffers first (the
/// large ones are the expensive ones to allocate again).
pub(crate) fn recycle(v: Vec<f64>) {
    let bytes = |b: &Vec<f64>| b.capacity() * std::mem::size_of::<f64>();
    if v.capacity() < POOL_MIN || bytes(&v) > POOL_BYTES {
        return;
    }
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        p.push(v);
        while p.len() > POOL_MAX || p.iter().map(bytes).sum::<usize>() > POOL_BYTES {
            let smallest = p
                .iter()
                .enumerate()
                .min_by_key(|(_, b)| b.capacity())
                .map(|(i, _)| i);
            match smallest {
                Some(i) => drop(p.swap_remove(i)),
                None => break,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recycled_buffer_comes_back_empty_and_best_fit() {
        let big = Vec::<f64>::with_capacity(1 << 16);
        let small = vec![7.0; 4096];
        let (big_ptr, small_ptr) = (big.as_ptr(), small.as_ptr());
        recycle(big);
        recycle(small);
        let got = take(3000);
        assert!(got.is_empty());
        assert_eq!(got.as_ptr(), small_ptr, "the smallest buffer that fits");
        let got2 = take(5000);
        assert_eq!(got2.as_ptr(), big_ptr);
        assert!(
            take_pooled(100).is_none(),
            "short requests go to the allocator"
        );
    }

    #[test]
    fn a_buffer_for_overwrite_has_the_length_asked_for() {
        recycle(vec![3.0; 4096]);
        let shorter = take_for_overwrite(3000);
        assert_eq!(shorter.len(), 3000);
        recycle(shorter);
        let longer = take_for_overwrite(4000);
        assert_eq!(longer.len(), 4000);
        assert!(longer.iter().all(|v| v.is_nan()), "poisoned under test");
        assert_eq!(take_for_overwrite(10).len(), 10);
    }
}
