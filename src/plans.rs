//! Plans kept for the life of the backend, for the hot statements of sign-in and refresh and
//! for the sidecar's statements run through `bknd.run_as`: each costs more to parse and plan
//! than to run. Postgres revalidates kept plans when what they depend on changes (tables,
//! search_path, the role for row security).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use pgrx::datum::{DatumWithOid, FromDatum, IntoDatum};
use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, SpiClient, SpiResult, SpiTupleTable};
use pgrx::PgOid;

/// At most this many statements keep a plan: bknd's own and the sidecar's are a few dozen; a
/// caller sending endless distinct texts gets them planned afresh instead of filling memory.
const KEPT_AT_MOST: usize = 256;

thread_local! {
    static PLANS: RefCell<HashMap<String, Rc<OwnedPreparedStatement>>> = RefCell::new(HashMap::new());
}

/// Run `sql` through its kept plan (prepared for the argument types of its first call) and
/// hand the rows (at most `limit`) to `read`.
fn with_rows<R>(sql: &str, args: &[DatumWithOid], limit: Option<i64>, read: impl FnOnce(SpiTupleTable) -> SpiResult<R>) -> SpiResult<R> {
    Spi::connect_mut(|client: &mut SpiClient| {
        let kept = PLANS.with_borrow(|plans| plans.get(sql).cloned());
        let plan = match kept {
            Some(plan) => plan,
            None => {
                let oids: Vec<PgOid> = args.iter().map(|a| PgOid::from(a.oid())).collect();
                let prepared = client.prepare_mut(sql, &oids)?;
                if PLANS.with_borrow(|plans| plans.len()) >= KEPT_AT_MOST {
                    return read(client.update(&prepared, limit, args)?);
                }
                let plan = Rc::new(prepared.keep());
                PLANS.with_borrow_mut(|plans| plans.insert(sql.to_string(), plan.clone()));
                plan
            }
        };
        // no borrow of PLANS is held while the statement runs (it may call back into bknd)
        read(client.update(&*plan, limit, args)?)
    })
}

/// The first column of the first row.
pub fn get_one<A: FromDatum + IntoDatum>(sql: &str, args: &[DatumWithOid]) -> SpiResult<Option<A>> {
    with_rows(sql, args, Some(1), |rows| rows.first().get_one())
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
