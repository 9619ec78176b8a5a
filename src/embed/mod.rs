//! The embedding network: a CNN backbone and a dense block mapping a face crop to an
//! L2-normalised 128-d vector, and the triplet loss it is trained with.
//!
//! Backbones: a small CNN trained from scratch (the CPU user's choice), MobileNetV2 with
//! ImageNet weights (converted from torchvision's file, compiled in), and VGG19 and
//! Inception-ResNet-v2 (random initialisation unless the user supplies ImageNet weights in
//! torchvision / timm layout).

pub mod augment;
pub mod checkpoint;
pub mod config;
pub mod data;
mod dlib_resnet;
pub mod events;
mod inception_resnet_v2;
mod layers;
pub mod mining;
mod mobilenet_v2;
pub mod pretrained;
mod small_cnn;
pub mod train;
pub mod validation;
mod vgg19;

use std::fmt;
use std::str::FromStr;

use burn::module::Module;
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;
use serde::{Deserialize, Serialize};

pub use dlib_resnet::DlibResNet;
pub use inception_resnet_v2::InceptionResNetV2;
pub use mobilenet_v2::MobileNetV2;
pub use small_cnn::SmallCnn;
pub use vgg19::Vgg19;

/// Output size of every backbone's dense block.
pub const EMBEDDING_DIM: usize = 128;

/// Which backbone a network uses; the names are those of the CLI and `model.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackboneKind {
    SmallCnn,
    #[serde(rename = "mobilenetv2")]
    MobileNetV2,
    Vgg19,
    InceptionResnetV2,
    /// dlib's face recognition ResNet (face-pretrained, 150x150 aligned crops).
    DlibResnet,
}

impl BackboneKind {
    pub const ALL: [BackboneKind; 5] = [
        BackboneKind::SmallCnn,
        BackboneKind::MobileNetV2,
        BackboneKind::Vgg19,
        BackboneKind::InceptionResnetV2,
        BackboneKind::DlibResnet,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BackboneKind::SmallCnn => "small-cnn",
            BackboneKind::MobileNetV2 => "mobilenetv2",
            BackboneKind::Vgg19 => "vgg19",
            BackboneKind::InceptionResnetV2 => "inception-resnet-v2",
            BackboneKind::DlibResnet => "dlib-resnet",
        }
    }

    /// Channels of the backbone's last feature map (the dense block's input).
    pub fn channels(self) -> usize {
        match self {
            BackboneKind::SmallCnn => SmallCnn::CHANNELS,
            BackboneKind::MobileNetV2 => MobileNetV2::CHANNELS,
            BackboneKind::Vgg19 => Vgg19::CHANNELS,
            BackboneKind::InceptionResnetV2 => InceptionResNetV2::CHANNELS,
            BackboneKind::DlibResnet => DlibResNet::CHANNELS,
        }
    }

    /// Smallest crop size the backbone accepts.
    pub fn min_input(self) -> usize {
        match self {
            BackboneKind::SmallCnn => 16,
            BackboneKind::MobileNetV2 => 32,
            BackboneKind::Vgg19 => Vgg19::MIN_INPUT,
            BackboneKind::InceptionResnetV2 => InceptionResNetV2::MIN_INPUT,
            BackboneKind::DlibResnet => DlibResNet::INPUT,
        }
    }

    /// The input normalisation of the backbone's pretraining (ImageNet statistics for the
    /// torchvision models, -1..1 for timm's Inception-ResNet-v2 and the small CNN).
    pub fn normalisation(self) -> Normalisation {
        match self {
            BackboneKind::MobileNetV2 | BackboneKind::Vgg19 => Normalisation::IMAGENET,
            BackboneKind::SmallCnn | BackboneKind::InceptionResnetV2 => Normalisation::SYMMETRIC,
            BackboneKind::DlibResnet => Normalisation::DLIB,
        }
    }

    /// Whether the dense block adds its output to the backbone's (a residual head whose
    /// last layer starts at zero): for a backbone that already ends in an embedding, so
    /// that training starts from that embedding and refines it.
    pub fn residual_head(self) -> bool {
        self == BackboneKind::DlibResnet
    }

    /// Whether the backbone's last stage can be fine-tuned on its own (the rest frozen):
    /// dlib's last downsampling unit and descriptor layer.
    pub fn has_last_stage(self) -> bool {
        self == BackboneKind::DlibResnet
    }

    /// The crops the backbone expects: dlib's 150 px chips aligned on its template for the
    /// face ResNet, the app's default crop for the others.
    pub fn crop(self) -> crate::crop::CropConfig {
        match self {
            BackboneKind::DlibResnet => crate::crop::CropConfig::DLIB,
            _ => crate::crop::CropConfig::default(),
        }
    }

    /// Where its initial weights come from, in words for the user.
    pub fn weights_note(self) -> &'static str {
        match self {
            BackboneKind::SmallCnn => "trained from scratch",
            BackboneKind::MobileNetV2 => "ImageNet weights (torchvision, built in)",
            BackboneKind::Vgg19 => {
                "random initialisation: no ImageNet weights ship with the app; give a torchvision vgg19 .pth to start from them"
            }
            BackboneKind::InceptionResnetV2 => {
                "random initialisation: no ImageNet weights ship with the app; give a timm inception_resnet_v2 .pth to start from them"
            }
            BackboneKind::DlibResnet => {
                "face-pretrained: dlib's ResNet (face-api port, built in); best kept frozen, training the dense block"
            }
        }
    }
}

