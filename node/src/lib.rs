//! A Tim node: the libp2p swarm, sled storage and the HTTP API.
//!
//! [`start`] runs a node in the current tokio runtime and returns a [`Handle`]; a
//! [`service::Service`] offers its use cases to every interface, and [`api::router`] serves
//! them over HTTP. The `tim` binary (crate `tim`) wires both to the command line.
#![deny(missing_docs)]

mod abilities;
mod admission;
pub mod agents;
pub mod api;
mod attachments;
pub mod auth;
mod balances;
mod chains;
pub mod e2ee;
pub mod engine;
mod error;
pub mod home;
pub mod index;
mod mcp;
pub mod mcp_tools;
pub mod memory;
mod metrics;
mod my_requests;
mod net;
mod node;
mod notifications;
mod people;
mod personas;
mod profile_credentials;
mod profiles;
mod proposals;
pub mod service;
mod sign_in_keys;
#[cfg(feature = "test-utils")]
pub mod sim;
mod store;
mod threads;
mod web;

pub use abilities::AbilityAct;
pub use error::NodeError;
pub use net::NetConfig;
pub use node::{peer_id_of, start, Act, CredentialKind, Handle, NodeConfig};
pub use store::{FlushMode, MemStore, Penalty, SpaceStore, Store, StoreError};
pub use tim_crdt::{Role, Visibility};
