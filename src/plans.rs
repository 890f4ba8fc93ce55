//! Plans kept for the life of the backend, for the hot statements of sign-in and refresh: each
//! costs more to parse and plan than to run, and a sign-in runs about ten of them. Postgres
//! revalidates kept plans when what they depend on changes (tables, search_path).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use pgrx::datum::{DatumWithOid, FromDatum, IntoDatum};
use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, SpiClient, SpiResult, SpiTupleTable};
use pgrx::PgOid;

thread_local! {
    static PLANS: RefCell<HashMap<&'static str, Rc<OwnedPreparedStatement>>> = RefCell::new(HashMap::new());
}

/// Run `sql` through its kept plan (prepared for the argument types of its first call) and
/// hand the rows (at most `limit`) to `read`.
fn with_rows<R>(sql: &'static str, args: &[DatumWithOid], limit: Option<i64>, read: impl FnOnce(SpiTupleTable) -> SpiResult<R>) -> SpiResult<R> {
    Spi::connect_mut(|client: &mut SpiClient| {
        let kept = PLANS.with_borrow(|plans| plans.get(sql).cloned());
        let plan = match kept {
            Some(plan) => plan,
            None => {
                let oids: Vec<PgOid> = args.iter().map(|a| PgOid::from(a.oid())).collect();
                let plan = Rc::new(client.prepare_mut(sql, &oids)?.keep());
                PLANS.with_borrow_mut(|plans| plans.insert(sql, plan.clone()));
                plan
            }
        };
        // no borrow of PLANS is held while the statement runs (it may call back into bknd)
        read(client.update(&*plan, limit, args)?)
    })
}

/// The first column of the first row.
pub fn get_one<A: FromDatum + IntoDatum>(sql: &'static str, args: &[DatumWithOid]) -> SpiResult<Option<A>> {
    with_rows(sql, args, Some(1), |rows| rows.first().get_one())
}

/// The first three columns of the first row.
pub fn get_three<A, B, C>(sql: &'static str, args: &[DatumWithOid]) -> SpiResult<(Option<A>, Option<B>, Option<C>)>
where
    A: FromDatum + IntoDatum,
    B: FromDatum + IntoDatum,
    C: FromDatum + IntoDatum,
{
    with_rows(sql, args, Some(1), |rows| rows.first().get_three())
}

/// A statement whose rows, if any, are not wanted.
pub fn run(sql: &'static str, args: &[DatumWithOid]) -> SpiResult<()> {
    with_rows(sql, args, None, |_| Ok(()))
}
