// SPDX-License-Identifier: Apache-2.0
//! A fault-injecting file system for tests: a FUSE mount, served by a
//! thread of the test process, that forgets on command what was not made
//! durable and fails chosen calls with `EIO` or `ENOSPC`. The code under
//! test needs no change: it sees an ordinary directory.
//!
//! ```no_run
//! use reedbase_faultfs::{Fault, FaultErrno, FaultFs, Op};
//!
//! let dir = tempfile::tempdir()?;
//! let fs = FaultFs::mount(dir.path())?; // needs root and /dev/fuse
//! std::fs::write(fs.path().join("unsynced"), b"gone after the cut")?;
//! fs.control().power_cut();
//! assert!(!fs.path().join("unsynced").exists());
//! fs.control().fail(Fault::new(Op::Fsync, 1, FaultErrno::Eio));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Persistence model
//!
//! The weakest that POSIX allows, with the two kinds of loss independent:
//!
//! - a file's bytes (and its length) survive a power cut as of its last
//!   successful `fsync` or `fdatasync`; whatever was written or truncated
//!   since is lost;
//! - a directory's names survive as of its last successful `fsync` of that
//!   directory; every `create`, `mkdir`, `rename`, `unlink` and `rmdir` in
//!   it since is lost. An `fsync` of a file does not make its name durable
//!   (Linux's `fsync(2)` promises no more), and a rename between two
//!   directories needs both synced;
//! - after a failed `fsync`, the bytes that were dirty stay readable but are
//!   never made durable by a later `fsync` unless written again: the page
//!   cache marks them clean after reporting the error, as Linux does.
//!
//! So a name can survive without its data (an empty file) and data without
//! its name (a lost file). Real file systems keep more (ext4 orders most
//! metadata in its journal); code that is correct here is correct on any
//! of them, which is why the tests use the weakest model rather than one
//! file system's behaviour. Within that model a cut keeps exactly the
//! durable state: no subset of the unsynced operations is kept.
//!
//! # Durability boundaries and cuts
//!
//! Every `fsync`, `fsyncdir` and `rename` is a durability boundary
//! ([`OpCounts::boundaries`]). [`Control::cut_at_boundary`] arms a cut that
//! captures the durable state just before the `k`-th boundary runs; from
//! then on every change fails with `EIO` (the machine is off) until
//! [`Control::power_cut`] makes the file system what was captured. A harness
//! counts the boundaries of a workload in one run, then runs it once per
//! boundary with the cut armed there.
//!
//! Locks (`flock`) are the kernel's own, local to the host: the file system
//! does not implement them, so the kernel emulates them.

mod fuse;
mod state;

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use state::State;

/// A call the file system can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `write` (and `pwrite`) to a file.
    Write,
    /// `fsync` or `fdatasync` of a file or a directory.
    Fsync,
    /// `rename`, `renameat2`.
    Rename,
    /// `unlink` and `rmdir`.
    Unlink,
    /// `mkdir`.
    Mkdir,
    /// Creating a file (`open` with `O_CREAT` of a new name).
    Create,
}

/// The error a failed call returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultErrno {
    /// `EIO`: the device failed.
    Eio,
    /// `ENOSPC`: no space left.
    Enospc,
}

impl FaultErrno {
    pub(crate) fn raw(self) -> i32 {
        match self {
            FaultErrno::Eio => 5,
            FaultErrno::Enospc => 28,
        }
    }
}

/// Fail the `nth` call of `op` from when the fault is armed (1: the next
/// one), optionally only calls on a node with this name (its last name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// Which call.
    pub op: Op,
    /// Which one of the matching calls, counting from 1.
    pub nth: u64,
    /// What it returns.
    pub errno: FaultErrno,
    /// Only calls on a node of this name (for example `table.journal`).
    pub name: Option<OsString>,
}

impl Fault {
    /// Fails the `nth` call of `op`, whatever its node.
    pub fn new(op: Op, nth: u64, errno: FaultErrno) -> Fault {
        Fault {
            op,
            nth,
            errno,
            name: None,
        }
    }

    /// Only calls on a node named `name`.
    pub fn on(mut self, name: &str) -> Fault {
        self.name = Some(OsString::from(name));
        self
    }
}

/// How many calls of each kind were made since the last reset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpCounts {
    /// Writes.
    pub writes: u64,
    /// fsyncs of files and directories.
    pub fsyncs: u64,
    /// Renames.
    pub renames: u64,
    /// Unlinks and rmdirs.
    pub unlinks: u64,
    /// Mkdirs.
    pub mkdirs: u64,
    /// Files created.
    pub creates: u64,
    /// fsyncs and renames: the durability boundaries, counted even when
    /// the power is off.
    pub boundaries: u64,
    /// Calls failed by an armed fault.
    pub failed: u64,
}

