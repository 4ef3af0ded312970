// SPDX-License-Identifier: Apache-2.0
//! Mounts for the tests that need a file system of their own: a small
//! tmpfs to fill up or remount read-only, a bind mount to put one file over
//! another, an ext4 image on a loop device to turn read-only by an error.
//! Mounting needs root: without it a test prints one loud
//! `SKIPPED (needs root): ...` line and passes, unless
//! `REEDBASE_ROOT_REQUIRED=1` is set (as in CI), where it fails instead.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The environment variable that turns a skip for want of root into a
/// failure.
pub const ROOT_REQUIRED_ENV: &str = "REEDBASE_ROOT_REQUIRED";

/// True when this process runs as root (effective uid 0). Otherwise prints
/// the skip line and returns false, or panics when root is required.
pub fn have_root(test: &str) -> bool {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .map(str::to_string);
    if euid.as_deref() == Some("0") {
        return true;
    }
    let required = std::env::var(ROOT_REQUIRED_ENV).is_ok_and(|v| v == "1");
    assert!(
        !required,
        "{test} needs root, and {ROOT_REQUIRED_ENV}=1 says it must run"
    );
    eprintln!("SKIPPED (needs root): {test}: mounts a file system of its own");
    println!("SKIPPED (needs root): {test}");
    false
}

/// A mount, unmounted (lazily, so that a test that failed with files open
/// does not leave it behind) when dropped.
pub struct Mount {
    at: PathBuf,
}

impl Mount {
    /// A tmpfs of `size` (as `mount -o size=` reads it, e.g. `512k`) at
    /// `at`, which must be an existing directory.
    pub fn tmpfs(at: &Path, size: &str) -> Mount {
        run(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "tmpfs",
                path(at),
            ],
        );
        Mount {
            at: at.to_path_buf(),
        }
    }

    /// `source` bind-mounted over `at` (a file over a file, or a directory
    /// over a directory).
    pub fn bind(source: &Path, at: &Path) -> Mount {
        run("mount", &["--bind", path(source), path(at)]);
        Mount {
            at: at.to_path_buf(),
        }
    }

    /// An ext4 file system of `bytes` made in the image file `image` (created
    /// here) and mounted through a loop device at `at` with
    /// `errors=remount-ro`, so that [`fail_ext4`](Self::fail_ext4) can make
    /// it read-only under open files.
    pub fn ext4_image(image: &Path, bytes: u64, at: &Path) -> Mount {
        fs::File::create(image).unwrap().set_len(bytes).unwrap();
        run("mkfs.ext4", &["-q", "-F", path(image)]);
        run(
            "mount",
            &["-o", "loop,errors=remount-ro", path(image), path(at)],
        );
        Mount {
            at: at.to_path_buf(),
        }
    }

    /// Reports an error to this mount's ext4 file system (its
    /// `trigger_fs_error` in `/sys/fs/ext4`): mounted with
    /// `errors=remount-ro`, it turns read-only at once, even while files
    /// are open for writing (which a read-only remount refuses with
    /// `EBUSY`). Every write through a descriptor opened before fails with
    /// `EROFS` from then on.
    pub fn fail_ext4(&self) {
        let device = self.source();
        let name = Path::new(&device)
            .file_name()
            .expect("a device path")
            .to_string_lossy()
            .into_owned();
        fs::write(
            Path::new("/sys/fs/ext4")
                .join(name)
                .join("trigger_fs_error"),
            "a test reports an error\n",
        )
        .unwrap();
    }

    /// The device mounted here (the latest mount at this path), from
    /// `/proc/self/mountinfo`.
    fn source(&self) -> String {
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
        let at = path(&self.at);
        mountinfo
            .lines()
            .filter(|line| line.split(' ').nth(4) == Some(at))
            .filter_map(|line| line.split_once(" - "))
            .filter_map(|(_, rest)| rest.split(' ').nth(1))
            .next_back()
            .unwrap_or_else(|| panic!("{at} is not in /proc/self/mountinfo"))
            .to_string()
    }

    /// Remounts this mount read-only.
    pub fn remount_read_only(&self) {
        run("mount", &["-o", "remount,ro", path(&self.at)]);
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").args(["-l", path(&self.at)]).status();
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}

fn run(program: &str, args: &[&str]) {
    let output = Command::new(program).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Fills the file system holding `dir` until a write fails with "no space
/// left"; returns the filler's path.
pub fn fill(dir: &Path) -> PathBuf {
    use std::io::Write as _;
    let filler = dir.join("filler");
    let mut file = fs::File::create(&filler).unwrap();
    let block = vec![0xA5u8; 4096];
    loop {
        match file.write(&block) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => panic!("filling {}: {e}", dir.display()),
        }
    }
    let _ = file.sync_all();
    filler
}
