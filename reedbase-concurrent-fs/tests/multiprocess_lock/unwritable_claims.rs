// SPDX-License-Identifier: Apache-2.0
//! Claims that cannot be written. A child holds the lock; a waiter in this
//! process waits long enough to claim a turn, on a full disk or on a file
//! system that an error has turned read-only, so that the `pwrite` of its
//! claim fails. That must only mean that it keeps polling: while the holder
//! keeps the lock it gets a `LockTimeout` (not an `IoError`, not a panic,
//! not a hang), it gets the lock once the holder releases it, no claim is
//! listed meanwhile, and nothing outside the base changes.
//!
//! On tmpfs a write into a page the file already has needs no room, and
//! the holder record and all 8 slots lie in the first 4 KiB page of
//! `write.lock` (256 + 8 x 256 bytes): once a holder record has been
//! written, claims are written even on a full disk. So here the disk is
//! full before the first holder comes, whose record cannot be written
//! either: `write.lock` stays empty (as one the old module made), and a
//! claim would need a new page. Each case checks that a write into a slot
//! fails before it relies on it.
//!
//! A read-only remount never meets a waiter: it fails with `EBUSY` while a
//! descriptor is open for writing, and holders and waiters keep
//! `write.lock` open for writing (one opened after the remount fails at
//! the open, an `IoError` by the contract). A file system turned read-only
//! by an error (ext4 mounted `errors=remount-ro`) does meet it, under its
//! open descriptors: that case runs on an ext4 image.
//!
//! The waiter acquires through an `FsBackend`, whose kept descriptors are
//! its own; this process looks at the lock through the free functions,
//! which keep theirs apart. (A probe that has the backend's kept pair in
//! hand when an acquisition starts makes it open a pair of its own, which
//! on a read-only file system fails at the open.)
//!
//! The mounts need root (see `mounts`).

use std::fs::{self, File};
use std::io::ErrorKind;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use reedbase_concurrent_core::{LockBackend as _, LockGuard as _};
use reedbase_concurrent_fs::lock::claimed_turns;
use reedbase_concurrent_fs::{FsBackend, ReedError, ReedResult, TableLock, close_idle, is_locked};
use tempfile::TempDir;

use crate::mounts::{Mount, fill, have_root};
use crate::support::{ChildProcess, wait_until};
use crate::{Outcome, PATIENCE, TABLE, check, spawn};

/// The timeout of a waiter that must time out.
const SHORT: Duration = Duration::from_millis(200);
/// How long the holder keeps the lock while a waiter with a long timeout
/// waits: far past the 3 ms after which a waiter claims a turn.
const HELD_FOR: Duration = Duration::from_millis(100);
/// How long a waiter may take to return once it should (its [`SHORT`]
/// timeout has passed, or the lock it waits for was released) before it
/// counts as hung: wide, so that a loaded machine does not fail it, and
/// shorter than the timeout of a waiter that must get the lock
/// ([`PATIENCE`]), so that one that gets it only at its deadline fails.
const HANG: Duration = Duration::from_secs(10);
/// The offset of the first claim slot in `write.lock` (after the 256-byte
/// holder record).
const FIRST_SLOT: u64 = 256;

/// A child holding the lock of a base on a file system of its own, that
/// file system, and the backend the waiters of this process acquire
/// through. Dropped in this order: this process's kept descriptors of the
/// base, the child (killed if still running), the mount, the directory.
struct Setup {
    holder: ChildProcess,
    base: PathBuf,
    waiters: Arc<FsBackend>,
    /// Where the file system is mounted.
    root: PathBuf,
    mount: Mount,
    _dir: TempDir,
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.waiters.close_idle();
        close_idle(&self.base);
    }
}

impl Setup {
    /// A 256 KiB tmpfs, filled up, and a child that then takes the lock of
    /// a base on it (creating it): its holder record cannot be written.
    fn full_disk() -> Result<Setup, String> {
        let dir = tempfile::tempdir().unwrap();
        let mount = Mount::tmpfs(dir.path(), "256k");
        let root = dir.path().to_path_buf();
        fill(&root);
        let setup = Setup::held(dir, root, mount)?;
        check(
            setup.lock_file_len() == 0,
            "the holder record was not written on the full disk",
        )?;
        slot_write_fails(&setup.open_lock_file(), ErrorKind::StorageFull)?;
        Ok(setup)
    }

