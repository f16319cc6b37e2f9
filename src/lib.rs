//! zaslon: a privacy-enforcing reverse proxy for medical information systems.

pub mod class;
pub mod detect;
pub mod rules;
