// SPDX-License-Identifier: Apache-2.0
//! `--chaos`: what an operator, a sync tool or another account with write
//! access to `<base>/tables/` may do while writers run (the threat
//! model's attacker): delete and rename the lock file, rename the corrupt
//! directory, drop junk files and symbolic links (to a file outside the
//! base, to a FIFO outside it, named like an entry or like a producer's
//! temporary) into the queue directory, and, when run as root, put the base
//! on a small tmpfs and fill it up now and then.
//!
//! Outside the base, a directory holds the links' targets; at the end it
//! must hold exactly what it held at the start, unchanged.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use reedbase_concurrent_test_support::Rng;

use super::TABLE;

/// What the canary file holds, start to end.
const CANARY: &str = "canary: nothing may write here\n";
/// The tmpfs's size: a few hundred queue entries and the lock files.
const TMPFS_SIZE: &str = "size=2m";
/// How long a full disk stays full.
const FULL_FOR: Duration = Duration::from_millis(300);
/// The fs backend leaves an unparsable entry with an old-module name alone
/// for 2 s after it was last modified (an old-module producer may still be
/// writing it in place); the attacker's junk is such an entry, so the
/// final drain waits this long after the attack stops to see it moved
/// aside.
const OLD_MODULE_WRITE_GRACE: Duration = Duration::from_millis(2_500);
/// The prefixes of the entry names the attacker drops into the queue.
const JUNK_PREFIXES: [&str; 4] = ["junk-", "dir-", "outside-", "fifo-"];

/// True for an entry file name the attacker made (not a writer's entry),
/// so that the queue depth the writers reached can be told from the junk.
pub fn is_junk(file_name: &str) -> bool {
    JUNK_PREFIXES
        .iter()
        .any(|prefix| file_name.starts_with(prefix))
}

/// The attacker, and what it did.
pub struct Chaos {
    base: PathBuf,
    outside: PathBuf,
    /// How many times each action was taken.
    pub actions: BTreeMap<&'static str, usize>,
    /// Whether the base is a tmpfs this run mounted, or why not.
    pub tmpfs: Result<(), String>,
    filled: Option<Instant>,
    serial: u64,
}

fn is_root() -> bool {
    fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|uids| uids.split_whitespace().next())
            == Some("0")
    })
}

fn run_tool(program: &str, args: &[&std::ffi::OsStr]) -> Result<(), String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

impl Chaos {
    /// Makes the outside directory (a canary file and a FIFO) and, as
    /// root, mounts a small tmpfs on the base.
    pub fn prepare(dir: &Path) -> Result<Chaos, String> {
        let outside = dir.join("outside");
        fs::create_dir_all(&outside).map_err(|e| format!("create {}: {e}", outside.display()))?;
        fs::write(outside.join("canary.txt"), CANARY).map_err(|e| format!("canary: {e}"))?;
        run_tool("mkfifo", &[outside.join("fifo").as_os_str()])?;
        let base = dir.join("base");
        let tmpfs = if is_root() {
            run_tool(
                "mount",
                &[
                    "-t".as_ref(),
                    "tmpfs".as_ref(),
                    "-o".as_ref(),
                    TMPFS_SIZE.as_ref(),
                    "tmpfs".as_ref(),
                    base.as_os_str(),
                ],
            )
        } else {
            Err("not root".to_string())
        };
        Ok(Chaos {
            base,
            outside,
            actions: BTreeMap::new(),
            tmpfs,
            filled: None,
            serial: 0,
        })
    }