    /// An ext4 image mounted `errors=remount-ro`, a child holding the lock
    /// of a base on it, and the waiters' descriptors of the lock opened (a
    /// `try_acquire_lock` that finds it held keeps them for the next
    /// acquisition); then an error turns the file system read-only.
    fn read_only_by_error() -> Result<Setup, String> {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("mnt");
        fs::create_dir(&root).unwrap();
        let mount = Mount::ext4_image(&dir.path().join("ext4.img"), 8 << 20, &root);
        let setup = Setup::held(dir, root, mount)?;
        check(
            setup.waiters.try_acquire_lock(TABLE).unwrap().is_none(),
            "the child holds the lock",
        )?;
        let probe = setup.open_lock_file();
        setup.mount.fail_ext4();
        slot_write_fails(&probe, ErrorKind::ReadOnlyFilesystem)?;
        Ok(setup)
    }

    /// A child holding the lock of `<root>/base` (creating it), and the
    /// waiters' backend on that base.
    fn held(dir: TempDir, root: PathBuf, mount: Mount) -> Result<Setup, String> {
        let base = root.join("base");
        let mut holder = spawn("hold", &base)?;
        holder.expect_line("held", PATIENCE)?;
        Ok(Setup {
            holder,
            waiters: Arc::new(FsBackend::new(&base)),
            base,
            root,
            mount,
            _dir: dir,
        })
    }

    /// `write.lock`, opened for reading and writing.
    fn open_lock_file(&self) -> File {
        File::options()
            .read(true)
            .write(true)
            .open(self.lock_file())
            .unwrap()
    }

    /// Tells the child to release the lock and waits until it has.
    fn release(&mut self) -> Outcome {
        self.holder.send_line("release")?;
        self.holder.expect_line("released", PATIENCE)
    }

    fn lock_file(&self) -> PathBuf {
        self.base.join("tables").join(TABLE).join("write.lock")
    }

    fn lock_file_len(&self) -> u64 {
        fs::metadata(self.lock_file()).unwrap().len()
    }

    /// Every path on the file system outside the base, with what it is,
    /// its size and its modification time.
    fn outside_base(&self) -> Vec<Entry> {
        let mut found = Vec::new();
        let mut dirs = vec![self.root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path == self.base {
                    continue;
                }
                let meta = fs::symlink_metadata(&path).unwrap();
                if meta.is_dir() {
                    dirs.push(path.clone());
                }
                found.push((path, meta.is_dir(), meta.len(), meta.modified().unwrap()));
            }
        }
        found.sort();
        found
    }

    /// Checks that the file system outside the base is as `before`.
    fn nothing_changed_outside(&self, before: &[Entry]) -> Outcome {
        let after = self.outside_base();
        let changed: Vec<&Entry> = after
            .iter()
            .filter(|entry| !before.contains(entry))
            .chain(before.iter().filter(|entry| !after.contains(entry)))
            .collect();
        check(
            changed.is_empty(),
            &format!("nothing outside the base changed: {changed:?}"),
        )
    }
}

/// A path, whether it is a directory, its size, its modification time.
type Entry = (PathBuf, bool, u64, SystemTime);

/// Checks that a write into the first claim slot through `file` fails with
/// `kind`: the waiter's claim will fail as well.
fn slot_write_fails(file: &File, kind: ErrorKind) -> Outcome {
    match file.write_all_at(&[b' '; 256], FIRST_SLOT) {
        Err(error) if error.kind() == kind => Ok(()),
        other => Err(format!(
            "a write into a claim slot gave {other:?}, not {kind:?}: the test would not \
             exercise a claim that cannot be written"
        )),
    }
}

/// What a test says when the waiter's thread panicked.
const PANICKED: &str = "the waiter panicked (see above)";

/// An acquisition through the waiters' backend, on a thread of this
/// process.
struct Waiter {
    outcome: Receiver<ReedResult<TableLock>>,
    thread: JoinHandle<()>,
    /// The outcome, once received.
    done: Option<ReedResult<TableLock>>,
}

impl Waiter {
    fn start(setup: &Setup, timeout: Duration) -> Waiter {
        let backend = Arc::clone(&setup.waiters);
        let (send, outcome) = mpsc::channel();
        let thread = thread::spawn(move || {
            let _ = send.send(backend.acquire_lock(TABLE, timeout));
        });
        Waiter {
            outcome,
            thread,
            done: None,
        }
    }

