//! Integration tests: the real application on an ephemeral port, a fresh
//! Postgres database per test, real HTTP.

mod access;
mod alerts;
mod binary;
mod dashboard;
mod delivery;
mod durability;
mod edge;
mod faults;
mod helpers;
mod ingest;
mod leases;
mod limits;
mod loadtest;
mod logs;
mod metrics;
mod openapi;
mod payloads;
mod protection;
mod register;
mod retention;
mod scale;
mod scale_out;
mod sink;
mod store_contract;
