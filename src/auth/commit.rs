//! What a commit waits for. A password sign-in that opened a session commits without waiting
//! for its WAL to reach the disk (PostgreSQL's asynchronous commit; the WAL writer flushes it
//! within 3 x wal_writer_delay, 0.6 s by default), which takes a sign-in's one disk flush off
//! its answer. What a crash in that window can lose is the whole sign-in and nothing else: the
//! session and refresh token (the app's next refresh fails and its user signs in again), the
//! attempt counted and the audit row of a sign-in that succeeded. Recovery never keeps part of
//! a transaction or a later one without an earlier one. Everything else waits for the disk as
//! usual: failed attempts, refreshes (token reuse detection), sign-outs, one-time codes,
//! password and ban changes.

use pgrx::pg_sys;

/// Let the current transaction commit without waiting for the disk, when it is the sign-in's
/// own (a statement run on its own, as the sidecar and psql's autocommit run it). Inside the
/// caller's `BEGIN ... COMMIT` it changes nothing: the caller's other writes are not ours to
/// make less durable.
pub fn without_waiting_for_disk() {
    // SAFETY: reads this backend's transaction state, on its one thread.
    if unsafe { pg_sys::IsTransactionBlock() } {
        return;
    }
    crate::jwt::set_local("synchronous_commit", "off");
}
