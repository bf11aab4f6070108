//! Keystone v3 (identity): authentication requests, tokens and the service catalog.

pub mod model;
