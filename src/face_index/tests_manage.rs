//! Managing people by hand on a small fixture index: name, merge, split, "not them",
//! cover, each undone exactly, and a change that fails half-way leaving nothing behind.

use super::tests::{face, faces, file};
use super::*;

/// Everything that a change may touch, to compare before and after.
#[derive(Debug, PartialEq)]
struct State {
    people: Vec<(i64, String, String, Option<i64>)>,
    assignments: Vec<(i64, i64, String)>,
    rejections: Vec<(i64, i64)>,
    covers: Vec<(String, Option<i64>)>,
}

fn state(index: &FaceIndex) -> State {
    let rows = |sql: &str| -> Vec<Vec<rusqlite::types::Value>> {
        let mut stmt = index.conn.prepare(sql).unwrap();
        let n = stmt.column_count();
        stmt.query_map([], |r| (0..n).map(|i| r.get(i)).collect())
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    use rusqlite::types::Value;
    let int = |v: &Value| match v {
        Value::Integer(i) => *i,
        other => panic!("{other:?}"),
    };
    let text = |v: &Value| match v {
        Value::Text(t) => t.clone(),
        other => panic!("{other:?}"),
    };
    let opt = |v: &Value| match v {
        Value::Null => None,
        v => Some(int(v)),
    };
    State {
        people: rows("SELECT id, name, notes, cover_face_id FROM people ORDER BY id")
            .iter()
            .map(|r| (int(&r[0]), text(&r[1]), text(&r[2]), opt(&r[3])))
            .collect(),
        assignments: rows("SELECT face_id, person_id, kind FROM assignments ORDER BY face_id")
            .iter()
            .map(|r| (int(&r[0]), int(&r[1]), text(&r[2])))
            .collect(),
        rejections: rows("SELECT face_id, person_id FROM rejections ORDER BY 1, 2")
            .iter()
            .map(|r| (int(&r[0]), int(&r[1])))
            .collect(),
        covers: index
            .people()
            .unwrap()
            .into_iter()
            .map(|p| (p.name, p.cover_face))
            .collect(),
    }
}

/// Six faces: Ann holds 0 and 1 (enrolled), Bo holds 2 (enrolled), 3..6 are unknown.
fn fixture() -> (FaceIndex, Vec<i64>) {
    let mut index = FaceIndex::in_memory().unwrap();
    let w = index
        .write_photos(
            &[(
                file("/p/a.jpg", "h"),
                faces((0..6).map(|i| face(i, 60.0 * i as f32)).collect()),
            )],
            "m",
        )
        .unwrap();
    let ids = w[0].face_ids.clone();
    index
        .assign("Ann", &ids[..2], AssignmentKind::Enrolled)
        .unwrap();
    index
        .assign("Bo", &ids[2..3], AssignmentKind::Enrolled)
        .unwrap();
    (index, ids)
}

#[test]
fn naming_faces_is_undone_exactly_and_a_person_it_made_goes() {
    let (mut index, ids) = fixture();
    let before = state(&index);
    assert_eq!(index.last_action().unwrap(), None);
    // Face 2 was Bo's: naming moves it; 3 and 4 were nobody's.
    let named = index.name_faces("Cy", &ids[2..5]).unwrap();
    assert_eq!((named.named, named.rejected), (3, 0));
    assert_eq!(index.unassigned_faces("m").unwrap().0.len(), 1);
    assert_eq!(
        index.last_action().unwrap().as_deref(),
        Some("naming 3 faces Cy")
    );
    assert_eq!(index.undo().unwrap().as_deref(), Some("naming 3 faces Cy"));
    assert_eq!(state(&index), before);
    assert_eq!(index.undo().unwrap(), None, "only the last action is kept");
    let err = index.name_faces("Cy", &[ids[3], 9_999]).unwrap_err();
    assert!(err.to_string().contains("no face 9999"), "{err}");
    assert_eq!(state(&index), before, "a bad id writes nothing");
}

#[test]
fn a_merge_moves_faces_rejections_and_cover_and_is_undone_exactly() {
    let (mut index, ids) = fixture();
    index.name_faces("Bo", &ids[3..4]).unwrap();
    index.set_cover("Bo", ids[3]).unwrap();
    // Face 4 is not Bo; face 1 (Ann's) was said not to be Bo too.
    index.reject(&[ids[4], ids[1]], "Bo").unwrap();
    let before = state(&index);
    assert_eq!(index.merge_people("Bo", "Ann").unwrap(), 2);
    assert!(index.person_id("Bo").unwrap().is_none());
    let ann = index.person_id("Ann").unwrap().unwrap();
    assert_eq!(index.faces_of_person(ann).unwrap().len(), 4);
    // Ann had no chosen cover: she takes Bo's. "Not Bo" is "not Ann" now, except for a
    // face that is Ann's (the merge says they are one person).
    assert_eq!(index.people().unwrap()[0].cover_face, Some(ids[3]));
    assert_eq!(
        index.rejections().unwrap(),
        [(ids[4], ann)].into_iter().collect()
    );
    assert_eq!(
        index.undo().unwrap().as_deref(),
        Some("merging Bo into Ann")
    );
    assert_eq!(state(&index), before);
    let e = index.merge_people("Ann", " Ann ").unwrap_err();
    assert!(e.to_string().contains("themselves"), "{e}");
    assert!(matches!(
        index.merge_people("Nobody", "Ann"),
        Err(IndexError::NoPerson(_))
    ));
}

#[test]
fn a_split_moves_faces_out_and_is_undone_exactly() {
    let (mut index, ids) = fixture();
    let before = state(&index);
    // One of Ann's two faces to a new person, then the other back to the unknown faces.
    index.move_faces(&ids[1..2], Some("Di")).unwrap();
    let di = index.person_id("Di").unwrap().unwrap();
    assert_eq!(
        index.faces_of_person(di).unwrap(),
        [(ids[1], AssignmentKind::Enrolled)],
        "an enrolled face stays enrolled"
    );
    index.undo().unwrap();
    assert_eq!(state(&index), before);
    index.move_faces(&ids[..1], None).unwrap();
    assert_eq!(index.unassigned_faces("m").unwrap().0.len(), 4);
    index.undo().unwrap();
    assert_eq!(state(&index), before);
}

#[test]
fn not_this_person_is_remembered_until_the_user_moves_the_face_to_them() {
    let (mut index, ids) = fixture();
    index.name_faces("Ann", &ids[3..4]).unwrap();
    let before = state(&index);
    assert_eq!(index.reject(&ids[3..5], "Ann").unwrap(), 1);
    let ann = index.person_id("Ann").unwrap().unwrap();
    assert_eq!(index.faces_of_person(ann).unwrap().len(), 2);
    // Naming a group as Ann leaves the two out ...
    let named = index.name_faces("Ann", &ids[3..6]).unwrap();
    assert_eq!((named.named, named.rejected), (1, 2));
    index.undo().unwrap();
    // ... moving one to her is the user's word and clears it.
    index.move_faces(&ids[3..4], Some("Ann")).unwrap();
    assert_eq!(
        index.rejections().unwrap(),
        [(ids[4], ann)].into_iter().collect()
    );
    let after_rejecting = {
        index.undo().unwrap();
        state(&index)
    };
    assert_eq!(after_rejecting.rejections.len(), 2);
    assert_ne!(after_rejecting, before);
}

#[test]
fn a_cover_must_be_theirs_and_falls_back_when_they_lose_it() {
    let (mut index, ids) = fixture();
    let e = index.set_cover("Ann", ids[2]).unwrap_err();
    assert!(e.to_string().contains("not one of Ann's"), "{e}");
    index.set_cover("Ann", ids[1]).unwrap();
    assert_eq!(index.people().unwrap()[0].cover_face, Some(ids[1]));
    index.move_faces(&ids[1..2], Some("Bo")).unwrap();
    assert_eq!(index.people().unwrap()[0].cover_face, Some(ids[0]));
}

#[test]
fn enrolling_or_removing_someone_ends_the_undo() {
    let (mut index, ids) = fixture();
    index.name_faces("Cy", &ids[3..4]).unwrap();
    index
        .assign("Ann", &ids[5..6], AssignmentKind::Enrolled)
        .unwrap();
    assert_eq!(index.last_action().unwrap(), None);
    index.name_faces("Cy", &ids[4..5]).unwrap();
    index.remove_person("Bo").unwrap();
    assert_eq!(index.undo().unwrap(), None);
}

/// A change that fails after its first writes (here a trigger refuses the merge's last
/// step, as a kill would stop it) leaves the index and the undo journal as they were.
#[test]
fn a_merge_stopped_half_way_leaves_nothing_half_applied() {
    let (mut index, ids) = fixture();
    index.name_faces("Cy", &ids[3..4]).unwrap();
    let before = state(&index);
    let journal = index.last_action().unwrap();
    index
        .conn
        .execute_batch(
            "CREATE TEMP TRIGGER stop BEFORE DELETE ON people
             BEGIN SELECT RAISE(ABORT, 'stopped half-way'); END;",
        )
        .unwrap();
    let e = index.merge_people("Bo", "Ann").unwrap_err();
    assert!(e.to_string().contains("stopped half-way"), "{e}");
    assert_eq!(state(&index), before);
    assert_eq!(index.last_action().unwrap(), journal);
}

#[test]
fn stored_groups_drop_named_faces_and_take_joined_ones() {
    let (mut index, ids) = fixture();
    assert_eq!(index.stored_groups().unwrap(), None);
    index.save_groups(&[vec![ids[3], ids[4]]], 0.9).unwrap();
    index.name_faces("Cy", &ids[4..5]).unwrap();
    index.join(&[(ids[5], 1)], &[]).unwrap();
    let stored = index.stored_groups().unwrap().unwrap();
    assert_eq!(stored.threshold, 0.9);
    assert_eq!(stored.groups, vec![vec![ids[3], ids[5]]]);
    // A suggestion never replaces a holder.
    let bo = index.person_id("Bo").unwrap().unwrap();
    index.join(&[], &[(ids[0], bo, 0.95)]).unwrap();
    assert_eq!(index.faces_of_person(bo).unwrap().len(), 1);
}
