//! The bknd sidecar: maps HTTP onto the `bknd` extension. It keeps no state of its own; every
//! decision about who may do what is made by the database, under the caller's role.

pub mod auth;
pub mod cli;
pub mod config;
pub mod console;
pub mod cors;
pub mod db;
pub mod engine;
pub mod error_chain;
pub mod extension;
pub mod health;
pub mod keys;
pub mod mcp;
pub mod members;
pub mod realtime;
pub mod request_id;
pub mod rest;
pub mod router;
pub mod serve;
pub mod state;
pub mod storage;
pub mod tls;
pub mod traffic;
pub mod typescript;
pub mod webhooks;
pub mod welcome;
