use super::*;

#[test]
#[ignore = "profiling aid: cargo test --release --lib layer_times -- --ignored --nocapture"]
fn layer_times() {
    use burn::nn::PReluConfig;
    use burn::nn::conv::Conv2dConfig;
    use burn::nn::pool::MaxPool2dConfig;
    use burn::tensor::Distribution;
    let device = Device::flex();
    let time = |name: &str, f: &dyn Fn() -> Vec<f32>| {
        f();
        let t = std::time::Instant::now();
        for _ in 0..10 {
            f();
        }
        eprintln!("{name:<40} {:>8.3} ms", t.elapsed().as_secs_f64() * 100.0);
    };
    let x = Tensor::<4>::random([64, 28, 22, 22], Distribution::Default, &device);
    let x3 = Tensor::<4>::random([64, 3, 24, 24], Distribution::Default, &device);
    let c1 = Conv2dConfig::new([3, 28], [3, 3]).init(&device);
    let c2 = Conv2dConfig::new([28, 48], [3, 3]).init(&device);
    let p = PReluConfig::new().with_num_parameters(28).init(&device);
    let pool = MaxPool2dConfig::new([3, 3])
        .with_strides([2, 2])
        .with_ceil_mode(true)
        .init();
    let pool_floor = MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).init();
    let x11 = Tensor::<4>::random([64, 28, 11, 11], Distribution::Default, &device);
    time("conv1 3->28 on 64x24x24", &|| {
        read(c1.forward(x3.clone())).unwrap()
    });
    time("prelu 64x28x22x22", &|| read(p.forward(x.clone())).unwrap());
    time("relu 64x28x22x22", &|| {
        read(burn::tensor::activation::relu(x.clone())).unwrap()
    });
    time("maxpool ceil 3/2 64x28x22x22", &|| {
        read(pool.forward(x.clone())).unwrap()
    });
    time("maxpool floor 3/2 64x28x22x22", &|| {
        read(pool_floor.forward(x.clone())).unwrap()
    });
    let ours = nets::MaxPool::new(3, 2);
    time("ours ceil 3/2 64x28x22x22", &|| {
        read(ours.forward(x.clone())).unwrap()
    });
    use burn::tensor::Slice;
    time("slice step2 w", &|| {
        read(x.clone().slice([
            Slice::full(),
            Slice::full(),
            Slice::full(),
            Slice::new(0, Some(21), 2),
        ]))
        .unwrap()
    });
    time("slice step1 w", &|| {
        read(x.clone().slice([
            Slice::full(),
            Slice::full(),
            Slice::full(),
            Slice::new(0, Some(21), 1),
        ]))
        .unwrap()
    });
    time("max_pair", &|| {
        read(x.clone().max_pair(x.clone() * 0.5)).unwrap()
    });
    time("mul", &|| read(x.clone() * 0.5).unwrap());
    time("pad", &|| {
        read(
            x.clone()
                .pad((0, 1, 0, 1), burn::tensor::ops::PadMode::Constant(0.0)),
        )
        .unwrap()
    });
    time("reshape+max_dim", &|| {
        read(x.clone().reshape([64, 28, 22, 11, 2]).max_dim(4)).unwrap()
    });
    let a = read(ours.forward(x.clone())).unwrap();
    let b = read(pool.forward(x.clone())).unwrap();
    let worst = a
        .iter()
        .zip(&b)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-6, "{worst}");
    time("conv2 28->48 on 64x11x11", &|| {
        read(c2.forward(x11.clone())).unwrap()
    });
    {
        use burn::tensor::module::unfold4d;
        use burn::tensor::ops::UnfoldOptions;
        let w = c1.weight.val().reshape([28, 27]).transpose(); // [27, 28]
        let f = || {
            let cols = unfold4d(
                x3.clone(),
                [3, 3],
                UnfoldOptions::new([1, 1], [0, 0], [1, 1]),
            ); // [64, 27, 484]
            let y = cols.swap_dims(1, 2).matmul(w.clone().unsqueeze::<3>()); // [64, 484, 28]
            read(y.swap_dims(1, 2).reshape([64, 28, 22, 22])).unwrap()
        };
        time("conv1 via unfold+matmul", &f);
        let a = f();
        let b =
            read(c1.forward(x3.clone()) - c1.bias.as_ref().unwrap().val().reshape([1, 28, 1, 1]))
                .unwrap();
        let worst = a
            .iter()
            .zip(&b)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        eprintln!("unfold worst diff {worst}");
        let cols = unfold4d(
            x3.clone(),
            [3, 3],
            UnfoldOptions::new([1, 1], [0, 0], [1, 1]),
        );
        time("unfold alone", &|| {
            read(unfold4d(
                x3.clone(),
                [3, 3],
                UnfoldOptions::new([1, 1], [0, 0], [1, 1]),
            ))
            .unwrap()
        });
        let flat = cols.swap_dims(1, 2).reshape([64 * 484, 27]);
        time("matmul alone 30976x27x28", &|| {
            read(flat.clone().matmul(w.clone())).unwrap()
        });
    }
    let nets = MtcnnNets::new(&device);
    time("rnet 64", &|| {
        read(nets.rnet.forward(x3.clone()).1).unwrap()
    });
    let x48 = Tensor::<4>::random([12, 3, 48, 48], Distribution::Default, &device);
    time("onet 12", &|| {
        read(nets.onet.forward(x48.clone()).1).unwrap()
    });
    let xp = Tensor::<4>::random([1, 3, 151, 151], Distribution::Default, &device);
    time("pnet 151x151", &|| {
        read(nets.pnet.forward(xp.clone()).1).unwrap()
    });
}
