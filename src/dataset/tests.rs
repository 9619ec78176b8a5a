use std::fs;
use std::path::Path;

use super::pairs::{parse_csv, parse_txt};
use super::people::parse_people_txt;
use super::*;

/// Creates `<dir>/<name>/<name>_0001.jpg` .. `_000n.jpg` (scanning never decodes them).
fn person(dir: &Path, name: &str, n: u32) {
    fs::create_dir_all(dir.join(name)).unwrap();
    for i in 1..=n {
        fs::write(dir.join(name).join(format!("{name}_{i:04}.jpg")), b"").unwrap();
    }
}

fn people(dir: &Path) {
    person(dir, "Ann_Lee", 3);
    person(dir, "Bob_Ray", 2);
    person(dir, "Cy_Young", 1);
}

const PAIRS_TXT: &str = "2\t2\nAnn_Lee\t1\t2\nAnn_Lee\t2\t3\nAnn_Lee\t1\tBob_Ray\t1\nBob_Ray\t2\tCy_Young\t1\n\
Bob_Ray\t1\t2\nAnn_Lee\t1\t3\nCy_Young\t1\tAnn_Lee\t3\nBob_Ray\t1\tCy_Young\t1\n";

#[test]
fn official_layout_with_folds() {
    let dir = tempfile::tempdir().unwrap();
    people(&dir.path().join("lfw-deepfunneled"));
    fs::write(dir.path().join("pairs.txt"), PAIRS_TXT).unwrap();
    fs::write(
        dir.path().join("peopleDevTrain.txt"),
        "2\nAnn_Lee\t3\nBob_Ray\t2\n",
    )
    .unwrap();
    fs::write(dir.path().join("peopleDevTest.txt"), "1\nCy_Young\t1\n").unwrap();
    let ds = Dataset::open(dir.path()).unwrap();
    assert_eq!(ds.layout, Layout::Lfw);
    assert_eq!(ds.image_root, dir.path().join("lfw-deepfunneled"));
    assert_eq!((ds.people.len(), ds.image_count()), (3, 6));
    assert_eq!(ds.people_with_at_least(2), 2);
    let pairs = ds.pair_list("pairs").unwrap();
    assert_eq!(pairs.list.folds, 2);
    assert_eq!((pairs.list.matched(), pairs.list.mismatched()), (4, 4));
    assert_eq!(pairs.list.pairs[3].fold, 0);
    assert_eq!(pairs.list.pairs[4].fold, 1);
    assert!(pairs.report.is_clean(), "{:?}", pairs.report);
    let split = ds.dev_split().unwrap();
    assert!(split.train.contains("Ann_Lee") && split.test.contains("Cy_Young"));
    let image = &pairs.list.pairs[0].a;
    assert_eq!(
        ds.resolve(image).unwrap(),
        dir.path().join("lfw-deepfunneled/Ann_Lee/Ann_Lee_0001.jpg")
    );
}

#[test]
fn missing_images_are_counted_with_examples() {
    let dir = tempfile::tempdir().unwrap();
    people(&dir.path().join("lfw"));
    fs::write(
        dir.path().join("pairsDevTest.txt"),
        "2\nAnn_Lee\t1\t9\nBob_Ray\t1\t2\nAnn_Lee\t9\tNo_One\t1\nAnn_Lee\t1\tBob_Ray\t1\n",
    )
    .unwrap();
    let ds = Dataset::open(dir.path()).unwrap();
    let list = ds.pair_list("pairsDevTest").unwrap();
    // Ann_Lee 9 is named twice but counted once; No_One 1 has no folder at all.
    assert_eq!(list.report.missing_files, 2);
    assert_eq!(
        list.report.missing_examples[0],
        dir.path().join("lfw/Ann_Lee/Ann_Lee_0009.jpg")
    );
    assert!(!list.report.is_clean());
}

