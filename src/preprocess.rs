//! The dataset preprocessing job: detect and crop every image once, and cache the crops on
//! disk so training and evaluation (and re-runs) read 100x100 PNGs instead of running MTCNN.
//!
//! A cache folder is keyed by the dataset and the settings (detector thresholds, crop size,
//! margin, alignment, filters), so changing a setting starts a new cache and never mixes
//! crops. Inside it, each image has a record (keyed by its path, and invalidated when the
//! file's size or modification time changes) saying what happened: cropped (with the face
//! chosen), no usable face, or an error.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::crop::{self, CropConfig, FacePick};
use crate::detect::{Detector, DetectorConfig};
use crate::{Dataset, imageio};

/// Everything that determines a crop.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct PreprocessSettings {
    pub detector: DetectorConfig,
    pub crop: CropConfig,
    pub pick: FacePick,
}

impl PreprocessSettings {
    /// A readable folder name that changes whenever any setting does.
    pub fn key(&self) -> String {
        let d = &self.detector;
        format!(
            "mtcnn-min{}-t{}-{}-{}-f{}_{}_{}",
            d.min_face_size,
            d.thresholds[0],
            d.thresholds[1],
            d.thresholds[2],
            d.factor,
            self.crop.key(),
            match self.pick {
                FacePick::NearestCentre => "centre",
                FacePick::Largest => "largest",
            }
        )
    }
}

/// What preprocessing one image gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// A crop was written. `faces` were detected; `chosen` (0-based, largest first) was used.
    Cropped {
        faces: usize,
        chosen: usize,
        score: f32,
        #[serde(rename = "box")]
        bbox: [f32; 4],
    },
    /// No detected face passed the filters (`faces` were detected in all).
    NoFace { faces: usize },
    /// The image could not be read or processed.
    Error { message: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// Source file size and modification time (seconds), to notice edits.
    pub size: u64,
    pub modified: u64,
    #[serde(flatten)]
    pub outcome: Outcome,
}

const INDEX: &str = "index.json";

#[derive(Debug, Serialize, Deserialize)]
struct IndexFile {
    settings: PreprocessSettings,
    dataset: PathBuf,
    /// Image path (relative to the dataset's image root, '/'-separated) -> record.
    records: BTreeMap<String, ImageRecord>,
}

#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    #[error("cache folder {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cache index {path} is unreadable ({message}); delete the folder to rebuild it")]
    BadIndex { path: PathBuf, message: String },
    #[error("invalid crop settings: {0}")]
    InvalidSettings(String),
    #[error("{image}: {message}")]
    Image { image: String, message: String },
    #[error("cancelled")]
    Cancelled,
}

/// The crops of one dataset under one set of settings.
#[derive(Debug)]
pub struct CropCache {
    dir: PathBuf,
    index: IndexFile,
}

/// Where caches live unless told otherwise: `$SIAMESE_FACE_CACHE`, else the XDG cache folder.
pub fn default_cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("SIAMESE_FACE_CACHE") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("siamese-face")
}

