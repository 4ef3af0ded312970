// SPDX-License-Identifier: Apache-2.0
//! A TCP proxy between the backend and the server, on loopback only, that
//! misbehaves on command as a network can: it listens on `127.0.0.1:0` and
//! forwards to the test server (its TCP address, or its Unix socket).
//!
//! Modes: `Pass` forwards; `Stall` accepts every byte and forwards none
//! (new connections are accepted and stall too), as a link whose packets
//! are acknowledged and never answered; `Delay(d)` forwards each chunk `d`
//! after it arrived, each way; `Cut` closes every open connection and every
//! new one at once. `HoldCommit` forwards until a client sends `COMMIT`,
//! which it keeps (that connection stalls; new ones pass);
//! `HoldCommitReply` forwards the `COMMIT` and keeps the server's answer
//! (that connection stalls; new ones pass, unless `stall_new` is set).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// What the proxy does with the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Pass,
    Stall,
    Delay(Duration),
    Cut,
    HoldCommit,
    HoldCommitReply,
}

/// Where the server listens.
#[derive(Debug, Clone)]
pub enum Upstream {
    Tcp(String),
    Unix(PathBuf),
}

impl Upstream {
    /// The server of a URL: its first host and port.
    pub fn of(url: &str) -> Upstream {
        let config: postgres::Config = url.parse().unwrap();
        let port = config.get_ports().first().copied().unwrap_or(5432);
        match config.get_hosts().first() {
            Some(postgres::config::Host::Unix(dir)) => {
                Upstream::Unix(dir.join(format!(".s.PGSQL.{port}")))
            }
            Some(postgres::config::Host::Tcp(host)) => Upstream::Tcp(format!("{host}:{port}")),
            None => Upstream::Tcp(format!("127.0.0.1:{port}")),
        }
    }
}

trait Stream: Read + Write + Send {
    fn close(&self);
    fn clone_box(&self) -> std::io::Result<Box<dyn Stream>>;
}

impl Stream for TcpStream {
    fn close(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
    fn clone_box(&self) -> std::io::Result<Box<dyn Stream>> {
        Ok(Box::new(self.try_clone()?))
    }
}

impl Stream for UnixStream {
    fn close(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
    fn clone_box(&self) -> std::io::Result<Box<dyn Stream>> {
        Ok(Box::new(self.try_clone()?))
    }
}

struct State {
    mode: Mutex<Mode>,
    stall_new: AtomicBool,
    open: Mutex<Vec<Box<dyn Stream>>>,
    stopped: AtomicBool,
}

/// The proxy; dropping it closes everything.
pub struct Proxy {
    address: SocketAddr,
    state: Arc<State>,
}

impl Proxy {
    /// Starts a proxy to `upstream` in `Pass` mode.
    pub fn start(upstream: Upstream) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let state = Arc::new(State {
            mode: Mutex::new(Mode::Pass),
            stall_new: AtomicBool::new(false),
            open: Mutex::new(Vec::new()),
            stopped: AtomicBool::new(false),
        });
        let shared = Arc::clone(&state);
        thread::spawn(move || accept_loop(listener, upstream, shared));
        Proxy { address, state }
    }

    /// A key-value URL that reaches the server through the proxy, with the
    /// user, password and database of `url`.
    pub fn url(&self, url: &str) -> String {
        let config: postgres::Config = url.parse().unwrap();
        let mut parts = vec![
            format!("host={}", self.address.ip()),
            format!("port={}", self.address.port()),
        ];
        if let Some(user) = config.get_user() {
            parts.push(format!("user='{user}'"));
        }
        if let Some(password) = config.get_password() {
            parts.push(format!("password='{}'", String::from_utf8_lossy(password)));
        }
        if let Some(dbname) = config.get_dbname() {
            parts.push(format!("dbname='{dbname}'"));
        }
        parts.join(" ")
    }

