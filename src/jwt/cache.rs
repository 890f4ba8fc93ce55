//! Tokens this backend has already verified. A pooled connection sees the same user's token on
//! request after request; a hit costs a hash look-up instead of a signature check. Only
//! verified tokens are stored, keyed by their full text; `exp` and `nbf` are checked again on
//! every hit; the cache is emptied whenever the keys change.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::token::{check_window, JwtError, Verified};

/// Bounded: when full, it starts over (simple, and a backend rarely sees this many users).
const CAPACITY: usize = 1024;

thread_local! {
    static CACHE: RefCell<HashMap<Box<str>, Rc<Verified>>> = RefCell::new(HashMap::new());
}

/// A verified token seen before: its payload, or the error its time window gives now.
pub fn get(token: &str, now: i64) -> Option<Result<Rc<Verified>, JwtError>> {
    let hit = CACHE.with(|c| c.borrow().get(token).cloned())?;
    Some(check_window(hit.exp, hit.nbf, now).map(|()| hit))
}

pub fn put(token: &str, verified: Rc<Verified>) {
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        if cache.len() >= CAPACITY {
            cache.clear();
        }
        cache.insert(token.into(), verified);
    });
}

pub fn clear() {
    CACHE.with(|c| c.borrow_mut().clear());
}
