//! zaslon: a privacy-enforcing reverse proxy for medical information systems.

pub mod audit;
pub mod class;
pub mod consent;
pub mod detect;
pub mod rules;
pub mod redact;
