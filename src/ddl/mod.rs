//! Dynamic tables: JSON descriptions in, validated and quoted DDL out, every change recorded.
//!
//! names (validation, quoting) -> column (spec -> SQL) -> table / alter / index / relation
//! (the operations) -> change (lock, run, history). describe and catalog read pg_catalog.

pub mod catalog;
pub mod change;
pub mod column;
pub mod describe;
pub mod names;

mod alter;
mod index;
mod relation;
mod table;
