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
    /// Source file size and modification time (seconds, and the nanoseconds within that
    /// second: a file replaced within the same second is noticed), to notice edits.
    pub size: u64,
    pub modified: u64,
    /// Absent in records of older versions, which are compared to the second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_ns: Option<u32>,
    /// The detection rules the record was made with ([`RECORD_VERSION`]; 0 when absent).
    #[serde(default)]
    pub version: u32,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// Version 1 looks for faces on a padded canvas when the photo shows none as it is, or cuts
/// one ([`Detector::detect_or_pad`]): records of version 0 are made again.
pub const RECORD_VERSION: u32 = 1;

impl ImageRecord {
    fn new(stamp: FileStamp, outcome: Outcome) -> ImageRecord {
        ImageRecord {
            size: stamp.size,
            modified: stamp.secs,
            modified_ns: Some(stamp.nanos),
            version: RECORD_VERSION,
            outcome,
        }
    }

    /// Whether the record was made from the file as it is now.
    fn matches(&self, stamp: FileStamp) -> bool {
        let outdated = self.version < RECORD_VERSION;
        self.size == stamp.size
            && self.modified == stamp.secs
            && self.modified_ns.is_none_or(|ns| ns == stamp.nanos)
            && !outdated
    }
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
    /// The images whose records this process made; saving merges them into the index on
    /// disk, so two jobs sharing the cache keep each other's records.
    touched: BTreeSet<String>,
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

