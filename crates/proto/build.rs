//! Generates the gRPC code from `proto/stampede/v1/*.proto`.
//!
//! No system `protoc` is needed: `protoc-bin-vendored` ships the compiler binary inside a registry
//! package, so a fresh machine builds with nothing but cargo.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let proto = root.join("stampede/v1/agent.proto");
    let run = root.join("stampede/v1/run.proto");
    println!("cargo:rerun-if-changed={}", proto.display());
    println!("cargo:rerun-if-changed={}", run.display());

    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    // Deterministic maps: status codes come out sorted, as `StepStats::status` keeps them.
    config.btree_map(["."]);
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_with_config(config, &[proto, run], &[root])?;
    Ok(())
}
