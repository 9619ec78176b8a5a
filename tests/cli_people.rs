//! The face index end to end with the shipped model on real LFW photos: enrol, identify
//! (also face_recognition-style `identify --known`), index, search, list, remove; a kill
//! during indexing; unreadable and faceless photos; an index of another model; two
//! processes on one index; a file that is not an index; training on the enrolled people.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{json, run};

fn lfw_photo(lfw: &Path, name: &str, n: u32) -> PathBuf {
    lfw.join("lfw-deepfunneled")
        .join(name)
        .join(format!("{name}_{n:04}.jpg"))
}

/// Copies photos into `dir/<person>/`, as a user's folder of known people.
fn known_folder(lfw: &Path, dir: &Path, people: &[(&str, &[u32])]) -> PathBuf {
    for (name, numbers) in people {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        for n in *numbers {
            let from = lfw_photo(lfw, name, *n);
            std::fs::copy(&from, dir.join(name).join(from.file_name().unwrap())).unwrap();
        }
    }
    dir.to_path_buf()
}

/// `count` photos of LFW's first people (sorted), copied flat into `dir`.
fn photo_folder(lfw: &Path, dir: &Path, count: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let mut people: Vec<PathBuf> = std::fs::read_dir(lfw.join("lfw-deepfunneled"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    people.sort();
    let mut out = Vec::new();
    for person in people {
        let mut photos: Vec<PathBuf> = std::fs::read_dir(&person)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        photos.sort();
        for p in photos {
            if out.len() == count {
                return out;
            }
            let to = dir.join(p.file_name().unwrap());
            std::fs::copy(&p, &to).unwrap();
            out.push(to);
        }
    }
    out
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn ok(o: &std::process::Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}, stderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

const KNOWN: &[(&str, &[u32])] = &[
    ("Colin_Powell", &[1, 2]),
    ("George_W_Bush", &[1]),
    ("Tony_Blair", &[1]),
    ("Serena_Williams", &[1]),
];

#[test]
fn enrol_identify_index_search_list_and_remove() {
    let Some(lfw) = common::lfw_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let known = known_folder(&lfw, &dir.path().join("known"), KNOWN);
    let index = dir.path().join("faces.sqlite");
    let people = |args: &[&str]| {
        let mut all = vec!["people", "--index", s(&index)];
        all.extend_from_slice(args);
        run(&all)
    };
    let enrolled = json(&people(&["enrol", s(&known), "--json"]));
    assert_eq!(enrolled["enrolled"].as_array().unwrap().len(), 5);
    assert_eq!(enrolled["failed"].as_array().unwrap().len(), 0);

    // Other photos of three of them, and a person never enrolled.
    let probes = [
        (lfw_photo(&lfw, "Colin_Powell", 3), Some("Colin_Powell")),
        (lfw_photo(&lfw, "George_W_Bush", 2), Some("George_W_Bush")),
        (lfw_photo(&lfw, "Tony_Blair", 2), Some("Tony_Blair")),
        (lfw_photo(&lfw, "Gloria_Macapagal_Arroyo", 1), None),
    ];
    let mut args = vec!["identify", "--json", "--top-k", "2"];
    args.extend(probes.iter().map(|(p, _)| s(p)));
    let out = ok(&people(&args));
    let photos: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(photos.len(), probes.len());
    for (photo, (_, want)) in photos.iter().zip(&probes) {
        let face = &photo["faces"][0];
        assert_eq!(face["name"].as_str(), *want, "{photo}");
        assert_eq!(face["candidates"].as_array().unwrap().len(), 2);
    }

    // Index a folder holding two more Colin Powell photos among others.
    let folder = dir.path().join("album");
    photo_folder(&lfw, &folder, 6);
    for n in [4, 5] {
        let from = lfw_photo(&lfw, "Colin_Powell", n);
        std::fs::copy(&from, folder.join(from.file_name().unwrap())).unwrap();
    }
    let summary = json(&people(&["index", s(&folder), "--json"]));
    assert_eq!(
        (summary["files"].as_u64(), summary["read"].as_u64()),
        (Some(8), Some(8))
    );
    let again = json(&people(&["index", s(&folder), "--json"]));
    assert_eq!(
        (again["read"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(8))
    );

    let hits = json(&people(&["search", "Colin_Powell", "--json"]));
    let found: Vec<&str> = hits
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["theirs"] == false)
        .map(|h| h["photo"].as_str().unwrap())
        .collect();
    assert!(
        found.iter().any(|p| p.ends_with("Colin_Powell_0004.jpg"))
            && found.iter().any(|p| p.ends_with("Colin_Powell_0005.jpg")),
        "{hits}"
    );
    assert!(found.iter().all(|p| p.contains("Colin_Powell")), "{hits}");

    let list = json(&people(&["list", "--json"]));
    assert_eq!(list["people"].as_array().unwrap().len(), 4);
    assert_eq!(list["stats"]["photos"].as_u64(), Some(13));
    ok(&people(&["remove", "Tony_Blair"]));
    let list = json(&people(&["list", "--json"]));
    assert_eq!(list["people"].as_array().unwrap().len(), 3);
    let err = people(&["remove", "Tony_Blair"]);
    assert!(!err.status.success());
    assert!(String::from_utf8_lossy(&err.stderr).contains("no person named"));
}

#[test]
fn identify_known_prints_face_recognition_style_csv() {
    let Some(lfw) = common::lfw_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let known = known_folder(&lfw, &dir.path().join("known"), &KNOWN[1..3]);
    let unknown = dir.path().join("unknown");
    std::fs::create_dir_all(&unknown).unwrap();
    std::fs::copy(
        lfw_photo(&lfw, "Tony_Blair", 3),
        unknown.join("someone.jpg"),
    )
    .unwrap();
    std::fs::write(unknown.join("notes.txt.jpg"), "not a photo").unwrap();
    let blank = image::RgbImage::from_pixel(120, 120, image::Rgb([128, 128, 128]));
    blank.save(unknown.join("wall.png")).unwrap();
    let o = run(&["identify", "--known", s(&known), s(&unknown)]);
    let out = ok(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    let blair = lines.iter().find(|l| l.contains("someone.jpg")).unwrap();
    let fields: Vec<&str> = blair.split(',').collect();
    assert_eq!(fields[1], "Tony_Blair", "{out}");
    assert!(fields[2].parse::<f32>().unwrap() > 0.9, "{out}");
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("wall.png,no_persons_found,"))
    );
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("notes.txt.jpg,no_persons_found,"))
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("not an image"));
}

