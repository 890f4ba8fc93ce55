//! Plans kept for the life of the backend, for the hot statements of sign-in and refresh and
//! for the sidecar's statements run through `bknd.run_as`: each costs more to parse and plan
//! than to run. Postgres revalidates kept plans when what they depend on changes (tables,
//! search_path, the role for row security).
//!
//! Every statement bknd runs for a result goes through here rather than pgrx's `Spi::get_*`,
//! which take a transaction id before they run (see `execute`): a read must commit nothing.
//! Values are parameters, never part of the text, so one text is one plan (the sidecar writes a
//! page's LIMIT and OFFSET as numbers, so it may send many texts: the kept set makes room).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use pgrx::datum::{DatumWithOid, FromDatum, IntoDatum};
use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, Query, SpiClient, SpiResult, SpiTupleTable};
use pgrx::PgOid;

/// At most this many statements keep a plan: bknd's own and the sidecar's are a few dozen. A
/// caller sending endless distinct texts (a page at every offset) cannot fill memory: when full,
/// the plan used longest ago makes room, so the statements in use stay kept.
const KEPT_AT_MOST: usize = 256;

/// Plans by statement text, each with when it was last used.
struct Kept<V> {
    by_text: HashMap<String, (Rc<V>, u64)>,
    clock: u64,
}

impl<V> Kept<V> {
    fn new() -> Kept<V> {
        Kept { by_text: HashMap::new(), clock: 0 }
    }

    fn get(&mut self, sql: &str) -> Option<Rc<V>> {
        self.clock += 1;
        let (value, used) = self.by_text.get_mut(sql)?;
        *used = self.clock;
        Some(value.clone())
    }

    fn keep(&mut self, sql: &str, value: Rc<V>) {
        if self.by_text.len() >= KEPT_AT_MOST {
            // a scan of a few hundred entries, only when a new text comes to a full map
            let coldest = self.by_text.iter().min_by_key(|(_, (_, used))| *used).map(|(text, _)| text.clone());
            if let Some(text) = coldest {
                self.by_text.remove(&text);
            }
        }
        self.by_text.insert(sql.to_string(), (value, self.clock));
    }
}

thread_local! {
    static PLANS: RefCell<Kept<OwnedPreparedStatement>> = RefCell::new(Kept::new());
}

/// Run `sql` through its kept plan (prepared for the argument types of its first call) and
/// hand the rows (at most `limit`) to `read`.
fn with_rows<R>(sql: &str, args: &[DatumWithOid], limit: Option<i64>, read: impl FnOnce(SpiTupleTable) -> SpiResult<R>) -> SpiResult<R> {
    Spi::connect_mut(|client: &mut SpiClient| {
        let kept = PLANS.with_borrow_mut(|plans| plans.get(sql));
        let plan = match kept {
            Some(plan) => plan,
            None => {
                let oids: Vec<PgOid> = args.iter().map(|a| PgOid::from(a.oid())).collect();
                let plan = Rc::new(client.prepare_mut(sql, &oids)?.keep());
                PLANS.with_borrow_mut(|plans| plans.keep(sql, plan.clone()));
                plan
            }
        };
        // no borrow of PLANS is held while the statement runs (it may call back into bknd)
        read(execute(client, &*plan, limit, args)?)
    })
}

/// Run a plan made with `prepare_mut`: read-write (it sees earlier writes and may write) but
/// without taking a transaction id first, as pgrx's `SpiClient::update` does. A read then
/// commits nothing: no commit record, no WAL flush, no xid used up (a write takes its id
/// when it writes).
fn execute<'conn, Q: Query<'conn>>(
    client: &SpiClient<'conn>,
    plan: Q,
    limit: Option<i64>,
    args: &[DatumWithOid],
) -> SpiResult<SpiTupleTable<'conn>> {
    client.select(plan, limit, args)
}

/// The first column of the first row.
pub fn get_one<A: FromDatum + IntoDatum>(sql: &str, args: &[DatumWithOid]) -> SpiResult<Option<A>> {
    with_rows(sql, args, Some(1), |rows| rows.first().get_one())
}

/// The first two columns of the first row.
pub fn get_two<A, B>(sql: &str, args: &[DatumWithOid]) -> SpiResult<(Option<A>, Option<B>)>
where
    A: FromDatum + IntoDatum,
    B: FromDatum + IntoDatum,
{
    with_rows(sql, args, Some(1), |rows| rows.first().get_two())
}

/// The first three columns of the first row.
pub fn get_three<A, B, C>(sql: &str, args: &[DatumWithOid]) -> SpiResult<(Option<A>, Option<B>, Option<C>)>
where
    A: FromDatum + IntoDatum,
    B: FromDatum + IntoDatum,
    C: FromDatum + IntoDatum,
{
    with_rows(sql, args, Some(1), |rows| rows.first().get_three())
}

/// A statement whose rows, if any, are not wanted.
pub fn run(sql: &str, args: &[DatumWithOid]) -> SpiResult<()> {
    with_rows(sql, args, None, |_| Ok(()))
}

/// A statement whose parameter types PostgreSQL inferred from where each `$n` is used, as for
/// a statement prepared with no declared types over the wire; each argument arrives as text
/// and goes through its type's input function, as the wire protocol's text format does.
struct Inferred {
    plan: OwnedPreparedStatement,
    /// (type, its input function, the input function's type parameter), per `$n`
    inputs: Vec<(pg_sys::Oid, pg_sys::Oid, pg_sys::Oid)>,
}