    /// Opens (or starts) the cache at `dir`. An index that does not parse (cut short by a
    /// crash of an older version, or damaged) is started afresh with a warning: its crops
    /// are made again as they are needed.
    pub fn open(
        dir: &Path,
        dataset: &Dataset,
        settings: &PreprocessSettings,
    ) -> Result<CropCache, PreprocessError> {
        let path = dir.join(INDEX);
        let empty = || IndexFile {
            settings: *settings,
            dataset: dataset.root.clone(),
            records: BTreeMap::new(),
        };
        let index = match read_index(&path)? {
            Some(Ok(index)) if index.settings != *settings => {
                return Err(PreprocessError::BadIndex {
                    path,
                    message: "it was made with other settings".into(),
                });
            }
            Some(Ok(index)) => index,
            Some(Err(message)) => {
                log::warn!(
                    "the crop cache index {} is damaged ({message}); starting it afresh, so its images are detected again",
                    path.display()
                );
                empty()
            }
            None => empty(),
        };
        Ok(CropCache {
            dir: dir.to_path_buf(),
            index,
            touched: BTreeSet::new(),
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

    /// The cached crop of `image`, when it was cropped and its PNG still decodes to a crop
    /// of the cache's size.
    pub fn load_crop(&self, image: &str) -> Option<RgbImage> {
        match self.record(image)?.outcome {
            Outcome::Cropped { .. } => imageio::load_rgb(&self.crop_path(image)).ok().filter(|c| {
                c.dimensions() == (self.settings().crop.size, self.settings().crop.size)
            }),
            _ => None,
        }
    }

    /// The record of `image` if it is still valid: same file size and modification time,
    /// and for a crop, the PNG still on disk.
    fn fresh_record(&self, image: &str, stamp: Option<FileStamp>) -> Option<&ImageRecord> {
        let r = self.index.records.get(image)?;
        let crop_ok =
            !matches!(r.outcome, Outcome::Cropped { .. }) || self.crop_path(image).is_file();
        (r.matches(stamp?) && crop_ok).then_some(r)
    }

    /// What `image` (relative path) gives, detecting and cropping it first when it has no
    /// record or the file changed. A failure that may pass (the file cannot be opened now,
    /// the crop cannot be written) is returned as an error and not recorded, so the next
    /// run tries again. The index is not saved; call [`CropCache::save`].
    pub fn ensure(
        &mut self,
        dataset: &Dataset,
        image: &str,
        detector: &Detector,
    ) -> Result<Outcome, String> {
        let path = dataset.image_root.join(image);
        let stamp = file_stamp(&path);
        if let Some(r) = self.fresh_record(image, stamp) {
            return Ok(r.outcome.clone());
        }
        let settings = self.index.settings;
        let outcome = process_image(&path, &self.crop_path(image), detector, &settings)?;
        let stamp = stamp.ok_or_else(|| format!("cannot read {}", path.display()))?;
        self.record_outcome(image, ImageRecord::new(stamp, outcome.clone()));
        Ok(outcome)
    }

    fn record_outcome(&mut self, image: &str, record: ImageRecord) {
        self.index.records.insert(image.to_string(), record);
        self.touched.insert(image.to_string());
    }

    /// Drops the record of `image` (its crop turned out damaged), so it is made again.
    fn forget(&mut self, image: &str) {
        self.index.records.remove(image);
    }

    /// The images of `dataset` without a record still valid for an unchanged file (with
    /// their size and modification time), and the counts of those that have one.
    fn work(&self, dataset: &Dataset) -> (Vec<(String, Option<FileStamp>)>, Progress) {
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
                None => todo.push((rel.clone(), stamp)),
            }
        }
        (todo, progress)
    }

    /// Writes the index atomically, merged with the one on disk under a lock: records
    /// another job wrote since this cache was opened are kept, and this job's own records
    /// win for the images it processed.
    pub fn save(&self) -> Result<(), PreprocessError> {
        std::fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        let lock_path = self.dir.join("index.lock");
        let lock = std::fs::File::create(&lock_path).map_err(io_err(&lock_path))?;
        lock.lock().map_err(io_err(&lock_path))?;
        let path = self.dir.join(INDEX);
        let mut records = match read_index(&path)? {
            Some(Ok(disk)) if disk.settings == self.index.settings => disk.records,
            _ => BTreeMap::new(),
        };
        for (image, record) in &self.index.records {
            if self.touched.contains(image) || !records.contains_key(image) {
                records.insert(image.clone(), record.clone());
            }
        }
        let merged = IndexFile {
            settings: self.index.settings,
            dataset: self.index.dataset.clone(),
            records,
        };
        let bytes = serde_json::to_vec(&merged).map_err(|e| PreprocessError::BadIndex {
            path: path.clone(),
            message: e.to_string(),
        })?;
        imageio::write_atomic(&path, &bytes).map_err(io_err(&path))
        // The lock is released when `lock` is dropped.
    }
}

/// The index at `path`: none when there is no file, `Err` (why) when it does not parse.
fn read_index(path: &Path) -> Result<Option<Result<IndexFile, String>>, PreprocessError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(
            serde_json::from_slice(&bytes).map_err(|e| e.to_string()),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// What [`crop_images`] made.
pub struct CroppedImages<'a> {
    /// The crop of each image that could be read.
    pub made: HashMap<&'a str, RgbImage>,
    /// Images centre-cropped for want of a usable face.
    pub fallbacks: Vec<String>,
    /// Images that could not be read, and why; left out of `made`.
    pub unreadable: Vec<(String, String)>,
}

/// The crop of each of `images` (paths relative to the image root) through `cache`, with a
/// centre crop for images without a usable face. An image that cannot be read is listed
/// with its error and the rest go on. The cache's index is saved every few seconds and on
/// the way out (also when cancelled), so detections made here are kept.
pub fn crop_images<'a>(
    dataset: &Dataset,
    images: &BTreeSet<&'a str>,
    cache: &mut CropCache,
    detector: &Detector,
    cancel: &AtomicBool,
    mut on_image: impl FnMut(usize, usize),
) -> Result<CroppedImages<'a>, PreprocessError> {
    let mut out = CroppedImages {
        made: HashMap::with_capacity(images.len()),
        fallbacks: Vec::new(),
        unreadable: Vec::new(),
    };
    let mut cancelled = false;
    // Saved every few seconds too, so a killed process keeps most of its detections.
    let mut last_save = Instant::now();
    for (i, &image) in images.iter().enumerate() {
        if cancel.load(Ordering::Relaxed) {
            cancelled = true;
            break;
        }
        if last_save.elapsed() > SAVE_EVERY {
            save_index(cache)?;
            last_save = Instant::now();
        }
        match crop_one(dataset, image, cache, detector) {
            Ok((crop, fallback)) => {
                if fallback {
                    out.fallbacks.push(image.to_string());
                }
                out.made.insert(image, crop);
            }
            Err(message) => out.unreadable.push((image.to_string(), message)),
        }
        on_image(i + 1, images.len());
    }
    save_index(cache)?;
    if cancelled {
        return Err(PreprocessError::Cancelled);
    }
    Ok(out)
}

