//! One file per subcommand.

mod agent;
pub mod compare;
mod controller;
mod demo;
pub mod report;
mod run;
mod schema;
mod validate;

use crate::args::Command;

/// Runs a subcommand and returns the process exit code.
pub async fn dispatch(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::Run(args) => run::run(*args).await,
        Command::Validate(args) => validate::validate(&args),
        Command::Demo(args) => demo::demo(args).await,
        Command::Schema(args) => schema::schema(&args),
        Command::Report(args) => report::report(&args),
        Command::Compare(args) => compare::compare_cmd(&args),
        Command::Controller(args) => controller::controller(args).await,
        Command::Agent(args) => agent::agent(args).await,
    }
}
