//! The index on real SQLite files in a temporary folder.

use super::*;
use crate::crop::CropConfig;
use crate::detect::Face;
use crate::embed::EMBEDDING_DIM;

pub(super) fn file(path: &str, hash: &str) -> PhotoFile {
    PhotoFile {
        path: path.into(),
        size: 100,
        mtime_ns: 5,
        hash: hash.into(),
    }
}

/// A face whose embedding points along axis `axis`.
pub(super) fn face(axis: usize, x: f32) -> NewFace {
    let mut embedding = vec![0.0; EMBEDDING_DIM];
    embedding[axis] = 1.0;
    NewFace {
        face: Face {
            bbox: [x, 10.0, x + 50.0, 70.0],
            score: 0.99,
            landmarks: [[1.0, 2.0]; 5],
        },
        crop: CropConfig::DLIB,
        embedding,
    }
}

pub(super) fn faces(list: Vec<NewFace>) -> PhotoContent {
    PhotoContent::Faces {
        width: 250,
        height: 250,
        faces: list,
    }
}

#[test]
fn photos_faces_and_people_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/faces.sqlite");
    {
        let mut index = FaceIndex::open(&path).unwrap();
        let w = index
            .write_photos(
                &[(
                    file("/p/a.jpg", "h1"),
                    faces(vec![face(0, 0.0), face(1, 90.0)]),
                )],
                "m1",
            )
            .unwrap();
        assert_eq!(w[0].face_ids.len(), 2);
        index
            .assign("Ann", &w[0].face_ids[..1], AssignmentKind::Enrolled)
            .unwrap();
    }
    let index = FaceIndex::open(&path).unwrap();
    let mode: String = index
        .conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let photo = index.photo("/p/a.jpg").unwrap().unwrap();
    assert_eq!((photo.width, photo.status), (250, PhotoStatus::Faces));
    let stored = index.faces_of_photo(photo.id).unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1].face.bbox[0], 90.0);
    assert_eq!(stored[0].embedding[0], 1.0);
    assert_eq!(stored[0].crop, CropConfig::DLIB);
    let people = index.people().unwrap();
    assert_eq!(people.len(), 1);
    assert_eq!(
        (people[0].enrolled, people[0].cover_face),
        (1, Some(stored[0].id))
    );
    let gallery = index.gallery("m1").unwrap();
    assert_eq!((gallery.people(), gallery.faces()), (1, 1));
    assert!(index.gallery("other").unwrap().is_empty());
}

#[test]
fn the_same_bytes_written_twice_keep_one_set_of_faces() {
    let mut index = FaceIndex::in_memory().unwrap();
    let batch = [(file("/p/a.jpg", "h1"), faces(vec![face(0, 0.0)]))];
    let first = index.write_photos(&batch, "m").unwrap();
    let mut touched = batch.clone();
    touched[0].0.mtime_ns = 99;
    let second = index.write_photos(&touched, "m").unwrap();
    assert!(second[0].kept);
    assert_eq!(first[0].face_ids, second[0].face_ids);
    assert_eq!(index.stats().unwrap().faces, 1);
    assert_eq!(index.photo("/p/a.jpg").unwrap().unwrap().mtime_ns, 99);
}

#[test]
fn changed_bytes_replace_the_faces_and_drop_their_assignments() {
    let mut index = FaceIndex::in_memory().unwrap();
    let w = index
        .write_photos(&[(file("/p/a.jpg", "h1"), faces(vec![face(0, 0.0)]))], "m")
        .unwrap();
    index
        .assign("Ann", &w[0].face_ids, AssignmentKind::Enrolled)
        .unwrap();
    let w2 = index
        .write_photos(
            &[(
                file("/p/a.jpg", "h2"),
                PhotoContent::NoFace {
                    width: 9,
                    height: 9,
                },
            )],
            "m",
        )
        .unwrap();
    assert!(!w2[0].kept && w2[0].face_ids.is_empty());
    let stats = index.stats().unwrap();
    assert_eq!(
        (stats.photos, stats.faces, stats.photos_without_faces),
        (1, 0, 1)
    );
    // Ann stays, with nothing enrolled.
    assert_eq!(index.people().unwrap()[0].enrolled, 0);
}

#[test]
fn an_error_is_recorded_per_photo_and_retried_when_written_again() {
    let mut index = FaceIndex::in_memory().unwrap();
    index
        .write_photos(
            &[(
                file("/p/bad.jpg", "h"),
                PhotoContent::Error("cannot decode".into()),
            )],
            "m",
        )
        .unwrap();
    let row = index.photo("/p/bad.jpg").unwrap().unwrap();
    assert_eq!(
        (row.status, row.error.as_deref()),
        (PhotoStatus::Error, Some("cannot decode"))
    );
    let w = index
        .write_photos(&[(file("/p/bad.jpg", "h"), faces(vec![face(2, 0.0)]))], "m")
        .unwrap();
    assert!(!w[0].kept);
    assert_eq!(index.stats().unwrap().photos_with_errors, 0);
}

