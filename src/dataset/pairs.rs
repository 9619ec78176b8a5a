//! Pair lists: the official `pairs*.txt` files and the Kaggle CSV copies of them.

use std::path::{Path, PathBuf};

use super::{ListReport, Result, parse_image_number, read_list};

/// One image named by a list: a person and a 1-based LFW image number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageRef {
    pub person: String,
    pub number: u32,
}

/// Two images that a verification protocol asks to compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub a: ImageRef,
    pub b: ImageRef,
    /// 0-based fold (View 2 has 10; View 1 lists have one).
    pub fold: usize,
}

impl Pair {
    /// Same person on both sides.
    pub fn is_match(&self) -> bool {
        self.a.person == self.b.person
    }
}

/// A parsed pair list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairList {
    /// Protocol name: `pairs`, `pairsDevTrain`, `pairsDevTest`, or a file stem.
    pub name: String,
    /// The file(s) it was read from (the Kaggle copy splits a list over two CSVs).
    pub sources: Vec<PathBuf>,
    pub pairs: Vec<Pair>,
    pub folds: usize,
}

impl PairList {
    pub fn matched(&self) -> usize {
        self.pairs.iter().filter(|p| p.is_match()).count()
    }

    pub fn mismatched(&self) -> usize {
        self.pairs.len() - self.matched()
    }

    /// Reads a pair list file in either format, chosen by extension (`.csv` or otherwise the
    /// official tab-separated format).
    pub fn load(path: &Path) -> Result<(PairList, ListReport)> {
        let name = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let text = read_list(path)?;
        let is_csv = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        let (mut list, report) = if is_csv {
            parse_csv(&name, &[&text])
        } else {
            parse_txt(&name, &text)
        };
        list.sources = vec![path.to_path_buf()];
        Ok((list, report))
    }
}

/// Where a pair list comes from; parsed by [`PairSource::parse`].
#[derive(Debug, Clone)]
pub(crate) enum PairSource {
    /// `pairs.txt`, `pairsDevTrain.txt`, `pairsDevTest.txt`.
    Txt { name: String, path: PathBuf },
    /// Kaggle CSVs: `pairs.csv`, or the matched + mismatched halves of a View 1 list.
    Csv { name: String, paths: Vec<PathBuf> },
}

const OFFICIAL: &[&str] = &["pairs", "pairsDevTrain", "pairsDevTest"];

impl PairSource {
    pub fn official(root: &Path) -> Vec<PairSource> {
        OFFICIAL
            .iter()
            .map(|name| (name, root.join(format!("{name}.txt"))))
            .filter(|(_, path)| path.is_file())
            .map(|(name, path)| PairSource::Txt {
                name: (*name).to_owned(),
                path,
            })
            .collect()
    }

    pub fn kaggle(root: &Path) -> Vec<PairSource> {
        let mut sources = Vec::new();
        let all = root.join("pairs.csv");
        if all.is_file() {
            sources.push(PairSource::Csv {
                name: "pairs".into(),
                paths: vec![all],
            });
        }
        for split in ["DevTrain", "DevTest"] {
            let paths: Vec<PathBuf> = ["match", "mismatch"]
                .iter()
                .map(|kind| root.join(format!("{kind}pairs{split}.csv")))
                .filter(|p| p.is_file())
                .collect();
            if !paths.is_empty() {
                sources.push(PairSource::Csv {
                    name: format!("pairs{split}"),
                    paths,
                });
            }
        }
        sources
    }

    pub fn parse(&self) -> Result<(PairList, ListReport)> {
        match self {
            PairSource::Txt { name, path } => {
                let (mut list, report) = parse_txt(name, &read_list(path)?);
                list.sources = vec![path.clone()];
                Ok((list, report))
            }
            PairSource::Csv { name, paths } => {
                let texts = paths
                    .iter()
                    .map(|p| read_list(p))
                    .collect::<Result<Vec<_>>>()?;
                let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
                let (mut list, mut report) = parse_csv(name, &texts);
                if name != "pairs" && paths.len() == 1 {
                    report.warnings.push(format!(
                        "only {} was found; the other half of {name} is missing",
                        paths[0].display()
                    ));
                }
                list.sources = paths.clone();
                Ok((list, report))
            }
        }
    }
}

