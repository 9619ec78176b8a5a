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
