//! Not implemented yet: see `docs/architecture.md` for the planned role of this crate.
//!
//! This crate deliberately exposes no API until it is implemented, so nothing can
//! depend on behaviour it does not have.
#![forbid(unsafe_code)]