impl fmt::Display for BackboneKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackboneKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        BackboneKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = BackboneKind::ALL.iter().map(|k| k.name()).collect();
                format!("unknown backbone {s:?}; one of {}", names.join(", "))
            })
    }
}

/// Per-channel normalisation of 0..1 RGB values: (v - mean) / std.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Normalisation {
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Normalisation {
    pub const IMAGENET: Normalisation = Normalisation {
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
    };
    /// dlib's input layer: (v - mean RGB) / 256 on 0..255 values.
    pub const DLIB: Normalisation = Normalisation {
        mean: [122.782 / 255.0, 117.001 / 255.0, 104.298 / 255.0],
        std: [256.0 / 255.0; 3],
    };
    /// x / 127.5 - 1.
    pub const SYMMETRIC: Normalisation = Normalisation {
        mean: [0.5; 3],
        std: [0.5; 3],
    };

    /// Writes the HWC RGB bytes of one `s`x`s` crop as CHW floats into `dst`.
    pub fn write_chw(&self, hwc: &[u8], dst: &mut [f32]) {
        let plane = hwc.len() / 3;
        let scale: [f32; 3] = std::array::from_fn(|c| 1.0 / (255.0 * self.std[c]));
        let shift: [f32; 3] = std::array::from_fn(|c| self.mean[c] / self.std[c]);
        for (i, px) in hwc.chunks_exact(3).enumerate() {
            for c in 0..3 {
                dst[c * plane + i] = px[c] as f32 * scale[c] - shift[c];
            }
        }
    }
}

/// The backbone of an [`EmbeddingNet`].
// One value per network, built once: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Backbone {
    SmallCnn(SmallCnn),
    MobileNetV2(MobileNetV2),
    Vgg19(Vgg19),
    InceptionResNetV2(InceptionResNetV2),
    DlibResNet(DlibResNet),
}

impl Backbone {
    /// A randomly initialised backbone.
    pub fn new(kind: BackboneKind, device: &Device) -> Backbone {
        match kind {
            BackboneKind::SmallCnn => Backbone::SmallCnn(SmallCnn::new(device)),
            BackboneKind::MobileNetV2 => Backbone::MobileNetV2(MobileNetV2::new(device)),
            BackboneKind::Vgg19 => Backbone::Vgg19(Vgg19::new(device)),
            BackboneKind::InceptionResnetV2 => {
                Backbone::InceptionResNetV2(InceptionResNetV2::new(device))
            }
            BackboneKind::DlibResnet => Backbone::DlibResNet(DlibResNet::new(device)),
        }
    }

    pub fn kind(&self) -> BackboneKind {
        match self {
            Backbone::SmallCnn(_) => BackboneKind::SmallCnn,
            Backbone::MobileNetV2(_) => BackboneKind::MobileNetV2,
            Backbone::Vgg19(_) => BackboneKind::Vgg19,
            Backbone::InceptionResNetV2(_) => BackboneKind::InceptionResnetV2,
            Backbone::DlibResNet(_) => BackboneKind::DlibResnet,
        }
    }

    /// Everything but the last stage (see [`BackboneKind::has_last_stage`]); the whole
    /// backbone for the others.
    pub fn forward_trunk(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Backbone::DlibResNet(m) => m.forward_trunk(x),
            other => other.forward(x),
        }
    }

    /// The last stage on the trunk's output (identity for backbones without one).
    pub fn forward_tail(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Backbone::DlibResNet(m) => m.forward_tail(x),
            _ => x,
        }
    }

    /// (N, 3, S, S) normalised crops -> (N, C, h, w) feature maps.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Backbone::SmallCnn(m) => m.forward(x),
            Backbone::MobileNetV2(m) => m.forward(x),
            Backbone::Vgg19(m) => m.forward(x),
            Backbone::InceptionResNetV2(m) => m.forward(x),
            Backbone::DlibResNet(m) => m.forward(x),
        }
    }
}

/// Backbone, global average pooling, dense block (C -> 256, ReLU, -> 128), L2 normalisation.
#[derive(Module, Debug)]
pub struct EmbeddingNet {
    pub backbone: Backbone,
    pool: AdaptiveAvgPool2d,
    dense1: Linear,
    dense2: Linear,
}

impl EmbeddingNet {
    /// A network with a randomly initialised backbone and dense block.
    pub fn new(kind: BackboneKind, device: &Device) -> EmbeddingNet {
        EmbeddingNet::with_backbone(Backbone::new(kind, device), device)
    }

    pub fn with_backbone(backbone: Backbone, device: &Device) -> EmbeddingNet {
        let kind = backbone.kind();
        let c = kind.channels();
        let mut dense2 = LinearConfig::new(256, EMBEDDING_DIM);
        if kind.residual_head() {
            dense2 = dense2.with_initializer(Initializer::Zeros);
        }
        EmbeddingNet {
            backbone,
            pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            dense1: LinearConfig::new(c, 256).init(device),
            dense2: dense2.init(device),
        }
    }

