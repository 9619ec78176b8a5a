//! Managing people from the command line: name, merge, split, reject, cover, undo and
//! export on the shipped model's faces of the bundled sample, faces indexed later joining
//! people and groups, and a kill in the middle of a merge.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{json, run};
use rusqlite::Connection;
use siamese_face::crop::CropConfig;
use siamese_face::detect::Face;
use siamese_face::embed::EMBEDDING_DIM;
use siamese_face::face_index::{AssignmentKind, FaceIndex, NewFace, PhotoContent, PhotoFile};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn people(index: &Path, args: &[&str]) -> Output {
    let mut all = vec!["people", "--index", s(index)];
    all.extend_from_slice(args);
    run(&all)
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Copies photos `range` (sorted by name) of each sample person into `dir/<person>/`.
fn sample_copy(dir: &Path, range: std::ops::Range<usize>) -> Vec<PathBuf> {
    let mut copied = Vec::new();
    for person in std::fs::read_dir(common::sample_dir()).unwrap() {
        let person = person.unwrap().path();
        if !person.is_dir() {
            continue;
        }
        let mut photos: Vec<PathBuf> = std::fs::read_dir(&person)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        photos.sort();
        let to = dir.join(person.file_name().unwrap());
        std::fs::create_dir_all(&to).unwrap();
        for p in photos.iter().skip(range.start).take(range.len()) {
            let t = to.join(p.file_name().unwrap());
            std::fs::copy(p, &t).unwrap();
            copied.push(t);
        }
    }
    copied
}

/// The person folder of a photo path (the truth the sample's layout gives).
fn folder(photo: &str) -> String {
    let p = PathBuf::from(photo);
    p.parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Every face as `people export --csv` writes it: (face id, photo, person, kind).
fn exported(index: &Path) -> Vec<(i64, String, String, String)> {
    let out = people(index, &["export", "--csv"]);
    assert!(out.status.success());
    let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        [
            "face_id",
            "photo",
            "x1",
            "y1",
            "x2",
            "y2",
            "score",
            "person",
            "kind",
            "similarity"
        ]
    );
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (
                r[0].parse().unwrap(),
                r[1].to_string(),
                r[7].to_string(),
                r[8].to_string(),
            )
        })
        .collect()
}

fn group_ids(grouping: &serde_json::Value, g: usize) -> Vec<String> {
    grouping["groups"][g]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["face_id"].to_string())
        .collect()
}

#[test]
fn people_are_named_merged_split_rejected_and_undone_and_new_faces_join_them() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("faces.sqlite");
    let photos = dir.path().join("photos");
    sample_copy(&photos, 0..4);
    ok(people(&index, &["index", s(&photos)]));
    let g = json(&people(&index, &["cluster", "--json"]));
    assert!(g["groups"].as_array().unwrap().len() >= 3, "{g}");
    let (first, second) = (group_ids(&g, 0), group_ids(&g, 1));
    let name = |who: &str, ids: &[String]| {
        let mut args = vec!["name", who];
        args.extend(ids.iter().map(String::as_str));
        ok(people(&index, &args))
    };
    name("P1", &first);
    name("P2", &second);
    // Who each named person is, by the sample's folders.
    let truth: std::collections::HashMap<String, String> = exported(&index)
        .iter()
        .filter(|r| !r.2.is_empty())
        .map(|r| (r.2.clone(), folder(&r.1)))
        .collect();
    assert_eq!(truth.len(), 2);

    // Merge, and undo it.
    let before = exported(&index);
    let said = ok(people(&index, &["merge", "P2", "P1"]));
    assert!(said.contains("merged P2 into P1"), "{said}");
    let merged = exported(&index);
    assert!(merged.iter().all(|r| r.2 != "P2"));
    assert_eq!(
        merged.iter().filter(|r| r.2 == "P1").count(),
        first.len() + second.len()
    );
    ok(people(&index, &["undo"]));
    assert_eq!(exported(&index), before);
    assert!(!people(&index, &["undo"]).status.success(), "one undo only");

    // Split one face off to a new person, then say another is not P1.
    ok(people(&index, &["split", &first[0], "--to", "Solo"]));
    ok(people(&index, &["reject", "P1", &first[1]]));
    let rows = exported(&index);
    let of = |id: &str| rows.iter().find(|r| r.0.to_string() == id).unwrap().clone();
    assert_eq!(of(&first[0]).2, "Solo");
    assert_eq!(of(&first[1]).2, "", "a rejected face becomes unknown");
    // Naming it P1 again leaves it out; `split --to` is the user's word and moves it.
    let said = name("P1", &first[1..2]);
    assert!(said.contains("left out 1"), "{said}");
    ok(people(&index, &["split", &first[1], "--to", "P1"]));
    ok(people(&index, &["cover", "P1", &first[1]]));
    let list = json(&people(&index, &["list", "--json"]));
    let p1 = list["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "P1")
        .unwrap()
        .clone();
    assert_eq!(p1["cover_face"].to_string(), first[1], "{p1}");
    assert!(!people(&index, &["cover", "P1", &first[0]]).status.success());

    // The rest of the photos: faces like a person's are suggested as them, and faces like
    // a stored group's join that group.
    let later = sample_copy(&photos, 4..usize::MAX);
    let summary = json(&people(&index, &["index", s(&photos), "--json"]));
    assert_eq!(
        summary["read"].as_u64(),
        Some(later.len() as u64),
        "{summary}"
    );
    assert!(summary["suggested"].as_u64().unwrap() >= 1, "{summary}");
    assert!(summary["joined_groups"].as_u64().unwrap() >= 1, "{summary}");
    for r in exported(&index).iter().filter(|r| r.3 == "suggested") {
        assert_eq!(truth.get(&r.2), Some(&folder(&r.1)), "{r:?}");
    }
    let stored = json(&people(&index, &["cluster", "--stored", "--json"]));
    let mut joined = 0;
    for group in stored["groups"].as_array().unwrap() {
        let faces = group.as_array().unwrap();
        let truth = folder(faces[0]["photo"].as_str().unwrap());
        for f in faces {
            let photo = f["photo"].as_str().unwrap();
            assert_eq!(folder(photo), truth, "{group}");
            joined += later.iter().any(|p| p.to_str() == Some(photo)) as usize;
        }
    }
    assert_eq!(joined as u64, summary["joined_groups"].as_u64().unwrap());

    // Export to a file, atomically, and bad input.
    let csv = dir.path().join("faces.csv");
    ok(people(&index, &["export", "--csv", "--out", s(&csv)]));
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), exported(&index).len() + 1);
    assert!(!people(&index, &["merge", "Nobody", "P1"]).status.success());
    assert!(!people(&index, &["split", "999999"]).status.success());
}

