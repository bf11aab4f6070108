//! Cinder v3 (block storage): volumes, manage/unmanage, pools and volume types.

pub mod model;
