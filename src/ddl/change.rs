//! A schema change: taken under one advisory lock, run statement by statement, recorded in
//! `bknd.schema_history`. Everything happens in the caller's transaction, so a failure leaves
//! nothing behind.

use pgrx::prelude::*;
use serde_json::Value;

use crate::errors;
use crate::identity;

/// Serialises every bknd schema change in the database, so two concurrent `create_table` calls
/// for one name see each other: the second finds the table and fails cleanly.
const DDL_LOCK_KEY: i64 = 0x626b_6e64_6464_6c00; // "bknd" "ddl"

pub fn lock() {
    errors::spi(Spi::run_with_args("SELECT pg_catalog.pg_advisory_xact_lock($1)", &[DDL_LOCK_KEY.into()]));
}

pub struct Change {
    operation: &'static str,
    arguments: Value,
    statements: Vec<String>,
}

impl Change {
    /// Starts a change; takes the DDL lock, so call it before looking at the catalog.
    pub fn begin(operation: &'static str, arguments: Value) -> Change {
        lock();
        Change { operation, arguments, statements: Vec::new() }
    }

    pub fn push(&mut self, sql: String) {
        self.statements.push(sql);
    }

    pub fn extend(&mut self, sql: impl IntoIterator<Item = String>) {
        self.statements.extend(sql);
    }

    /// Run the statements as the caller, then record them.
    pub fn run(self) {
        for sql in &self.statements {
            errors::spi(Spi::run(sql));
        }
        let (by_role, by_sub) =
            errors::spi(crate::plans::get_two::<String, String>("SELECT current_user::text, bknd.claims() ->> 'sub'", &[]));
        // The history table is writable by the extension owner only.
        identity::as_extension_owner(|| {
            errors::spi(Spi::run_with_args(
                "INSERT INTO bknd.schema_history (by_role, by_sub, operation, arguments, ddl) \
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    by_role.unwrap_or_default().into(),
                    by_sub.into(),
                    self.operation.into(),
                    pgrx::JsonB(self.arguments.clone()).into(),
                    self.statements.clone().into(),
                ],
            ))
        });
    }
}