    /// Lists the claimed turns about every millisecond until the
    /// acquisition returns or `at_most` has passed: none may be listed.
    fn no_claim_while_waiting(&mut self, base: &Path, at_most: Duration) -> Outcome {
        let start = Instant::now();
        while self.done.is_none() && start.elapsed() < at_most {
            let claims = claimed_turns(base, TABLE).map_err(|e| format!("claimed_turns: {e}"))?;
            check(
                claims.is_empty(),
                &format!("no claim is listed when none can be written: {claims:?}"),
            )?;
            match self.outcome.recv_timeout(Duration::from_millis(1)) {
                Ok(outcome) => self.done = Some(outcome),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(PANICKED.to_string());
                }
            }
        }
        Ok(())
    }

    /// The acquisition's outcome, waiting for it at most `patience`.
    fn outcome(mut self, patience: Duration) -> Result<ReedResult<TableLock>, String> {
        let outcome = match self.done.take() {
            Some(outcome) => outcome,
            None => match self.outcome.recv_timeout(patience) {
                Ok(outcome) => outcome,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("the waiter has not returned after {patience:?}"));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(PANICKED.to_string());
                }
            },
        };
        self.thread.join().map_err(|_| PANICKED.to_string())?;
        Ok(outcome)
    }
}

/// While the child holds: a waiter with a [`SHORT`] timeout returns a
/// `LockTimeout`, and no claim is listed while it waits.
fn times_out(setup: &Setup) -> Outcome {
    let mut waiter = Waiter::start(setup, SHORT);
    waiter.no_claim_while_waiting(&setup.base, HANG)?;
    match waiter.outcome(HANG)? {
        Err(ReedError::LockTimeout { .. }) => Ok(()),
        Err(other) => Err(format!("expected a LockTimeout, got {other:?}")),
        Ok(_) => Err("got the lock while the child held it".to_string()),
    }
}

/// A waiter with a long timeout; no claim is listed while it waits; the
/// child releases after [`HELD_FOR`]; the waiter gets the lock.
fn gets_the_released_lock(setup: &mut Setup) -> Outcome {
    let mut waiter = Waiter::start(setup, PATIENCE);
    waiter.no_claim_while_waiting(&setup.base, HELD_FOR)?;
    if let Some(early) = &waiter.done {
        return Err(format!("returned while the child held: {early:?}"));
    }
    setup.release()?;
    setup.holder.wait_success(PATIENCE)?;
    let guard = waiter
        .outcome(HANG)?
        .map_err(|e| format!("the waiter did not get the released lock: {e}"))?;
    check(guard.is_held() == Ok(true), "the waiter's guard holds")?;
    check(
        is_locked(&setup.base, TABLE) == Ok(true),
        "is_locked sees the waiter's lock",
    )?;
    drop(guard);
    check(
        is_locked(&setup.base, TABLE) == Ok(false),
        "free once the waiter releases",
    )
}

/// Full disk, the child keeps the lock: the waiter times out. Then, with
/// room again, the next waiter's claim is written and listed: what was
/// missing was the write, not a claim the listing would have shown.
pub(crate) fn full_disk_times_out() -> Outcome {
    if !have_root("a_waiter_whose_claim_cannot_be_written_on_a_full_disk_times_out") {
        return Ok(());
    }
    let mut setup = Setup::full_disk()?;
    let outside = setup.outside_base();
    times_out(&setup)?;
    check(setup.lock_file_len() == 0, "no claim was written")?;
    setup.nothing_changed_outside(&outside)?;
    fs::remove_file(setup.root.join("filler")).unwrap();
    let waiter = Waiter::start(&setup, PATIENCE);
    let me = std::process::id();
    check(
        wait_until(PATIENCE, || {
            claimed_turns(&setup.base, TABLE).is_ok_and(|claims| claims.iter().any(|c| c.pid == me))
        }),
        "with room again, the waiter's claim is listed",
    )?;
    setup.release()?;
    let guard = waiter
        .outcome(HANG)?
        .map_err(|e| format!("the claimant did not get the released lock: {e}"))?;
    drop(guard);
    setup.holder.wait_success(PATIENCE)
}

/// Full disk: the waiter gets the lock the child releases.
pub(crate) fn full_disk_gets_released_lock() -> Outcome {
    if !have_root("a_waiter_whose_claim_cannot_be_written_on_a_full_disk_gets_the_released_lock") {
        return Ok(());
    }
    let mut setup = Setup::full_disk()?;
    let outside = setup.outside_base();
    gets_the_released_lock(&mut setup)?;
    check(
        setup.lock_file_len() == 0,
        "no claim (nor the waiter's holder record) was written",
    )?;
    setup.nothing_changed_outside(&outside)
}

/// A file system turned read-only by an error under the open descriptors:
/// the waiter times out while the child holds, then gets the lock the
/// child releases.
pub(crate) fn read_only_by_error() -> Outcome {
    if !have_root("a_waiter_whose_claim_cannot_be_written_on_a_file_system_read_only_by_an_error") {
        return Ok(());
    }
    let mut setup = Setup::read_only_by_error()?;
    let outside = setup.outside_base();
    times_out(&setup)?;
    gets_the_released_lock(&mut setup)?;
    setup.nothing_changed_outside(&outside)
}
