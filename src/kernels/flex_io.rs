//! Between flex tensors and the f32 slices the kernels work on.

use std::borrow::Cow;

use burn::backend::TensorMetadata;
use burn::backend::flex::FlexTensor;
use burn::tensor::TensorData;
use rayon::prelude::*;

/// The tensor's elements in row-major order: borrowed when it is contiguous, else copied.
/// The callers have checked that it holds f32.
pub fn f32s(t: &FlexTensor) -> Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(t.to_contiguous().as_slice::<f32>().unwrap_or(&[]).to_vec()),
    }
}

/// A flex tensor of `shape` holding `values`.
pub fn output<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// A flex tensor of the same shape as `like`, holding `values`.
pub fn output_like(values: Vec<f32>, like: &FlexTensor) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, like.shape()))
}

/// Input elements per parallel task of the element-wise kernels: large enough that the task
/// costs more than handing it to another thread.
pub const TASK: usize = 1 << 15;

/// `run(first, dst, src)` over runs of whole planes, about [`TASK`] input elements each:
/// `dst` in planes of `plane_out` elements, `src` in planes of `plane_in`, `first` the index
/// of the run's first plane. A single run stays on this thread (handing it to the pool
/// would cost more than it does); several are spread over the pool.
pub fn by_planes<T: Send>(
    dst: &mut [T],
    plane_out: usize,
    src: &[f32],
    plane_in: usize,
    run: impl Fn(usize, &mut [T], &[f32]) + Sync,
) {
    let planes = (TASK / plane_in.max(1)).max(1);
    let (out_chunk, in_chunk) = (planes * plane_out, planes * plane_in);
    if src.len() <= in_chunk {
        run(0, dst, src);
    } else {
        dst.par_chunks_mut(out_chunk)
            .zip(src.par_chunks(in_chunk))
            .enumerate()
            .for_each(|(t, (d, s))| run(t * planes, d, s));
    }
}
