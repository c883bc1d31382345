//! Serialized answers the core shares between requests.
//!
//! The core's read cache hands out the same `Arc` for a catalog page or a
//! course tree while it holds it, so the JSON body and its `ETag` are
//! computed once per `Arc`, not once per request: for a 200-lecture tree
//! that is most of the work of answering.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hyper::body::Bytes;
use serde::Serialize;

use crate::etag;
use crate::problem::Problem;

/// Most bodies kept; past it, those the core no longer holds go first.
const MAX_ENTRIES: usize = 512;

/// Bodies and tags by the address of the value they were made from.
#[derive(Default)]
pub(crate) struct JsonMemo {
    entries: Mutex<HashMap<usize, Memo>>,
}

struct Memo {
    /// Keeps the value alive, so no other value can take its address
    /// while this entry exists.
    owner: Arc<dyn Any + Send + Sync>,
    body: Bytes,
    tag: Arc<str>,
}

impl std::fmt::Debug for JsonMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = self.entries.lock().map(|e| e.len()).unwrap_or(0);
        f.debug_struct("JsonMemo").field("entries", &len).finish()
    }
}

impl JsonMemo {
    /// `value` as JSON with its strong tag, made once per `Arc`.
    pub(crate) fn json<T>(&self, value: &Arc<T>) -> Result<(Bytes, Arc<str>), Problem>
    where
        T: Serialize + Send + Sync + 'static,
    {
        let key = Arc::as_ptr(value) as *const () as usize;
        if let Some(memo) = self.entries.lock().expect("json memo").get(&key) {
            return Ok((memo.body.clone(), memo.tag.clone()));
        }
        let body = Bytes::from(
            serde_json::to_vec(&**value)
                .map_err(|e| Problem::internal(format!("serializing the answer: {e}")))?,
        );
        let tag: Arc<str> = etag::of(&body).into();
        let mut entries = self.entries.lock().expect("json memo");
        if entries.len() >= MAX_ENTRIES {
            // The core dropped these values: they will not be asked for again.
            entries.retain(|_, m| Arc::strong_count(&m.owner) > 1);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        let owner: Arc<dyn Any + Send + Sync> = value.clone();
        entries.insert(
            key,
            Memo {
                owner,
                body: body.clone(),
                tag: tag.clone(),
            },
        );
        Ok((body, tag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_value_is_serialized_once_and_another_apart() {
        let memo = JsonMemo::default();
        let a = Arc::new(vec![1, 2, 3]);
        let (body, tag) = memo.json(&a).unwrap();
        assert_eq!(&body[..], b"[1,2,3]");
        assert_eq!(&*tag, etag::of(b"[1,2,3]"));
        let (again, _) = memo.json(&a).unwrap();
        // The same bytes, not a copy: nothing was serialized again.
        assert_eq!(again.as_ptr(), body.as_ptr());
        let b = Arc::new(vec![4]);
        assert_eq!(&memo.json(&b).unwrap().0[..], b"[4]");
    }
}
