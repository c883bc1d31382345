//! Page sizes of lists.

use crate::error::Error;

/// The page size a list answers with: `default` when none was asked for,
/// the asked size when it lies in `1..=max`, else `invalid_input` naming
/// `limit`. An out-of-range size is refused rather than clamped, so a
/// client that asks for 1,000 rows learns it gets at most `max`.
pub fn page_limit(limit: Option<u32>, default: u32, max: u32) -> Result<u32, Error> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(Error::invalid_field(
            "limit",
            format!("must be between 1 and {max}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_in_range_is_kept_and_another_is_refused_naming_it() {
        assert_eq!(page_limit(None, 50, 200).unwrap(), 50);
        assert_eq!(page_limit(Some(1), 50, 200).unwrap(), 1);
        assert_eq!(page_limit(Some(200), 50, 200).unwrap(), 200);
        for bad in [0, 201, u32::MAX] {
            let err = page_limit(Some(bad), 50, 200).unwrap_err();
            assert_eq!(err.fields()[0].field, "limit");
            assert_eq!(err.fields()[0].message, "must be between 1 and 200");
        }
    }
}
