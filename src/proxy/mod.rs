//! The per-request pipeline, in phase order.

pub mod path;
pub mod route;

pub mod codec;
pub mod client;
pub mod upstream;
pub mod audit;
