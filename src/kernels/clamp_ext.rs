//! `clamp(x, lo, hi)` (MobileNetV2's ReLU6) as a Burn backend extension: one pass forward and
//! one backward on flex, where Burn's clamp records two comparisons and two masked fills each
//! way (together the largest item of MobileNetV2's training profile before this).

// `#[macerator::with_simd]` compiles a function once per instruction set, picked at run
// time, through its `S: Simd` parameter; these bodies are plain loops that the compiler
// vectorises under that set's features, so they never name `S` themselves.
#![allow(clippy::extra_unused_type_parameters)]

use burn::backend::autodiff::NodeId;
use std::mem::MaybeUninit;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Flex, backend_extension};
use rayon::prelude::*;

use macerator::Simd;

use super::flex_io::{TASK, f32s, output_like};
use super::written::written;

#[backend_extension(Flex, Autodiff)]
pub trait ClampKernels: Backend {
    /// Every element of `x` (f32) limited to `lo..=hi`.
    fn clamp_fused(x: FloatTensor<Self>, lo: f32, hi: f32) -> FloatTensor<Self>;
}

impl ClampKernels for Flex {
    fn clamp_fused(x: FlexTensor, lo: f32, hi: f32) -> FlexTensor {
        let values = f32s(&x);
        let fill = |y: &mut [MaybeUninit<f32>]| {
            y.par_chunks_mut(TASK)
                .zip(values.par_chunks(TASK))
                .for_each(|(out, src)| clamp_slice(out, src, (lo, hi)))
        };
        // SAFETY: the chunks of `y` and of `values` pair up one to one, each written whole.
        output_like(unsafe { written(values.len(), fill) }, &x)
    }
}

impl<C: CheckpointStrategy> ClampKernels for Autodiff<Flex, C> {
    fn clamp_fused(x: FloatTensor<Self>, lo: f32, hi: f32) -> FloatTensor<Self> {
        match ClampBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let y = Flex::clamp_fused(x.into_primitive(), lo, hi);
                prep.finish((x_state, lo, hi), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::clamp_fused(x.into_primitive(), lo, hi)),
        }
    }
}

/// The gradient passes where `lo <= x <= hi`: Burn's clamp lets it through at the bounds too.
#[derive(Debug)]
struct ClampBackward;

impl Backward<Flex, 1> for ClampBackward {
    type State = (NodeId, f32, f32);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, ck: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let Some(node) = node_x else { return };
        let (x_state, lo, hi) = ops.state;
        let x = ck.retrieve_node_output::<FlexTensor>(x_state);
        let (xs, ds) = (f32s(&x), f32s(&dy));
        let fill = |dx: &mut [MaybeUninit<f32>]| {
            dx.par_chunks_mut(TASK)
                .zip(xs.par_chunks(TASK).zip(ds.par_chunks(TASK)))
                .for_each(|(out, (xc, dc))| clamp_grad_slice(out, xc, dc, (lo, hi)))
        };
        // SAFETY: as in the forward: chunk for chunk, each written whole.
        let dx = unsafe { written(xs.len(), fill) };
        grads.register::<Flex>(node.id, output_like(dx, &x));
    }
}

/// `out = clamp(src, lo, hi)`.
#[macerator::with_simd]
fn clamp_slice<S: Simd>(out: &mut [MaybeUninit<f32>], src: &[f32], bounds: (f32, f32)) {
    let (lo, hi) = bounds;
    for (o, &v) in out.iter_mut().zip(src) {
        o.write(v.max(lo).min(hi));
    }
}

/// `out = dy` where `lo <= x <= hi`, else 0.
#[macerator::with_simd]
fn clamp_grad_slice<S: Simd>(
    out: &mut [MaybeUninit<f32>],
    x: &[f32],
    dy: &[f32],
    bounds: (f32, f32),
) {
    let (lo, hi) = bounds;
    for ((o, &v), &d) in out.iter_mut().zip(x).zip(dy) {
        o.write(if v >= lo && v <= hi { d } else { 0.0 });
    }
}
