//! The LFW identity splits that training code relies on, checked on the real lists.

mod common;

use std::collections::BTreeSet;

use siamese_face::Dataset;

#[test]
fn dev_train_and_dev_test_people_are_disjoint_and_cover_their_pairs() {
    let Some(lfw) = common::lfw_dir() else { return };
    let ds = Dataset::open(&lfw).unwrap();
    let split = ds.dev_split().unwrap();
    assert_eq!((split.train.len(), split.test.len()), (4038, 1711));
    assert!(split.train.is_disjoint(&split.test));
    for (list, people) in [
        ("pairsDevTrain", &split.train),
        ("pairsDevTest", &split.test),
    ] {
        let pairs = &ds.pair_list(list).unwrap().list.pairs;
        for p in pairs {
            assert!(
                people.contains(&p.a.person) && people.contains(&p.b.person),
                "{list}: {p:?}"
            );
        }
    }
    // Every pair of every list resolves to a file on disk.
    for entry in &ds.pair_lists {
        for p in &entry.list.pairs {
            assert!(ds.resolve(&p.a).is_some_and(|f| f.is_file()), "{p:?}");
        }
    }
}

#[test]
fn view2_folds_have_disjoint_people() {
    let Some(lfw) = common::lfw_dir() else { return };
    let ds = Dataset::open(&lfw).unwrap();
    let folds = ds.view2_people_folds().expect("people.txt");
    assert_eq!(folds.len(), 10);
    let mut seen = BTreeSet::new();
    for fold in folds {
        for (name, _) in fold {
            assert!(seen.insert(name.clone()), "{name} in two folds");
        }
    }
    // The pairs of fold k only involve people of fold k.
    let pairs = &ds.pair_list("pairs").unwrap().list;
    for p in &pairs.pairs {
        let fold: BTreeSet<&str> = folds[p.fold].iter().map(|(n, _)| n.as_str()).collect();
        assert!(
            fold.contains(p.a.person.as_str()) && fold.contains(p.b.person.as_str()),
            "{p:?}"
        );
    }
}

/// The identities `train` mines for each test never include the people of the pairs that
/// test evaluates: DevTrain for pairsDevTest, and the other nine folds for View 2 fold k.
#[test]
fn training_splits_never_hold_the_people_they_are_tested_on() {
    use siamese_face::dataset::TrainSplit;
    let Some(lfw) = common::lfw_dir() else { return };
    let ds = Dataset::open(&lfw).unwrap();
    let people_of = |list: &str, fold: Option<usize>| -> BTreeSet<String> {
        ds.pair_list(list)
            .unwrap()
            .list
            .pairs
            .iter()
            .filter(|p| fold.is_none_or(|f| p.fold == f))
            .flat_map(|p| [p.a.person.clone(), p.b.person.clone()])
            .collect()
    };
    let dev = ds.train_split(TrainSplit::DevTrain).unwrap();
    let dev_test = people_of("pairsDevTest", None);
    assert!(dev.train.is_disjoint(&dev_test));
    assert!(dev_test.is_subset(&dev.test));
    let everyone: BTreeSet<String> = ds
        .view2_people_folds()
        .unwrap()
        .iter()
        .flatten()
        .map(|(n, _)| n.clone())
        .collect();
    for k in 1..=10 {
        let split = ds.train_split(TrainSplit::View2Fold(k)).unwrap();
        let tested = people_of("pairs", Some(k - 1));
        assert!(split.train.is_disjoint(&tested), "fold {k}");
        assert!(tested.is_subset(&split.test), "fold {k}");
        // Nothing is lost: the nine other folds are all trained on.
        assert_eq!(
            split.train.len() + split.test.len(),
            everyone.len(),
            "fold {k}"
        );
        assert!(split.train.len() > 4000, "fold {k}: {}", split.train.len());
    }
    assert!(ds.train_split(TrainSplit::View2Fold(0)).is_err());
    assert!(ds.train_split(TrainSplit::View2Fold(11)).is_err());
}

/// End to end: `train --view2-fold K` records the people it mined in model.json, none of
/// them is a person of fold K's pairs, and `eval` counts the overlap when there is one.
#[test]
fn a_view2_fold_model_never_saw_its_fold_and_eval_reports_seen_people() {
    let Some(lfw) = common::lfw_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("fold-03");
    let lfw_s = lfw.to_str().unwrap();
    let cache = dir.path().join("cache");
    let o = common::run(&[
        "train",
        "--mine",
        "--data",
        lfw_s,
        "--view2-fold",
        "3",
        "--max-people",
        "12",
        "--val-pairs",
        "4",
        "--epochs",
        "1",
        "--batch",
        "8",
        "--images-per-person",
        "2",
        "--max-steps",
        "2",
        "--checkpoint-every",
        "0",
        "--out",
        model.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let meta = common::model_json(&model);
    let seen: BTreeSet<String> = meta["data"]["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen.len(), 12);
    assert!(
        meta["data"]["source"]
            .as_str()
            .unwrap()
            .contains("without fold 3")
    );
    let ds = Dataset::open(&lfw).unwrap();
    let pairs = &ds.pair_list("pairs").unwrap().list.pairs;
    let fold3: BTreeSet<&str> = pairs
        .iter()
        .filter(|p| p.fold == 2)
        .flat_map(|p| [p.a.person.as_str(), p.b.person.as_str()])
        .collect();
    assert!(seen.iter().all(|p| !fold3.contains(p.as_str())));
    // A pair list of two trained people: eval counts them and warns.
    let names: Vec<&String> = seen.iter().take(2).collect();
    let list = dir.path().join("seen_pairs.txt");
    std::fs::write(
        &list,
        format!("1\t1\n{0}\t1\t2\n{0}\t1\t{1}\t1\n", names[0], names[1]),
    )
    .unwrap();
    let o = common::run(&[
        "eval",
        "--data",
        lfw_s,
        "--pairs",
        list.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
        "--json",
    ]);
    let report = common::json(&o);
    assert_eq!(report["seen_people"], 2, "{report}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a test on unseen people"));
}