#[test]
fn kaggle_layout_with_nested_folder_and_csvs() {
    let dir = tempfile::tempdir().unwrap();
    people(&dir.path().join("lfw-deepfunneled/lfw-deepfunneled"));
    fs::write(
        dir.path().join("matchpairsDevTrain.csv"),
        "name,imagenum1,imagenum2\r\nAnn_Lee,1,2\r\nBob_Ray,1,2",
    )
    .unwrap();
    fs::write(
        dir.path().join("mismatchpairsDevTrain.csv"),
        "name,imagenum1,name,imagenum2\r\nAnn_Lee,1,Cy_Young,1\r\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("pairs.csv"),
        "name,imagenum1,imagenum2,\r\nAnn_Lee,1,2,\r\nAnn_Lee,1,Bob_Ray,1\r\nBob_Ray,1,2,\r\nBob_Ray,2,Cy_Young,1\r\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("peopleDevTrain.csv"),
        "name,images\r\nAnn_Lee,3\r\nBob_Ray,2",
    )
    .unwrap();
    fs::write(
        dir.path().join("peopleDevTest.csv"),
        "name,images\r\nCy_Young,1",
    )
    .unwrap();
    let ds = Dataset::open(dir.path()).unwrap();
    assert_eq!(ds.layout, Layout::Kaggle);
    assert_eq!(
        ds.image_root,
        dir.path().join("lfw-deepfunneled/lfw-deepfunneled")
    );
    let train = ds.pair_list("pairsDevTrain").unwrap();
    assert_eq!((train.list.matched(), train.list.mismatched()), (2, 1));
    assert_eq!(train.list.folds, 1);
    assert_eq!(train.list.sources.len(), 2);
    let all = ds.pair_list("pairs").unwrap();
    assert_eq!(all.list.folds, 2);
    assert!(all.report.is_clean(), "{:?}", all.report);
    assert_eq!(ds.dev_split().unwrap().train.len(), 2);
}

#[test]
fn plain_folder_layout() {
    let dir = tempfile::tempdir().unwrap();
    people(dir.path());
    fs::create_dir(dir.path().join("empty_person")).unwrap();
    fs::write(dir.path().join("stray.png"), b"").unwrap();
    fs::write(dir.path().join("Ann_Lee/notes.txt"), b"not an image").unwrap();
    let ds = Dataset::open(dir.path()).unwrap();
    assert_eq!(ds.layout, Layout::Folder);
    assert_eq!(ds.image_root, dir.path());
    assert_eq!(ds.image_count(), 6);
    assert!(ds.pair_lists.is_empty());
    assert_eq!(ds.warnings.len(), 2, "{:?}", ds.warnings);
    assert!(ds.dev_split().is_err());
}

#[test]
fn open_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        Dataset::open(dir.path().join("nope")),
        Err(DatasetError::NotFound(_))
    ));
    assert!(matches!(
        Dataset::open(dir.path()),
        Err(DatasetError::NoImages(_))
    ));
    // Photos straight in the folder: the error says which layout is needed.
    let flat = tempfile::tempdir().unwrap();
    fs::write(flat.path().join("a.jpg"), b"x").unwrap();
    fs::write(flat.path().join("b.png"), b"x").unwrap();
    match Dataset::open(flat.path()) {
        Err(e @ DatasetError::FlatFolder { images: 2, .. }) => {
            assert!(e.to_string().contains("<person>/<photo>.jpg"), "{e}")
        }
        other => panic!("{:?}", other.map(|d| d.root)),
    }
    let file = dir.path().join("file");
    fs::write(&file, b"x").unwrap();
    assert!(matches!(
        Dataset::open(&file),
        Err(DatasetError::NotADirectory(_))
    ));
}

#[test]
fn an_unreadable_list_is_reported_and_the_rest_opens() {
    let dir = tempfile::tempdir().unwrap();
    people(&dir.path().join("lfw"));
    fs::write(dir.path().join("pairs.txt"), [0xff, 0xfe, 0x00, 0x80]).unwrap();
    let ds = Dataset::open(dir.path()).unwrap();
    assert!(ds.pair_list("pairs.txt").is_none());
    assert!(!ds.people.is_empty());
    let warning = ds.warnings.iter().find(|w| w.contains("pairs.txt"));
    assert!(
        warning.is_some_and(|w| w.contains("not UTF-8") && w.contains("not used")),
        "{:?}",
        ds.warnings
    );
}

#[test]
fn malformed_lines_are_reported_and_skipped() {
    let text = "1 2\nA\t1\t2\nA\tx\t2\nA\t1\t2\t3\t4\nB\t0\t2\nA\t1\tB\t1\n";
    let (list, report) = parse_txt("t", text);
    assert_eq!(list.pairs.len(), 2);
    assert_eq!(report.malformed_count, 3);
    assert_eq!(report.malformed[0].line, 3);
    assert!(report.malformed[0].reason.contains("not an image number"));
    assert!(report.malformed[1].reason.contains("found 5"));
    assert!(report.malformed[2].reason.contains("1-based"));
    // Five data lines where the header announced 1 x (2 + 2).
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
}

#[test]
fn bad_header_is_malformed_not_fatal() {
    let (list, report) = parse_txt("t", "ten\nA\t1\t2\n");
    assert_eq!(list.pairs.len(), 1);
    assert_eq!(report.malformed_count, 1);
    assert_eq!(report.malformed[0].line, 1);
    let (list, report) = parse_txt("t", "");
    assert!(list.pairs.is_empty() && report.is_clean());
}