impl OpCounts {
    fn add(&mut self, op: Op) {
        let count = match op {
            Op::Write => &mut self.writes,
            Op::Fsync => &mut self.fsyncs,
            Op::Rename => &mut self.renames,
            Op::Unlink => &mut self.unlinks,
            Op::Mkdir => &mut self.mkdirs,
            Op::Create => &mut self.creates,
        };
        *count += 1;
    }
}

/// Commands to a mounted [`FaultFs`], from any thread of the test process.
#[derive(Debug, Clone)]
pub struct Control {
    state: Arc<Mutex<State>>,
}

impl Control {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Empties the file system, disarms every fault and cut, zeroes the
    /// counts, and turns the power on.
    pub fn reset(&self) {
        self.state().reset();
    }

    /// Cuts the power and brings it back: everything not durable is
    /// forgotten (see the [persistence model](crate#persistence-model)); if
    /// a cut was armed and reached, the state captured then is restored.
    /// Stop every process using the mount first.
    pub fn power_cut(&self) {
        self.state().restore();
    }

    /// Cuts the power now: the durable state is captured and every later
    /// change fails with `EIO` until [`power_cut`](Self::power_cut).
    pub fn cut_now(&self) {
        self.state().cut_now();
    }

    /// Arms a cut just before the `boundary`-th durability boundary
    /// (counting from the last reset, from 1).
    pub fn cut_at_boundary(&self, boundary: u64) {
        self.state().arm_cut_at_boundary(boundary);
    }

    /// True once an armed or immediate cut has happened (and until
    /// [`power_cut`](Self::power_cut)).
    pub fn is_off(&self) -> bool {
        self.state().is_off()
    }

    /// The call an armed cut came before (`Fsync table.journal`), once it
    /// has happened; until the next reset.
    pub fn cut_label(&self) -> Option<String> {
        self.state().cut_label.clone()
    }

    /// Disarms every fault and armed cut not reached yet (a cut that
    /// happened stays until [`power_cut`](Self::power_cut)).
    pub fn disarm(&self) {
        self.state().disarm();
    }

    /// Arms a fault.
    pub fn fail(&self, fault: Fault) {
        self.state().arm(fault);
    }

    /// The calls counted since the last reset.
    pub fn counts(&self) -> OpCounts {
        self.state().counts()
    }
}

/// A mounted fault-injecting file system; unmounted when dropped.
pub struct FaultFs {
    path: PathBuf,
    control: Control,
    session: Option<fuser::BackgroundSession>,
}

impl std::fmt::Debug for FaultFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultFs").field("path", &self.path).finish()
    }
}

impl FaultFs {
    /// Mounts an empty file system at `path` (an existing directory),
    /// served by a thread of this process.
    ///
    /// # Errors
    ///
    /// The mount's error: without root or without `/dev/fuse` it fails
    /// (`PermissionDenied`, `NotFound`).
    pub fn mount(path: &Path) -> io::Result<FaultFs> {
        let state = Arc::new(Mutex::new(State::new()));
        let filesystem = fuse::Served::new(Arc::clone(&state));
        let mut config = fuser::Config::default();
        config.mount_options = vec![
            fuser::MountOption::FSName("reedbase-faultfs".to_string()),
            fuser::MountOption::NoAtime,
        ];
        let session = fuser::spawn_mount(filesystem, path, &config)?;
        Ok(FaultFs {
            path: path.to_path_buf(),
            control: Control { state },
            session: Some(session),
        })
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its control handle.
    pub fn control(&self) -> &Control {
        &self.control
    }
}

impl Drop for FaultFs {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            let _ = session.umount_and_join();
        }
    }
}

/// Mounts at `path` for a test named `test`; `None` (after printing
/// `SKIPPED`) when this machine cannot mount, unless
/// `REEDBASE_ROOT_REQUIRED=1` is set, where that is a failure.
///
/// # Panics
///
/// When the mount fails and `REEDBASE_ROOT_REQUIRED=1`.
pub fn mount_or_skip(path: &Path, test: &str) -> Option<FaultFs> {
    match FaultFs::mount(path) {
        Ok(fs) => Some(fs),
        Err(error) if std::env::var("REEDBASE_ROOT_REQUIRED").as_deref() == Ok("1") => {
            panic!(
                "{test}: cannot mount the fault-injecting file system (REEDBASE_ROOT_REQUIRED=1): {error}"
            )
        }
        Err(error) => {
            println!("SKIPPED {test}: cannot mount the fault-injecting file system: {error}");
            None
        }
    }
}
