//! `dst = a · b` on strided f32 matrices through the `gemm` crate, writing into initialised
//! memory or into memory not yet written (the kernels' outputs, which are then never zeroed
//! first: zeroing them was ~10 % of a training step).

use std::marker::PhantomData;
use std::mem::MaybeUninit;

use gemm::Parallelism;

/// A matrix in memory: `rows` x `cols` with the given strides (in elements).
#[derive(Clone, Copy)]
pub struct View<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> View<'a> {
    /// A row-major `rows` x `cols` matrix whose rows start `row_stride` apart.
    pub fn strided(data: &'a [f32], rows: usize, cols: usize, row_stride: usize) -> View<'a> {
        View {
            data,
            rows,
            cols,
            row_stride,
            col_stride: 1,
        }
    }

    /// A row-major `rows` x `cols` matrix.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize) -> View<'a> {
        View::strided(data, rows, cols, cols)
    }

    /// The transpose of a row-major `rows` x `cols` matrix (so `cols` x `rows`).
    pub fn transposed(data: &'a [f32], rows: usize, cols: usize) -> View<'a> {
        View {
            data,
            rows: cols,
            cols: rows,
            row_stride: 1,
            col_stride: cols,
        }
    }

    /// The element count the view reaches, to check it against the slice.
    fn extent(&self) -> usize {
        extent(self.rows, self.cols, self.row_stride, self.col_stride)
    }
}

fn extent(rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> usize {
    if rows == 0 || cols == 0 {
        return 0;
    }
    (rows - 1) * row_stride + (cols - 1) * col_stride + 1
}

/// Where a product goes: a mutable borrow of initialised or of not yet written f32s.
pub struct Dst<'a> {
    ptr: *mut f32,
    len: usize,
    initialised: bool,
    _borrow: PhantomData<&'a mut [f32]>,
}

impl<'a> Dst<'a> {
    pub fn init(s: &'a mut [f32]) -> Dst<'a> {
        Dst {
            ptr: s.as_mut_ptr(),
            len: s.len(),
            initialised: true,
            _borrow: PhantomData,
        }
    }

    /// Memory the product fills without reading it (never with `add`).
    pub fn uninit(s: &'a mut [MaybeUninit<f32>]) -> Dst<'a> {
        Dst {
            ptr: s.as_mut_ptr().cast(),
            len: s.len(),
            initialised: false,
            _borrow: PhantomData,
        }
    }
}

/// `dst = a · b` (or `dst += a · b` with `add`), `dst` row-major with rows `dst_stride`
/// apart. Every element of the `m` x `n` result is written (`k` is never 0: every geometry
/// has a channel and a kernel tap).
pub fn matmul(dst: Dst, dst_stride: usize, a: View, b: View, add: bool, par: Parallelism) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "matmul: inner sizes differ");
    assert!(
        k > 0 || m == 0 || n == 0,
        "matmul: an empty inner size writes nothing"
    );
    assert!(
        dst.initialised || !add,
        "matmul: adding to memory never written"
    );
    assert!(dst.len >= extent(m, n, dst_stride, 1));
    assert!(a.data.len() >= a.extent() && b.data.len() >= b.extent());
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: the asserts above keep every element the strides reach inside its slice;
    // `dst` is a mutable borrow, so it aliases neither input; gemm reads `dst` only with
    // `add`, which only initialised memory takes.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.ptr,
            1,
            dst_stride as isize,
            add,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}