/// How often a long crop loop saves the cache's index, so a killed process keeps most of
/// its detections.
const SAVE_EVERY: Duration = Duration::from_secs(5);

fn save_index(cache: &mut CropCache) -> Result<(), PreprocessError> {
    cache.save().map_err(|e| PreprocessError::Image {
        image: cache.dir().display().to_string(),
        message: e.to_string(),
    })
}

impl CroppedImages<'_> {
    /// Says on stderr which images were left out (a few named), as the callers go on
    /// without them.
    pub fn warn_unreadable(&self) {
        if let Some((image, why)) = self.unreadable.first() {
            log::warn!(
                "{} image(s) could not be read and were left out (the first: {image}: {why})",
                self.unreadable.len()
            );
        }
    }
}

/// One image's crop through the cache, and whether it is a centre crop (no usable face).
/// A cached crop that no longer decodes is made again.
fn crop_one(
    dataset: &Dataset,
    image: &str,
    cache: &mut CropCache,
    detector: &Detector,
) -> Result<(RgbImage, bool), String> {
    let mut outcome = cache.ensure(dataset, image, detector)?;
    if matches!(outcome, Outcome::Cropped { .. }) {
        if let Some(crop) = cache.load_crop(image) {
            return Ok((crop, false));
        }
        log::warn!(
            "the cached crop {} is damaged; cropping {image} again",
            cache.crop_path(image).display()
        );
        cache.forget(image);
        outcome = cache.ensure(dataset, image, detector)?;
        if matches!(outcome, Outcome::Cropped { .. }) {
            return cache.load_crop(image).map(|c| (c, false)).ok_or_else(|| {
                format!(
                    "{}: the crop written cannot be read back",
                    cache.crop_path(image).display()
                )
            });
        }
    }
    let size = cache.settings().crop;
    let path = dataset.image_root.join(image);
    let img = imageio::load_rgb(&path).map_err(|e| e.to_string())?;
    Ok((crop::centre_crop(&img, size.size, size.margin), true))
}

/// A file's size and modification time, which invalidate what was cached of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    pub size: u64,
    pub secs: u64,
    pub nanos: u32,
}

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

    /// An image that failed in a way not recorded (it may pass next time).
    fn count_error(&mut self) {
        self.done += 1;
        self.errors += 1;
    }
}

fn crop_path_in(dir: &Path, image: &str) -> PathBuf {
    dir.join("crops").join(image).with_extension("png")
}

/// The stamp of the file at `path`, if it can be read.
pub fn file_stamp(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    Some(FileStamp {
        size: meta.len(),
        secs: modified.as_secs(),
        nanos: modified.subsec_nanos(),
    })
}

