//! The files behind a spec: the spec itself, and the files it names. Every read is bounded, so
//! a path to `/dev/zero`, a log file or a disk image ends in an error naming the limit instead
//! of filling memory.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// The largest spec protector reads. Ten thousand members, the scale plans are measured at,
/// take under 1 MiB.
pub const SPEC_LIMIT: u64 = 4 * 1024 * 1024;

/// Why a file cannot be read in full.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("it holds more than {}", bytes(*.0))]
    TooLarge(u64),
}

/// The whole of `path`, if it holds at most `limit` bytes. Any kind of file may be read (a
/// pipe, `<(...)` in a shell), so the limit is enforced on what is read, not on its metadata.
pub fn read_at_most(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    let mut bytes = Vec::new();
    File::open(path)?
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge(limit));
    }
    Ok(bytes)
}

/// A size as people write it: `64 KiB`, `4 MiB`.
pub fn bytes(count: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    match count {
        0 => "0 bytes".to_string(),
        count if count % MIB == 0 => format!("{} MiB", count / MIB),
        count if count % KIB == 0 => format!("{} KiB", count / KIB),
        count => format!("{count} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_within_the_limit_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spec.yaml");
        std::fs::write(&path, "version: 1\n").unwrap();
        assert_eq!(read_at_most(&path, 11).unwrap(), b"version: 1\n");
        assert!(matches!(
            read_at_most(&path, 10),
            Err(FileError::TooLarge(10))
        ));
    }

    #[test]
    fn a_device_that_never_ends_is_cut_at_the_limit() {
        let error = read_at_most(Path::new("/dev/zero"), 1024).unwrap_err();
        assert_eq!(error.to_string(), "it holds more than 1 KiB");
    }

    #[test]
    fn sizes_read_in_the_largest_whole_unit() {
        assert_eq!(bytes(SPEC_LIMIT), "4 MiB");
        assert_eq!(bytes(64 * 1024), "64 KiB");
        assert_eq!(bytes(1000), "1000 bytes");
    }
}
