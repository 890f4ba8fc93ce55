//! Plans kept for the life of the backend, for hot queries whose planning costs more than
//! their execution (the user JSON in every session answer). Postgres revalidates kept plans
//! when what they depend on changes.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use pgrx::datum::{DatumWithOid, FromDatum, IntoDatum};
use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, SpiResult};
use pgrx::PgOid;

thread_local! {
    static PLANS: RefCell<HashMap<&'static str, Rc<OwnedPreparedStatement>>> = RefCell::new(HashMap::new());
}

/// The first column of the first row of `sql` run with `args`, through a kept plan (prepared
/// for the argument types of the first call).
pub fn get_one<A: FromDatum + IntoDatum>(sql: &'static str, args: &[DatumWithOid]) -> SpiResult<Option<A>> {
    Spi::connect_mut(|client| {
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
        // no borrow of PLANS is held while the query runs (it may call back into bknd)
        client.update(&*plan, Some(1), args)?.first().get_one()
    })
}
