//! Catalog cursors: the sort key and id of a page's last course, as opaque
//! base64url JSON. Keyset pages never repeat or skip a course when others
//! are added meanwhile, which offset pages would.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::domain::CourseId;
use crate::error::{Error, Result};
use crate::store::courses::{CatalogAfter, CatalogRow, CatalogSort};

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    /// The sort the cursor belongs to.
    s: CatalogSort,
    /// Publication time (newest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    t: Option<Timestamp>,
    /// Lower-cased title (title).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    k: Option<String>,
    /// Enrollment count (popular).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    n: Option<i64>,
    /// The course id, the tie-breaker.
    id: CourseId,
}

fn engine() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

/// The cursor of the page that starts after `row`.
pub(crate) fn encode(sort: CatalogSort, row: &CatalogRow) -> String {
    let course = &row.summary.course;
    let mut wire = Wire {
        s: sort,
        t: None,
        k: None,
        n: None,
        id: course.id,
    };
    match sort {
        CatalogSort::Newest => wire.t = course.published_at,
        CatalogSort::Title => wire.k = Some(row.sort_title.clone()),
        CatalogSort::Popular => wire.n = Some(course.enrollment_count),
        CatalogSort::Recent => {}
    }
    engine().encode(serde_json::to_vec(&wire).expect("a cursor serializes"))
}

/// Reads a cursor made by [`encode`] for the same sort.
pub(crate) fn decode(raw: &str, sort: CatalogSort) -> Result<CatalogAfter> {
    let bad = || Error::invalid_field("cursor", "is not a cursor of this listing");
    let bytes = engine().decode(raw.trim()).map_err(|_| bad())?;
    let wire: Wire = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if wire.s != sort {
        return Err(bad());
    }
    match (sort, wire.t, wire.k, wire.n) {
        (CatalogSort::Newest, Some(t), None, None) => Ok(CatalogAfter::Newest(t, wire.id)),
        (CatalogSort::Title, None, Some(k), None) => Ok(CatalogAfter::Title(k, wire.id)),
        (CatalogSort::Popular, None, None, Some(n)) => Ok(CatalogAfter::Popular(n, wire.id)),
        (CatalogSort::Recent, None, None, None) => Ok(CatalogAfter::Recent(wire.id)),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_of_another_sort_or_garbage_is_refused() {
        let wire = Wire {
            s: CatalogSort::Popular,
            t: None,
            k: None,
            n: Some(3),
            id: CourseId::new(),
        };
        let raw = engine().encode(serde_json::to_vec(&wire).unwrap());
        assert!(matches!(
            decode(&raw, CatalogSort::Popular),
            Ok(CatalogAfter::Popular(3, _))
        ));
        let err = decode(&raw, CatalogSort::Title).unwrap_err();
        assert_eq!(err.fields()[0].field, "cursor");
        assert!(decode("not base64!", CatalogSort::Newest).is_err());
        assert!(decode(&engine().encode(b"{}"), CatalogSort::Newest).is_err());
    }
}
