//! The home directory: keys, data, the API token and the running node's address file.
//!
//! ```text
//! $TIM_HOME/            (default ~/.tim; mode 0700)
//! ├── node.key          node Ed25519 seed (0600)
//! ├── timite.key        hosted timite's Ed25519 seed (0600)
//! ├── api.token         bearer token for the API (0600)
//! ├── data/             sled database
//! ├── node.lock         locked by the running node, holds its process id
//! └── node.json         written by a running node: API URL, listen addresses, DIDs
//! ```

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Name of the API token file.
pub const TOKEN_FILE: &str = "api.token";
/// Name of the running node's address file.
pub const RUNTIME_FILE: &str = "node.json";
/// Name of the data directory.
pub const DATA_DIR: &str = "data";
/// Name of the file a running node holds locked ([`lock`]).
pub const LOCK_FILE: &str = "node.lock";

/// Why a node may not run on a home.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another process holds the home's lock.
    #[error(
        "a node is already running on this home{}: stop it first, or run this one with another --home",
        .pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    Running {
        /// The running node's process id, if it has written it yet.
        pid: Option<u32>,
    },
    /// The lock file could not be opened, locked or written.
    #[error("cannot lock {}: {source}", .path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The lock a running node holds on its home, so that a second node on the same home stops at
/// once with [`LockError::Running`] instead of failing on the store. The operating system
/// releases it when the process ends, however it ends; dropping it releases it too.
#[derive(Debug)]
pub struct HomeLock {
    _file: fs::File,
}

/// Locks `home` for a node of this process, and writes the process id into the lock file.
pub fn lock(home: &Path) -> Result<HomeLock, LockError> {
    let path = home.join(LOCK_FILE);
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    let mut file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            // Empty while that node has not written its id yet.
            let pid = fs::read_to_string(&path)
                .ok()
                .and_then(|s| s.trim().parse().ok());
            return Err(LockError::Running { pid });
        }
        Err(fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    Ok(HomeLock { _file: file })
}

/// What a running node writes into its home so clients can find it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RuntimeInfo {
    /// Base URL of the HTTP API, e.g. `http://127.0.0.1:7411`.
    pub api: String,
    /// Listen multiaddrs, each ending in `/p2p/<peer id>`.
    pub listen: Vec<String>,
    /// The node DID.
    pub node_did: String,
    /// The hosted timite's DID.
    pub timite: String,
    /// The node's process id.
    pub pid: u32,
}

/// Resolves the home directory: `--home`, else `$TIM_HOME`, else `~/.tim`.
pub fn resolve(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os("TIM_HOME").map(PathBuf::from))
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
            home.join(".tim")
        })
}

/// Writes a file readable by its owner only, replacing it atomically.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(contents)?;
    f.sync_all()?;
    fs::rename(tmp, path)
}

/// Creates a fresh random API token in `home`.
pub fn new_token(home: &Path) -> std::io::Result<String> {
    let token: [u8; 32] = rand::random();
    let token = hex::encode(token);
    write_private(&home.join(TOKEN_FILE), token.as_bytes())?;
    Ok(token)
}

/// Reads the API token of `home`.
pub fn read_token(home: &Path) -> std::io::Result<String> {
    Ok(fs::read_to_string(home.join(TOKEN_FILE))?
        .trim()
        .to_string())
}

/// Reads the running node's address file.
pub fn read_runtime(home: &Path) -> std::io::Result<RuntimeInfo> {
    let bytes = fs::read(home.join(RUNTIME_FILE))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}
