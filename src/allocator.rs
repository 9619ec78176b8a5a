//! The binary's memory allocator: mimalloc, set to keep the memory it frees.
//!
//! Training and inference allocate and free tensors of tens of MB on every step. glibc
//! serves each from a fresh `mmap` (they are above its mmap threshold), which is
//! page-faulted in again every time. mimalloc reuses freed memory, but by default it
//! returns ("purges") unused memory to the system a while after it is freed, which for these
//! step-sized cycles costs as much system time as glibc's maps (MobileNetV2 training: 7.3 s
//! of system time instead of 1.8 s). With purging off, the faults fall from 575k to 8k
//! per run. README, "Allocator", has the measurements.

use std::ffi::{c_int, c_long};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_e` (mimalloc.h).
const PURGE_DELAY: c_int = 15;
/// Its default in this mimalloc (1 s, `options.c`); another value means the option moved
/// or changed in another mimalloc release, and then it is left alone.
const PURGE_DELAY_DEFAULT: c_long = 1000;

// mimalloc's public C API, linked in by the `mimalloc` crate (its `libmimalloc-sys`).
unsafe extern "C" {
    fn mi_option_get(option: c_int) -> c_long;
    fn mi_option_set(option: c_int, value: c_long);
}

/// Turns purging off (`-1`: freed memory stays with the process for reuse). Called first
/// thing in `main`; a mimalloc whose options moved is left as it is, with a warning.
pub fn keep_freed_memory() {
    // SAFETY: plain calls of mimalloc's option API with an option index and a value.
    unsafe {
        if mi_option_get(PURGE_DELAY) == PURGE_DELAY_DEFAULT {
            mi_option_set(PURGE_DELAY, -1);
        } else {
            eprintln!(
                "note: mimalloc's options differ from those this build knows; purging left on"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purging_is_off_after_the_call() {
        keep_freed_memory();
        // SAFETY: as above.
        assert_eq!(unsafe { mi_option_get(PURGE_DELAY) }, -1);
    }
}
