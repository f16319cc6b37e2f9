//! The per-request pipeline, in phase order.

pub mod path;
pub mod route;