/// Detects, crops one image and writes its crop; returns what happened. What the file's
/// content decides (not an image, no face) is an outcome to record; a failure that may pass
/// (the file cannot be opened now, the detector or the crop's write failed) is an error,
/// not recorded, so the next run tries again.
pub fn process_image(
    path: &Path,
    crop_path: &Path,
    detector: &Detector,
    settings: &PreprocessSettings,
) -> Result<Outcome, String> {
    let img = match imageio::load_rgb(path) {
        Ok(img) => img,
        Err(e @ imageio::ImageLoadError::Open { .. }) => return Err(e.to_string()),
        Err(e) => {
            return Ok(Outcome::Error {
                message: e.to_string(),
            });
        }
    };
    let detection = detector
        .detect_or_pad(&img, &settings.detector, |f| settings.crop.accepts(f))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let faces = detection.faces.len();
    let Some(chosen) = crop::pick_face(
        &detection.faces,
        img.width(),
        img.height(),
        &settings.crop,
        settings.pick,
    ) else {
        return Ok(Outcome::NoFace { faces });
    };
    let face = &detection.faces[chosen];
    let out = crop::crop_face(&img, face, &settings.crop);
    crop_path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| imageio::save_png_atomic(&out, crop_path))
        .map_err(|e| format!("cannot write {}: {e}", crop_path.display()))?;
    Ok(Outcome::Cropped {
        faces,
        chosen,
        score: face.score,
        bbox: face.bbox,
    })
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
    let (tx, rx) = mpsc::channel::<(usize, Result<Outcome, String>)>();
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
        for (i, processed) in rx {
            let (rel, stamp) = &todo[i];
            match (processed, stamp) {
                (Ok(outcome), Some(stamp)) => {
                    progress.count(&outcome);
                    cache.record_outcome(rel, ImageRecord::new(*stamp, outcome));
                }
                // Counted, not recorded: the next run tries again.
                (Ok(_), None) | (Err(_), _) => progress.count_error(),
            }
            if last_save.elapsed() > SAVE_EVERY {
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
            modified_ns: Some(30),
            version: RECORD_VERSION,
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
        // A record of an older version (no nanoseconds, no version: other detection rules)
        // is made again.
        let stamp = FileStamp {
            size: 10,
            secs: 20,
            nanos: 7,
        };
        let old = r#"{"size":10,"modified":20,"status":"no_face","faces":0}"#;
        assert!(
            !serde_json::from_str::<ImageRecord>(old)
                .unwrap()
                .matches(stamp)
        );
        assert!(ImageRecord::new(stamp, Outcome::NoFace { faces: 0 }).matches(stamp));
    }

    /// A dataset of two people with two sample photos each, in a temporary folder.
    fn small_dataset() -> (tempfile::TempDir, Dataset) {
        let dir = tempfile::tempdir().unwrap();
        let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample-faces");
        for person in ["Colin_Powell", "Laura_Bush"] {
            std::fs::create_dir_all(dir.path().join(person)).unwrap();
            for n in 1..=2 {
                let name = format!("{person}/{person}_{n:04}.jpg");
                std::fs::copy(sample.join(&name), dir.path().join(&name)).unwrap();
            }
        }
        let dataset = Dataset::open(dir.path()).unwrap();
        (dir, dataset)
    }

    fn cache_for(root: &Path, dataset: &Dataset) -> CropCache {
        let settings = PreprocessSettings::default();
        CropCache::open(
            &CropCache::dir_for(root, dataset, &settings),
            dataset,
            &settings,
        )
        .unwrap()
    }

    fn crop_all<'a>(
        dataset: &Dataset,
        images: &BTreeSet<&'a str>,
        cache: &mut CropCache,
        detector: &Detector,
    ) -> CroppedImages<'a> {
        crop_images(
            dataset,
            images,
            cache,
            detector,
            &AtomicBool::new(false),
            |_, _| {},
        )
        .unwrap()
    }

    /// The crop cache re-crops what it cannot trust, never records a failure that may
    /// pass, goes on past an unreadable image, and keeps another job's records.
    #[test]
    fn the_crop_cache_revalidates_and_merges() {
        let (data, dataset) = small_dataset();
        let root = tempfile::tempdir().unwrap();
        let detector = Detector::new(&burn::tensor::Device::flex()).unwrap();
        let colin = "Colin_Powell/Colin_Powell_0001.jpg";
        let laura = "Laura_Bush/Laura_Bush_0001.jpg";
        let one = BTreeSet::from([colin]);

        // A damaged crop PNG is cropped again, not replaced by a centre crop.
        let mut cache = cache_for(root.path(), &dataset);
        let made = crop_all(&dataset, &one, &mut cache, &detector);
        assert!(made.fallbacks.is_empty());
        let good = made.made[colin].clone();
        let png = cache.crop_path(colin);
        let bytes = std::fs::read(&png).unwrap();
        std::fs::write(&png, &bytes[..bytes.len() / 2]).unwrap();
        let mut cache = cache_for(root.path(), &dataset);
        let made = crop_all(&dataset, &one, &mut cache, &detector);
        assert!(made.fallbacks.is_empty() && made.unreadable.is_empty());
        assert_eq!(made.made[colin], good);

        // A crop that cannot be written (its folder is a file) is an error of this run only.
        let laura_dir = cache.crop_path(laura).parent().unwrap().to_path_buf();
        std::fs::create_dir_all(laura_dir.parent().unwrap()).unwrap();
        std::fs::write(&laura_dir, b"in the way").unwrap();
        let made = crop_all(&dataset, &BTreeSet::from([laura]), &mut cache, &detector);
        assert_eq!(made.unreadable.len(), 1, "{:?}", made.unreadable);
        assert!(made.unreadable[0].1.contains("cannot write"));
        assert!(cache.record(laura).is_none(), "not recorded");
        std::fs::remove_file(&laura_dir).unwrap();
        let made = crop_all(&dataset, &BTreeSet::from([laura]), &mut cache, &detector);
        assert!(made.unreadable.is_empty() && made.made.contains_key(laura));

        // An image that is not one is recorded as such and the others go on; the index is
        // saved with what was done.
        let broken = "Laura_Bush/Laura_Bush_0002.jpg";
        std::fs::write(data.path().join(broken), b"not a photo").unwrap();
        let colin2 = "Colin_Powell/Colin_Powell_0002.jpg";
        let mut cache = cache_for(root.path(), &dataset);
        let made = crop_all(
            &dataset,
            &BTreeSet::from([broken, colin2]),
            &mut cache,
            &detector,
        );
        assert_eq!(made.unreadable.len(), 1);
        assert!(made.made.contains_key(colin2));
        let saved = cache_for(root.path(), &dataset);
        assert!(matches!(
            saved.record(broken).map(|r| &r.outcome),
            Some(Outcome::Error { .. })
        ));
        assert!(saved.record(colin2).is_some());
    }

    /// Records survive another job's save and a cancel; a damaged index starts afresh.
    #[test]
    fn the_crop_cache_keeps_other_jobs_and_cancelled_work() {
        let (_data, dataset) = small_dataset();
        let detector = Detector::new(&burn::tensor::Device::flex()).unwrap();
        let colin = "Colin_Powell/Colin_Powell_0001.jpg";
        let colin2 = "Colin_Powell/Colin_Powell_0002.jpg";
        let laura = "Laura_Bush/Laura_Bush_0001.jpg";
        let one = BTreeSet::from([colin]);
        // Two jobs on one cache: each one's records survive the other's save.
        let fresh = tempfile::tempdir().unwrap();
        let mut a = cache_for(fresh.path(), &dataset);
        let mut b = cache_for(fresh.path(), &dataset);
        crop_all(&dataset, &one, &mut a, &detector);
        crop_all(&dataset, &BTreeSet::from([laura]), &mut b, &detector);
        let both = cache_for(fresh.path(), &dataset);
        assert!(both.record(colin).is_some() && both.record(laura).is_some());

        // Stopped after two images: those two are kept for the next run (a cancel saves).
        let stopped = tempfile::tempdir().unwrap();
        let mut cache = cache_for(stopped.path(), &dataset);
        let cancel = AtomicBool::new(false);
        let all = BTreeSet::from([colin, colin2, laura]);
        let out = crop_images(&dataset, &all, &mut cache, &detector, &cancel, |done, _| {
            if done == 2 {
                cancel.store(true, Ordering::Relaxed);
            }
        });
        assert!(matches!(out, Err(PreprocessError::Cancelled)));
        assert_eq!(cache_for(stopped.path(), &dataset).records().len(), 2);

        // A truncated index is started afresh, not a refusal of the whole cache.
        let index = both.dir().join(INDEX);
        let text = std::fs::read(&index).unwrap();
        std::fs::write(&index, &text[..text.len() / 2]).unwrap();
        let rebuilt = cache_for(fresh.path(), &dataset);
        assert!(rebuilt.records().is_empty());
    }
}
