//! Recognising a dataset's layout and scanning its images.

use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::pairs::PairSource;
use super::people::PeopleSource;
use super::{DatasetError, IMAGE_EXTENSIONS, ImageEntry, Person, Result, number_from_stem};

/// How a dataset folder is organised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// The official LFW distribution: image folder plus `pairs*.txt` / `people*.txt`.
    Lfw,
    /// The Kaggle "lfw-dataset": `lfw-deepfunneled/lfw-deepfunneled/...` plus CSV lists.
    Kaggle,
    /// Any `<root>/<person>/<image>` folder without protocol lists.
    Folder,
}

impl Layout {
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Lfw => "lfw",
            Layout::Kaggle => "kaggle",
            Layout::Folder => "folder",
        }
    }
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What [`detect`] found: where the images are and which lists to parse.
pub(crate) struct Found {
    pub layout: Layout,
    pub image_root: PathBuf,
    pub pair_sources: Vec<PairSource>,
    pub people_sources: Vec<PeopleSource>,
}

/// LFW image folder names, best first; any other `lfw*` folder is tried after these.
const LFW_DIRS: &[&str] = &[
    "lfw-deepfunneled",
    "lfw_deepfunneled",
    "lfw-funneled",
    "lfw_funneled",
    "lfw",
];

pub(crate) fn detect(root: &Path) -> Result<Found> {
    let image_root = find_image_root(root)?;
    // The official lists win when both kinds are present (the CSVs are copies of them).
    let official = PairSource::official(root);
    let kaggle = PairSource::kaggle(root);
    let (layout, pair_sources, people_sources) = if !official.is_empty() {
        (Layout::Lfw, official, PeopleSource::official(root))
    } else if !kaggle.is_empty() {
        (Layout::Kaggle, kaggle, PeopleSource::kaggle(root))
    } else {
        (Layout::Folder, Vec::new(), Vec::new())
    };
    Ok(Found {
        layout,
        image_root,
        pair_sources,
        people_sources,
    })
}

fn subdirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = fs::read_dir(dir).map_err(|source| DatasetError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir() && !is_hidden(p))
        .collect();
    dirs.sort();
    Ok(dirs)
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

pub(crate) fn is_image_file(path: &Path) -> bool {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str()))
}

/// True if some folder directly under `dir` holds an image: the `<person>/<image>` shape.
fn holds_person_folders(dir: &Path) -> bool {
    let Ok(dirs) = subdirs(dir) else { return false };
    dirs.iter().take(50).any(|d| {
        fs::read_dir(d).is_ok_and(|mut it| {
            it.any(|e| e.is_ok_and(|e| e.path().is_file() && is_image_file(&e.path())))
        })
    })
}

/// The folder holding `<person>/` folders: a known LFW folder (descending through the Kaggle
/// copy's doubled `lfw-deepfunneled/lfw-deepfunneled`), else the root itself.
fn find_image_root(root: &Path) -> Result<PathBuf> {
    let mut candidates: Vec<PathBuf> = subdirs(root)?
        .into_iter()
        .filter(|d| {
            d.file_name()
                .is_some_and(|n| n.to_string_lossy().to_ascii_lowercase().starts_with("lfw"))
        })
        .collect();
    candidates.sort_by_key(|d| {
        let name = d.file_name().unwrap_or_default().to_string_lossy();
        LFW_DIRS
            .iter()
            .position(|known| *known == name)
            .unwrap_or(LFW_DIRS.len())
    });
    for mut dir in candidates {
        let nested = dir.join(dir.file_name().unwrap_or_default());
        if nested.is_dir() {
            dir = nested;
        }
        if holds_person_folders(&dir) {
            return Ok(dir);
        }
    }
    Ok(root.to_path_buf())
}

/// Lists every `<person>/<image>` under `image_root`, in parallel (LFW has 5749 folders).
pub(crate) fn scan_people(image_root: &Path, warnings: &mut Vec<String>) -> Result<Vec<Person>> {
    let dirs = subdirs(image_root)?;
    let scanned: Vec<std::result::Result<Person, (PathBuf, std::io::Error)>> = dirs
        .par_iter()
        .map(|dir| {
            let name = dir
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let entries = fs::read_dir(dir).map_err(|e| (dir.clone(), e))?;
            let mut images: Vec<ImageEntry> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_file() && is_image_file(p) && !is_hidden(p))
                .map(|path| {
                    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
                    let number = number_from_stem(&stem, &name);
                    ImageEntry { path, number }
                })
                .collect();
            images.sort_by(|a, b| a.path.cmp(&b.path));
            Ok(Person { name, images })
        })
        .collect();
    let mut people = Vec::with_capacity(scanned.len());
    let mut empty = 0;
    for person in scanned {
        // An unreadable person folder is reported and left out; the others still open.
        let person = match person {
            Ok(p) => p,
            Err((dir, e)) => {
                warnings.push(format!("cannot read {}: {e}; skipped", dir.display()));
                continue;
            }
        };
        if person.images.is_empty() {
            empty += 1;
        } else {
            people.push(person);
        }
    }
    if empty > 0 {
        warnings.push(format!("{empty} folders without images were skipped"));
    }
    let stray = fs::read_dir(image_root)
        .map(|it| {
            it.filter_map(|e| e.ok())
                .filter(|e| e.path().is_file() && is_image_file(&e.path()))
                .count()
        })
        .unwrap_or(0);
    if stray > 0 {
        warnings.push(format!(
            "{stray} images lie directly in {} and belong to no person folder; they are ignored",
            image_root.display()
        ));
    }
    people.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(people)
}
