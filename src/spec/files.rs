//! The files behind a spec: the spec itself, and the files it names. Every read is bounded, so
//! a path to `/dev/zero`, a log file or a disk image ends in an error naming the limit instead
//! of filling memory.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// The largest spec protector reads. Ten thousand members, the scale plans are measured at,
/// take under 1 MiB.
pub const SPEC_LIMIT: u64 = 4 * 1024 * 1024;

/// The largest file a spec names that protector reads: an API token (a FlashArray's is a
/// UUID) or the PEM of the array's CA (a few KiB; the system's CAs are trusted already).
pub const NAMED_FILE_LIMIT: u64 = 64 * 1024;

/// Why a file cannot be read in full.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("it holds more than {}", bytes(*.0))]
    TooLarge(u64),
    #[error("it is {0}, not a regular file")]
    NotRegular(&'static str),
}

/// The whole of `path`, if it holds at most `limit` bytes. Any kind of file may be read (a
/// pipe, `<(...)` in a shell), so the limit is enforced on what is read, not on its metadata.
pub fn read_at_most(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    read_limited(File::open(path)?, limit)
}

/// Whether a file the spec names (an API token, a CA certificate) is one protector reads: a
/// regular file of at most [`NAMED_FILE_LIMIT`] bytes. Only its metadata is looked at.
pub fn check_named(path: &Path) -> Result<(), FileError> {
    usable(&std::fs::metadata(path)?)
}

/// The whole of a file the spec names. Checked before it is opened (opening a named pipe waits
/// for a writer) and again once open, so the file read is the file checked.
pub fn read_named(path: &Path) -> Result<Vec<u8>, FileError> {
    check_named(path)?;
    let file = File::open(path)?;
    usable(&file.metadata()?)?;
    // It may still grow between the check and the read.
    read_limited(file, NAMED_FILE_LIMIT)
}

fn read_limited(file: File, limit: u64) -> Result<Vec<u8>, FileError> {
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge(limit));
    }
    Ok(bytes)
}

fn usable(metadata: &std::fs::Metadata) -> Result<(), FileError> {
    if !metadata.is_file() {
        return Err(FileError::NotRegular(kind(&metadata.file_type())));
    }
    if metadata.len() > NAMED_FILE_LIMIT {
        return Err(FileError::TooLarge(NAMED_FILE_LIMIT));
    }
    Ok(())
}

/// What a file that is not a regular file is, in an operator's words.
fn kind(file_type: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_fifo() {
            return "a named pipe";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a folder"
    } else {
        "a special file"
    }
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
    fn named_files_are_small_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("fa-a.token");
        std::fs::write(&token, "3bdf3b60-f0c0-fa8a-83c1-b794ba8f562c\n").unwrap();
        assert!(check_named(&token).is_ok());
        assert_eq!(
            read_named(&token).unwrap(),
            b"3bdf3b60-f0c0-fa8a-83c1-b794ba8f562c\n"
        );
        let bundle = dir.path().join("bundle.pem");
        std::fs::write(&bundle, vec![b'-'; NAMED_FILE_LIMIT as usize + 1]).unwrap();
        for (path, problem) in [
            (bundle.as_path(), "it holds more than 64 KiB"),
            (dir.path(), "it is a folder, not a regular file"),
            (
                Path::new("/dev/zero"),
                "it is a character device, not a regular file",
            ),
        ] {
            assert_eq!(check_named(path).unwrap_err().to_string(), problem);
            assert_eq!(read_named(path).unwrap_err().to_string(), problem);
        }
        assert!(matches!(
            check_named(&dir.path().join("missing")),
            Err(FileError::Io(_))
        ));
    }

    #[test]
    fn sizes_read_in_the_largest_whole_unit() {
        assert_eq!(bytes(SPEC_LIMIT), "4 MiB");
        assert_eq!(bytes(64 * 1024), "64 KiB");
        assert_eq!(bytes(1000), "1000 bytes");
    }
}