/// A fixture index: people A and B with `n` faces each (no model needed to manage them).
fn fixture(path: &Path, n: usize) {
    let mut index = FaceIndex::open(path).unwrap();
    let faces: Vec<NewFace> = (0..2 * n)
        .map(|i| {
            let mut embedding = vec![0.0; EMBEDDING_DIM];
            embedding[i % EMBEDDING_DIM] = 1.0;
            NewFace {
                face: Face {
                    bbox: [i as f32, 0.0, i as f32 + 10.0, 10.0],
                    score: 0.99,
                    landmarks: [[1.0, 2.0]; 5],
                },
                crop: CropConfig::DLIB,
                embedding,
            }
        })
        .collect();
    let file = PhotoFile {
        path: "/fixture/crowd.jpg".into(),
        size: 1,
        mtime_ns: 1,
        hash: "h".into(),
    };
    let content = PhotoContent::Faces {
        width: 9000,
        height: 10,
        faces,
    };
    let ids = index.write_photos(&[(file, content)], "m").unwrap()[0]
        .face_ids
        .clone();
    index
        .assign("A", &ids[..n], AssignmentKind::Enrolled)
        .unwrap();
    index
        .assign("B", &ids[n..], AssignmentKind::Enrolled)
        .unwrap();
    index.name_faces("B", &ids[n..n + 1]).unwrap();
}

/// People, assignments, rejections and the undo journal, each as text to compare.
fn snapshot(path: &Path) -> Vec<String> {
    let conn = Connection::open(path).unwrap();
    let mut tables = Vec::new();
    for sql in [
        "SELECT id, name, cover_face_id FROM people ORDER BY id",
        "SELECT face_id, person_id, kind FROM assignments ORDER BY face_id",
        "SELECT face_id, person_id FROM rejections ORDER BY 1, 2",
        "SELECT action FROM undo",
    ] {
        let mut stmt = conn.prepare(sql).unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                (0..n)
                    .map(|i| {
                        r.get::<_, rusqlite::types::Value>(i)
                            .map(|v| format!("{v:?}"))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .unwrap();
        let mut out = String::new();
        for row in rows {
            out.push_str(&row.unwrap().join(","));
            out.push('\n');
        }
        tables.push(out);
    }
    tables
}

/// The merge's last step (removing the merged person) is made to take seconds by a
/// trigger, so the process is killed while its transaction has moved every face but not
/// committed: the index must read exactly as before, and the merge must then work.
#[test]
fn a_kill_in_the_middle_of_a_merge_leaves_nothing_half_applied() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("faces.sqlite");
    fixture(&path, 500);
    let before = snapshot(&path);
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE slow (x INTEGER);
             WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000)
             INSERT INTO slow SELECT x FROM c;
             CREATE TRIGGER slow_delete BEFORE DELETE ON people
             BEGIN SELECT count(*) FROM slow a, slow b; END;",
        )
        .unwrap();
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_siamese-face"))
        .args(["people", "--index", s(&path), "merge", "A", "B"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Its write transaction is open once another connection cannot take the write lock.
    let probe = Connection::open(&path).unwrap();
    probe.busy_timeout(Duration::ZERO).unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "the merge ended early: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no transaction");
        match probe.execute_batch("BEGIN IMMEDIATE; ROLLBACK;") {
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => break,
            _ => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    // Past the face moves (milliseconds), inside the trigger (seconds).
    std::thread::sleep(Duration::from_millis(500));
    assert!(child.try_wait().unwrap().is_none(), "the merge committed");
    child.kill().unwrap();
    child.wait().unwrap();
    drop(probe);
    assert_eq!(snapshot(&path), before, "half a merge is visible");
    let conn = Connection::open(&path).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    conn.execute_batch("DROP TRIGGER slow_delete; DROP TABLE slow;")
        .unwrap();
    drop(conn);
    ok(people(&path, &["merge", "A", "B"]));
    assert!(!snapshot(&path)[0].contains("\"A\""));
    ok(people(&path, &["undo"]));
    // Everything is back; only the journal is gone (the undo used it).
    let restored = snapshot(&path);
    assert_eq!(restored[..3], before[..3]);
    assert_eq!(restored[3], "");
}