    pub fn kind(&self) -> BackboneKind {
        self.backbone.kind()
    }

    /// (N, 3, S, S) normalised crops -> (N, 128) unit vectors.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.head(self.backbone.forward(x))
    }

    /// Like [`forward`](Self::forward), but the backbone runs as a fixed feature extractor
    /// (inference mode, BatchNorm running statistics, no gradient), so that only the dense
    /// block learns: backbone freezing for the first epochs of fine-tuning.
    pub fn forward_frozen(&self, x: Tensor<4>) -> Tensor<2> {
        let autodiff = x.is_autodiff();
        let features = self.backbone.valid().forward(x.inner());
        self.head(if autodiff {
            features.autodiff()
        } else {
            features
        })
    }

    /// The backbone's pooled features, (N, C).
    pub fn features(&self, x: Tensor<4>) -> Tensor<2> {
        self.pool
            .forward(self.backbone.forward(x))
            .flatten::<2>(1, 3)
    }

    /// Like [`forward_frozen`](Self::forward_frozen), but the backbone's last stage learns
    /// too: only its trunk is a fixed feature extractor.
    pub fn forward_frozen_trunk(&self, x: Tensor<4>) -> Tensor<2> {
        let autodiff = x.is_autodiff();
        let trunk = self.backbone.valid().forward_trunk(x.inner());
        self.from_trunk(if autodiff { trunk.autodiff() } else { trunk })
    }

    /// The last stage, pooling and the dense block on the trunk's output.
    pub fn from_trunk(&self, trunk: Tensor<4>) -> Tensor<2> {
        self.head(self.backbone.forward_tail(trunk))
    }

    fn head(&self, features: Tensor<4>) -> Tensor<2> {
        self.dense(self.pool.forward(features).flatten::<2>(1, 3))
    }

    /// The dense block and normalisation on pooled features (N, C) -> (N, 128).
    pub fn dense(&self, x: Tensor<2>) -> Tensor<2> {
        let h = self.dense2.forward(relu(self.dense1.forward(x.clone())));
        l2_normalise(if self.kind().residual_head() {
            x + h
        } else {
            h
        })
    }
}

/// Scales each row to unit length (rows of zeros stay zero).
pub fn l2_normalise(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-12);
    x / norm
}

/// Crops (HWC RGB, all the same size) as a normalised (N, 3, S, S) tensor.
pub fn crops_to_tensor(crops: &[&RgbImage], norm: &Normalisation, device: &Device) -> Tensor<4> {
    let (w, h) = crops.first().map_or((0, 0), |c| c.dimensions());
    let plane = (w * h) as usize;
    let mut data = vec![0f32; crops.len() * 3 * plane];
    for (img, dst) in crops.iter().zip(data.chunks_exact_mut(3 * plane)) {
        assert_eq!(img.dimensions(), (w, h), "crops differ in size");
        norm.write_chw(img.as_raw(), dst);
    }
    let shape = [crops.len(), 3, h as usize, w as usize];
    Tensor::from_data(TensorData::new(data, shape), device)
}

/// Unit embeddings of crops (all the same size; any number, run in batches of 64) as one
/// flat row-major vector, by `net` in inference mode. With `flip_average` each embedding is
/// the normalised sum of the crop's and its mirror image's (test-time flip averaging).
pub fn embed_crops(
    net: &EmbeddingNet,
    crops: &[&RgbImage],
    norm: &Normalisation,
    flip_average: bool,
    device: &Device,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(crops.len() * EMBEDDING_DIM);
    for chunk in crops.chunks(64) {
        let mut e = net.forward(crops_to_tensor(chunk, norm, device));
        if flip_average {
            let mirrored: Vec<RgbImage> = chunk
                .iter()
                .map(|c| image::imageops::flip_horizontal(*c))
                .collect();
            let refs: Vec<&RgbImage> = mirrored.iter().collect();
            e = l2_normalise(e + net.forward(crops_to_tensor(&refs, norm, device)));
        }
        out.extend(e.into_data().iter::<f32>());
    }
    out
}

/// Triplet loss on unit embeddings with squared Euclidean distances:
/// mean(max(0, |a - p|^2 - |a - n|^2 + margin)). With unit vectors |u - v|^2 = 2 - 2 cos,
/// so distances lie in 0..4 and a margin of 0.2-0.5 is typical. Also returns the fraction
/// of triplets still violating the margin ("active"), the usual progress signal.
pub fn triplet_loss(
    a: Tensor<2>,
    p: Tensor<2>,
    n: Tensor<2>,
    margin: f32,
) -> (Tensor<1>, Tensor<1>) {
    let d_ap = (a.clone() - p).powi_scalar(2).sum_dim(1);
    let d_an = (a - n).powi_scalar(2).sum_dim(1);
    let violation = d_ap - d_an + margin;
    let active = violation.clone().greater_elem(0.0).float().mean();
    (relu(violation).mean(), active)
}

#[cfg(test)]
mod tests;
