// SPDX-License-Identifier: Apache-2.0
//! The backend a stress run writes through: fs on the run's base directory,
//! or, when the supervisor gives a [`PgSite`], pg in a namespace of the
//! run's own on the server (the writers connect over TCP, standing for
//! processes on other hosts; the table and the event log stay in the run's
//! directory, standing for shared storage).

use std::path::Path;

use reedbase_concurrent_fs::{FsBackend, FsOptions};
use reedbase_concurrent_pg::{PgBackend, PgOptions};

use crate::pg_site::PgSite;

/// One of the backends a stress run can write through.
#[derive(Debug, Clone)]
pub enum StressBackend {
    /// The fs backend on `<dir>/base`.
    Fs(FsBackend),
    /// The pg backend in the run's namespace.
    Pg(PgBackend),
}

/// Runs `$body` with `$b` bound to the backend inside, whichever it is
/// (generic code over core's traits, once per backend type).
macro_rules! with_backend {
    ($backend:expr, $b:ident => $body:expr) => {
        match $backend {
            $crate::stress::backend::StressBackend::Fs($b) => $body,
            $crate::stress::backend::StressBackend::Pg($b) => $body,
        }
    };
}
pub(crate) use with_backend;

impl StressBackend {
    /// The pg backend of `site` if it names one, else the fs backend on
    /// the run's base directory; with the run's queue capacity.
    ///
    /// # Errors
    ///
    /// The pg backend cannot connect.
    pub fn open(dir: &Path, capacity: u64, site: &PgSite) -> Result<StressBackend, String> {
        let capacity = usize::try_from(capacity).unwrap_or(usize::MAX);
        if site.url.is_some() {
            return site
                .connect(PgOptions::new().capacity(capacity))
                .map(StressBackend::Pg);
        }
        let options = FsOptions::new().capacity(capacity);
        Ok(StressBackend::Fs(FsBackend::with_options(
            dir.join("base"),
            options,
        )))
    }

    /// `fs` or `pg`.
    pub fn name(&self) -> &'static str {
        match self {
            StressBackend::Fs(_) => "fs",
            StressBackend::Pg(_) => "pg",
        }
    }
}
