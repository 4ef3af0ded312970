// SPDX-License-Identifier: Apache-2.0
//! FUSE requests translated into [`State`] calls. Every attribute and name
//! is given to the kernel with a time-to-live of zero and every file is
//! opened with direct I/O, so that after a cut the kernel caches nothing
//! the file system has forgotten.

use std::ffi::OsStr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, FopenFlags, Generation, INodeNo, LockOwner, OpenFlags,
    RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry,
    ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow, WriteFlags,
};

use crate::Op;
use crate::state::{Node, State};

const TTL: Duration = Duration::ZERO;
const O_APPEND: i32 = 0o2000;
const O_EXCL: i32 = 0o200;
const O_TRUNC: i32 = 0o1000;

/// The file system as the FUSE session serves it.
pub(crate) struct Served {
    state: Arc<Mutex<State>>,
}

impl Served {
    pub(crate) fn new(state: Arc<Mutex<State>>) -> Served {
        Served { state }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn attr(ino: u64, node: &Node) -> FileAttr {
    let size = if node.is_dir {
        0
    } else {
        node.data.len() as u64
    };
    FileAttr {
        ino: INodeNo(ino),
        size,
        blocks: size.div_ceil(512),
        atime: node.mtime,
        mtime: node.mtime,
        ctime: node.mtime,
        crtime: node.mtime,
        kind: if node.is_dir {
            FileType::Directory
        } else {
            FileType::RegularFile
        },
        perm: (node.mode & 0o7777) as u16,
        nlink: if node.is_dir { 2 } else { 1 },
        uid: 0,
        gid: 0,
        rdev: 0,
        blksize: 4096,
        flags: 0,
    }
}

fn errno(fault: crate::FaultErrno) -> Errno {
    Errno::from_i32(fault.raw())
}

impl fuser::Filesystem for Served {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let state = self.state();
        match state.lookup(parent.0, name) {
            Some(ino) => match state.node(ino) {
                Some(node) => reply.entry(&TTL, &attr(ino, node), Generation(0)),
                None => reply.error(Errno::ENOENT),
            },
            None => reply.error(Errno::ENOENT),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.state().node(ino.0) {
            Some(node) => reply.attr(&TTL, &attr(ino.0, node)),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let mut state = self.state();
        if state.is_off() {
            return reply.error(Errno::EIO);
        }
        if let Some(len) = size {
            state.truncate(ino.0, len);
        }
        let Some(node) = state.node_mut(ino.0) else {
            return reply.error(Errno::ENOENT);
        };
        if let Some(mode) = mode {
            node.mode = mode;
        }
        match mtime {
            Some(TimeOrNow::SpecificTime(time)) => node.mtime = time,
            Some(TimeOrNow::Now) => node.mtime = SystemTime::now(),
            None => {}
        }
        reply.attr(&TTL, &attr(ino.0, node));
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let mut state = self.state();
        if state.lookup(parent.0, name).is_some() {
            return reply.error(Errno::EEXIST);
        }
        if let Err(fault) = state.enter(Op::Mkdir, name) {
            return reply.error(errno(fault));
        }
        let ino = state.add(parent.0, name, true, mode & !umask);
        match state.node(ino) {
            Some(node) => reply.entry(&TTL, &attr(ino, node), Generation(0)),
            None => reply.error(Errno::EIO),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut state = self.state();
        if state.lookup(parent.0, name).is_none() {
            return reply.error(Errno::ENOENT);
        }
        if let Err(fault) = state.enter(Op::Unlink, name) {
            return reply.error(errno(fault));
        }
        state.unlink(parent.0, name);
        reply.ok();
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut state = self.state();
        let Some(ino) = state.lookup(parent.0, name) else {
            return reply.error(Errno::ENOENT);
        };
        if state.node(ino).is_some_and(|node| !node.entries.is_empty()) {
            return reply.error(Errno::ENOTEMPTY);
        }
        if let Err(fault) = state.enter(Op::Unlink, name) {
            return reply.error(errno(fault));
        }
        state.unlink(parent.0, name);
        reply.ok();
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let mut state = self.state();
        if state.lookup(parent.0, name).is_none() {
            return reply.error(Errno::ENOENT);
        }
        if flags.contains(RenameFlags::RENAME_EXCHANGE)
            || flags.contains(RenameFlags::RENAME_WHITEOUT)
        {
            return reply.error(Errno::EINVAL);
        }
        let replaced = state.lookup(newparent.0, newname);
        if flags.contains(RenameFlags::RENAME_NOREPLACE) && replaced.is_some() {
            return reply.error(Errno::EEXIST);
        }
        if let Err(fault) = state.enter(Op::Rename, name) {
            return reply.error(errno(fault));
        }
        match state.rename(parent.0, name, newparent.0, newname) {
            Some(()) => reply.ok(),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let mut state = self.state();
        if state.node(ino.0).is_none() {
            return reply.error(Errno::ENOENT);
        }
        if flags.0 & O_TRUNC != 0 {
            if state.is_off() {
                return reply.error(Errno::EIO);
            }
            state.truncate(ino.0, 0);
        }
        reply.opened(FileHandle(0), FopenFlags::FOPEN_DIRECT_IO);
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let mut state = self.state();
        let ino = match state.lookup(parent.0, name) {
            Some(_) if flags & O_EXCL != 0 => return reply.error(Errno::EEXIST),
            Some(ino) => {
                if flags & O_TRUNC != 0 {
                    state.truncate(ino, 0);
                }
                ino
            }
            None => {
                if let Err(fault) = state.enter(Op::Create, name) {
                    return reply.error(errno(fault));
                }
                state.add(parent.0, name, false, mode & !umask)
            }
        };
        match state.node(ino) {
            Some(node) => reply.created(
                &TTL,
                &attr(ino, node),
                Generation(0),
                FileHandle(0),
                FopenFlags::FOPEN_DIRECT_IO,
            ),
            None => reply.error(Errno::EIO),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let state = self.state();
        let Some(node) = state.node(ino.0) else {
            return reply.error(Errno::ENOENT);
        };
        let from = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(node.data.len());
        let to = from.saturating_add(size as usize).min(node.data.len());
        reply.data(&node.data[from..to]);
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let mut state = self.state();
        let Some(name) = state.node(ino.0).map(|node| node.name.clone()) else {
            return reply.error(Errno::ENOENT);
        };
        if let Err(fault) = state.enter(Op::Write, &name) {
            return reply.error(errno(fault));
        }
        let written = state.write(ino.0, offset, data, flags.0 & O_APPEND != 0);
        reply.written(written as u32);
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.sync(ino, reply);
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let state = self.state();
        let Some(dir) = state.node(ino.0) else {
            return reply.error(Errno::ENOENT);
        };
        let mut listed = vec![
            (ino.0, FileType::Directory, OsStr::new(".").to_os_string()),
            (ino.0, FileType::Directory, OsStr::new("..").to_os_string()),
        ];
        for (name, &child) in &dir.entries {
            let kind = match state.node(child) {
                Some(node) if node.is_dir => FileType::Directory,
                _ => FileType::RegularFile,
            };
            listed.push((child, kind, name.clone()));
        }
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        for (at, (child, kind, name)) in listed.into_iter().enumerate().skip(skip) {
            if reply.add(INodeNo(child), at as u64 + 1, kind, &name) {
                break;
            }
        }
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.sync(ino, reply);
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        reply.statfs(1 << 20, 1 << 19, 1 << 19, 1 << 20, 1 << 19, 4096, 255, 4096);
    }
}

impl Served {
    /// An fsync of a file or a directory: a durability boundary.
    fn sync(&self, ino: INodeNo, reply: ReplyEmpty) {
        let mut state = self.state();
        let Some(name) = state.node(ino.0).map(|node| node.name.clone()) else {
            return reply.error(Errno::ENOENT);
        };
        match state.enter(Op::Fsync, &name) {
            Ok(()) => {
                state.sync(ino.0);
                reply.ok();
            }
            Err(fault) => {
                state.fail_sync(ino.0);
                reply.error(errno(fault));
            }
        }
    }
}