/// A file-name-safe rendering of the dataset's folder.
fn dataset_slug(root: &Path) -> String {
    let s: String = root
        .to_string_lossy()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    s.trim_matches('_').to_string()
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PreprocessError + '_ {
    move |source| PreprocessError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl CropCache {
    /// The cache folder for `dataset` and `settings` under `root`.
    pub fn dir_for(root: &Path, dataset: &Dataset, settings: &PreprocessSettings) -> PathBuf {
        root.join("crops")
            .join(dataset_slug(&dataset.root))
            .join(settings.key())
    }

    /// Opens (or starts) the cache at `dir`.
    pub fn open(
        dir: &Path,
        dataset: &Dataset,
        settings: &PreprocessSettings,
    ) -> Result<CropCache, PreprocessError> {
        let path = dir.join(INDEX);
        let index = match std::fs::read(&path) {
            Ok(bytes) => {
                let index: IndexFile =
                    serde_json::from_slice(&bytes).map_err(|e| PreprocessError::BadIndex {
                        path: path.clone(),
                        message: e.to_string(),
                    })?;
                if index.settings != *settings {
                    return Err(PreprocessError::BadIndex {
                        path,
                        message: "it was made with other settings".into(),
                    });
                }
                index
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => IndexFile {
                settings: *settings,
                dataset: dataset.root.clone(),
                records: BTreeMap::new(),
            },
            Err(e) => return Err(io_err(&path)(e)),
        };
        Ok(CropCache {
            dir: dir.to_path_buf(),
            index,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn settings(&self) -> &PreprocessSettings {
        &self.index.settings
    }

    pub fn records(&self) -> &BTreeMap<String, ImageRecord> {
        &self.index.records
    }

    pub fn record(&self, image: &str) -> Option<&ImageRecord> {
        self.index.records.get(image)
    }

    /// Where the crop of `image` (a relative path) is stored.
    pub fn crop_path(&self, image: &str) -> PathBuf {
        crop_path_in(&self.dir, image)
    }

    /// The cached crop of `image`, when it was cropped.
    pub fn load_crop(&self, image: &str) -> Option<RgbImage> {
        match self.record(image)?.outcome {
            Outcome::Cropped { .. } => imageio::load_rgb(&self.crop_path(image)).ok(),
            _ => None,
        }
    }

    /// The record of `image` if it is still valid: same file size and modification time,
    /// and for a crop, the PNG still on disk.
    fn fresh_record(&self, image: &str, stamp: Option<(u64, u64)>) -> Option<&ImageRecord> {
        let r = self.index.records.get(image)?;
        let (size, modified) = stamp?;
        let crop_ok =
            !matches!(r.outcome, Outcome::Cropped { .. }) || self.crop_path(image).is_file();
        (r.size == size && r.modified == modified && crop_ok).then_some(r)
    }

    /// The record of `image` (relative path), detecting and cropping it first when there
    /// is none or the file changed. The index is not saved; call [`CropCache::save`].
    pub fn ensure(&mut self, dataset: &Dataset, image: &str, detector: &Detector) -> &Outcome {
        let path = dataset.image_root.join(image);
        let stamp = file_stamp(&path);
        if self.fresh_record(image, stamp).is_none() {
            let settings = self.index.settings;
            let outcome = process_image(&path, &self.crop_path(image), detector, &settings);
            let (size, modified) = stamp.unwrap_or((0, 0));
            self.index.records.insert(
                image.to_string(),
                ImageRecord {
                    size,
                    modified,
                    outcome,
                },
            );
        }
        &self.index.records[image].outcome
    }

    /// The images of `dataset` without a record still valid for an unchanged file (with
    /// their size and modification time), and the counts of those that have one.
    fn work(&self, dataset: &Dataset) -> (Vec<(String, FileStamp)>, Progress) {
        let images = dataset.sorted_images();
        let mut progress = Progress {
            total: images.len(),
            ..Default::default()
        };
        let mut todo = Vec::new();
        for rel in &images {
            let stamp = file_stamp(&dataset.image_root.join(rel));
            match self.fresh_record(rel, stamp) {
                Some(r) => {
                    progress.cached += 1;
                    progress.count(&r.outcome);
                }
                None => todo.push((rel.clone(), stamp.unwrap_or((0, 0)))),
            }
        }
        (todo, progress)
    }

    /// Writes the index atomically.
    pub fn save(&self) -> Result<(), PreprocessError> {
        std::fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        let path = self.dir.join(INDEX);
        let bytes = serde_json::to_vec(&self.index).expect("the index serialises");
        imageio::write_atomic(&path, &bytes).map_err(io_err(&path))
    }
}

/// The crop of each of `images` (paths relative to the image root) through `cache`, with a
/// centre crop for images without a usable face (listed in the second result). The cache's
/// index is saved at the end, so detections made here are kept.
pub fn crop_images<'a>(
    dataset: &Dataset,
    images: &BTreeSet<&'a str>,
    cache: &mut CropCache,
    detector: &Detector,
    cancel: &AtomicBool,
    mut on_image: impl FnMut(usize, usize),
) -> Result<(HashMap<&'a str, RgbImage>, Vec<String>), PreprocessError> {
    let settings = *cache.settings();
    let mut made = HashMap::with_capacity(images.len());
    let mut fallbacks = Vec::new();
    for (i, &image) in images.iter().enumerate() {
        if cancel.load(Ordering::Relaxed) {
            return Err(PreprocessError::Cancelled);
        }
        let crop = match cache.ensure(dataset, image, detector) {
            Outcome::Cropped { .. } => cache.load_crop(image),
            _ => None,
        };
        let crop = match crop {
            Some(c) => c,
            None => {
                let path = dataset.image_root.join(image);
                let img = imageio::load_rgb(&path).map_err(|e| PreprocessError::Image {
                    image: image.to_string(),
                    message: e.to_string(),
                })?;
                fallbacks.push(image.to_string());
                crop::centre_crop(&img, settings.crop.size, settings.crop.margin)
            }
        };
        made.insert(image, crop);
        on_image(i + 1, images.len());
    }
    cache.save().map_err(|e| PreprocessError::Image {
        image: cache.dir().display().to_string(),
        message: e.to_string(),
    })?;
    Ok((made, fallbacks))
}

/// A file's size and modification time (seconds), which invalidate its record.
type FileStamp = (u64, u64);

/// Counts reported while the job runs and at its end.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub total: usize,
    pub done: usize,
    /// Of `done`, how many came from an earlier run's records.
    pub cached: usize,
    pub cropped: usize,
    pub no_face: usize,
    pub errors: usize,
    /// Images whose face was chosen among several.
    pub several_faces: usize,
    pub cancelled: bool,
}

impl Progress {
    fn count(&mut self, outcome: &Outcome) {
        self.done += 1;
        match outcome {
            Outcome::Cropped { faces, .. } => {
                self.cropped += 1;
                if *faces > 1 {
                    self.several_faces += 1;
                }
            }
            Outcome::NoFace { .. } => self.no_face += 1,
            Outcome::Error { .. } => self.errors += 1,
        }
    }
}

fn crop_path_in(dir: &Path, image: &str) -> PathBuf {
    dir.join("crops").join(image).with_extension("png")
}

fn file_stamp(path: &Path) -> Option<(u64, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = meta
        .modified()
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some((meta.len(), modified))
}

/// Detects, crops one image and writes its crop; returns what happened.
pub fn process_image(
    path: &Path,
    crop_path: &Path,
    detector: &Detector,
    settings: &PreprocessSettings,
) -> Outcome {
    let img = match imageio::load_rgb(path) {
        Ok(img) => img,
        Err(e) => {
            return Outcome::Error {
                message: e.to_string(),
            };
        }
    };
    let detection = match detector.detect(&img, &settings.detector) {
        Ok(d) => d,
        Err(e) => {
            return Outcome::Error {
                message: e.to_string(),
            };
        }
    };
    let faces = detection.faces.len();
    let Some(chosen) = crop::pick_face(
        &detection.faces,
        img.width(),
        img.height(),
        &settings.crop,
        settings.pick,
    ) else {
        return Outcome::NoFace { faces };
    };
    let face = &detection.faces[chosen];
    let out = crop::crop_face(&img, face, &settings.crop);
    let written = crop_path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| imageio::save_png_atomic(&out, crop_path));
    match written {
        Ok(()) => Outcome::Cropped {
            faces,
            chosen,
            score: face.score,
            bbox: face.bbox,
        },
        Err(e) => Outcome::Error {
            message: format!("cannot write {}: {e}", crop_path.display()),
        },
    }
}

/// Runs the job over every image of `dataset`, skipping those already recorded for an
/// unchanged file. Calls `on_progress` after each image; stops early (saving what was done)
/// when `cancel` is set. The index is saved every few seconds and at the end, so an
/// interrupted run resumes where it stopped.
///
/// Images are processed by one worker per core: the CPU backend parallelises each
/// operation, but MTCNN's many small operations leave a core idle much of the time.
pub fn run(
    dataset: &Dataset,
    cache: &mut CropCache,
    detector: &Detector,
    cancel: &AtomicBool,
    mut on_progress: impl FnMut(&Progress),
) -> Result<Progress, PreprocessError> {
    let settings = *cache.settings();
    settings
        .crop
        .validate()
        .map_err(PreprocessError::InvalidSettings)?;
    settings
        .detector
        .validate()
        .map_err(|e| PreprocessError::InvalidSettings(e.to_string()))?;
    std::fs::create_dir_all(&cache.dir).map_err(io_err(&cache.dir))?;
    let (todo, mut progress) = cache.work(dataset);
    on_progress(&progress);

    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4);
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, Outcome)>();
    let result = std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            let (todo, next, dir) = (&todo, &next, cache.dir.clone());
            scope.spawn(move || {
                while !cancel.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((rel, _)) = todo.get(i) else { break };
                    let path = dataset.image_root.join(rel);
                    let crop = crop_path_in(&dir, rel);
                    let outcome = process_image(&path, &crop, detector, &settings);
                    if tx.send((i, outcome)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut last_save = Instant::now();
        for (i, outcome) in rx {
            progress.count(&outcome);
            let (rel, (size, modified)) = &todo[i];
            cache.index.records.insert(
                rel.clone(),
                ImageRecord {
                    size: *size,
                    modified: *modified,
                    outcome,
                },
            );
            if last_save.elapsed() > Duration::from_secs(5) {
                cache.save()?;
                last_save = Instant::now();
            }
            on_progress(&progress);
        }
        Ok::<(), PreprocessError>(())
    });
    progress.cancelled = progress.done < progress.total && cancel.load(Ordering::Relaxed);
    cache.save()?;
    result?;
    Ok(progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_key_changes_with_every_setting() {
        let base = PreprocessSettings::default();
        let mut keys = vec![base.key()];
        let mut s = base;
        s.detector.thresholds[1] = 0.8;
        keys.push(s.key());
        let mut s = base;
        s.crop.align = true;
        keys.push(s.key());
        let mut s = base;
        s.crop.size = 160;
        keys.push(s.key());
        let mut s = base;
        s.pick = FacePick::Largest;
        keys.push(s.key());
        let mut s = base;
        s.crop.margin = 0.3;
        keys.push(s.key());
        let n = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), n, "{keys:?}");
        assert!(keys.iter().all(|k| !k.contains('/')));
    }

    #[test]
    fn outcome_records_round_trip_as_json() {
        let r = ImageRecord {
            size: 10,
            modified: 20,
            outcome: Outcome::Cropped {
                faces: 2,
                chosen: 1,
                score: 0.99,
                bbox: [1.0, 2.0, 3.0, 4.0],
            },
        };
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.contains("\"status\":\"cropped\""), "{text}");
        assert_eq!(serde_json::from_str::<ImageRecord>(&text).unwrap(), r);
    }
}
