//! The unknown faces' groups as the last grouping left them, kept so that the groups are
//! there when the app opens and so that faces indexed later join them (as Immich and
//! PhotoPrism do) without grouping every face again.

use rusqlite::{OptionalExtension, params};

use super::{FaceIndex, IndexError};

/// `meta` key of the similarity the stored groups were made with.
const THRESHOLD_KEY: &str = "group_threshold";

/// The stored groups: face ids by group, largest group first.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredGroups {
    /// The similarity at which the grouping linked two faces (new faces join at it too).
    pub threshold: f32,
    pub groups: Vec<Vec<i64>>,
}

impl FaceIndex {
    /// Replaces the stored groups with `groups` (face ids), made at `threshold`.
    pub fn save_groups(&mut self, groups: &[Vec<i64>], threshold: f32) -> Result<(), IndexError> {
        let (tx, index) = self.write()?;
        let err = |e| IndexError::sqlite(index, e);
        tx.execute("DELETE FROM face_groups", []).map_err(err)?;
        {
            let mut insert = tx
                .prepare("INSERT INTO face_groups (face_id, group_id) VALUES (?1, ?2)")
                .map_err(err)?;
            for (g, faces) in groups.iter().enumerate() {
                for face in faces {
                    insert.execute(params![face, g as i64 + 1]).map_err(err)?;
                }
            }
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![THRESHOLD_KEY, threshold.to_string()],
        )
        .map_err(err)?;
        tx.commit().map_err(err)
    }

    /// The stored groups, without the faces someone holds now; `None` when the unknown
    /// faces were never grouped.
    pub fn stored_groups(&self) -> Result<Option<StoredGroups>, IndexError> {
        let threshold = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                [THRESHOLD_KEY],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(self.err())?;
        let Some(threshold) = threshold.and_then(|t| t.parse::<f32>().ok()) else {
            return Ok(None);
        };
        let mut stmt = self
            .conn
            .prepare(
                "SELECT g.group_id, g.face_id FROM face_groups g
                 WHERE NOT EXISTS (SELECT 1 FROM assignments a WHERE a.face_id = g.face_id)
                 ORDER BY g.group_id, g.face_id",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
            .map_err(self.err())?;
        let mut groups: Vec<(i64, Vec<i64>)> = Vec::new();
        for row in rows {
            let (group, face) = row.map_err(self.err())?;
            match groups.last_mut() {
                Some((g, faces)) if *g == group => faces.push(face),
                _ => groups.push((group, vec![face])),
            }
        }
        let mut groups: Vec<Vec<i64>> = groups.into_iter().map(|(_, f)| f).collect();
        groups.sort_by_key(|g| std::cmp::Reverse(g.len()));
        Ok(Some(StoredGroups { threshold, groups }))
    }

    /// The stored group of each grouped face, as `(face id, group id)`.
    pub fn group_of_faces(&self) -> Result<Vec<(i64, i64)>, IndexError> {
        self.id_pairs("SELECT face_id, group_id FROM face_groups")
    }

    /// New faces joining stored groups (`(face id, group id)`) and people as suggestions
    /// (`(face id, person id, similarity)`), in one transaction. A face someone holds
    /// already keeps its holder.
    pub fn join(
        &mut self,
        groups: &[(i64, i64)],
        suggestions: &[(i64, i64, f32)],
    ) -> Result<(), IndexError> {
        let (tx, index) = self.write()?;
        let err = |e| IndexError::sqlite(index, e);
        for (face, group) in groups {
            tx.execute(
                "INSERT INTO face_groups (face_id, group_id) VALUES (?1, ?2)
                 ON CONFLICT (face_id) DO NOTHING",
                [face, group],
            )
            .map_err(err)?;
        }
        for (face, person, similarity) in suggestions {
            tx.execute(
                "INSERT INTO assignments (face_id, person_id, kind, similarity)
                 VALUES (?1, ?2, 'suggested', ?3) ON CONFLICT (face_id) DO NOTHING",
                params![face, person, *similarity as f64],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }
}
