//! Cursor pagination shared by the List RPCs.

use spot_proto::common::v1::PageRequest;

use crate::error::AuthError;

pub const DEFAULT_SIZE: u64 = 50;
pub const MAX_SIZE: u64 = 500;

/// How many items to return; the request's size, defaulted and capped.
pub fn size(page: Option<&PageRequest>) -> u64 {
    match page.map(|p| u64::from(p.page_size)) {
        None | Some(0) => DEFAULT_SIZE,
        Some(size) => size.min(MAX_SIZE),
    }
}

/// A cursor `"<millis>:<id>"`: the last item of the previous page, in a stable order.
pub fn cursor(page: Option<&PageRequest>) -> Result<Option<(i64, String)>, AuthError> {
    let Some(token) = page
        .map(|p| p.page_token.as_str())
        .filter(|t| !t.is_empty())
    else {
        return Ok(None);
    };
    let invalid = || AuthError::invalid("page.page_token", "is not a token this server returned");
    let (at, id) = token.split_once(':').ok_or_else(invalid)?;
    Ok(Some((at.parse().map_err(|_| invalid())?, id.to_owned())))
}

pub fn token(at: i64, id: &str) -> String {
    format!("{at}:{id}")
}

/// Rows strictly after the cursor in (time, id) order; `ascending` says which way the list runs.
pub fn after<C: sea_orm::ColumnTrait + Copy>(
    at_column: C,
    id_column: C,
    (at, id): (i64, String),
    ascending: bool,
) -> sea_orm::Condition {
    let condition = sea_orm::Condition::any();
    if ascending {
        condition
            .add(at_column.gt(at))
            .add(at_column.eq(at).and(id_column.gt(id)))
    } else {
        condition
            .add(at_column.lt(at))
            .add(at_column.eq(at).and(id_column.lt(id)))
    }
}

/// Cuts the `size + 1` rows a query fetched down to one page, with the token of the next one.
pub fn split<T>(
    mut rows: Vec<T>,
    size: u64,
    key: impl Fn(&T) -> (i64, &str),
) -> (Vec<T>, spot_proto::common::v1::PageResponse) {
    let more = rows.len() as u64 > size;
    rows.truncate(size as usize);
    let next_page_token = match (more, rows.last()) {
        (true, Some(last)) => {
            let (at, id) = key(last);
            token(at, id)
        }
        _ => String::new(),
    };
    (
        rows,
        spot_proto::common::v1::PageResponse { next_page_token },
    )
}
