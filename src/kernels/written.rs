//! Vectors that a kernel fills completely, allocated without zeroing them first.

use std::mem::MaybeUninit;

/// A vector of `len` f32 that `fill` writes.
///
/// # Safety
/// `fill` must write every element of the slice it is given before it returns (a panic
/// instead is fine: the vector is then dropped empty).
pub unsafe fn written(len: usize, fill: impl FnOnce(&mut [MaybeUninit<f32>])) -> Vec<f32> {
    let mut v = Vec::with_capacity(len);
    fill(&mut v.spare_capacity_mut()[..len]);
    // SAFETY: the caller's contract: `fill` wrote all `len` elements.
    unsafe { v.set_len(len) };
    v
}