    /// Takes one random action about every 100 ms (called every 20 ms).
    pub fn act(&mut self, rng: &mut Rng) {
        if self.filled.is_some_and(|since| since.elapsed() > FULL_FOR) {
            self.empty();
        }
        if rng.below(0, 5) != 0 {
            return;
        }
        self.serial += 1;
        let table = self.base.join("tables").join(TABLE);
        let queue = table.join("queue");
        let n = self.serial;
        let outside = &self.outside;
        let (name, result) = match rng.below(0, 9) {
            0 => (
                "delete write.lock",
                fs::remove_file(table.join("write.lock")),
            ),
            1 => (
                "rename write.lock",
                fs::rename(
                    table.join("write.lock"),
                    table.join(format!("write.lock.moved-{n}")),
                ),
            ),
            // The producers' lock is a lock on the queue directory itself on
            // local file systems (`.queue.lock` exists only where directories
            // cannot be locked), so the attacker goes for what a producer
            // leaves: a temporary named like one, and the corrupt directory.
            2 => (
                "temporary named like a producer's",
                std::os::unix::fs::symlink(
                    outside.join("canary.txt"),
                    queue.join(format!(".incoming-chaos{n}.tmp")),
                ),
            ),
            3 => (
                "rename queue/corrupt",
                fs::rename(
                    queue.join("corrupt"),
                    queue.join(format!("corrupt-moved-{n}")),
                ),
            ),
            4 => (
                "junk .pending file",
                fs::write(
                    queue.join(format!("junk-{n}.pending")),
                    b"{\"rows\": [ junk",
                ),
            ),
            5 => (
                "junk directory .pending",
                fs::create_dir(queue.join(format!("dir-{n}.pending"))),
            ),
            6 => (
                "link to a file outside",
                std::os::unix::fs::symlink(
                    outside.join("canary.txt"),
                    queue.join(format!("outside-{n}.pending")),
                ),
            ),
            7 => (
                "link to a FIFO",
                std::os::unix::fs::symlink(
                    outside.join("fifo"),
                    queue.join(format!("fifo-{n}.pending")),
                ),
            ),
            _ if self.tmpfs.is_ok() && self.filled.is_none() => ("fill the tmpfs", self.fill()),
            _ => (
                "junk temporary file",
                fs::write(queue.join(format!("junk-{n}.tmp")), b"x"),
            ),
        };
        let key = if result.is_ok() {
            name
        } else {
            "(action found nothing to act on)"
        };
        *self.actions.entry(key).or_default() += 1;
    }

    fn fill(&mut self) -> std::io::Result<()> {
        let mut file = File::create(self.base.join("chaos-filler"))?;
        let chunk = vec![0u8; 64 * 1024];
        self.filled = Some(Instant::now());
        loop {
            if let Err(error) = file.write_all(&chunk) {
                return if error.kind() == std::io::ErrorKind::StorageFull {
                    Ok(())
                } else {
                    Err(error)
                };
            }
        }
    }

    fn empty(&mut self) {
        let _ = fs::remove_file(self.base.join("chaos-filler"));
        self.filled = None;
    }

    /// Stops attacking: frees the disk, waits until the last junk entry is
    /// older than the fs backend's grace for old-module writes in progress
    /// (see [`OLD_MODULE_WRITE_GRACE`]), and wakes any reader blocked on
    /// the FIFO (opening it for reading and writing never blocks, and
    /// counts as a writer).
    pub fn calm(&mut self) {
        self.empty();
        thread::sleep(OLD_MODULE_WRITE_GRACE);
        let fifo = self.outside.join("fifo");
        thread::spawn(move || {
            for _ in 0..50 {
                if let Ok(file) = OpenOptions::new().read(true).write(true).open(&fifo) {
                    thread::sleep(Duration::from_millis(20));
                    drop(file);
                }
            }
        });
    }

    /// Everything outside the base that is not as it was: the outside
    /// directory must hold the canary, unchanged, and the FIFO, and the
    /// run's directory nothing but the base, the outside directory, the
    /// table and the event log.
    pub fn outside_changes(&self) -> Vec<String> {
        let mut changes = Vec::new();
        match fs::read_to_string(self.outside.join("canary.txt")) {
            Ok(text) if text == CANARY => {}
            Ok(_) => changes.push("the canary outside the base was overwritten".to_string()),
            Err(e) => changes.push(format!("the canary outside the base is gone: {e}")),
        }
        let expected: [(&Path, &[&str]); 2] = [
            (&self.outside, &["canary.txt", "fifo"]),
            (
                self.outside.parent().unwrap_or(&self.outside),
                &["base", "outside", "table.csv", "events.log"],
            ),
        ];
        for (dir, names) in expected {
            let Ok(entries) = fs::read_dir(dir) else {
                changes.push(format!("{} cannot be listed", dir.display()));
                continue;
            };
            for entry in entries.filter_map(Result::ok) {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !names.contains(&name.as_str()) {
                    changes.push(format!(
                        "{} appeared outside the base",
                        entry.path().display()
                    ));
                }
            }
        }
        changes
    }
}

impl Drop for Chaos {
    fn drop(&mut self) {
        // The supervisor's own backend may still keep descriptors in the
        // base (its final drain), which makes a plain unmount busy: then
        // detach it, so that no run leaves its tmpfs mounted.
        if self.tmpfs.is_ok() && run_tool("umount", &[self.base.as_os_str()]).is_err() {
            let _ = run_tool("umount", &["-l".as_ref(), self.base.as_os_str()]);
        }
    }
}
