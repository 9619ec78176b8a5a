//! The convolution as a Burn backend extension: implemented for the flex CPU backend with
//! the kernels of [`super::conv2d`], and for `Autodiff<Flex>` with its own backward pass
//! (the input and weight gradients of the same module), so training uses them too.
//! Other backends never reach it: [`crate::kernels::conv2d`] sends them to Burn's own
//! convolution.

use burn::backend::TensorMetadata;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Flex, backend_extension};
use burn::tensor::DType;
use burn::tensor::ops::ConvOptions;

use super::conv2d;
use super::flex_io::{f32s, output};
use super::im2col::Geometry;

#[backend_extension(Flex, Autodiff)]
pub trait ConvKernels: Backend {
    /// `x` convolved with `weight` under `options`, without bias.
    fn conv2d_no_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;
}

impl ConvKernels for Flex {
    fn conv2d_no_bias(x: FlexTensor, weight: FlexTensor, options: ConvOptions<2>) -> FlexTensor {
        match geometry(&x, &weight, &options) {
            Some(g) => output(
                conv2d::forward(&g, &f32s(&x), &f32s(&weight)),
                [g.batch, g.c_out, g.oh, g.ow],
            ),
            None => <Flex as ModuleOps<Flex>>::conv2d(x, weight, None, options),
        }
    }
}

impl<C: CheckpointStrategy> ConvKernels for Autodiff<Flex, C> {
    fn conv2d_no_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        let prep = Conv2dBackward
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful();
        match prep {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let weight_state = prep.checkpoint(&weight);
                let y = Flex::conv2d_no_bias(
                    x.into_primitive(),
                    weight.into_primitive(),
                    options.clone(),
                );
                prep.finish((x_state, weight_state, options), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::conv2d_no_bias(
                x.into_primitive(),
                weight.into_primitive(),
                options,
            )),
        }
    }
}

/// The backward step of [`ConvKernels::conv2d_no_bias`] on flex.
#[derive(Debug)]
struct Conv2dBackward;

impl Backward<Flex, 2> for Conv2dBackward {
    type State = (NodeId, NodeId, ConvOptions<2>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, ck: &mut Checkpointer) {
        let [node_x, node_weight] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (x_state, weight_state, options) = ops.state;
        let x = ck.retrieve_node_output::<FlexTensor>(x_state);
        let weight = ck.retrieve_node_output::<FlexTensor>(weight_state);
        let geometry = geometry(&x, &weight, &options);
        if let Some(node) = node_x {
            let dx = match geometry {
                Some(g) => output(
                    conv2d::input_grad(&g, &f32s(&weight), &f32s(&dy)),
                    [g.batch, g.c_in, g.h, g.w],
                ),
                None => <Flex as ModuleOps<Flex>>::conv2d_x_backward(
                    x.clone(),
                    weight.clone(),
                    dy.clone(),
                    options.clone(),
                ),
            };
            grads.register::<Flex>(node.id, dx);
        }
        if let Some(node) = node_weight {
            let dw = match geometry {
                Some(g) => output(
                    conv2d::weight_grad(&g, &f32s(&x), &f32s(&dy)),
                    [g.c_out, g.c_in_group(), g.kh, g.kw],
                ),
                None => <Flex as ModuleOps<Flex>>::conv2d_weight_backward(x, weight, dy, options),
            };
            grads.register::<Flex>(node.id, dw);
        }
    }
}

/// The geometry when both tensors are f32 and 4-D and fit together; otherwise the caller
/// leaves the work (and the error messages) to Burn.
fn geometry(x: &FlexTensor, weight: &FlexTensor, options: &ConvOptions<2>) -> Option<Geometry> {
    if x.dtype() != DType::F32 || weight.dtype() != DType::F32 {
        return None;
    }
    let (xs, ws) = (x.shape(), weight.shape());
    if xs.num_dims() != 4 || ws.num_dims() != 4 {
        return None;
    }
    Geometry::new(xs.dims::<4>(), ws.dims::<4>(), options)
}
