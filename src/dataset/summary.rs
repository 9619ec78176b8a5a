//! The machine-readable summary printed by `siamese-face dataset info --json`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Dataset, Layout, ListReport};

/// `{"layout", "people", "images", "people_with_2plus", "pair_lists": {...}, ...}`.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetSummary {
    pub root: String,
    pub layout: Layout,
    pub image_root: String,
    pub people: usize,
    pub images: usize,
    pub people_with_2plus: usize,
    pub pair_lists: BTreeMap<String, ListSummary>,
    pub people_lists: BTreeMap<String, PeopleSummary>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ListSummary {
    pub matched: usize,
    pub mismatched: usize,
    pub folds: usize,
    pub missing_files: usize,
    pub missing_examples: Vec<String>,
    pub malformed_lines: usize,
    pub malformed_examples: Vec<String>,
    pub warnings: Vec<String>,
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PeopleSummary {
    pub people: usize,
    pub folds: usize,
    /// People the list names that have no folder in the dataset.
    pub missing_people: usize,
    pub malformed_lines: usize,
    pub warnings: Vec<String>,
}

fn display_paths<'a>(paths: impl IntoIterator<Item = &'a std::path::PathBuf>) -> Vec<String> {
    paths.into_iter().map(|p| p.display().to_string()).collect()
}

fn malformed_examples(report: &ListReport) -> Vec<String> {
    report
        .malformed
        .iter()
        .map(|m| format!("line {}: {:?}: {}", m.line, m.text, m.reason))
        .collect()
}

impl Dataset {
    pub fn summary(&self) -> DatasetSummary {
        let pair_lists = self
            .pair_lists
            .iter()
            .map(|e| {
                let summary = ListSummary {
                    matched: e.list.matched(),
                    mismatched: e.list.mismatched(),
                    folds: e.list.folds,
                    missing_files: e.report.missing_files,
                    missing_examples: display_paths(&e.report.missing_examples),
                    malformed_lines: e.report.malformed_count,
                    malformed_examples: malformed_examples(&e.report),
                    warnings: e.report.warnings.clone(),
                    sources: display_paths(&e.list.sources),
                };
                (e.list.name.clone(), summary)
            })
            .collect();
        let people_lists = self
            .people_lists
            .iter()
            .map(|e| {
                let summary = PeopleSummary {
                    people: e.list.len(),
                    folds: e.list.folds.len(),
                    missing_people: e.report.missing_files,
                    malformed_lines: e.report.malformed_count,
                    warnings: e.report.warnings.clone(),
                };
                (e.list.name.clone(), summary)
            })
            .collect();
        DatasetSummary {
            root: self.root.display().to_string(),
            layout: self.layout,
            image_root: self.image_root.display().to_string(),
            people: self.people.len(),
            images: self.image_count(),
            people_with_2plus: self.people_with_at_least(2),
            pair_lists,
            people_lists,
            warnings: self.warnings.clone(),
        }
    }
}