#[test]
fn another_programs_file_is_not_an_index_and_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.sqlite");
    std::fs::write(&text, "just some text, not a database at all........").unwrap();
    let err = FaceIndex::open(&text).err().unwrap();
    assert!(matches!(err, IndexError::NotAnIndex { .. }), "{err}");
    assert_eq!(
        std::fs::read_to_string(&text).unwrap(),
        "just some text, not a database at all........"
    );
    let other = dir.path().join("other.sqlite");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE songs (title TEXT);")
        .unwrap();
    let err = FaceIndex::open(&other).err().unwrap();
    assert!(err.to_string().contains("another program"), "{err}");
}

#[test]
fn a_newer_schema_is_refused_with_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("faces.sqlite");
    drop(FaceIndex::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = FaceIndex::open(&path).err().unwrap();
    let msg = err.to_string();
    assert!(
        msg.contains("schema 99") && msg.contains(&format!("up to {}", schema::SCHEMA_VERSION)),
        "{msg}"
    );
}

#[test]
fn a_version_1_index_is_migrated_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("faces.sqlite");
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        schema::migrate_to(&mut conn, "v1", 1).unwrap();
        conn.execute(
            "INSERT INTO photos (path, hash, size, mtime_ns, status, indexed_at)
             VALUES ('/p/old.jpg', 'h', 1, 2, 'no_face', 0)",
            [],
        )
        .unwrap();
    }
    let index = FaceIndex::open(&path).unwrap();
    let version: i64 = index
        .conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, schema::SCHEMA_VERSION);
    let row = index.photo("/p/old.jpg").unwrap().unwrap();
    assert_eq!((row.status, row.width), (PhotoStatus::NoFace, 0));
}

#[test]
fn faces_of_another_model_are_reported_until_re_embedded() {
    let mut index = FaceIndex::in_memory().unwrap();
    let w = index
        .write_photos(
            &[(
                file("/p/a.jpg", "h"),
                faces(vec![face(0, 0.0), face(1, 5.0)]),
            )],
            "old-model",
        )
        .unwrap();
    let err = index.check_model("new-model").unwrap_err().to_string();
    assert!(
        err.contains("2 faces") && err.contains("old-model") && err.contains("reembed"),
        "{err}"
    );
    let updates: Vec<_> = w[0]
        .face_ids
        .iter()
        .map(|id| (*id, CropConfig::default(), vec![0.5; EMBEDDING_DIM]))
        .collect();
    index.replace_embeddings(&updates, "new-model").unwrap();
    index.check_model("new-model").unwrap();
    let (ids, matrix) = index.face_matrix("new-model").unwrap();
    assert_eq!((ids.len(), matrix.len()), (2, 2));
}

#[test]
fn a_damaged_embedding_is_an_error_naming_the_face() {
    let mut index = FaceIndex::in_memory().unwrap();
    index
        .write_photos(&[(file("/p/a.jpg", "h"), faces(vec![face(0, 0.0)]))], "m")
        .unwrap();
    index
        .conn
        .execute("UPDATE faces SET embedding = x'0102'", [])
        .unwrap();
    let err = index.face_matrix("m").err().unwrap().to_string();
    assert!(err.contains("damaged embedding"), "{err}");
    assert!(index.faces_of_photo(1).is_err());
}

#[test]
fn removing_a_person_keeps_their_faces() {
    let mut index = FaceIndex::in_memory().unwrap();
    let w = index
        .write_photos(&[(file("/p/a.jpg", "h"), faces(vec![face(0, 0.0)]))], "m")
        .unwrap();
    index
        .assign("  Bob ", &w[0].face_ids, AssignmentKind::Enrolled)
        .unwrap();
    assert!(index.person_id("Bob").unwrap().is_some());
    index.remove_person("Bob").unwrap();
    assert!(matches!(
        index.remove_person("Bob"),
        Err(IndexError::NoPerson(_))
    ));
    assert_eq!(index.stats().unwrap().faces, 1);
    assert!(index.assign("", &[], AssignmentKind::Enrolled).is_err());
}

#[test]
fn two_connections_writing_the_same_photos_store_each_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("faces.sqlite");
    drop(FaceIndex::open(&path).unwrap());
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut index = FaceIndex::open(&path).unwrap();
                for i in 0..40 {
                    let p = format!("/p/{i}.jpg");
                    index
                        .write_photos(&[(file(&p, "h"), faces(vec![face(i % 100, 0.0)]))], "m")
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let stats = FaceIndex::open(&path).unwrap().stats().unwrap();
    assert_eq!((stats.photos, stats.faces), (40, 40));
}

#[test]
fn two_connections_creating_one_new_index_at_once_both_open_it() {
    let dir = tempfile::tempdir().unwrap();
    for n in 0..20 {
        let path = dir.path().join(format!("new-{n}.sqlite"));
        let start = std::sync::Arc::new(std::sync::Barrier::new(2));
        let opened: Vec<_> = (0..2)
            .map(|_| {
                let (path, start) = (path.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    FaceIndex::open(&path)
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                })
            })
            .collect();
        for t in opened {
            t.join()
                .unwrap()
                .unwrap_or_else(|e| panic!("file {n}: {e}"));
        }
    }
}