#[test]
fn a_header_too_large_to_be_true_is_malformed() {
    // u64::MAX pairs, or folds x pairs past any real list, overflowed the fold arithmetic.
    for header in [
        "18446744073709551615",
        "2 18446744073709551615",
        "100000 100000",
    ] {
        let (list, report) = parse_txt("t", &format!("{header}\nA\t1\t2\nA\t1\tB\t1\n"));
        assert_eq!((list.pairs.len(), list.folds), (2, 1), "{header}");
        assert_eq!(report.malformed_count, 1, "{header}");
        assert!(report.malformed[0].reason.contains("at most"), "{header}");
    }
}

#[test]
fn a_byte_order_mark_does_not_hide_the_header() {
    let dir = tempfile::tempdir().unwrap();
    people(&dir.path().join("lfw"));
    // Two folds of one matched + one mismatched pair, saved by a Windows editor; and a
    // Kaggle CSV half with a BOM before its `name,` header.
    let txt = "\u{feff}2\t1\r\nAbe\t1\t2\r\nAbe\t1\tBea\t1\r\nAbe\t1\t2\r\nAbe\t2\tBea\t1\r\n";
    fs::write(dir.path().join("pairs.txt"), txt).unwrap();
    let (list, report) = PairList::load(&dir.path().join("pairs.txt")).unwrap();
    assert_eq!((list.pairs.len(), list.folds), (4, 2));
    assert!(report.is_clean(), "{report:?}");
    let csv = dir.path().join("matchpairsDevTest.csv");
    fs::write(&csv, "\u{feff}name,imagenum1,imagenum2\nAbe,1,2\n").unwrap();
    let (list, report) = PairList::load(&csv).unwrap();
    assert_eq!(list.pairs.len(), 1);
    assert!(report.is_clean(), "{report:?}");
}

#[test]
fn csv_folds_follow_matched_runs() {
    let (list, report) = parse_csv(
        "pairs",
        &["name,imagenum1,imagenum2,\nA,1,2,\nA,1,B,1\nB,1,2,\nC,1,2,\nB,1,C,1\n,1,2\n"],
    );
    assert_eq!(list.folds, 2);
    assert_eq!(
        list.pairs.iter().map(|p| p.fold).collect::<Vec<_>>(),
        [0, 0, 1, 1, 1]
    );
    assert_eq!(report.malformed_count, 1);
    assert!(report.malformed[0].reason.contains("empty person"));
}

#[test]
fn people_txt_with_and_without_folds() {
    let (list, report) = parse_people_txt("people", "2\n2\nA\t1\nB\t2\n1\nC\t4\n");
    assert_eq!(list.folds.len(), 2);
    assert_eq!(list.folds[1], vec![("C".to_owned(), 4)]);
    assert!(report.is_clean() && report.warnings.is_empty());
    let (list, report) = parse_people_txt("dev", "3\nA\t1\nB\nC\t2\n");
    assert_eq!(list.len(), 2);
    assert_eq!(report.malformed_count, 1);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let (_, report) = parse_people_txt("dev", "5\nA\t1\n");
    assert_eq!(report.warnings.len(), 1);
}

#[test]
fn overlapping_dev_split_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    people(&dir.path().join("lfw"));
    fs::write(
        dir.path().join("pairsDevTrain.txt"),
        "1\nAnn_Lee\t1\t2\nAnn_Lee\t1\tBob_Ray\t1\n",
    )
    .unwrap();
    fs::write(dir.path().join("peopleDevTrain.txt"), "1\nAnn_Lee\t3\n").unwrap();
    fs::write(
        dir.path().join("peopleDevTest.txt"),
        "2\nAnn_Lee\t3\nNo_One\t2\n",
    )
    .unwrap();
    let ds = Dataset::open(dir.path()).unwrap();
    assert!(ds.dev_split().unwrap_err().to_string().contains("Ann_Lee"));
    assert_eq!(
        ds.people_list("peopleDevTest")
            .unwrap()
            .report
            .missing_files,
        1
    );
}

#[test]
fn number_parsing_from_file_names() {
    assert_eq!(
        number_from_stem("George_W_Bush_0003", "George_W_Bush"),
        Some(3)
    );
    assert_eq!(number_from_stem("George_W_Bush_03b", "George_W_Bush"), None);
    assert_eq!(number_from_stem("IMG_1234", "George_W_Bush"), None);
}
