//! Faces of the index with their photo, box and person: all of them as `people export`
//! writes them, or one person's as the People page shows them.

use serde::Serialize;

use super::{FaceIndex, IndexError};

/// One face for export.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaceListing {
    pub face_id: i64,
    pub photo: String,
    pub x1: f64,
    pub y1: f64,
    pub x2: f64,
    pub y2: f64,
    pub score: f64,
    pub person: Option<String>,
    /// How the face became theirs: enrolled, confirmed or suggested.
    pub kind: Option<String>,
    /// A suggestion's similarity.
    pub similarity: Option<f64>,
}

const SELECT: &str = "SELECT f.id, p.path, f.x1, f.y1, f.x2, f.y2, f.score, pe.name, a.kind,
       a.similarity
     FROM faces f JOIN photos p ON p.id = f.photo_id
     LEFT JOIN assignments a ON a.face_id = f.id
     LEFT JOIN people pe ON pe.id = a.person_id";

impl FaceIndex {
    /// Every face, by photo path and then largest first.
    pub fn face_listing(&self) -> Result<Vec<FaceListing>, IndexError> {
        self.listed(&format!("{SELECT} ORDER BY p.path, f.id"), [])
    }

    /// The faces of person `person_id`: enrolled, confirmed, then suggested (the most
    /// similar first).
    pub fn person_faces(&self, person_id: i64) -> Result<Vec<FaceListing>, IndexError> {
        self.listed(
            &format!(
                "{SELECT} WHERE a.person_id = ?1
                 ORDER BY a.kind = 'suggested', a.kind = 'confirmed', a.similarity DESC, f.id"
            ),
            [person_id],
        )
    }

    fn listed(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<FaceListing>, IndexError> {
        let mut stmt = self.conn.prepare(sql).map_err(self.err())?;
        let rows = stmt
            .query_map(params, |r| {
                Ok(FaceListing {
                    face_id: r.get(0)?,
                    photo: r.get(1)?,
                    x1: r.get(2)?,
                    y1: r.get(3)?,
                    x2: r.get(4)?,
                    y2: r.get(5)?,
                    score: r.get(6)?,
                    person: r.get(7)?,
                    kind: r.get(8)?,
                    similarity: r.get(9)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }
}
