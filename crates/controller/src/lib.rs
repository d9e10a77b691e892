//! The controller side of distributed runs.
//!
//! The pure core — no network, time passed in explicitly, exhaustively tested — decides how a
//! run is divided and whether agents are healthy:
//!
//! * [`split`]: divides a run across agents by capacity (users per scenario, stages, arrival-rate
//!   shares and phases, iterations, unique-row ranges) and re-divides after an agent is lost;
//! * [`liveness`]: heartbeat → missing → gone, as a state machine;
//! * [`clock`]: agent clock offsets from NTP-style probes;
//! * [`placement`]: capacity metering when several runs share a pool of agents;
//! * [`auth`]: agent tokens, checked in constant time;
//! * [`allow`]: the target allow-list (host patterns and CIDRs) runs are checked against.
//!
//! [`grpc`] puts the network around it: the `AgentService` that agents dial; [`wire`] turns
//! splitter output into `Assign` fields.

pub mod allow;
pub mod auth;
pub mod clock;
mod fmt;
pub mod grpc;
pub mod liveness;
pub mod placement;
pub mod split;
pub mod wire;

pub use fmt::thousands;
