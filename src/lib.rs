//! zaslon: a privacy-enforcing reverse proxy for medical information systems.

pub mod admin;
pub mod audit;
pub mod class;
pub mod config;
pub mod consent;
pub mod demo;
pub mod detect;
pub mod metrics;
pub mod passthrough;
pub mod proxy;
pub mod redact;
pub mod rules;
pub mod server;
pub mod synth;
