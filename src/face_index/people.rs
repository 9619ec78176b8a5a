//! People and which faces are whose: enrolled (the user said so when enrolling), confirmed
//! (the user accepted a match) or suggested (a match not yet accepted).

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{FaceIndex, IndexError, PersonGallery, now};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentKind {
    Enrolled,
    Confirmed,
    Suggested,
}

impl AssignmentKind {
    fn as_str(self) -> &'static str {
        match self {
            AssignmentKind::Enrolled => "enrolled",
            AssignmentKind::Confirmed => "confirmed",
            AssignmentKind::Suggested => "suggested",
        }
    }
}

/// A person with how many faces are theirs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonSummary {
    pub id: i64,
    pub name: String,
    pub notes: String,
    pub enrolled: usize,
    pub confirmed: usize,
    pub suggested: usize,
    /// The face shown for them: the one the user chose while it is still theirs, else
    /// their first enrolled (else confirmed) face.
    pub cover_face: Option<i64>,
}

/// A person's name as typed, or why it cannot be one.
pub fn check_name(name: &str) -> Result<&str, IndexError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(IndexError::Invalid(
            "a person's name cannot be empty".into(),
        ));
    }
    if name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(IndexError::Invalid(format!(
            "{name:?} is not a usable name (at most 200 characters, no control characters)"
        )));
    }
    Ok(name)
}

impl FaceIndex {
    pub fn person_id(&self, name: &str) -> Result<Option<i64>, IndexError> {
        self.conn
            .query_row(
                "SELECT id FROM people WHERE name = ?1",
                [name.trim()],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
    }

    /// Assigns faces to the person `name` (created if new) as `kind`, in one transaction;
    /// a face that was someone else's moves. Returns the person's id.
    pub fn assign(
        &mut self,
        name: &str,
        face_ids: &[i64],
        kind: AssignmentKind,
    ) -> Result<i64, IndexError> {
        let name = check_name(name)?.to_string();
        let (tx, index) = self.write()?;
        let err = |e| IndexError::sqlite(index, e);
        tx.execute(
            "INSERT INTO people (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
            params![name, now()],
        )
        .map_err(err)?;
        let person: i64 = tx
            .query_row("SELECT id FROM people WHERE name = ?1", [&name], |r| {
                r.get(0)
            })
            .map_err(err)?;
        for face in face_ids {
            tx.execute(
                "INSERT INTO assignments (face_id, person_id, kind) VALUES (?1, ?2, ?3)
                 ON CONFLICT (face_id) DO UPDATE SET person_id = excluded.person_id,
                 kind = excluded.kind, similarity = NULL",
                params![face, person, kind.as_str()],
            )
            .map_err(err)?;
        }
        // Enrolling is not an action the journal covers: the last one is no longer last.
        super::journal::forget(&tx).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(person)
    }

    /// Everyone, by name.
    pub fn people(&self) -> Result<Vec<PersonSummary>, IndexError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT p.id, p.name, p.notes,
                   (SELECT COUNT(*) FROM assignments a WHERE a.person_id = p.id AND a.kind = 'enrolled'),
                   (SELECT COUNT(*) FROM assignments a WHERE a.person_id = p.id AND a.kind = 'confirmed'),
                   (SELECT COUNT(*) FROM assignments a WHERE a.person_id = p.id AND a.kind = 'suggested'),
                   COALESCE(
                     (SELECT a.face_id FROM assignments a WHERE a.face_id = p.cover_face_id
                        AND a.person_id = p.id),
                     (SELECT a.face_id FROM assignments a WHERE a.person_id = p.id
                        AND a.kind IN ('enrolled', 'confirmed') ORDER BY a.kind = 'confirmed', a.face_id LIMIT 1))
                 FROM people p ORDER BY p.name",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(PersonSummary {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    notes: r.get(2)?,
                    enrolled: r.get::<_, i64>(3)? as usize,
                    confirmed: r.get::<_, i64>(4)? as usize,
                    suggested: r.get::<_, i64>(5)? as usize,
                    cover_face: r.get(6)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Removes a person and their assignments (the faces stay in the index, unassigned).
    pub fn remove_person(&mut self, name: &str) -> Result<(), IndexError> {
        let index = self.name.clone();
        let err = |e| IndexError::sqlite(&index, e);
        let tx = self.conn.transaction().map_err(err)?;
        let removed = tx
            .execute("DELETE FROM people WHERE name = ?1", [name.trim()])
            .map_err(err)?;
        if removed == 0 {
            return Err(IndexError::NoPerson(name.to_string()));
        }
        // An undo journal may name the person: removing is not undoable, so it ends there.
        super::journal::forget(&tx).map_err(err)?;
        tx.commit().map_err(err)
    }

    /// The faces of a person (`(face id, kind)`), enrolled first.
    pub fn faces_of_person(
        &self,
        person_id: i64,
    ) -> Result<Vec<(i64, AssignmentKind)>, IndexError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT face_id, kind FROM assignments WHERE person_id = ?1
                 ORDER BY kind = 'suggested', kind = 'confirmed', face_id",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([person_id], |r| {
                let kind = match r.get::<_, String>(1)?.as_str() {
                    "enrolled" => AssignmentKind::Enrolled,
                    "confirmed" => AssignmentKind::Confirmed,
                    _ => AssignmentKind::Suggested,
                };
                Ok((r.get(0)?, kind))
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// The faces that are someone's (enrolled, confirmed or suggested).
    pub fn assigned_faces(&self) -> Result<std::collections::HashSet<i64>, IndexError> {
        let mut stmt = self
            .conn
            .prepare("SELECT face_id FROM assignments")
            .map_err(self.err())?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// The enrolled and confirmed faces of `model_id`, by person: what identification
    /// matches against.
    pub fn gallery(&self, model_id: &str) -> Result<PersonGallery, IndexError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT p.id, p.name, f.id, f.embedding FROM assignments a
                 JOIN people p ON p.id = a.person_id JOIN faces f ON f.id = a.face_id
                 WHERE a.kind IN ('enrolled', 'confirmed') AND f.model_id = ?1
                 ORDER BY p.name, f.id",
            )
            .map_err(self.err())?;
        let mut rows = stmt.query([model_id]).map_err(self.err())?;
        let mut gallery = PersonGallery::default();
        while let Some(r) = rows.next().map_err(self.err())? {
            let (person, name, face): (i64, String, i64) = (
                r.get(0).map_err(self.err())?,
                r.get(1).map_err(self.err())?,
                r.get(2).map_err(self.err())?,
            );
            let blob: Vec<u8> = r.get(3).map_err(self.err())?;
            let v = self.embedding_of(face, &blob)?;
            gallery.push(person, &name, face, &v);
        }
        gallery.finish();
        Ok(gallery)
    }
}
