// SPDX-License-Identifier: Apache-2.0
//! Where things are: the workspace root, its target directory, the cargo
//! that runs this task.

use std::path::{Path, PathBuf};

/// The workspace root: the parent of this crate's manifest directory.
pub fn workspace_root() -> PathBuf {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().unwrap_or(xtask).to_path_buf()
}

/// `CARGO_TARGET_DIR` (relative to the current directory, as cargo reads
/// it) if set, else `<workspace>/target`.
pub fn target_dir() -> Result<PathBuf, String> {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let current = std::env::current_dir()
                .map_err(|e| format!("cannot read the current directory: {e}"))?;
            Ok(current.join(dir))
        }
        _ => Ok(workspace_root().join("target")),
    }
}

/// The cargo that runs this task (so that the same toolchain is used).
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string())
}