/// Parses a list's data fields: 3 fields are a matched pair, 4 a mismatched one.
fn parse_pair(fields: &[&str], fold: usize) -> std::result::Result<Pair, String> {
    let image = |person: &str, number: &str| -> std::result::Result<ImageRef, String> {
        let person = person.trim();
        if person.is_empty() {
            return Err("empty person name".into());
        }
        Ok(ImageRef {
            person: person.to_owned(),
            number: parse_image_number(number)?,
        })
    };
    match fields {
        [name, n1, n2] => Ok(Pair {
            a: image(name, n1)?,
            b: image(name, n2)?,
            fold,
        }),
        [name1, n1, name2, n2] => Ok(Pair {
            a: image(name1, n1)?,
            b: image(name2, n2)?,
            fold,
        }),
        _ => Err(format!(
            "expected 3 fields (name n1 n2) or 4 (name1 n1 name2 n2), found {}",
            fields.len()
        )),
    }
}

/// The most matched pairs a header may announce (LFW's View 2 has 3,000): larger numbers are
/// a damaged header, and would overflow the fold arithmetic.
const MAX_HEADER_PAIRS: usize = 100_000_000;

/// The official format: a header `N` (one set of N matched + N mismatched pairs) or `F N`
/// (F folds of N matched followed by N mismatched), then one tab-separated pair per line.
/// A pair's fold follows from its line's position, so one bad line does not shift the rest.
pub fn parse_txt(name: &str, text: &str) -> (PairList, ListReport) {
    let mut report = ListReport::default();
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty());
    let header = lines.next();
    let (folds, per_fold) = match header.map(|(_, l)| {
        l.split_whitespace()
            .map(|f| f.parse::<usize>())
            .collect::<std::result::Result<Vec<_>, _>>()
    }) {
        Some(Ok(v)) if v.len() == 1 && v[0] > 0 && v[0] <= MAX_HEADER_PAIRS => (1, Some(v[0])),
        Some(Ok(v))
            if v.len() == 2
                && v[0] > 0
                && v[1] > 0
                && v[0]
                    .checked_mul(v[1])
                    .is_some_and(|n| n <= MAX_HEADER_PAIRS) =>
        {
            (v[0], Some(v[1]))
        }
        Some(_) => {
            let (line, text) = header.unwrap_or_default();
            report.malformed(
                line,
                text,
                format!(
                    "expected a header `N` or `FOLDS N` (positive numbers, FOLDS x N at most {MAX_HEADER_PAIRS})"
                ),
            );
            (1, None)
        }
        None => (1, None),
    };
    let mut pairs = Vec::new();
    let mut count = 0;
    for (line, text) in lines {
        let fold = per_fold.map_or(0, |n| (count / (2 * n)).min(folds - 1));
        count += 1;
        let fields: Vec<&str> = text.split_whitespace().collect();
        match parse_pair(&fields, fold) {
            Ok(pair) => pairs.push(pair),
            Err(reason) => report.malformed(line, text, reason),
        }
    }
    if let Some(n) = per_fold {
        let expected = folds * 2 * n;
        if count != expected {
            report.warnings.push(format!(
                "the header announces {expected} pairs ({folds} x ({n} matched + {n} mismatched)) but the list has {count} lines"
            ));
        }
    }
    let list = PairList {
        name: name.to_owned(),
        sources: Vec::new(),
        pairs,
        folds,
    };
    (list, report)
}

/// The Kaggle CSV format: a `name,...` header, then `name,n1,n2` or `name1,n1,name2,n2` rows
/// (pairs.csv adds a trailing comma to matched rows). Several files are concatenated. Folds
/// are not written down; as in pairs.txt, a fold is a run of matched pairs followed by a run of
/// mismatched ones, so a new fold starts wherever a matched row follows a mismatched one.
pub fn parse_csv(name: &str, texts: &[&str]) -> (PairList, ListReport) {
    let mut report = ListReport::default();
    let mut pairs: Vec<Pair> = Vec::new();
    let mut fold = 0;
    for text in texts {
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || (i == 0 && line.starts_with("name")) {
                continue;
            }
            let mut fields: Vec<&str> = line.split(',').collect();
            while fields.last().is_some_and(|f| f.trim().is_empty()) {
                fields.pop();
            }
            match parse_pair(&fields, fold) {
                Ok(mut pair) => {
                    // Only a single file carries fold order (pairs.csv); the View 1 halves do not.
                    let after_mismatch = pairs.last().is_some_and(|p| !p.is_match());
                    if texts.len() == 1 && pair.is_match() && after_mismatch {
                        fold += 1;
                        pair.fold = fold;
                    }
                    pairs.push(pair);
                }
                Err(reason) => report.malformed(i + 1, line, reason),
            }
        }
    }
    let list = PairList {
        name: name.to_owned(),
        sources: Vec::new(),
        pairs,
        folds: fold + 1,
    };
    (list, report)
}
