//! The bknd sidecar: maps HTTP onto the `bknd` extension. It keeps no state of its own; every
//! decision about who may do what is made by the database, under the caller's role.

pub mod app;
pub mod auth;
pub mod cli;
pub mod cors;
pub mod db;
pub mod health;
pub mod keys;
pub mod mcp;
pub mod rest;
pub mod storage;
pub mod welcome;
