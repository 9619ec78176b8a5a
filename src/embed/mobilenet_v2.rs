//! MobileNetV2 (Sandler et al. 2018) laid out like torchvision's `mobilenet_v2`, so that
//! its ImageNet weights (`mobilenet_v2-b0353104.pth`) load by name.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::layers::{ConvBn, ConvSpec, relu6};

/// One of `features`: the stem / final 1x1 convolution, or an inverted residual block.
// One value per network, built once: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Feature {
    Conv(ConvBn),
    Residual(InvertedResidual),
}

/// Expand (1x1, skipped when the expansion is 1), depthwise 3x3, project (1x1, linear),
/// with a skip connection when the shape is unchanged.
#[derive(Module, Debug)]
pub struct InvertedResidual {
    conv: Vec<ConvBn>,
}

impl InvertedResidual {
    fn new(c_in: usize, c_out: usize, stride: usize, expand: usize, device: &Device) -> Self {
        let hidden = c_in * expand;
        let mut conv = Vec::new();
        if expand != 1 {
            conv.push(ConvBn::new(c_in, hidden, ConvSpec::square(1, 1, 0), device));
        }
        let depthwise = ConvSpec::square(3, stride, 1).groups(hidden);
        conv.push(ConvBn::new(hidden, hidden, depthwise, device));
        conv.push(ConvBn::new(
            hidden,
            c_out,
            ConvSpec::square(1, 1, 0),
            device,
        ));
        InvertedResidual { conv }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let last = self.conv.len() - 1;
        let y = self.conv.iter().enumerate().fold(x.clone(), |y, (i, l)| {
            let y = l.forward(y);
            if i < last { relu6(y) } else { y }
        });
        // torchvision adds the input back exactly when stride is 1 and the channel count is
        // kept, i.e. when the shapes agree.
        if y.dims() == x.dims() { y + x } else { y }
    }
}

#[derive(Module, Debug)]
pub struct MobileNetV2 {
    features: Vec<Feature>,
}

impl MobileNetV2 {
    pub const CHANNELS: usize = 1280;
    /// (expansion t, channels c, repeats n, first stride s), torchvision's table.
    const SETTINGS: [[usize; 4]; 7] = [
        [1, 16, 1, 1],
        [6, 24, 2, 2],
        [6, 32, 3, 2],
        [6, 64, 4, 2],
        [6, 96, 3, 1],
        [6, 160, 3, 2],
        [6, 320, 1, 1],
    ];

    pub fn new(device: &Device) -> Self {
        let mut features = vec![Feature::Conv(ConvBn::new(
            3,
            32,
            ConvSpec::square(3, 2, 1),
            device,
        ))];
        let mut c_in = 32;
        for [t, c, n, s] in Self::SETTINGS {
            for i in 0..n {
                let stride = if i == 0 { s } else { 1 };
                features.push(Feature::Residual(InvertedResidual::new(
                    c_in, c, stride, t, device,
                )));
                c_in = c;
            }
        }
        features.push(Feature::Conv(ConvBn::new(
            c_in,
            Self::CHANNELS,
            ConvSpec::square(1, 1, 0),
            device,
        )));
        MobileNetV2 { features }
    }

    /// (N, 3, S, S) -> (N, 1280, S/32, S/32) (rounded up).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.features.iter().fold(x, |x, f| match f {
            Feature::Conv(l) => relu6(l.forward(x)),
            Feature::Residual(b) => b.forward(x),
        })
    }

    /// How torchvision's state-dict keys map onto ours (regex, replacement), applied in
    /// order: the Sequential indices of `features.N.conv` become our `conv` list with
    /// `conv`/`bn` pairs, and the stem / last layer (`features.0`, `features.18`) get names.
    pub fn torchvision_key_map() -> Vec<(&'static str, &'static str)> {
        vec![
            // Block 1 has no expansion: conv.0 = depthwise pair, conv.1/conv.2 = projection.
            (r"^features\.1\.conv\.2\.", "features.1.conv.1.bn."),
            (
                r"^features\.1\.conv\.1\.weight$",
                "features.1.conv.1.conv.weight",
            ),
            // Other blocks: conv.0, conv.1 = pairs; conv.2/conv.3 = projection.
            (r"^features\.(\d+)\.conv\.3\.", "features.$1.conv.2.bn."),
            (
                r"^features\.(\d+)\.conv\.2\.weight$",
                "features.$1.conv.2.conv.weight",
            ),
            (
                r"^features\.(\d+)\.conv\.(\d)\.0\.",
                "features.$1.conv.$2.conv.",
            ),
            (
                r"^features\.(\d+)\.conv\.(\d)\.1\.",
                "features.$1.conv.$2.bn.",
            ),
            (r"^features\.(0|18)\.0\.", "features.$1.conv."),
            (r"^features\.(0|18)\.1\.", "features.$1.bn."),
        ]
    }
}
