//! Cursor pagination for lists ordered by a string key: the token is the key of the last item
//! returned (a node name, `namespace/name`, or a time-ordered id).

use spot_proto::common::v1::{PageRequest, PageResponse};
use tonic::Status;

const DEFAULT_SIZE: u64 = 50;
const MAX_SIZE: u64 = 500;
const MAX_TOKEN_LEN: usize = 600;

pub fn size(page: Option<&PageRequest>) -> u64 {
    match page.map(|p| u64::from(p.page_size)) {
        None | Some(0) => DEFAULT_SIZE,
        Some(size) => size.min(MAX_SIZE),
    }
}

pub fn cursor(page: Option<&PageRequest>) -> Result<Option<&str>, Status> {
    match page.map(|p| p.page_token.as_str()) {
        None | Some("") => Ok(None),
        Some(token) if token.len() <= MAX_TOKEN_LEN => Ok(Some(token)),
        Some(_) => Err(Status::invalid_argument(
            "invalid `page.page_token`: not a token this server returned",
        )),
    }
}

/// Cuts the `size + 1` rows fetched down to a page, with the next page's token.
pub fn split<T>(mut rows: Vec<T>, size: u64, key: impl Fn(&T) -> String) -> (Vec<T>, PageResponse) {
    let more = rows.len() as u64 > size;
    rows.truncate(size as usize);
    let next_page_token = match rows.last() {
        Some(last) if more => key(last),
        _ => String::new(),
    };
    (rows, PageResponse { next_page_token })
}
