//! Tim identities: Ed25519 key pairs kept on disk, and their did:key DIDs.
//!
//! A home directory holds two keys: the node's (its libp2p identity and node DID) and the
//! timite's that the node hosts. Key files hold the 32-byte Ed25519 seed, are created with mode
//! 0600 and are never printed. Verifiable Credentials and passports will live here too.
#![deny(missing_docs)]

pub mod credential;
pub mod profile_credential;
pub mod status_list;
#[cfg(feature = "test-utils")]
pub mod test_utils;

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
pub use tim_protocol::Did;

/// File name of the node key in a keystore directory.
pub const NODE_KEY_FILE: &str = "node.key";
/// File name of the hosted timite's key in a keystore directory.
pub const TIMITE_KEY_FILE: &str = "timite.key";
/// Directory (in the key directory) of further hosted timites' keys, one `<key>.key` each.
pub const TIMITES_DIR: &str = "timites";

/// A keystore error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Reading or writing a key file failed.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The key file is not a 32-byte seed.
    #[error("key file {0} is corrupt: expected exactly 32 bytes")]
    Corrupt(PathBuf),
    /// The key file can be read by others.
    #[error(
        "key file {path} has mode {mode:o}; it must be readable by its owner only (chmod 600)"
    )]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its mode bits.
        mode: u32,
    },
    /// `init` found keys already there.
    #[error("{0} already holds a key; refusing to overwrite it")]
    Exists(PathBuf),
}

/// An Ed25519 key pair with its did:key.
#[derive(Clone)]
pub struct Identity {
    key: SigningKey,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret key.
        write!(f, "Identity({})", self.did())
    }
}

impl Identity {
    /// A fresh key pair from the operating system's random source.
    pub fn generate() -> Self {
        Self {
            key: SigningKey::generate(&mut rand::rngs::OsRng),
        }
    }

    /// A key pair from a 32-byte seed (deterministic tests).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// The DID naming this key.
    pub fn did(&self) -> Did {
        Did::from_key(&self.key.verifying_key())
    }

    /// The signing key, for signing changes and building the libp2p identity.
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// Reads a key file, refusing files that others can read.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mode = fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::Permissions {
                path: path.to_path_buf(),
                mode,
            });
        }
        let bytes = fs::read(path).map_err(io)?;
        let seed: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::Corrupt(path.to_path_buf()))?;
        Ok(Self::from_seed(seed))
    }

    /// Writes the key to a new file with mode 0600; refuses to overwrite an existing file.
    pub fn save_new(&self, path: &Path) -> Result<(), KeyError> {
        if path.exists() {
            return Err(KeyError::Exists(path.to_path_buf()));
        }
        let io = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        f.write_all(self.key.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)
    }
}

/// The two keys of a Tim home directory.
#[derive(Debug, Clone)]
pub struct Keystore {
    /// The node's key: its libp2p identity and node DID.
    pub node: Identity,
    /// The node's first hosted timite (the one the operator's admin token acts as).
    pub timite: Identity,
    /// Further hosted timites, from `timites/*.key`.
    pub others: Vec<Identity>,
    /// Where new timites' keys are written; `None` keeps them in memory only (tests).
    pub dir: Option<PathBuf>,
}

impl Keystore {
    /// Creates both keys in `dir` (created with mode 0700 if missing).
    pub fn init(dir: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io {
            path: dir.to_path_buf(),
            source,
        };
        fs::create_dir_all(dir).map_err(io)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io)?;
        for file in [NODE_KEY_FILE, TIMITE_KEY_FILE] {
            if dir.join(file).exists() {
                return Err(KeyError::Exists(dir.join(file)));
            }
        }
        let ks = Self {
            node: Identity::generate(),
            timite: Identity::generate(),
            others: Vec::new(),
            dir: Some(dir.to_path_buf()),
        };
        ks.node.save_new(&dir.join(NODE_KEY_FILE))?;
        ks.timite.save_new(&dir.join(TIMITE_KEY_FILE))?;
        Ok(ks)
    }

    /// Loads both keys from `dir`.
    pub fn open(dir: &Path) -> Result<Self, KeyError> {
        let timites = dir.join(TIMITES_DIR);
        let mut others = Vec::new();
        if timites.is_dir() {
            let io = |source| KeyError::Io {
                path: timites.clone(),
                source,
            };
            let mut paths: Vec<PathBuf> = fs::read_dir(&timites)
                .map_err(io)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "key"))
                .collect();
            paths.sort();
            for p in paths {
                others.push(Identity::load(&p)?);
            }
        }
        Ok(Self {
            node: Identity::load(&dir.join(NODE_KEY_FILE))?,
            timite: Identity::load(&dir.join(TIMITE_KEY_FILE))?,
            others,
            dir: Some(dir.to_path_buf()),
        })
    }

    /// A keystore held in memory only: nothing is written (tests, throwaway nodes).
    pub fn in_memory(node: Identity, timite: Identity) -> Self {
        Self {
            node,
            timite,
            others: Vec::new(),
            dir: None,
        }
    }

    /// Every hosted timite, the first one first.
    pub fn timites(&self) -> impl Iterator<Item = &Identity> {
        std::iter::once(&self.timite).chain(&self.others)
    }

    /// Makes a new hosted timite, saving its key in `timites/` (mode 0600) when the keystore
    /// has a directory.
    pub fn add_timite(&mut self) -> Result<Identity, KeyError> {
        let id = Identity::generate();
        if let Some(dir) = &self.dir {
            let timites = dir.join(TIMITES_DIR);
            fs::create_dir_all(&timites).map_err(|source| KeyError::Io {
                path: timites.clone(),
                source,
            })?;
            let did = id.did().to_string();
            let name = did.trim_start_matches("did:key:");
            id.save_new(&timites.join(format!("{name}.key")))?;
        }
        self.others.push(id.clone());
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_open_round_trip_with_private_files() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let ks = Keystore::init(&home).unwrap();
        let again = Keystore::open(&home).unwrap();
        assert_eq!(ks.node.did(), again.node.did());
        assert_eq!(ks.timite.did(), again.timite.did());
        assert_ne!(ks.node.did(), ks.timite.did());
        let mode = fs::metadata(home.join(NODE_KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(matches!(Keystore::init(&home), Err(KeyError::Exists(_))));
        let mut ks = again;
        let added = ks.add_timite().unwrap();
        let reopened = Keystore::open(&home).unwrap();
        let dids: Vec<_> = reopened.timites().map(Identity::did).collect();
        assert_eq!(dids, vec![ks.timite.did(), added.did()]);
        assert!(!format!("{:?}", ks.node).contains(&hex::encode(ks.node.signing_key().as_bytes())));
    }

    #[test]
    fn refuses_readable_or_corrupt_key_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        fs::write(&path, [1u8; 32]).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            Identity::load(&path),
            Err(KeyError::Permissions { .. })
        ));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(Identity::load(&path).is_ok());
        fs::write(&path, [1u8; 31]).unwrap();
        assert!(matches!(Identity::load(&path), Err(KeyError::Corrupt(_))));
    }
}
