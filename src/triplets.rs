//! Anchor / positive / negative triplets of face crops: drawn reproducibly from training
//! identities only, and stored as the seed project stored them, a `.npy` array of shape
//! (N, 3, S, S, 3) uint8 (HWC RGB crops; S = 100 by default) with a JSON sidecar naming
//! the source images.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use image::RgbImage;
use ndarray::{Array5, ArrayD, Axis, IxDyn};
use ndarray_npy::{ReadNpyError, ReadNpyExt, WriteNpyExt};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::detect::Detector;
use crate::preprocess::{self, CropCache, PreprocessError, PreprocessSettings};
use crate::{Dataset, imageio};

/// The seed's triplet count.
pub const DEFAULT_COUNT: usize = 1000;

/// One triplet's source images, as paths relative to the dataset's image root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TripletSource {
    pub anchor: String,
    pub positive: String,
    pub negative: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TripletError {
    #[error("too few identities to draw triplets: {0}")]
    TooFew(String),
    #[error("{path}: {message}")]
    Npy { path: PathBuf, message: String },
    #[error("{image}: {message}")]
    Image { image: String, message: String },
    #[error(transparent)]
    Crops(#[from] PreprocessError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Draws `count` triplets from the people named in `identities` (the training split: for
/// LFW, peopleDevTrain), reproducibly for a given `seed` (ChaCha8, whose stream is fixed
/// across platforms and versions). The anchor's person has at least two images; anchor and
/// positive are two different images of them; the negative is any image of another person.
pub fn draw(
    dataset: &Dataset,
    identities: &BTreeSet<String>,
    count: usize,
    seed: u64,
) -> Result<Vec<TripletSource>, TripletError> {
    // People of the split that exist on disk, in name order (the dataset's order).
    let people = dataset.images_of(identities, 1);
    let anchors: Vec<usize> = (0..people.len())
        .filter(|&i| people[i].len() >= 2)
        .collect();
    if anchors.is_empty() || people.len() < 2 {
        return Err(TripletError::TooFew(format!(
            "{} training identities on disk, {} with two or more images",
            people.len(),
            anchors.len()
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let triplets = (0..count)
        .map(|_| {
            let a = anchors[rng.random_range(0..anchors.len())];
            let imgs = &people[a];
            let i = rng.random_range(0..imgs.len());
            // A different image: draw among the others.
            let j = (i + 1 + rng.random_range(0..imgs.len() - 1)) % imgs.len();
            let mut n = rng.random_range(0..people.len() - 1);
            if n >= a {
                n += 1;
            }
            let k = rng.random_range(0..people[n].len());
            TripletSource {
                anchor: imgs[i].clone(),
                positive: imgs[j].clone(),
                negative: people[n][k].clone(),
            }
        })
        .collect();
    Ok(triplets)
}

/// Crops every image of `sources` through `cache` (MTCNN crops made once and reused;
/// images not yet in the cache are detected now and recorded), in triplet order. Images
/// without a usable face fall back to a centre crop and are listed in the result.
/// `on_image` is told (done, total) after each distinct image; `cancel` stops early.
pub fn crops(
    dataset: &Dataset,
    sources: &[TripletSource],
    cache: &mut CropCache,
    detector: &Detector,
    cancel: &AtomicBool,
    on_image: impl FnMut(usize, usize),
) -> Result<TripletCrops, TripletError> {
    let size = cache.settings().crop.size;
    let unique: BTreeSet<&str> = sources
        .iter()
        .flat_map(|s| [s.anchor.as_str(), s.positive.as_str(), s.negative.as_str()])
        .collect();
    let cropped = preprocess::crop_images(dataset, &unique, cache, detector, cancel, on_image)?;
    cropped.warn_unreadable();
    // A triplet with an unreadable image is left out.
    let mut kept = Vec::with_capacity(sources.len());
    let mut stacked: Vec<[RgbImage; 3]> = Vec::with_capacity(sources.len());
    for s in sources {
        let crop = |p: &String| cropped.made.get(p.as_str()).cloned();
        if let (Some(a), Some(p), Some(n)) = (crop(&s.anchor), crop(&s.positive), crop(&s.negative))
        {
            stacked.push([a, p, n]);
            kept.push(s.clone());
        }
    }
    if stacked.is_empty() {
        return Err(TripletError::TooFew(
            "no triplet has three readable images".into(),
        ));
    }
    Ok(TripletCrops {
        array: TripletArray::from_crops(&stacked, size),
        fallbacks: cropped.fallbacks,
        sources: kept,
    })
}

/// What [`crops`] made: the array, the images centre-cropped for want of a face, and the
/// triplets it holds (those whose three images could be read), in its row order.
pub struct TripletCrops {
    pub array: TripletArray,
    pub fallbacks: Vec<String>,
    pub sources: Vec<TripletSource>,
}

/// The JSON sidecar written next to a triplet `.npy` (same name, `.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sidecar {
    /// Dataset folder the images came from.
    pub dataset: PathBuf,
    pub seed: u64,
    /// How the crops were cut.
    pub crops: RecordedCrops,
    /// Images whose crop fell back to the centre of the image (no usable face).
    pub fallback_crops: Vec<String>,
    pub triplets: Vec<TripletSource>,
}

/// A sidecar's crop settings: typed since this version; older sidecars hold a folder key
/// in words, which is read but cannot be trusted to rebuild the settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RecordedCrops {
    Settings(PreprocessSettings),
    Described(String),
}

pub fn sidecar_path(npy: &Path) -> PathBuf {
    npy.with_extension("json")
}

impl Sidecar {
    /// The settings the crops were cut with, when the sidecar records them.
    pub fn settings(&self) -> Option<PreprocessSettings> {
        match self.crops {
            RecordedCrops::Settings(s) => Some(s),
            RecordedCrops::Described(_) => None,
        }
    }

    pub fn save(&self, npy: &Path) -> Result<(), TripletError> {
        let path = sidecar_path(npy);
        let bytes = serde_json::to_vec_pretty(self).expect("the sidecar serialises");
        imageio::write_atomic(&path, &bytes).map_err(|source| TripletError::Write { path, source })
    }

    pub fn load(npy: &Path) -> Result<Sidecar, TripletError> {
        let path = sidecar_path(npy);
        let bytes = std::fs::read(&path).map_err(|e| TripletError::Npy {
            path: path.clone(),
            message: format!("cannot read the sidecar: {e}"),
        })?;
        serde_json::from_slice(&bytes).map_err(|e| TripletError::Npy {
            path,
            message: format!("not a triplet sidecar: {e}"),
        })
    }
}

/// Triplet crops as one array of shape (N, 3, S, S, 3), uint8 RGB.
#[derive(Debug, Clone, PartialEq)]
pub struct TripletArray(pub Array5<u8>);

impl TripletArray {
    /// Stacks (anchor, positive, negative) crops, all `size` x `size`.
    pub fn from_crops(crops: &[[RgbImage; 3]], size: u32) -> TripletArray {
        let s = size as usize;
        let mut array = Array5::<u8>::zeros((crops.len(), 3, s, s, 3));
        for (mut slot, triplet) in array.axis_iter_mut(Axis(0)).zip(crops) {
            for (mut dst, img) in slot.axis_iter_mut(Axis(0)).zip(triplet) {
                assert_eq!(img.dimensions(), (size, size), "crop of the wrong size");
                let src = ndarray::ArrayView3::from_shape((s, s, 3), img.as_raw())
                    .expect("an RgbImage is H x W x 3");
                dst.assign(&src);
            }
        }
        TripletArray(array)
    }

    pub fn len(&self) -> usize {
        self.0.len_of(Axis(0))
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Side of the square crops.
    pub fn size(&self) -> usize {
        self.0.shape()[2]
    }

    /// Crop `which` (0 anchor, 1 positive, 2 negative) of triplet `i`.
    pub fn crop(&self, i: usize, which: usize) -> RgbImage {
        let s = self.size() as u32;
        let view = self.0.index_axis(Axis(0), i);
        let view = view.index_axis(Axis(0), which);
        RgbImage::from_raw(s, s, view.iter().copied().collect()).expect("S x S x 3 bytes")
    }

    /// The HWC RGB bytes of crop `which` (0 anchor, 1 positive, 2 negative) of triplet `i`.
    pub fn crop_bytes(&self, i: usize, which: usize) -> &[u8] {
        let s = self.size();
        let start = (i * 3 + which) * s * s * 3;
        let all = self
            .0
            .as_slice()
            .expect("triplet arrays are kept in standard layout");
        &all[start..start + s * s * 3]
    }

    /// Writes the array atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<(), TripletError> {
        let err = |source| TripletError::Write {
            path: path.to_path_buf(),
            source,
        };
        let mut bytes = Vec::new();
        self.0
            .write_npy(&mut bytes)
            .map_err(|e| err(std::io::Error::other(e)))?;
        crate::imageio::write_atomic(path, &bytes).map_err(err)
    }

    /// Reads a triplet array: uint8, or float32/float64 with values in 0-1 (scaled by 255)
    /// or 0-255, as a Keras notebook would have saved it. Anything else is refused with a
    /// message that says what was found.
    pub fn load(path: &Path) -> Result<TripletArray, TripletError> {
        let err = |message: String| TripletError::Npy {
            path: path.to_path_buf(),
            message,
        };
        let bytes = std::fs::read(path).map_err(|e| err(format!("cannot read: {e}")))?;
        // Checked before anything is allocated: a header may declare any shape.
        check_header(&bytes).map_err(err)?;
        let described = |e: ReadNpyError| match e {
            ReadNpyError::WrongDescriptor(d) => {
                format!("element type {d} is not supported (expected uint8, float32 or float64)")
            }
            other => format!("not a readable .npy file: {other}"),
        };
        let array: ArrayD<u8> = match ArrayD::<u8>::read_npy(&bytes[..]) {
            Ok(a) => a,
            Err(ReadNpyError::WrongDescriptor(_)) => {
                let floats: ArrayD<f64> = match ArrayD::<f32>::read_npy(&bytes[..]) {
                    Ok(a) => a.mapv(f64::from),
                    Err(ReadNpyError::WrongDescriptor(_)) => {
                        ArrayD::<f64>::read_npy(&bytes[..]).map_err(|e| err(described(e)))?
                    }
                    Err(e) => return Err(err(described(e))),
                };
                from_floats(floats).map_err(err)?
            }
            Err(e) => return Err(err(described(e))),
        };
        // The header's shape was checked to be (N, 3, S, S, 3).
        let mut array = array
            .into_dimensionality::<ndarray::Ix5>()
            .map_err(|e| err(format!("not a 5-D array: {e}")))?;
        // Fortran-ordered files: rows of one crop must be contiguous for `crop_bytes`.
        if !array.is_standard_layout() {
            array = array.as_standard_layout().into_owned();
        }
        Ok(TripletArray(array))
    }
}

/// The largest crop side a triplet file may hold (the backbones take 32-299 px).
pub const MAX_CROP_SIDE: usize = 1024;

/// Why the `.npy` header in `bytes` cannot be a triplet array: not a header, another
/// element type, another shape, crops larger than [`MAX_CROP_SIDE`], or data of another
/// length than the shape declares.
fn check_header(bytes: &[u8]) -> Result<(), String> {
    let mut rest = bytes;
    let header = ndarray_npy::npy::header::Header::from_reader(&mut rest)
        .map_err(|e| format!("not a readable .npy file: {e}"))?;
    let descr = header.type_descriptor.to_string();
    let code = descr.trim_matches(|c| c == '\'' || c == '"');
    let element = match code.trim_start_matches(['<', '>', '|', '=']) {
        "u1" => 1,
        "f4" => 4,
        "f8" => 8,
        _ => {
            return Err(format!(
                "element type {descr} is not supported (expected uint8, float32 or float64)"
            ));
        }
    };
    let shape = &header.shape;
    let ok = shape.len() == 5 && shape[1] == 3 && shape[4] == 3 && shape[2] == shape[3];
    if !ok || shape[2] == 0 {
        return Err(format!(
            "shape {shape:?} is not (N, 3, S, S, 3): N triplets of anchor/positive/negative S x S RGB crops"
        ));
    }
    if shape[2] > MAX_CROP_SIDE {
        return Err(format!(
            "crops of {} px are larger than the {MAX_CROP_SIDE} px this app reads",
            shape[2]
        ));
    }
    let declared = shape
        .iter()
        .try_fold(element, |n: usize, &d| n.checked_mul(d))
        .filter(|&n| n == rest.len());
    if declared.is_none() {
        return Err(format!(
            "the header declares shape {shape:?} of {descr} but the file holds {} bytes of data: \
             truncated or not written by numpy",
            rest.len()
        ));
    }
    Ok(())
}

/// Floats in 0-1 are scaled to 0-255; floats in 0-255 are rounded; others are refused.
fn from_floats(a: ArrayD<f64>) -> Result<ArrayD<u8>, String> {
    if a.iter().any(|v| !v.is_finite()) {
        return Err("the array holds NaN or infinite values".into());
    }
    let (lo, hi) = a
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    if a.is_empty() {
        return Ok(ArrayD::zeros(IxDyn(a.shape())));
    }
    let scale = if hi <= 1.0 && lo >= 0.0 {
        255.0
    } else if hi <= 255.0 && lo >= 0.0 {
        1.0
    } else {
        return Err(format!(
            "float values span {lo}..{hi}; expected 0-1 or 0-255"
        ));
    };
    Ok(a.mapv(|v| (v * scale).round().clamp(0.0, 255.0) as u8))
}

#[cfg(test)]
mod tests;