/// Rows of the index that must never repeat after any kill: photos per path, faces per
/// photo and box.
fn duplicates(index: &Path) -> (i64, i64, String) {
    let db = rusqlite::Connection::open(index).unwrap();
    let dup_photos: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM (SELECT path FROM photos GROUP BY path HAVING COUNT(*) > 1)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let dup_faces: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM (SELECT 1 FROM faces GROUP BY photo_id, x1, y1, x2, y2 HAVING COUNT(*) > 1)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    (dup_photos, dup_faces, check)
}

/// Photos stored so far (0 while the file or its tables do not exist yet); read-only, so
/// polling never creates the file under the process being tested.
fn photos_in(index: &Path) -> i64 {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    rusqlite::Connection::open_with_flags(index, flags)
        .and_then(|db| db.query_row("SELECT COUNT(*) FROM photos", [], |r| r.get(0)))
        .unwrap_or(0)
}

/// `people --index INDEX index FOLDER --json` started in the background (output piped).
fn spawn_index(index: &Path, folder: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_siamese-face"))
        .args(["people", "--index", s(index), "index", s(folder), "--json"])
        .env_remove("SIAMESE_FACE_BACKEND")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_kill_during_indexing_loses_nothing_and_duplicates_nothing() {
    let Some(lfw) = common::lfw_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("album");
    let files = photo_folder(&lfw, &folder, 40);
    let index = dir.path().join("faces.sqlite");
    let mut child = spawn_index(&index, &folder);
    // Kill it once some batches are committed, mid-run.
    let start = Instant::now();
    while photos_in(&index) < 9 && start.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let stored = photos_in(&index);
    assert!(
        stored >= 9 && stored < files.len() as i64,
        "killed after {stored} photos"
    );
    assert_eq!(duplicates(&index), (0, 0, "ok".to_string()));

    let rerun = json(&run(&[
        "people",
        "--index",
        s(&index),
        "index",
        s(&folder),
        "--json",
    ]));
    assert_eq!(rerun["unchanged"].as_i64(), Some(stored), "{rerun}");
    assert_eq!(rerun["read"].as_i64(), Some(files.len() as i64 - stored));
    assert_eq!(photos_in(&index), files.len() as i64);
    assert_eq!(duplicates(&index), (0, 0, "ok".to_string()));
}

#[test]
fn unreadable_and_faceless_photos_are_recorded_and_skipped() {
    let Some(lfw) = common::lfw_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("album");
    photo_folder(&lfw, &folder, 2);
    std::fs::write(folder.join("text.jpg"), "hello").unwrap();
    let jpeg = std::fs::read(lfw_photo(&lfw, "Tony_Blair", 1)).unwrap();
    std::fs::write(folder.join("cut.jpg"), &jpeg[..200]).unwrap();
    image::RgbImage::from_pixel(200, 200, image::Rgb([40, 90, 200]))
        .save(folder.join("sky.png"))
        .unwrap();
    let index = dir.path().join("faces.sqlite");
    let out = json(&run(&[
        "people",
        "--index",
        s(&index),
        "index",
        s(&folder),
        "--json",
    ]));
    assert_eq!(out["files"].as_u64(), Some(5));
    assert_eq!(out["errors"].as_array().unwrap().len(), 2, "{out}");
    assert_eq!(out["without_faces"].as_u64(), Some(1));
    assert!(out["faces_added"].as_u64().unwrap() >= 2);
    let list = json(&run(&[
        "people",
        "--index",
        s(&index),
        "list",
        "--errors",
        "--json",
    ]));
    let problems: Vec<&str> = list["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(problems.len(), 3, "{list}");
    // The good photos were stored; an unchanged bad file is not read again.
    let again = json(&run(&[
        "people",
        "--index",
        s(&index),
        "index",
        s(&folder),
        "--json",
    ]));
    assert_eq!(again["unchanged"].as_u64(), Some(5));
    // Deleting a file drops it from the index.
    std::fs::remove_file(folder.join("sky.png")).unwrap();
    let after = json(&run(&[
        "people",
        "--index",
        s(&index),
        "index",
        s(&folder),
        "--json",
    ]));
    assert_eq!(after["removed"].as_u64(), Some(1));
}

#[test]
fn an_index_of_another_model_says_so_until_re_embedded() {
    let Some(lfw) = common::lfw_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let known = known_folder(&lfw, &dir.path().join("known"), &KNOWN[..1]);
    let index = dir.path().join("faces.sqlite");
    ok(&run(&["people", "--index", s(&index), "enrol", s(&known)]));
    // The same weights without mirror averaging: other embeddings, so another model id.
    let other = dir.path().join("other-model");
    std::fs::create_dir_all(&other).unwrap();
    let default = Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/default-model");
    std::fs::copy(default.join("model.bpk"), other.join("model.bpk")).unwrap();
    let mut meta = common::model_json(&default);
    meta["flip_average"] =
        serde_json::Value::Bool(!meta["flip_average"].as_bool().unwrap_or(false));
    std::fs::write(other.join("model.json"), meta.to_string()).unwrap();

    let probe = lfw_photo(&lfw, "Colin_Powell", 3);
    let with_other = |args: &[&str]| {
        let mut all = vec!["people", "--index", s(&index), "--model", s(&other)];
        all.extend_from_slice(args);
        run(&all)
    };
    let refused = with_other(&["identify", s(&probe)]);
    assert!(!refused.status.success());
    let msg = String::from_utf8_lossy(&refused.stderr);
    assert!(
        msg.contains("2 faces were embedded by another model") && msg.contains("reembed"),
        "{msg}"
    );
    let re = json(&with_other(&["reembed", "--json"]));
    assert_eq!(
        (re["photos"].as_u64(), re["faces"].as_u64()),
        (Some(2), Some(2))
    );
    let out = ok(&with_other(&["identify", "--json", s(&probe)]));
    let photo: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(photo["faces"][0]["name"], "Colin_Powell");
}

#[test]
fn two_processes_indexing_one_index_store_each_photo_once() {
    let Some(lfw) = common::lfw_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("album");
    let files = photo_folder(&lfw, &folder, 16);
    let index = dir.path().join("faces.sqlite");
    let spawn = || spawn_index(&index, &folder);
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let o = child.wait_with_output().unwrap();
        ok(&o);
    }
    assert_eq!(photos_in(&index), files.len() as i64);
    assert_eq!(duplicates(&index), (0, 0, "ok".to_string()));
}

#[test]
fn a_file_that_is_not_an_index_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(
        &notes,
        "my shopping list, which is long enough to look like a page",
    )
    .unwrap();
    let o = run(&["people", "--index", s(&notes), "list"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not a face index"));
    assert_eq!(
        std::fs::read_to_string(&notes).unwrap(),
        "my shopping list, which is long enough to look like a page"
    );
}

#[test]
fn training_on_enrolled_people_saves_a_model_the_index_can_switch_to() {
    let Some(lfw) = common::lfw_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let four: &[u32] = &[1, 2, 3, 4];
    let trio = [
        ("Colin_Powell", four),
        ("George_W_Bush", four),
        ("Tony_Blair", four),
    ];
    let known = known_folder(&lfw, &dir.path().join("known"), &trio);
    let index = dir.path().join("faces.sqlite");
    let people = |args: &[&str]| {
        let mut all = vec!["people", "--index", s(&index)];
        all.extend_from_slice(args);
        run(&all)
    };
    ok(&people(&["enrol", s(&known), "--pick", "centre"]));
    let out = dir.path().join("trained");
    let train = |extra: &[&str]| {
        let mut args = vec!["train", "--out", s(&out), "--steps", "12", "--json"];
        args.extend_from_slice(extra);
        people(&args)
    };
    let t = json(&train(&[]));
    // A fifth of 4 faces rounds to 1 held out per person; 3 are trained on.
    assert_eq!(t["trained_people"].as_u64(), Some(3), "{t}");
    assert_eq!(t["training_faces"].as_u64(), Some(9), "{t}");
    assert_eq!(t["test_faces"].as_u64(), Some(3), "{t}");
    assert!(t["steps"].as_u64().unwrap() >= 12, "{t}");
    for when in ["before", "after"] {
        let r = t[when]["rank1"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&r), "{t}");
    }
    // The new model records whom it was trained on, and its own threshold (the open
    // model's false-accept rate on the training faces).
    let meta = common::model_json(&out);
    let default =
        common::model_json(&Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/default-model"));
    assert_eq!(t["threshold_before"], default["threshold"]);
    assert_eq!(meta["threshold"], t["threshold"]);
    let threshold = t["threshold"].as_f64().unwrap();
    assert!((-1.0..=1.0).contains(&threshold), "{t}");
    assert_eq!(
        meta["data"]["identities"].as_array().map(Vec::len),
        Some(3),
        "{meta}"
    );
    assert!(meta["steps"].as_u64().unwrap() >= 12);

    // A second run never overwrites a model.
    let again = train(&[]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a model"));

    // The index switches to it by re-embedding, then identifies with it.
    let with_trained = |args: &[&str]| {
        let mut all = vec!["people", "--index", s(&index), "--model", s(&out)];
        all.extend_from_slice(args);
        run(&all)
    };
    let re = json(&with_trained(&["reembed", "--json"]));
    assert_eq!(re["faces"].as_u64(), Some(12), "{re}");
    let probe = lfw_photo(&lfw, "Colin_Powell", 5);
    let found = ok(&with_trained(&["identify", "--json", s(&probe)]));
    let photo: serde_json::Value = serde_json::from_str(found.trim()).unwrap();
    assert_eq!(photo["faces"][0]["name"], "Colin_Powell", "{photo}");

    // With one person left there is nobody to tell apart.
    ok(&people(&["remove", "George_W_Bush"]));
    ok(&people(&["remove", "Tony_Blair"]));
    let alone = with_trained(&["train", "--out", s(&dir.path().join("t2"))]);
    assert!(!alone.status.success());
    let msg = String::from_utf8_lossy(&alone.stderr);
    assert!(msg.contains("at least two people"), "{msg}");
}

/// `people cluster` groups the unknown faces of an indexed folder into people: on the
/// bundled sample (6 people, 5 photos each) every group holds one person, and most photos
/// are grouped.
#[test]
fn clustering_groups_the_unknown_faces_by_person() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("faces.sqlite");
    let sample = common::sample_dir();
    let out = run(&[
        "people",
        "--index",
        s(&index),
        "index",
        s(&sample),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for method in ["chinese-whispers", "components"] {
        let g = json(&run(&[
            "people",
            "--index",
            s(&index),
            "cluster",
            "--faces",
            "largest",
            "--method",
            method,
            "--json",
        ]));
        assert_eq!(g["faces"].as_u64(), Some(30), "{g}");
        let groups = g["groups"].as_array().unwrap();
        let mut grouped = 0;
        for group in groups {
            let faces = group.as_array().unwrap();
            let person = |f: &serde_json::Value| {
                let p = std::path::PathBuf::from(f["photo"].as_str().unwrap());
                p.parent().unwrap().file_name().unwrap().to_owned()
            };
            assert!(
                faces.iter().all(|f| person(f) == person(&faces[0])),
                "{method}: {group}"
            );
            grouped += faces.len();
        }
        assert!(groups.len() >= 4 && groups.len() <= 6, "{method}: {g}");
        assert!(grouped >= 20, "{method}: {grouped} of 30 grouped");
        assert_eq!(g["ungrouped"].as_u64(), Some(30 - grouped as u64));
    }
    // A threshold that is no cosine is refused.
    let bad = run(&[
        "people",
        "--index",
        s(&index),
        "cluster",
        "--threshold",
        "3",
    ]);
    assert!(!bad.status.success());
    // Naming the largest group makes its faces someone's: they leave the unknown faces.
    let g = json(&run(&["people", "--index", s(&index), "cluster", "--json"]));
    let first: Vec<String> = g["groups"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["face_id"].to_string())
        .collect();
    let mut args = vec!["people", "--index", s(&index), "name", "Someone"];
    args.extend(first.iter().map(String::as_str));
    let named = run(&args);
    assert!(
        named.status.success(),
        "{}",
        String::from_utf8_lossy(&named.stderr)
    );
    let after = json(&run(&["people", "--index", s(&index), "cluster", "--json"]));
    let unknown = g["faces"].as_u64().unwrap() - first.len() as u64;
    assert_eq!(after["faces"].as_u64(), Some(unknown), "{after}");
    // An id that is no face names nobody, and nothing is written.
    let mut args = vec!["people", "--index", s(&index), "name", "Other", "999999"];
    args.push(first[0].as_str());
    assert!(!run(&args).status.success());
    let list = json(&run(&["people", "--index", s(&index), "list", "--json"]));
    assert!(!list.to_string().contains("Other"), "{list}");
}
