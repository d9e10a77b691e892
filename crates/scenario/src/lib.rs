//! Scenario files for Stampede: parse YAML (keeping line and column of every node), validate it
//! purely while collecting *every* error, and normalise it into a [`Plan`] the engine executes.

pub mod plan;

pub use plan::*;
