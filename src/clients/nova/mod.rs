//! Nova v2.1 (compute): servers, flavors, server actions and volume attachments.

pub mod model;
