//! The state folders this user has run operations from, so that `operation show OP`, `apply
//! --resume OP`, `rollback OP` and `report OP` find an operation from any directory, as the
//! hints protector prints promise. One small file per folder in the user's state home
//! (`$XDG_STATE_HOME/protector/state-folders/`, else `~/.local/state/protector/...`), named
//! after the folder's path and holding it; each written whole, so concurrent runs never
//! corrupt the index. A folder that cannot be remembered only costs the lookup from elsewhere.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::store;

/// Where the index lives, if this user has a state home.
pub fn dir() -> Option<PathBuf> {
    let home = std::env::var_os("XDG_STATE_HOME")
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|value| !value.is_empty())
                .map(|home| PathBuf::from(home).join(".local/state"))
        })?;
    Some(home.join("protector/state-folders"))
}

/// Records that `folder` holds operations.
pub fn remember(index: &Path, folder: &Path) -> Result<(), String> {
    let folder = std::path::absolute(folder)
        .map_err(|error| format!("cannot resolve {}: {error}", folder.display()))?;
    let text = folder
        .to_str()
        .ok_or_else(|| format!("{} is not UTF-8", folder.display()))?;
    let entry = index.join(format!("{:x}", Sha256::digest(text.as_bytes())));
    if std::fs::read_to_string(&entry).is_ok_and(|known| known.trim_end() == text) {
        return Ok(());
    }
    std::fs::create_dir_all(index)
        .map_err(|error| format!("cannot create {}: {error}", index.display()))?;
    let temporary = entry.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&temporary, format!("{text}\n"))
        .and_then(|()| std::fs::rename(&temporary, &entry))
        .map_err(|error| format!("cannot write {}: {error}", entry.display()))
}

/// The remembered folders that still exist, in a stable order.
pub fn folders(index: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(index) else {
        return Vec::new();
    };
    let mut folders: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().extension().is_none())
        .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
        .map(|text| PathBuf::from(text.trim_end()))
        .filter(|folder| folder.is_dir())
        .collect();
    folders.sort();
    folders
}

/// The remembered folder that holds `operation`, if one does.
pub fn find(index: &Path, operation: &str) -> Option<PathBuf> {
    folders(index).into_iter().find(|folder| {
        store::open_folder(folder)
            .find_plan(operation)
            .is_ok_and(|plan| plan.is_some())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_folders_are_found_once_each_and_gone_ones_forgotten() {
        let home = tempfile::tempdir().unwrap();
        let index = home.path().join("index");
        let (one, two) = (home.path().join("one"), home.path().join("two"));
        std::fs::create_dir_all(&one).unwrap();
        std::fs::create_dir_all(&two).unwrap();
        remember(&index, &one).unwrap();
        remember(&index, &one).unwrap();
        remember(&index, &two).unwrap();
        assert_eq!(folders(&index), [one.clone(), two.clone()]);
        std::fs::remove_dir_all(&two).unwrap();
        assert_eq!(folders(&index), [one]);
        assert_eq!(
            find(&index, "op-00000000-0000-0000-0000-000000000000"),
            None
        );
        // A relative folder is remembered as an absolute one.
        let relative = Path::new("relative-state");
        remember(&index, relative).unwrap();
        let entries = std::fs::read_dir(&index).unwrap().count();
        assert_eq!(entries, 3);
        assert!(folders(&index).iter().all(|f| f.is_absolute()));
    }
}
