// SPDX-License-Identifier: Apache-2.0
//! Fresh backends for each scenario, each on its own temporary directory
//! (or, for pg, in its own namespace on the server), and the quiet panic
//! hook under which backend code runs.
//!
//! The old module validates no name, so a table such as `../x` makes it
//! create files above its base. Its base is therefore nested three levels
//! inside its temporary directory (`<tmp>/a/b/c`): the escapes the harness
//! provokes (at most two levels up) stay inside that directory.

use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};

use reedbase_concurrent_fs::FsBackend;
use reedbase_concurrent_mem::MemBackend;
use reedbase_concurrent_pg::testing::{TestRun, TestServer};
use reedbase_concurrent_pg::{PgBackend, PgOptions};
use reedbase_last::LastBackend;
use tempfile::TempDir;

use crate::panics::panic_message;

/// Makes backends on fresh temporary directories and keeps those
/// directories until it is dropped (a case may still be using one when its
/// factory returns); makes pg backends in fresh namespaces of one test run
/// on the server, which removes them all when the last clone of the run is
/// dropped.
#[derive(Clone, Default)]
pub struct Bases {
    dirs: Arc<Mutex<Vec<TempDir>>>,
    pg: Option<Arc<TestRun>>,
}

impl Bases {
    /// Bases whose pg backends live in namespaces of `pg` (none without a
    /// server).
    pub fn new(pg: Option<TestRun>) -> Bases {
        Bases {
            dirs: Arc::default(),
            pg: pg.map(Arc::new),
        }
    }

    /// Bases with temporary directories of their own and the same pg run,
    /// so that a trace's directories go when it is done.
    pub fn fresh(&self) -> Bases {
        Bases {
            dirs: Arc::default(),
            pg: self.pg.clone(),
        }
    }

    /// The server of the pg backends, if one answered.
    pub fn pg_server(&self) -> Option<&TestServer> {
        self.pg.as_deref().map(TestRun::server)
    }

    /// Whether pg backends can be made (a server answered).
    pub fn has_pg(&self) -> bool {
        self.pg.is_some()
    }

    /// The pg backend, default options (durable, capacity 100, like the
    /// others), in a fresh namespace.
    ///
    /// # Panics
    ///
    /// Without a server ([`has_pg`](Self::has_pg) is false), or when the
    /// backend cannot connect: a case that makes one fails.
    pub fn pg(&self) -> PgBackend {
        let run = self
            .pg
            .as_ref()
            .unwrap_or_else(|| panic!("no PostgreSQL server for the pg backend"));
        run.backend(PgOptions::new())
            .unwrap_or_else(|e| panic!("cannot connect the pg backend: {e}"))
    }

    /// A fresh temporary directory, kept until `self` is dropped.
    ///
    /// # Panics
    ///
    /// If no temporary directory can be made.
    pub fn temp_dir(&self) -> PathBuf {
        let dir = tempfile::Builder::new()
            .prefix("reedbase-parity-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot make a temporary directory: {e}"));
        let path = dir.path().to_path_buf();
        self.dirs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(dir);
        path
    }

    /// The old module on `<fresh tmp>/a/b/c`.
    pub fn last(&self) -> LastBackend {
        LastBackend::new(last_base(&self.temp_dir()))
    }

    /// The fs backend, default options, on a fresh temporary directory.
    pub fn fs(&self) -> FsBackend {
        FsBackend::new(self.temp_dir())
    }
}

/// The old module's base inside the temporary directory `dir`, created.
///
/// # Panics
///
/// If the directories cannot be created.
pub fn last_base(dir: &std::path::Path) -> PathBuf {
    let base = dir.join("a").join("b").join("c");
    std::fs::create_dir_all(&base)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", base.display()));
    base
}

/// A fresh in-memory backend.
pub fn mem() -> MemBackend {
    MemBackend::new()
}

/// How many threads are inside [`quietly`] now; while any is, panics are not
/// printed (their messages are caught and reported in the table instead).
static QUIET: AtomicUsize = AtomicUsize::new(0);

/// Installs a panic hook that stays silent inside [`quietly`] and behaves as
/// the default hook elsewhere, so that a bug in the harness itself is still
/// printed.
pub fn install_quiet_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if QUIET.load(Ordering::SeqCst) == 0 {
                default(info);
            }
        }));
    });
}

/// Runs `f` with panic messages silenced; a panic becomes `Err(message)`.
///
/// Silencing is process-wide while `f` runs, because backend code and
/// conformance cases panic on threads of their own.
pub fn quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    QUIET.fetch_add(1, Ordering::SeqCst);
    let result =
        panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| panic_message(&*payload));
    QUIET.fetch_sub(1, Ordering::SeqCst);
    result
}
