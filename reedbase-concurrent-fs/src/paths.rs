// SPDX-License-Identifier: Apache-2.0
//! Where a table's files live under the base directory.

use std::path::{Path, PathBuf};

use reedbase_concurrent_core::{ReedResult, validate_table_name};

/// The paths of one table's lock and queue, built from a validated name.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use reedbase_concurrent_fs::TablePaths;
///
/// let paths = TablePaths::new(Path::new("/data"), "users")?;
/// assert_eq!(paths.lock_file, Path::new("/data/tables/users/write.lock"));
/// assert_eq!(paths.queue_dir, Path::new("/data/tables/users/queue"));
/// assert!(TablePaths::new(Path::new("/data"), "../x").is_err());
/// # Ok::<(), reedbase_concurrent_core::ReedError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablePaths {
    /// `<base>/tables/<table>`
    pub table_dir: PathBuf,
    /// `<base>/tables/<table>/write.lock`
    pub lock_file: PathBuf,
    /// `<base>/tables/<table>/queue`
    pub queue_dir: PathBuf,
    /// `<base>/tables/<table>/queue/corrupt`: entries moved aside.
    pub corrupt_dir: PathBuf,
}

impl TablePaths {
    /// Validates `table_name` and joins the table's paths under `base_path`.
    ///
    /// # Errors
    ///
    /// [`ReedError::InvalidTableName`](reedbase_concurrent_core::ReedError::InvalidTableName)
    /// for a name that would leave `<base>/tables/`.
    pub fn new(base_path: &Path, table_name: &str) -> ReedResult<TablePaths> {
        validate_table_name(table_name)?;
        let table_dir = base_path.join("tables").join(table_name);
        let queue_dir = table_dir.join("queue");
        Ok(TablePaths {
            lock_file: table_dir.join("write.lock"),
            corrupt_dir: queue_dir.join("corrupt"),
            queue_dir,
            table_dir,
        })
    }
}
