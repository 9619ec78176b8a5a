//! Reading photos for the face index: the file's size, mtime and content hash, then its
//! faces detected, cut and embedded. Photos are read in parallel and their crops embedded
//! together, a batch at a time.

use std::path::{Path, PathBuf};

use image::RgbImage;
use rayon::prelude::*;

pub(crate) use crate::dataset::is_image_file;
use crate::detect::Face;
use crate::face_index::{NewFace, PhotoContent, PhotoFile};
use crate::imageio;
use crate::verify::Verifier;
use crate::workflow::plan_path;

/// Photos read, decoded and detected together before their crops are embedded in one batch
/// and written in one transaction (what a kill can lose at most).
pub const BATCH: usize = 8;

/// The photo files under `inputs`: files as given, folders searched recursively for image
/// files (hidden entries skipped), sorted; a path that does not exist is an error.
pub fn photo_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            walk(input, &mut out).map_err(|e| format!("cannot read {}: {e}", input.display()))?;
        } else if input.is_file() {
            out.push(input.clone());
        } else {
            return Err(format!("{} does not exist", input.display()));
        }
    }
    Ok(out)
}

/// The entries of `dir` that are not hidden, sorted.
pub fn visible_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    entries.sort();
    Ok(entries)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for path in visible_entries(dir)? {
        if path.is_dir() {
            walk(&path, out)?;
        } else if is_image_file(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// `path` as the index stores it (a plan's path, as text).
pub fn index_path(path: &Path) -> String {
    plan_path(path).display().to_string()
}

/// A file's size and modification time (ns since the epoch), as the index compares them.
pub fn stat(path: &Path) -> std::io::Result<(i64, i64)> {
    let meta = std::fs::metadata(path)?;
    let mtime = meta
        .modified()?
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    Ok((meta.len() as i64, mtime))
}

/// The index's content hash of a file's bytes (xxh3-128, hex).
pub fn content_hash(bytes: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(bytes))
}

/// An indexed photo read again, if its bytes are still the ones indexed (`hash`).
pub fn reread(path: &Path, hash: &str) -> Result<RgbImage, String> {
    let changed = "the file is gone or changed since it was indexed: index it again";
    let bytes = imageio::read_bytes(path).map_err(|_| changed)?;
    if content_hash(&bytes) != hash {
        return Err(changed.into());
    }
    imageio::decode_rgb(bytes, path).map_err(|e| e.to_string())
}

/// A photo read from disk: what the index records of the file, and its faces with their
/// crops (not yet embedded), or why it has none.
pub struct ReadPhoto {
    pub file: PhotoFile,
    pub image: Option<RgbImage>,
    pub outcome: Result<Vec<(Face, RgbImage)>, String>,
}

/// Reads one photo: stat, bytes, hash, decode, detect, crop.
pub fn read_photo(verifier: &Verifier, path: &Path) -> ReadPhoto {
    let mut file = PhotoFile {
        path: index_path(path),
        size: 0,
        mtime_ns: 0,
        hash: String::new(),
    };
    let bytes = stat(path).and_then(|s| Ok((s, imageio::read_bytes(path)?)));
    let bytes = match bytes {
        Ok(((size, mtime), bytes)) => {
            (file.size, file.mtime_ns) = (size, mtime);
            file.hash = content_hash(&bytes);
            bytes
        }
        Err(e) => {
            return ReadPhoto {
                file,
                image: None,
                outcome: Err(format!("cannot read {}: {e}", path.display())),
            };
        }
    };
    let image = match imageio::decode_rgb(bytes, path) {
        Ok(img) => img,
        Err(e) => {
            return ReadPhoto {
                file,
                image: None,
                outcome: Err(e.to_string()),
            };
        }
    };
    let outcome = verifier
        .faces(&image)
        .map(|faces| {
            faces
                .into_iter()
                .map(|f| {
                    let crop = verifier.crop_of(&image, &f);
                    (f, crop)
                })
                .collect()
        })
        .map_err(|e| e.to_string());
    ReadPhoto {
        file,
        image: Some(image),
        outcome,
    }
}

/// Reads `paths` in parallel and embeds all their crops in one batch.
pub fn read_batch(verifier: &Verifier, paths: &[PathBuf]) -> Vec<(PhotoFile, PhotoContent)> {
    let read: Vec<ReadPhoto> = paths.par_iter().map(|p| read_photo(verifier, p)).collect();
    let crops: Vec<&RgbImage> = read
        .iter()
        .filter_map(|r| r.outcome.as_ref().ok())
        .flat_map(|faces| faces.iter().map(|(_, c)| c))
        .collect();
    let mut embeddings = verifier.embed(&crops).into_iter();
    read.into_iter()
        .map(|r| {
            let (width, height) = r.image.as_ref().map_or((0, 0), |i| i.dimensions());
            let content = match r.outcome {
                Err(e) => PhotoContent::Error(e),
                Ok(faces) if faces.is_empty() => PhotoContent::NoFace { width, height },
                Ok(faces) => PhotoContent::Faces {
                    width,
                    height,
                    faces: faces
                        .into_iter()
                        .zip(embeddings.by_ref())
                        .map(|((face, _), embedding)| NewFace {
                            face,
                            crop: verifier.crop,
                            embedding,
                        })
                        .collect(),
                },
            };
            (r.file, content)
        })
        .collect()
}