    /// Sets the mode; `Cut` also closes every open connection.
    pub fn set(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
        if mode == Mode::Cut {
            for stream in self.state.open.lock().unwrap().drain(..) {
                stream.close();
            }
        }
    }

    /// Whether connections opened from now on stall in the hold modes.
    pub fn stall_new(&self, stall: bool) {
        self.state.stall_new.store(stall, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.stopped.store(true, Ordering::SeqCst);
        self.set(Mode::Cut);
    }
}

fn accept_loop(listener: TcpListener, upstream: Upstream, state: Arc<State>) {
    while !state.stopped.load(Ordering::SeqCst) {
        let client = match listener.accept() {
            Ok((client, _)) => client,
            Err(_) => {
                thread::sleep(Duration::from_millis(2));
                continue;
            }
        };
        let _ = client.set_nonblocking(false);
        let mode = *state.mode.lock().unwrap();
        if mode == Mode::Cut {
            drop(client);
            continue;
        }
        let server: Box<dyn Stream> = match &upstream {
            Upstream::Tcp(address) => match TcpStream::connect(address) {
                Ok(stream) => Box::new(stream),
                Err(_) => continue,
            },
            Upstream::Unix(path) => match UnixStream::connect(path) {
                Ok(stream) => Box::new(stream),
                Err(_) => continue,
            },
        };
        let client: Box<dyn Stream> = Box::new(client);
        // A connection opened while a hold mode is on stalls only if asked.
        let stalled = Arc::new(AtomicBool::new(
            state.stall_new.load(Ordering::SeqCst)
                && matches!(mode, Mode::HoldCommit | Mode::HoldCommitReply),
        ));
        {
            let mut open = state.open.lock().unwrap();
            open.push(client.clone_box().unwrap());
            open.push(server.clone_box().unwrap());
        }
        pump(
            client.clone_box().unwrap(),
            server.clone_box().unwrap(),
            Arc::clone(&state),
            Arc::clone(&stalled),
            true,
        );
        pump(server, client, Arc::clone(&state), stalled, false);
    }
}

/// Forwards `from` to `to`: one thread reads (so the kernel keeps
/// acknowledging), one writes as the mode allows.
fn pump(
    mut from: Box<dyn Stream>,
    mut to: Box<dyn Stream>,
    state: Arc<State>,
    stalled: Arc<AtomicBool>,
    upstream: bool,
) {
    let (chunks, arrived) = mpsc::channel::<(Instant, Vec<u8>)>();
    thread::spawn(move || {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buffer) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if chunks.send((Instant::now(), buffer[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    });
    thread::spawn(move || {
        while let Ok((when, chunk)) = arrived.recv() {
            let is_commit = upstream && chunk.windows(6).any(|w| w == b"COMMIT");
            // The mode the chunk is forwarded under: a `COMMIT` forwarded
            // before `HoldCommitReply` was set must not stall its
            // connection afterwards (its answer may be back already).
            let mut forwarded_under;
            loop {
                let mode = *state.mode.lock().unwrap();
                forwarded_under = mode;
                if mode == Mode::Cut || state.stopped.load(Ordering::SeqCst) {
                    to.close();
                    return;
                }
                if stalled.load(Ordering::SeqCst) || mode == Mode::Stall {
                    thread::sleep(Duration::from_millis(2));
                    continue;
                }
                if mode == Mode::HoldCommit && is_commit {
                    stalled.store(true, Ordering::SeqCst);
                    continue;
                }
                if let Mode::Delay(delay) = mode {
                    let due = when + delay;
                    let now = Instant::now();
                    if due > now {
                        thread::sleep(due - now);
                    }
                }
                break;
            }
            if to.write_all(&chunk).is_err() {
                return;
            }
            if forwarded_under == Mode::HoldCommitReply && is_commit {
                stalled.store(true, Ordering::SeqCst);
            }
        }
        to.close();
    });
}