thread_local! {
    static INFERRED: RefCell<Kept<Inferred>> = RefCell::new(Kept::new());
}

/// The types PostgreSQL gives `$1..$n` in `sql` from where they are used (those it cannot
/// tell are text). The statement must be exactly one.
fn inferred_types(sql: &str) -> Vec<pg_sys::Oid> {
    let Ok(text) = std::ffi::CString::new(sql) else {
        crate::errors::invalid("the statement contains a NUL byte");
    };
    unsafe {
        let raw = pg_sys::raw_parser(text.as_ptr(), pg_sys::RawParseMode::RAW_PARSE_DEFAULT);
        let statements = pgrx::PgList::<pg_sys::RawStmt>::from_pg(raw);
        let Some(statement) = statements.get_ptr(0).filter(|_| statements.len() == 1) else {
            crate::errors::invalid("exactly one statement is expected");
        };
        let mut types: *mut pg_sys::Oid = std::ptr::null_mut();
        let mut count: std::ffi::c_int = 0;
        pg_sys::parse_analyze_varparams(statement, text.as_ptr(), &mut types, &mut count, std::ptr::null_mut());
        (0..count.max(0) as usize)
            .map(|i| match *types.add(i) {
                t if t == pg_sys::InvalidOid || t == pg_sys::UNKNOWNOID => pg_sys::TEXTOID,
                t => t,
            })
            .collect()
    }
}

fn inferred(client: &mut SpiClient, sql: &str) -> SpiResult<Rc<Inferred>> {
    if let Some(kept) = INFERRED.with_borrow_mut(|plans| plans.get(sql)) {
        return Ok(kept);
    }
    let types = inferred_types(sql);
    let oids: Vec<PgOid> = types.iter().map(|t| PgOid::from(*t)).collect();
    let plan = client.prepare_mut(sql, &oids)?.keep();
    let inputs = types
        .iter()
        .map(|&t| {
            let (mut input, mut param) = (pg_sys::InvalidOid, pg_sys::InvalidOid);
            unsafe { pg_sys::getTypeInputInfo(t, &mut input, &mut param) };
            (t, input, param)
        })
        .collect();
    let kept = Rc::new(Inferred { plan, inputs });
    INFERRED.with_borrow_mut(|plans| plans.keep(sql, kept.clone()));
    Ok(kept)
}

/// A row's columns: (name, value as text).
pub type TextColumns = Vec<(String, Option<String>)>;

/// Run `sql` with text `args` typed as PostgreSQL infers them; the first row's columns, or
/// None when it returns no row.
pub fn first_row_as_text(sql: &str, args: &[Option<String>]) -> SpiResult<Option<TextColumns>> {
    Spi::connect_mut(|client: &mut SpiClient| {
        let statement = inferred(client, sql)?;
        if args.len() != statement.inputs.len() {
            crate::errors::invalid(format!("the statement takes {} arguments, {} were given", statement.inputs.len(), args.len()));
        }
        let mut values = Vec::with_capacity(args.len());
        for (arg, &(oid, input, param)) in args.iter().zip(&statement.inputs) {
            let value = match arg {
                None => DatumWithOid::null_oid(oid),
                Some(text) => {
                    let Ok(text) = std::ffi::CString::new(text.as_str()) else {
                        crate::errors::invalid("an argument contains a NUL byte");
                    };
                    // raises the type's own error (22P02 and the like) for a bad value
                    let datum = unsafe { pg_sys::OidInputFunctionCall(input, text.as_ptr() as *mut _, param, -1) };
                    unsafe { DatumWithOid::new(datum, oid) }
                }
            };
            values.push(value);
        }
        let rows = crate::statement_error::keeping_sqlstate(|| execute(client, &statement.plan, Some(1), &values))?;
        if rows.is_empty() {
            return Ok(None);
        }
        let row = rows.first();
        let mut columns = Vec::new();
        for ordinal in 1..=row.columns()? {
            let name = row.column_name(ordinal)?;
            let value = match row.get_datum_by_ordinal(ordinal)? {
                None => None,
                Some(datum) => {
                    let oid = row.column_type_oid(ordinal)?.value();
                    let (mut output, mut varlena) = (pg_sys::InvalidOid, false);
                    unsafe {
                        pg_sys::getTypeOutputInfo(oid, &mut output, &mut varlena);
                        let text = pg_sys::OidOutputFunctionCall(output, datum);
                        Some(std::ffi::CStr::from_ptr(text).to_string_lossy().into_owned())
                    }
                }
            };
            columns.push((name, value));
        }
        Ok(Some(columns))
    })
}

/// `text` as a jsonb value, made with jsonb's input function in the current memory context
/// (a bad document raises jsonb's own error).
pub fn jsonb_from_text(text: &str) -> pg_sys::Datum {
    let Ok(text) = std::ffi::CString::new(text) else {
        crate::errors::invalid("a JSON document contains a NUL byte");
    };
    unsafe {
        let (mut input, mut param) = (pg_sys::InvalidOid, pg_sys::InvalidOid);
        pg_sys::getTypeInputInfo(pg_sys::JSONBOID, &mut input, &mut param);
        pg_sys::OidInputFunctionCall(input, text.as_ptr() as *mut _, param, -1)
    }
}
