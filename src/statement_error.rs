//! A statement's own SQLSTATE, kept through pgrx. pgrx turns an error raised inside a call
//! into a Rust panic and raises it again at the function's edge, naming the code with its own
//! enum: a code that enum lacks (PostgREST's `PTnnn`, any code a developer's RAISE picks)
//! comes out as XX000. `bknd.run_as_row` runs whatever statement the REST API plans, so it
//! watches the error it raises and puts the code back when pgrx raises it again, with a
//! context line that says the error is the statement's (not the token's: the sidecar tells
//! them apart by it).
//!
//! How: an error context callback, which PostgreSQL calls while it raises any error. While the
//! statement runs it notes each error's code; if the statement fails, the Rust unwinding marks
//! the next error as pgrx's raising it again, and the callback (still on the stack, where
//! pgrx's boundary left it) restores the code then. PostgreSQL resets the callback stack when
//! it recovers from the error.

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void};

use pgrx::pg_sys;

/// The context line the sidecar looks for.
pub const CONTEXT: &std::ffi::CStr = c"bknd.run_as_row: the statement";

#[derive(Clone, Copy, PartialEq)]
enum State {
    Idle,
    /// the statement runs: note each error's code
    Watching,
    /// the statement failed with this code: the next error is pgrx raising it again
    Raising(c_int),
}

thread_local! {
    static STATE: Cell<State> = const { Cell::new(State::Idle) };
    static LAST: Cell<c_int> = const { Cell::new(0) };
}

// One node, on the backend's one thread; linked into error_context_stack while watching.
static mut NODE: pg_sys::ErrorContextCallback =
    pg_sys::ErrorContextCallback { previous: std::ptr::null_mut(), callback: Some(on_error), arg: std::ptr::null_mut() };

// Declared here, as pgrx's own error reporting does, because they are left out of pg_sys: they
// only set fields of the error being raised, and never raise themselves.
unsafe extern "C-unwind" {
    fn geterrcode() -> c_int;
    fn errcode(sqlerrcode: c_int) -> c_int;
    fn errcontext_msg(fmt: *const c_char, ...) -> c_int;
}

unsafe extern "C-unwind" fn on_error(_arg: *mut c_void) {
    match STATE.get() {
        State::Watching => LAST.set(unsafe { geterrcode() }),
        State::Raising(code) => {
            STATE.set(State::Idle);
            unsafe {
                errcode(code);
                errcontext_msg(c"%s".as_ptr(), CONTEXT.as_ptr());
            }
        }
        State::Idle => {}
    }
}

/// Run `f` (the statement) so that an error it raises keeps its SQLSTATE.
pub fn keeping_sqlstate<R>(f: impl FnOnce() -> R) -> R {
    struct Watch;
    impl Drop for Watch {
        fn drop(&mut self) {
            if std::thread::panicking() && LAST.get() != 0 {
                // a PostgreSQL error: leave the node on the stack for pgrx's raise; mark that raise
                STATE.set(State::Raising(LAST.get()));
            } else {
                STATE.set(State::Idle);
                unlink();
            }
        }
    }
    unlink(); // a node left by an earlier failure that something caught
    unsafe {
        let node = &raw mut NODE;
        (*node).previous = pg_sys::error_context_stack;
        pg_sys::error_context_stack = node;
    }
    LAST.set(0);
    STATE.set(State::Watching);
    let _watch = Watch;
    f()
}

/// Take the node out of error_context_stack wherever it is.
fn unlink() {
    unsafe {
        let node = &raw mut NODE;
        let mut link: *mut *mut pg_sys::ErrorContextCallback = &raw mut pg_sys::error_context_stack;
        while !(*link).is_null() {
            if *link == node {
                *link = (*node).previous;
                return;
            }
            link = &raw mut (**link).previous;
        }
    }
}
