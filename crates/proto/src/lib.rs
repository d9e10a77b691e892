//! The agent wire contract of Stampede: the gRPC code generated from
//! `proto/stampede/v1/agent.proto` ([`pb`]) and the conversions between its messages and the
//! in-process types (metrics snapshots, scenario overrides, included files). Nothing else lives
//! here, so the controller and the agent share one definition of the protocol and one set of
//! conversions, and the pure crates (`metrics`, `scenario`) never see protobuf.

/// Generated messages, clients (`agent_service_client`, `run_service_client`) and servers
/// (`agent_service_server`, `run_service_server`).
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod pb {
    tonic::include_proto!("stampede.v1");
}

mod custom;
mod files;
pub mod hdr;
mod overrides;
mod snapshot;

pub use files::{FileError, included_file, verify_included_file, verify_relative_path};
pub use overrides::{overrides_from_wire, overrides_to_wire};
pub use snapshot::{
    CheckedSnapshot, MERGE_BATCH, SnapshotError, merge_batch, snapshot_from_wire, snapshot_to_wire,
};

/// Version of the wire protocol described by `agent.proto`. Bumped for any change an older peer
/// would misread; the controller refuses agents that speak another one.
pub const PROTOCOL_VERSION: u32 = 3;

/// Whether `status` is a peer refusing gzipped messages: releases before protocol version 3 took
/// uncompressed messages only, and tonic refuses a compressed call before any message (or the
/// version it carries) is read. Callers turn it into "run the same release on both sides".
pub fn refused_compression(status: &tonic::Status) -> bool {
    status.code() == tonic::Code::Unimplemented && status.message().contains("compressed with")
}

/// The largest gRPC message a Stampede port or agent accepts: a run's scenario with the files it
/// uses (feeders can be large). Anything bigger is refused by tonic before it is decoded.
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;
/// The most file content a run may ship to its agents (leaves room for the rest of the message).
pub const MAX_SHIPPED_BYTES: usize = 48 << 20;
/// Metadata key of the bearer token on the `Session` call (`authorization: Bearer <token>`).
pub const AUTHORIZATION: &str = "authorization";
