//! People lists: `people.txt` (View 2, 10 folds), `peopleDevTrain/Test.txt` (View 1) and
//! their Kaggle CSV copies.

use std::path::{Path, PathBuf};

use super::{ListReport, Result, parse_image_number, read_list};

/// A parsed people list: each fold's `(name, image count)` entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeopleList {
    pub name: String,
    pub sources: Vec<PathBuf>,
    pub folds: Vec<Vec<(String, u32)>>,
}

impl PeopleList {
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.folds.iter().flatten().map(|(n, _)| n.as_str())
    }

    pub fn len(&self) -> usize {
        self.folds.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone)]
pub(crate) struct PeopleSource {
    name: String,
    path: PathBuf,
}

impl PeopleSource {
    fn existing(root: &Path, names: &[&str], ext: &str) -> Vec<PeopleSource> {
        names
            .iter()
            .map(|n| PeopleSource {
                name: (*n).to_owned(),
                path: root.join(format!("{n}.{ext}")),
            })
            .filter(|s| s.path.is_file())
            .collect()
    }

    pub fn official(root: &Path) -> Vec<PeopleSource> {
        Self::existing(root, &["people", "peopleDevTrain", "peopleDevTest"], "txt")
    }

    pub fn kaggle(root: &Path) -> Vec<PeopleSource> {
        Self::existing(root, &["peopleDevTrain", "peopleDevTest"], "csv")
    }

    pub fn parse(&self) -> Result<(PeopleList, ListReport)> {
        let text = read_list(&self.path)?;
        let is_csv = self.path.extension().is_some_and(|e| e == "csv");
        let (mut list, report) = if is_csv {
            parse_people_csv(&self.name, &text)
        } else {
            parse_people_txt(&self.name, &text)
        };
        list.sources = vec![self.path.clone()];
        Ok((list, report))
    }
}

fn parse_entry(fields: &[&str]) -> std::result::Result<(String, u32), String> {
    match fields {
        [name, count] if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), parse_image_number(count)?))
        }
        _ => Err(format!(
            "expected 2 fields (name count), found {}",
            fields.len()
        )),
    }
}

fn take_entries(entries: &[(usize, &str)], report: &mut ListReport) -> Vec<(String, u32)> {
    let mut fold = Vec::with_capacity(entries.len());
    for (line, text) in entries {
        let fields: Vec<&str> = text.split_whitespace().collect();
        match parse_entry(&fields) {
            Ok(entry) => fold.push(entry),
            Err(reason) => report.malformed(*line, text, reason),
        }
    }
    fold
}

/// `N` then N entries (View 1), or `F` then F times (`N` then N entries) (View 2).
pub fn parse_people_txt(name: &str, text: &str) -> (PeopleList, ListReport) {
    let mut report = ListReport::default();
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let number = |l: &str| l.trim().parse::<usize>().ok();
    let mut folds = Vec::new();
    let header = lines.first().and_then(|(_, l)| number(l));
    let multi_fold = header.is_some() && lines.get(1).and_then(|(_, l)| number(l)).is_some();
    // Without a header every line is an entry.
    let mut rest = if header.is_some() {
        &lines[1..]
    } else {
        &lines[..]
    };
    if multi_fold {
        while let Some(((line, count_text), tail)) = rest.split_first() {
            let Some(count) = number(count_text) else {
                report.malformed(
                    *line,
                    count_text,
                    "expected the number of people in this fold",
                );
                rest = tail;
                continue;
            };
            let count = count.min(tail.len());
            folds.push(take_entries(&tail[..count], &mut report));
            rest = &tail[count..];
        }
    } else {
        folds.push(take_entries(rest, &mut report));
    }
    let entries: usize = folds.iter().map(Vec::len).sum::<usize>() + report.malformed_count;
    match header {
        Some(h) if multi_fold && h != folds.len() => report.warnings.push(format!(
            "the header announces {h} folds but the list has {}",
            folds.len()
        )),
        Some(h) if !multi_fold && h != entries => report.warnings.push(format!(
            "the header announces {h} people but the list has {entries} lines"
        )),
        _ => {}
    }
    let list = PeopleList {
        name: name.to_owned(),
        sources: Vec::new(),
        folds,
    };
    (list, report)
}

/// Kaggle CSV: `name,images` header then `name,count` rows; one fold.
pub fn parse_people_csv(name: &str, text: &str) -> (PeopleList, ListReport) {
    let mut report = ListReport::default();
    let mut fold = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || (i == 0 && line.starts_with("name")) {
            continue;
        }
        let fields: Vec<&str> = line.split(',').collect();
        match parse_entry(&fields) {
            Ok(entry) => fold.push(entry),
            Err(reason) => report.malformed(i + 1, line, reason),
        }
    }
    let list = PeopleList {
        name: name.to_owned(),
        sources: Vec::new(),
        folds: vec![fold],
    };
    (list, report)
}
