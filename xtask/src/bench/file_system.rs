// SPDX-License-Identifier: Apache-2.0
//! What file system a bench run's files are on: its type, its device and,
//! for ext4, whether it has a journal. The same disk can give very
//! different numbers under a journaled and an unjournaled ext4 (a journal
//! merges the flushes of concurrent `fsync`s into one commit; without one,
//! ext4 also skips inodes freed in the last minute when it allocates, a
//! walk that grows with a queue's churn), so each run's JSON says which.

use std::path::Path;

/// The mount that holds `dir` (the longest mount point above it in
/// `/proc/self/mountinfo`), as JSON: `type`, `source`, `mount_point`, and
/// `journal` for ext4 (`null` when it cannot be told). `null` where the
/// mount table cannot be read.
pub fn describe(dir: &Path) -> serde_json::Value {
    let Ok(dir) = dir.canonicalize() else {
        return serde_json::Value::Null;
    };
    let Ok(table) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return serde_json::Value::Null;
    };
    let Some((mount_point, fs_type, source)) = table
        .lines()
        .filter_map(parse_line)
        .filter(|(mount_point, _, _)| dir.starts_with(mount_point))
        .max_by_key(|(mount_point, _, _)| mount_point.len())
    else {
        return serde_json::Value::Null;
    };
    let journal = (fs_type == "ext4").then(|| ext4_journal(&source)).flatten();
    serde_json::json!({
        "type": fs_type,
        "source": source,
        "mount_point": mount_point,
        "journal": journal,
    })
}

/// Mount point, type and source of one line of `mountinfo` (fields: id,
/// parent, major:minor, root, mount point, options, optional fields, `-`,
/// type, source, super options). Escaped characters in the mount point
/// (`\040` for a space) are left as they are: such a mount point is then
/// not found above the directory, and the next longer one is taken.
fn parse_line(line: &str) -> Option<(String, String, String)> {
    let (before, after) = line.split_once(" - ")?;
    let mount_point = before.split(' ').nth(4)?;
    let mut after = after.split(' ');
    let fs_type = after.next()?;
    let source = after.next()?;
    Some((mount_point.into(), fs_type.into(), source.into()))
}

/// Whether the ext4 file system on `source` (`/dev/vda`) has a journal:
/// jbd2 lists each journal it runs as `/proc/fs/jbd2/<device>-<inode>`.
fn ext4_journal(source: &str) -> Option<bool> {
    let device = Path::new(source).file_name()?.to_str()?;
    let prefix = format!("{device}-");
    let journals = std::fs::read_dir("/proc/fs/jbd2").ok()?;
    Some(
        journals
            .filter_map(Result::ok)
            .any(|entry| entry.file_name().to_string_lossy().starts_with(&prefix)),
    )
}

#[cfg(test)]
#[path = "file_system_test.rs"]
mod tests;
