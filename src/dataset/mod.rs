//! Face datasets on disk: the official LFW layout, the Kaggle "lfw-dataset" CSV layout, and
//! any plain `<root>/<person>/<image>` folder.
//!
//! [`Dataset::open`] scans the images, parses every protocol list it finds and validates each
//! list against the images that are actually there. Problems with a list (a malformed line, an
//! image that does not exist) are recorded in its [`ListReport`], never turned into a panic;
//! only an unreadable folder or list is an error.

mod layout;
mod pairs;
mod people;
mod summary;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

pub use layout::Layout;
pub(crate) use layout::is_image_file;
pub use pairs::{ImageRef, Pair, PairList, parse_csv, parse_txt};
pub use people::{PeopleList, parse_people_csv, parse_people_txt};
pub use summary::{DatasetSummary, ListSummary};

/// Image file extensions the scanner accepts (lower case).
pub const IMAGE_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "png", "bmp", "gif", "tif", "tiff", "webp", "pgm", "ppm", "pnm",
];

/// How many examples of each problem a report keeps.
const MAX_EXAMPLES: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("dataset folder {0} does not exist")]
    NotFound(PathBuf),
    #[error("{0} is not a folder")]
    NotADirectory(PathBuf),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read list {path}: {reason}")]
    UnreadableList { path: PathBuf, reason: String },
    #[error("no face images found under {0} (expected <person>/<image> folders)")]
    NoImages(PathBuf),
    #[error(
        "{dir} holds {images} photo(s) directly but no person folders. A dataset needs one \
         folder per person, named after them: {dir}/<person>/<photo>.jpg (LFW's layout). To \
         look at these photos without names, open them on the Detection or Compare page, or \
         index the folder on the People page (`siamese-face people index {dir}`)."
    )]
    FlatFolder { dir: PathBuf, images: usize },
    #[error("{0}")]
    Split(String),
}

pub type Result<T, E = DatasetError> = std::result::Result<T, E>;

/// One image of a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageEntry {
    pub path: PathBuf,
    /// The LFW image number parsed from `<Name>_NNNN.ext`, when the file is named that way.
    pub number: Option<u32>,
}

/// A person (identity) and their images, sorted by file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    pub images: Vec<ImageEntry>,
}

/// A line of a list that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// 1-based line number in the list file (or row number in a CSV, header included).
    pub line: usize,
    pub text: String,
    pub reason: String,
}

/// What validating one list against the images found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListReport {
    /// Distinct images the list names that are not on disk.
    pub missing_files: usize,
    /// The first few missing images, as the path they were expected at.
    pub missing_examples: Vec<PathBuf>,
    pub malformed: Vec<Malformed>,
    /// Lines beyond the examples in `malformed` are only counted.
    pub malformed_count: usize,
    /// Disagreements between a list's header and its content, and similar notes.
    pub warnings: Vec<String>,
}

/// A parsed pair list with its validation report.
#[derive(Debug, Clone)]
pub struct PairListEntry {
    pub list: PairList,
    pub report: ListReport,
}

/// A parsed people list with its validation report.
#[derive(Debug, Clone)]
pub struct PeopleListEntry {
    pub list: PeopleList,
    pub report: ListReport,
}

/// Disjoint sets of identities for training and testing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentitySplit {
    pub train: BTreeSet<String>,
    pub test: BTreeSet<String>,
}

/// Which identities training may use, named by the test it prepares for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainSplit {
    /// LFW View 1: peopleDevTrain, tested on pairsDevTest's people.
    DevTrain,
    /// LFW View 2: the people of the nine other folds of people.txt, tested on fold `k`
    /// (1-based) of pairs.txt.
    View2Fold(usize),
    /// Every person of the dataset (a folder without protocol lists).
    All,
}

impl std::fmt::Display for TrainSplit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrainSplit::DevTrain => f.write_str("peopleDevTrain"),
            TrainSplit::View2Fold(k) => write!(f, "people.txt without fold {k}"),
            TrainSplit::All => f.write_str("all people"),
        }
    }
}

