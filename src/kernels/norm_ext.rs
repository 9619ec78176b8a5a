//! Training-mode batch normalisation as a Burn backend extension: the fused kernels of
//! [`super::batch_norm`] on flex, and on `Autodiff<Flex>` one tracked operation whose
//! backward is the fused backward (the batch statistics ride along in its state).

use burn::backend::TensorMetadata;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Flex, backend_extension};

use super::batch_norm::{self, Planes};
use super::flex_io::{f32s, output};

#[backend_extension(Flex, Autodiff)]
pub trait NormKernels: Backend {
    /// Batch normalisation of `x` (`[batch, channels, h, w]`, f32) with the batch's own
    /// statistics: the output, the per-channel mean and the biased variance.
    fn batch_norm_train_fused(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

fn planes(x: &FlexTensor) -> Planes {
    let [batch, channels, h, w] = x.shape().dims::<4>();
    Planes {
        batch,
        channels,
        pixels: h * w,
    }
}

impl NormKernels for Flex {
    fn batch_norm_train_fused(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let p = planes(&x);
        let out = batch_norm::forward(&p, &f32s(&x), &f32s(&gamma), &f32s(&beta), epsilon);
        (
            output(out.output, x.shape().dims::<4>()),
            output(out.mean, [p.channels]),
            output(out.variance, [p.channels]),
        )
    }
}

impl<C: CheckpointStrategy> NormKernels for Autodiff<Flex, C> {
    fn batch_norm_train_fused(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let prep = NormBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful();
        match prep {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let gamma_state = prep.checkpoint(&gamma);
                let (y, mean, var) = Flex::batch_norm_train_fused(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    epsilon,
                );
                let state = (x_state, gamma_state, mean.clone(), var.clone(), epsilon);
                let y = prep.finish(state, y);
                (
                    y,
                    <FloatTensor<Self>>::new(mean),
                    <FloatTensor<Self>>::new(var),
                )
            }
            OpsKind::UnTracked(prep) => {
                let (y, mean, var) = Flex::batch_norm_train_fused(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    epsilon,
                );
                let y = prep.finish(y);
                (
                    y,
                    <FloatTensor<Self>>::new(mean),
                    <FloatTensor<Self>>::new(var),
                )
            }
        }
    }
}

/// The backward step of [`NormKernels::batch_norm_train_fused`] on flex.
#[derive(Debug)]
struct NormBackward;

impl Backward<Flex, 3> for NormBackward {
    type State = (NodeId, NodeId, FlexTensor, FlexTensor, f64);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, ck: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (x_state, gamma_state, mean, var, epsilon) = ops.state;
        let x = ck.retrieve_node_output::<FlexTensor>(x_state);
        let gamma = ck.retrieve_node_output::<FlexTensor>(gamma_state);
        let p = planes(&x);
        let g = batch_norm::backward(
            &p,
            &f32s(&x),
            &f32s(&gamma),
            (&f32s(&mean), &f32s(&var)),
            epsilon,
            &f32s(&dy),
        );
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, output(g.x, x.shape().dims::<4>()));
        }
        if let Some(node) = node_gamma {
            grads.register::<Flex>(node.id, output(g.gamma, [p.channels]));
        }
        if let Some(node) = node_beta {
            grads.register::<Flex>(node.id, output(g.beta, [p.channels]));
        }
    }
}
