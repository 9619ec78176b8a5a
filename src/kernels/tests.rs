//! The project's convolution against Burn's default one on the same flex device: forward,
//! input gradient and weight gradient, on random shapes covering strides 1 and 2, symmetric
//! and one-sided padding, dilation, groups (depthwise included), pointwise kernels and
//! batches of 1 and of more images than threads; then batch normalisation, in training mode
//! (output, three gradients, running statistics) and in inference mode; MTCNN's inference
//! kernels (bias with PReLU, ceil-mode max pooling) against Burn's layers.

use burn::module::{Param, RunningState};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::MaxPool2dConfig;
use burn::nn::{BatchNorm, BatchNormConfig, PReluConfig, PaddingConfig2d};
use burn::tensor::{Device, DeviceKind, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::conv2d;

/// One test case: input `[n, c_in, h, w]`, `c_out`, kernel, stride, padding, dilation, groups.
#[derive(Debug, Clone, Copy)]
struct Case {
    n: usize,
    c_in: usize,
    hw: [usize; 2],
    c_out: usize,
    k: [usize; 2],
    stride: usize,
    pad: [usize; 4],
    dilation: usize,
    groups: usize,
    bias: bool,
}

fn case(
    n: usize,
    c_in: usize,
    hw: usize,
    c_out: usize,
    k: usize,
    stride: usize,
    pad: usize,
) -> Case {
    Case {
        n,
        c_in,
        hw: [hw, hw],
        c_out,
        k: [k, k],
        stride,
        pad: [pad; 4],
        dilation: 1,
        groups: 1,
        bias: false,
    }
}

fn random(shape: &[usize], rng: &mut ChaCha8Rng) -> TensorData {
    let len = shape.iter().product();
    let values: Vec<f32> = (0..len).map(|_| rng.random_range(-1.0..1.0)).collect();
    TensorData::new(values, shape.to_vec())
}

fn layer(c: &Case, rng: &mut ChaCha8Rng, device: &Device) -> Conv2d {
    let [top, left, bottom, right] = c.pad;
    let mut conv = Conv2dConfig::new([c.c_in, c.c_out], c.k)
        .with_stride([c.stride, c.stride])
        .with_dilation([c.dilation, c.dilation])
        .with_groups(c.groups)
        .with_padding(PaddingConfig2d::Explicit(top, left, bottom, right))
        .with_bias(c.bias)
        .init(device);
    let w_shape = [c.c_out, c.c_in / c.groups, c.k[0], c.k[1]];
    conv.weight = Param::from_tensor(Tensor::from_data(random(&w_shape, rng), device));
    if c.bias {
        let b = Tensor::from_data(random(&[c.c_out], rng), device);
        conv.bias = Some(Param::from_tensor(b));
    }
    conv
}

/// Largest absolute difference relative to the largest magnitude of the reference.
fn relative_error(ours: Tensor<4>, burns: Tensor<4>) -> f32 {
    assert_eq!(ours.dims(), burns.dims());
    let scale = burns.clone().abs().max().into_scalar::<f32>().max(1e-6);
    let diff = (ours - burns).abs().max().into_scalar::<f32>();
    diff / scale
}

/// Output, input gradient and weight gradient of `run` for `loss = Σ y · r`.
fn outputs(
    conv: &Conv2d,
    x: &TensorData,
    r: &TensorData,
    device: &Device,
    run: impl Fn(&Conv2d, Tensor<4>) -> Tensor<4>,
) -> [Tensor<4>; 3] {
    let x = Tensor::<4>::from_data(x.clone(), device).require_grad();
    let y = run(conv, x.clone());
    let loss = (y.clone() * Tensor::from_data(r.clone(), device)).sum();
    let grads = loss.backward();
    let dx = x.grad(&grads).expect("input gradient");
    let dw = conv.weight.val().grad(&grads).expect("weight gradient");
    [y.inner(), dx, dw]
}

fn check(c: Case, seed: u64) {
    let device = Device::flex().autodiff();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let conv = layer(&c, &mut rng, &device);
    let x = random(&[c.n, c.c_in, c.hw[0], c.hw[1]], &mut rng);
    let y_dims = conv.forward(Tensor::from_data(x.clone(), &device)).dims();
    let r = random(&y_dims, &mut rng);
    let ours = outputs(&conv, &x, &r, &device, conv2d);
    let burns = outputs(&conv, &x, &r, &device, |l, x| l.forward(x));
    for ((name, a), b) in ["forward", "input gradient", "weight gradient"]
        .iter()
        .zip(ours)
        .zip(burns)
    {
        let err = relative_error(a, b);
        assert!(err <= 1e-4, "{name} of {c:?}: relative error {err}");
    }
}

#[test]
fn dense_convolutions_match_burn_forward_and_both_gradients() {
    check(case(1, 3, 9, 4, 3, 1, 1), 1);
    check(case(9, 5, 12, 7, 3, 2, 1), 2);
    check(case(4, 3, 15, 8, 7, 2, 0), 3);
    check(case(3, 6, 8, 5, 1, 1, 0), 4);
    check(case(5, 4, 10, 6, 1, 2, 0), 5);
    check(case(2, 2, 11, 3, 5, 1, 2), 6);
}

#[test]
fn convolutions_cut_into_many_bands_of_rows_match_burn() {
    // 64 channels x 3x3 taps x 41 columns: two output rows per band, 21 bands.
    check(case(3, 64, 41, 8, 3, 1, 1), 14);
    check(case(1, 64, 41, 5, 3, 2, 0), 15);
}

#[test]
fn grouped_convolutions_match_burn() {
    check(
        Case {
            groups: 2,
            ..case(3, 4, 9, 6, 3, 1, 1)
        },
        7,
    );
    check(
        Case {
            groups: 3,
            ..case(4, 6, 8, 9, 3, 2, 0)
        },
        13,
    );
}

#[test]
fn depthwise_convolutions_match_burn() {
    check(
        Case {
            groups: 8,
            ..case(5, 8, 10, 8, 3, 2, 1)
        },
        8,
    );
    check(
        Case {
            groups: 6,
            ..case(1, 6, 7, 6, 3, 1, 1)
        },
        9,
    );
}

#[test]
fn one_sided_padding_dilation_rectangles_and_bias_match_burn() {
    check(
        Case {
            pad: [0, 1, 1, 0],
            ..case(3, 3, 8, 4, 3, 2, 0)
        },
        10,
    );
    check(
        Case {
            dilation: 2,
            ..case(2, 3, 11, 4, 3, 1, 2)
        },
        11,
    );
    check(
        Case {
            hw: [7, 13],
            k: [3, 5],
            bias: true,
            ..case(6, 3, 0, 5, 3, 1, 1)
        },
        12,
    );
}

#[test]
fn random_shapes_match_burn() {
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    for seed in 0..12 {
        let groups = [1, 1, 2, 3][rng.random_range(0..4)];
        let k = [1, 3, 5][rng.random_range(0..3)];
        let stride = rng.random_range(1..=2);
        let c = Case {
            groups,
            pad: [0; 4].map(|_| rng.random_range(0..=k / 2)),
            ..case(
                rng.random_range(1..=10),
                groups * rng.random_range(1..=4),
                rng.random_range(k..=14),
                groups * rng.random_range(1..=4),
                k,
                stride,
                0,
            )
        };
        check(c, 100 + seed);
    }
}

#[test]
fn on_the_autodiff_device_the_layer_still_trains_as_burns_does() {
    // Gradients must flow through the bias and on into earlier layers: two stacked layers.
    let device = Device::flex().autodiff();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let c1 = Case {
        bias: true,
        ..case(4, 3, 10, 4, 3, 2, 1)
    };
    let (l1, l2) = (
        layer(&c1, &mut rng, &device),
        layer(&case(4, 4, 5, 2, 3, 1, 1), &mut rng, &device),
    );
    let x = Tensor::<4>::from_data(random(&[4, 3, 10, 10], &mut rng), &device);
    let grads_of = |run: &dyn Fn(&Conv2d, Tensor<4>) -> Tensor<4>| {
        let grads = run(&l2, run(&l1, x.clone()))
            .powi_scalar(2)
            .sum()
            .backward();
        let b = l1
            .bias
            .as_ref()
            .expect("bias")
            .val()
            .grad(&grads)
            .expect("bias gradient");
        let w = l1.weight.val().grad(&grads).expect("first weight gradient");
        (b, w)
    };
    let (b_ours, w_ours) = grads_of(&|l, x| conv2d(l, x));
    let (b_burn, w_burn) = grads_of(&|l, x| l.forward(x));
    assert!(relative_error(w_ours, w_burn) <= 1e-4);
    let scale = b_burn.clone().abs().max().into_scalar::<f32>();
    let diff = (b_ours - b_burn).abs().max().into_scalar::<f32>();
    assert!(diff <= 1e-4 * scale, "bias gradient differs by {diff}");
}

#[test]
fn without_autodiff_the_forward_matches_burn() {
    let device = Device::flex();
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let c = Case {
        groups: 2,
        bias: true,
        ..case(3, 4, 9, 6, 3, 2, 1)
    };
    let conv = layer(&c, &mut rng, &device);
    let x = Tensor::<4>::from_data(random(&[3, 4, 9, 9], &mut rng), &device);
    let err = relative_error(conv2d(&conv, x.clone()), conv.forward(x));
    assert!(err <= 1e-4, "{err}");
}

#[test]
fn bias_and_prelu_after_a_convolution_match_burn() {
    let device = Device::flex();
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    // MTCNN's shapes (one big image, many small crops), no bias, one shared slope.
    for (c, slopes) in [
        (case(1, 3, 151, 10, 3, 1, 0), 10),
        (case(64, 28, 11, 48, 3, 1, 0), 48),
        (case(2, 4, 9, 6, 3, 2, 1), 1),
        (case(3, 5, 1, 7, 1, 1, 0), 7),
    ] {
        let mut c = Case { bias: true, ..c };
        for bias in [true, false] {
            c.bias = bias;
            let conv = layer(&c, &mut rng, &device);
            let mut prelu = PReluConfig::new().with_num_parameters(slopes).init(&device);
            let alpha = Tensor::from_data(random(&[slopes], &mut rng), &device);
            prelu.alpha = Param::from_tensor(alpha);
            let x = random(&[c.n, c.c_in, c.hw[0], c.hw[1]], &mut rng);
            let x = Tensor::<4>::from_data(x, &device);
            let ours = super::conv2d_prelu(&conv, &prelu, x.clone());
            let err = relative_error(ours, prelu.forward(conv.forward(x)));
            assert!(err <= 1e-4, "{c:?}, {slopes} slopes: relative error {err}");
        }
    }
}

#[test]
fn max_pooling_matches_burns_ceil_mode_pooling() {
    let device = Device::flex();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    // [n, c, h, w], kernel, stride: P-Net's first pool on odd and even sizes, R-Net's and
    // O-Net's 3/2 pools, windows hanging over both edges, a 1x1 plane, many planes.
    for (shape, k, s) in [
        ([1, 10, 149, 150], 2, 2),
        ([64, 28, 22, 22], 3, 2),
        ([5, 48, 9, 10], 3, 2),
        ([2, 3, 1, 1], 3, 2),
        ([3, 64, 23, 21], 2, 2),
    ] {
        let pool = MaxPool2dConfig::new([k, k])
            .with_strides([s, s])
            .with_ceil_mode(true)
            .init();
        let x = Tensor::<4>::from_data(random(&shape, &mut rng), &device);
        let burns = pool.forward(x.clone());
        let [_, _, oh, ow] = burns.dims();
        let ours = super::max_pool_ceil(x, k, s, [oh, ow], |_| unreachable!("flex"));
        let same = ours.into_data().try_into_vec::<f32>().unwrap();
        assert_eq!(
            same,
            burns.into_data().try_into_vec::<f32>().unwrap(),
            "{shape:?}"
        );
    }
}

/// Output, input gradient and gamma/beta gradients of a batch norm in training mode, and
/// the running statistics it leaves, for `loss = Σ y · r`.
fn norm_outputs(
    bn: &BatchNorm,
    x: &TensorData,
    r: &TensorData,
    run: impl Fn(&BatchNorm, Tensor<4>) -> Tensor<4>,
) -> Vec<Tensor<4>> {
    let device = Device::flex().autodiff();
    let x = Tensor::<4>::from_data(x.clone(), &device).require_grad();
    let y = run(bn, x.clone());
    let grads = (y.clone() * Tensor::from_data(r.clone(), &device))
        .sum()
        .backward();
    let as4 = |t: Tensor<1>| t.reshape([1, 1, 1, -1]);
    vec![
        y.inner(),
        x.grad(&grads).expect("input gradient"),
        as4(bn.gamma.val().grad(&grads).expect("gamma gradient")),
        as4(bn.beta.val().grad(&grads).expect("beta gradient")),
        as4(bn.running_mean.value().inner()),
        as4(bn.running_var.value().inner()),
    ]
}

fn random_norm(channels: usize, rng: &mut ChaCha8Rng, device: &Device) -> BatchNorm {
    let mut bn = BatchNormConfig::new(channels)
        .with_epsilon(1e-3)
        .init(device);
    let gamma = random(&[channels], rng);
    bn.gamma = Param::from_tensor(Tensor::from_data(gamma, device));
    bn.beta = Param::from_tensor(Tensor::from_data(random(&[channels], rng), device));
    bn
}

#[test]
fn training_batch_norm_matches_burn_with_gradients_and_running_statistics() {
    let device = Device::flex().autodiff();
    for (seed, shape) in [
        (1, [4, 3, 5, 7]),
        (2, [1, 8, 9, 9]),
        (3, [12, 16, 3, 3]),
        (4, [2, 5, 1, 1]),
    ] {
        // Two layers with the same parameters: running statistics are shared between clones.
        let layer = || random_norm(shape[1], &mut ChaCha8Rng::seed_from_u64(seed), &device);
        let mut rng = ChaCha8Rng::seed_from_u64(seed + 50);
        // Inputs far from zero mean, as after a ReLU, to test the centring.
        let x = TensorData::new(
            random(&shape, &mut rng)
                .try_into_vec::<f32>()
                .unwrap()
                .iter()
                .map(|v| v * 3.0 + 5.0)
                .collect(),
            shape.to_vec(),
        );
        let r = random(&shape, &mut rng);
        let ours = norm_outputs(&layer(), &x, &r, super::batch_norm);
        let burns = norm_outputs(&layer(), &x, &r, |bn, x| bn.forward(x));
        let names = [
            "output",
            "input gradient",
            "gamma gradient",
            "beta gradient",
            "running mean",
            "running variance",
        ];
        for ((name, a), b) in names.iter().zip(ours).zip(burns) {
            let err = relative_error(a, b);
            assert!(err <= 1e-4, "{name} of {shape:?}: relative error {err}");
        }
    }
}

#[test]
fn inference_batch_norm_matches_burn() {
    let device = Device::flex();
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let mut bn = random_norm(6, &mut rng, &device);
    bn.running_mean = RunningState::new(Tensor::from_data(random(&[6], &mut rng), &device));
    let var: Vec<f32> = random(&[6], &mut rng)
        .try_into_vec::<f32>()
        .unwrap()
        .iter()
        .map(|v| v + 1.5)
        .collect();
    bn.running_var = RunningState::new(Tensor::from_data(TensorData::new(var, [6]), &device));
    let x = Tensor::<4>::from_data(random(&[3, 6, 4, 5], &mut rng), &device);
    let err = relative_error(super::batch_norm(&bn, x.clone()), bn.forward(x));
    assert!(err <= 1e-4, "{err}");
}

#[test]
fn clamp_matches_burn_with_its_gradient_at_the_bounds() {
    let device = Device::flex().autodiff();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let shape = [3, 4, 70, 90];
    let mut values: Vec<f32> = random(&shape, &mut rng)
        .try_into_vec::<f32>()
        .unwrap()
        .iter()
        .map(|v| v * 6.0 + 3.0)
        .collect();
    values[..4].copy_from_slice(&[0.0, 6.0, -0.0, 3.0]);
    let x = TensorData::new(values, shape.to_vec());
    let r = Tensor::<4>::from_data(random(&shape, &mut rng), &device);
    let run = |f: &dyn Fn(Tensor<4>) -> Tensor<4>| {
        let x = Tensor::<4>::from_data(x.clone(), &device).require_grad();
        let y = f(x.clone());
        let grads = (y.clone() * r.clone()).sum().backward();
        [y.inner(), x.grad(&grads).expect("input gradient")]
    };
    let ours = run(&|x| super::clamp(x, 0.0, 6.0));
    let burns = run(&|x| x.clamp(0.0, 6.0));
    for ((name, a), b) in ["output", "input gradient"].iter().zip(ours).zip(burns) {
        let err = relative_error(a, b);
        assert!(err == 0.0, "{name}: relative error {err}");
    }
}

/// A convolution, batch norm and ReLU6 step, its output and the gradients of the input, the
/// weight and gamma, on `device`.
fn layer_step(device: &Device) -> Vec<Tensor<4>> {
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let conv = layer(&case(4, 3, 9, 4, 3, 2, 1), &mut rng, device);
    let bn = random_norm(4, &mut rng, device);
    let x = Tensor::<4>::from_data(random(&[4, 3, 9, 9], &mut rng), device).require_grad();
    let r = Tensor::<4>::from_data(random(&[4, 4, 5, 5], &mut rng), device);
    let y = super::clamp(super::batch_norm(&bn, conv2d(&conv, x.clone())), 0.0, 6.0);
    let grads = (y.clone() * r).sum().backward();
    let gamma = bn.gamma.val().grad(&grads).expect("gamma gradient");
    vec![
        y.inner(),
        x.grad(&grads).expect("input gradient"),
        conv.weight.val().grad(&grads).expect("weight gradient"),
        gamma.reshape([1, 1, 1, -1]),
    ]
    .into_iter()
    .map(|t| t.to_device(&Device::flex()))
    .collect()
}

/// On wgpu (Mesa's software Vulkan where there is no GPU) the layers fall back to Burn's own
/// operations, and a training step gives what the CPU kernels give.
#[test]
fn on_wgpu_the_layers_fall_back_to_burn_and_train_alike() {
    let cpu = layer_step(&Device::flex().autodiff());
    let gpu = layer_step(&Device::wgpu(DeviceKind::Cpu).autodiff());
    let names = [
        "output",
        "input gradient",
        "weight gradient",
        "gamma gradient",
    ];
    for ((name, a), b) in names.iter().zip(cpu).zip(gpu) {
        let err = relative_error(a, b);
        assert!(err <= 1e-4, "{name}: relative error {err}");
    }
}