/// A dataset found on disk.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The folder the user chose.
    pub root: PathBuf,
    pub layout: Layout,
    /// The folder that holds the `<person>/` folders.
    pub image_root: PathBuf,
    /// People with at least one image, sorted by name.
    pub people: Vec<Person>,
    pub pair_lists: Vec<PairListEntry>,
    pub people_lists: Vec<PeopleListEntry>,
    /// Things worth telling the user that are not errors (stray files, skipped folders).
    pub warnings: Vec<String>,
    by_name: HashMap<String, usize>,
}

impl Dataset {
    /// Every image as a path relative to the image root ('/'-separated), in plain string
    /// order: the order `sorted()` gives in Python, which the reference scripts use.
    pub fn sorted_images(&self) -> Vec<String> {
        let mut paths: Vec<String> = self
            .people
            .iter()
            .flat_map(|p| p.images.iter())
            .filter_map(|img| self.relative(&img.path))
            .collect();
        paths.sort();
        paths
    }

    /// Opens `root`, recognises its layout, scans the images and parses and validates every
    /// list found.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        // Absolute, so the app can remember it whatever the working directory next time.
        let root = std::fs::canonicalize(&root).unwrap_or(root);
        if !root.exists() {
            return Err(DatasetError::NotFound(root));
        }
        if !root.is_dir() {
            return Err(DatasetError::NotADirectory(root));
        }
        let found = layout::detect(&root)?;
        let mut warnings = Vec::new();
        let people = layout::scan_people(&found.image_root, &mut warnings)?;
        if people.is_empty() {
            // Photos with no person folders: say which layout is needed, not just "none".
            let images = std::fs::read_dir(&found.image_root)
                .map(|d| {
                    d.flatten()
                        .filter(|e| layout::is_image_file(&e.path()))
                        .count()
                })
                .unwrap_or(0);
            return Err(match images {
                0 => DatasetError::NoImages(found.image_root),
                n => DatasetError::FlatFolder {
                    dir: found.image_root,
                    images: n,
                },
            });
        }
        let by_name = people
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.clone(), i))
            .collect();
        let mut dataset = Dataset {
            root,
            layout: found.layout,
            image_root: found.image_root,
            people,
            pair_lists: Vec::new(),
            people_lists: Vec::new(),
            warnings,
            by_name,
        };
        // A list that cannot be read is reported and left out; the rest still opens.
        for source in &found.pair_sources {
            match source.parse() {
                Ok((list, report)) => {
                    let report = dataset.validate_pairs(&list, report);
                    dataset.pair_lists.push(PairListEntry { list, report });
                }
                Err(e) => dataset.warnings.push(format!("{e}; the list is not used")),
            }
        }
        for source in &found.people_sources {
            match source.parse() {
                Ok((list, report)) => {
                    let report = dataset.validate_people(&list, report);
                    dataset.people_lists.push(PeopleListEntry { list, report });
                }
                Err(e) => dataset.warnings.push(format!("{e}; the list is not used")),
            }
        }
        Ok(dataset)
    }

    /// `path` relative to the image root, '/'-separated (the key caches, sidecars and the
    /// reference scripts use), or `None` for a path outside it.
    pub fn relative(&self, path: &Path) -> Option<String> {
        let rel = path.strip_prefix(&self.image_root).ok()?;
        Some(
            rel.components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/"),
        )
    }

    /// The images (relative keys) of each person named in `identities` that has at least
    /// `min_images` of them, in name order.
    pub fn images_of(&self, identities: &BTreeSet<String>, min_images: usize) -> Vec<Vec<String>> {
        self.images_by_person(identities, min_images)
            .into_iter()
            .map(|(_, images)| images)
            .collect()
    }

    /// Like [`images_of`](Self::images_of), with each person's name.
    pub fn images_by_person(
        &self,
        identities: &BTreeSet<String>,
        min_images: usize,
    ) -> Vec<(String, Vec<String>)> {
        self.people
            .iter()
            .filter(|p| identities.contains(&p.name))
            .map(|p| {
                let images = p
                    .images
                    .iter()
                    .filter_map(|i| self.relative(&i.path))
                    .collect::<Vec<_>>();
                (p.name.clone(), images)
            })
            .filter(|(_, images)| images.len() >= min_images.max(1))
            .collect()
    }

    pub fn person(&self, name: &str) -> Option<&Person> {
        self.by_name.get(name).map(|&i| &self.people[i])
    }

    pub fn image_count(&self) -> usize {
        self.people.iter().map(|p| p.images.len()).sum()
    }

    pub fn people_with_at_least(&self, n: usize) -> usize {
        self.people.iter().filter(|p| p.images.len() >= n).count()
    }

    pub fn pair_list(&self, name: &str) -> Option<&PairListEntry> {
        self.pair_lists.iter().find(|e| e.list.name == name)
    }

    pub fn people_list(&self, name: &str) -> Option<&PeopleListEntry> {
        self.people_lists.iter().find(|e| e.list.name == name)
    }

    /// The file an image reference points at, or `None` if it is not in the dataset.
    pub fn resolve(&self, image: &ImageRef) -> Option<&Path> {
        self.person(&image.person)?
            .images
            .iter()
            .find(|e| e.number == Some(image.number))
            .map(|e| e.path.as_path())
    }

    /// Where an image reference would be if it existed: `<image_root>/<Name>/<Name>_NNNN.jpg`.
    pub fn expected_path(&self, image: &ImageRef) -> PathBuf {
        self.image_root
            .join(&image.person)
            .join(format!("{}_{:04}.jpg", image.person, image.number))
    }

    /// The DevTrain / DevTest identity split of LFW View 1 (peopleDevTrain, peopleDevTest).
    /// The two sets are checked to be disjoint.
    pub fn dev_split(&self) -> Result<IdentitySplit> {
        let names = |list: &str| -> Result<BTreeSet<String>> {
            let entry = self.people_list(list).ok_or_else(|| {
                DatasetError::Split(format!(
                    "the dataset at {} has no {list} list",
                    self.root.display()
                ))
            })?;
            Ok(entry.list.names().map(str::to_owned).collect())
        };
        let split = IdentitySplit {
            train: names("peopleDevTrain")?,
            test: names("peopleDevTest")?,
        };
        let shared: Vec<_> = split.train.intersection(&split.test).take(3).collect();
        if !shared.is_empty() {
            return Err(DatasetError::Split(format!(
                "peopleDevTrain and peopleDevTest share identities, e.g. {shared:?}"
            )));
        }
        Ok(split)
    }

    /// The people training on `split` may use, and the split they came from: a dataset
    /// without LFW's DevTrain list trains on everyone (the returned note says so); any
    /// other missing list is an error.
    pub fn training_people(
        &self,
        split: TrainSplit,
    ) -> Result<(BTreeSet<String>, TrainSplit, Option<String>)> {
        match self.train_split(split) {
            Ok(s) => Ok((s.train, split, None)),
            Err(e) if split == TrainSplit::DevTrain => {
                let note = format!("{e}; using all {} people", self.people.len());
                Ok((
                    self.train_split(TrainSplit::All)?.train,
                    TrainSplit::All,
                    Some(note),
                ))
            }
            Err(e) => Err(e),
        }
    }

    /// The identities `split` trains on and the ones it keeps out (those of the pairs it is
    /// to be tested on), checked to be disjoint.
    pub fn train_split(&self, split: TrainSplit) -> Result<IdentitySplit> {
        let split = match split {
            TrainSplit::DevTrain => return self.dev_split(),
            TrainSplit::All => IdentitySplit {
                train: self.people.iter().map(|p| p.name.clone()).collect(),
                test: BTreeSet::new(),
            },
            TrainSplit::View2Fold(k) => {
                let folds = self.view2_people_folds().ok_or_else(|| {
                    DatasetError::Split(format!(
                        "the dataset at {} has no people.txt (View 2 folds)",
                        self.root.display()
                    ))
                })?;
                if !(1..=folds.len()).contains(&k) {
                    return Err(DatasetError::Split(format!(
                        "fold {k} does not exist: people.txt has folds 1..{}",
                        folds.len()
                    )));
                }
                let names = |keep: &dyn Fn(usize) -> bool| -> BTreeSet<String> {
                    folds
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| keep(*i))
                        .flat_map(|(_, f)| f.iter().map(|(n, _)| n.clone()))
                        .collect()
                };
                IdentitySplit {
                    train: names(&|i| i != k - 1),
                    test: names(&|i| i == k - 1),
                }
            }
        };
        if let Some(shared) = split.train.intersection(&split.test).next() {
            return Err(DatasetError::Split(format!(
                "{shared} is both a training and a test identity"
            )));
        }
        Ok(split)
    }

    /// The people of each fold of View 2 (people.txt), for per-fold identity splits.
    pub fn view2_people_folds(&self) -> Option<&[Vec<(String, u32)>]> {
        self.people_list("people").map(|e| e.list.folds.as_slice())
    }

    fn validate_pairs(&self, list: &PairList, mut report: ListReport) -> ListReport {
        let mut missing = BTreeSet::new();
        for pair in &list.pairs {
            for image in [&pair.a, &pair.b] {
                if self.resolve(image).is_none() {
                    missing.insert(image.clone());
                }
            }
        }
        report.missing_files = missing.len();
        report.missing_examples = missing
            .iter()
            .take(MAX_EXAMPLES)
            .map(|image| self.expected_path(image))
            .collect();
        report
    }

    fn validate_people(&self, list: &PeopleList, mut report: ListReport) -> ListReport {
        let mut absent = 0;
        let mut short = 0;
        for (name, count) in list.folds.iter().flatten() {
            match self.person(name) {
                None => {
                    absent += 1;
                    if report.missing_examples.len() < MAX_EXAMPLES {
                        report.missing_examples.push(self.image_root.join(name));
                    }
                }
                Some(p) if p.images.len() < *count as usize => short += 1,
                Some(_) => {}
            }
        }
        report.missing_files = absent;
        if short > 0 {
            report.warnings.push(format!(
                "{short} people have fewer images on disk than the list says"
            ));
        }
        report
    }
}

