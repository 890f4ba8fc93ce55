//! A subtransaction: writes that can be undone without ending the transaction, as a PL/pgSQL
//! `BEGIN ... EXCEPTION` block makes one. A sign-in writes its session before the password
//! hash (the writes run while the CPU caches are warm) and keeps them only if the hash matches.

use pgrx::pg_sys;

pub struct Subtransaction {
    context: pg_sys::MemoryContext,
    owner: pg_sys::ResourceOwner,
    open: bool,
}

impl Subtransaction {
    pub fn begin() -> Self {
        // SAFETY: the calls PL/pgSQL makes around an exception block, on the backend's one
        // thread; the caller's memory context is restored so what it allocates outlives us.
        unsafe {
            let context = pg_sys::CurrentMemoryContext;
            let owner = pg_sys::CurrentResourceOwner;
            pg_sys::BeginInternalSubTransaction(std::ptr::null());
            pg_sys::CurrentMemoryContext = context;
            Subtransaction { context, owner, open: true }
        }
    }

    /// Keep the writes: they commit (or not) with the transaction.
    pub fn keep(mut self) {
        self.end(true);
    }

    /// Undo the writes.
    pub fn undo(mut self) {
        self.end(false);
    }

    fn end(&mut self, keep: bool) {
        if !std::mem::replace(&mut self.open, false) {
            return;
        }
        // SAFETY: ends the subtransaction begin() started; nothing else was begun inside it
        // without being ended (SPI connections in crate::plans open and close per statement).
        unsafe {
            if keep {
                pg_sys::ReleaseCurrentSubTransaction();
            } else {
                pg_sys::RollbackAndReleaseCurrentSubTransaction();
            }
            pg_sys::CurrentMemoryContext = self.context;
            pg_sys::CurrentResourceOwner = self.owner;
        }
    }
}

impl Drop for Subtransaction {
    /// Undo, also while an error unwinds: the caller may catch it (a PL/pgSQL `EXCEPTION` block
    /// rolls back its own subtransaction, which must then be the innermost). pgrx has copied the
    /// error out and flushed Postgres's error state by then, as PL/pgSQL does before it rolls back.
    fn drop(&mut self) {
        self.end(false);
    }
}
