//! FlashArray REST 2.x (Purity//FA): volumes, volume snapshots, protection groups and their
//! snapshots, replication transfers, array connections, hosts and host-volume connections.
//!
//! `model` holds the wire types, shared by protector's FlashArray client (which deserializes
//! them) and the twin's array (which serializes them); `tests/it/flasharray_api.rs` checks every
//! body the twin sends against Pure's OpenAPI description (`FA2.56-dr-subset.spec.yaml`).

pub mod model;