impl ListReport {
    pub(crate) fn malformed(&mut self, line: usize, text: &str, reason: impl Into<String>) {
        self.malformed_count += 1;
        if self.malformed.len() < MAX_EXAMPLES {
            self.malformed.push(Malformed {
                line,
                text: text.to_owned(),
                reason: reason.into(),
            });
        }
    }

    /// True when the list can be used as it is: nothing missing, nothing malformed.
    pub fn is_clean(&self) -> bool {
        self.missing_files == 0 && self.malformed_count == 0
    }
}

/// Reads a list file as text, turning any failure into [`DatasetError::UnreadableList`].
pub(crate) fn read_list(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| DatasetError::UnreadableList {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let text = String::from_utf8(bytes).map_err(|_| DatasetError::UnreadableList {
        path: path.to_path_buf(),
        reason: "not UTF-8 text".into(),
    })?;
    // Editors on Windows start UTF-8 files with a byte-order mark; it is not part of the
    // header (pairs.txt's `10 300` would otherwise be unreadable and its folds lost).
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => text,
    })
}

/// Parses a 1-based image number as written in the LFW lists.
pub(crate) fn parse_image_number(field: &str) -> std::result::Result<u32, String> {
    match field.trim().parse::<u32>() {
        Ok(0) => Err("image numbers are 1-based; got 0".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{:?} is not an image number", field.trim())),
    }
}

/// Parses the number at the end of an LFW file stem: `George_W_Bush_0003` -> 3.
pub(crate) fn number_from_stem(stem: &str, person: &str) -> Option<u32> {
    let digits = stem.strip_prefix(person)?.strip_prefix('_')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests;
