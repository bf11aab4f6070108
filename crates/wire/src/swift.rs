//! Swift (OpenStack object storage, API v1) as a state backend needs it: the header names, the
//! timestamp format, the JSON listings of an account and a container, and how the
//! `versioned_writes` middleware's history mode (`X-History-Location`) names the versions it
//! keeps in the archive container.
//!
//! Swift speaks mostly headers: an object's ETag is the MD5 of its body in lowercase hex, sent
//! *unquoted*; `X-Timestamp` is the write's timestamp (seconds, five decimals, zero-padded to 16
//! characters); `Last-Modified` is that timestamp rounded *up* to the second. Listings are JSON
//! with `format=json` (or `Accept: application/json`), plain names one a line otherwise.
//! Shared by protector's object-store client (reads) and the twin (writes).

use serde::{Deserialize, Serialize};

/// The catalog type of the service.
pub const SERVICE_TYPE: &str = "object-store";

/// Create only if absent (`If-None-Match: *` on an object PUT): 412 when it exists.
pub const IF_NONE_MATCH: &str = "if-none-match";
pub const IF_MATCH: &str = "if-match";
pub const ETAG: &str = "etag";
pub const X_TIMESTAMP: &str = "x-timestamp";
/// User metadata of an object: `X-Object-Meta-<name>: <value>`, all replaced on PUT and POST.
pub const OBJECT_META_PREFIX: &str = "x-object-meta-";
/// User metadata of a container.
pub const CONTAINER_META_PREFIX: &str = "x-container-meta-";
/// Unix seconds after which the object is gone.
pub const X_DELETE_AT: &str = "x-delete-at";
/// Seconds from now after which the object is gone (stored as `X-Delete-At`).
pub const X_DELETE_AFTER: &str = "x-delete-after";
/// On a container: the archive container of history mode.
pub const X_HISTORY_LOCATION: &str = "x-history-location";
/// On a container POST: turns history mode off (any non-empty value).
pub const X_REMOVE_HISTORY_LOCATION: &str = "x-remove-history-location";
/// On a container: the archive container of stack mode (not simulated by the twin).
pub const X_VERSIONS_LOCATION: &str = "x-versions-location";
pub const X_CONTAINER_OBJECT_COUNT: &str = "x-container-object-count";
pub const X_CONTAINER_BYTES_USED: &str = "x-container-bytes-used";
pub const X_ACCOUNT_CONTAINER_COUNT: &str = "x-account-container-count";
pub const X_ACCOUNT_OBJECT_COUNT: &str = "x-account-object-count";
pub const X_ACCOUNT_BYTES_USED: &str = "x-account-bytes-used";

/// The content type of the zero-byte marker history mode writes to the archive on a DELETE.
pub const DELETE_MARKER_CONTENT_TYPE: &str = "application/x-deleted;swift_versions_deleted=1";

/// The most entries one listing returns (and the largest `limit` Swift accepts: more is a 412).
pub const LISTING_LIMIT: usize = 10_000;

/// A Swift timestamp: hundred-thousandths of a second since the epoch (Swift's resolution).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The timestamp of a wall-clock instant in microseconds since the epoch (rounded down).
    pub fn from_micros(micros: i64) -> Timestamp {
        Timestamp(u64::try_from(micros / 10).unwrap_or(0))
    }

    /// `1441726934.26698`: zero-padded to 16 characters (`%016.05f`), as `X-Timestamp` reads and
    /// as the archive names versions (`Timestamp.internal`, without an offset).
    pub fn internal(self) -> String {
        format!("{:010}.{:05}", self.0 / 100_000, self.0 % 100_000)
    }

    /// Reads [`Timestamp::internal`] (or fewer decimals).
    pub fn parse(text: &str) -> Option<Timestamp> {
        let (secs, fraction) = text.split_once('.').unwrap_or((text, ""));
        if fraction.len() > 5 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let secs: u64 = secs.parse().ok()?;
        let fraction: u64 = format!("{fraction:0<5}").parse().ok()?;
        Some(Timestamp(secs * 100_000 + fraction))
    }

    /// Whole seconds, rounded up: what `Last-Modified` shows.
    pub fn ceil_secs(self) -> i64 {
        self.0.div_ceil(100_000) as i64
    }

    /// Microseconds since the epoch.
    pub fn micros(self) -> i64 {
        (self.0 * 10) as i64
    }
}

/// The archive's name prefix of every version of `object` (history and stack mode alike): its
/// length in bytes as three hex digits, the name, a slash. List the archive with it as `prefix`.
pub fn archive_prefix(object: &str) -> String {
    format!("{:03x}{object}/", object.len())
}

/// The archive's name of the version of `object` written at `timestamp` (a delete marker: the
/// time of the delete).
pub fn archive_name(object: &str, timestamp: Timestamp) -> String {
    format!("{}{}", archive_prefix(object), timestamp.internal())
}

/// One entry of a container listing (`GET /v1/{account}/{container}?format=json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ObjectEntry {
    Object(ObjectInfo),
    /// A name rolled up by `delimiter`: the common prefix, delimiter included.
    Subdir {
        subdir: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectInfo {
    pub name: String,
    /// MD5 of the body, lowercase hex.
    pub hash: String,
    pub bytes: u64,
    pub content_type: String,
    /// `2026-12-07T10:15:02.123450`: UTC, microseconds, no zone suffix.
    pub last_modified: String,
}

/// One entry of an account listing (`GET /v1/{account}?format=json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ContainerEntry {
    Container(ContainerInfo),
    Subdir { subdir: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfo {
    pub name: String,
    pub count: u64,
    pub bytes: u64,
    /// Swift answers it; the API reference's sample predates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_read_as_swift_writes_them() {
        let ts = Timestamp::parse("1441726934.26698").unwrap();
        assert_eq!(ts.internal(), "1441726934.26698");
        assert_eq!(ts.ceil_secs(), 1441726935);
        assert_eq!(
            Timestamp::parse("12.5").unwrap().internal(),
            "0000000012.50000"
        );
        assert_eq!(
            Timestamp(1_000_000_000 * 100_000).ceil_secs(),
            1_000_000_000
        );
        assert_eq!(Timestamp::parse("1.123456"), None);
        assert_eq!(
            Timestamp::from_micros(1_441_726_934_266_989).internal(),
            "1441726934.26698"
        );
    }

    #[test]
    fn archive_names_follow_versioned_writes() {
        // From the versioned_writes documentation: `?prefix=008myobject/`.
        assert_eq!(archive_prefix("myobject"), "008myobject/");
        let name = archive_name(
            "groups/web.json",
            Timestamp::parse("1441726934.26698").unwrap(),
        );
        assert_eq!(name, "00fgroups/web.json/1441726934.26698");
    }

    #[test]
    fn listings_read_objects_and_subdirs() {
        let entries: Vec<ObjectEntry> = serde_json::from_str(
            r#"[{"hash": "d41d8cd98f00b204e9800998ecf8427e", "last_modified": "2026-12-07T10:15:02.123450",
                 "bytes": 0, "name": "lock", "content_type": "application/json"},
                {"subdir": "groups/"}]"#,
        )
        .unwrap();
        assert!(matches!(&entries[0], ObjectEntry::Object(info) if info.name == "lock"));
        assert_eq!(
            entries[1],
            ObjectEntry::Subdir {
                subdir: "groups/".into()
            }
        );
    }
}
