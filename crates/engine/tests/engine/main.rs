//! Engine integration tests: real runs against real servers on `127.0.0.1:0`, in real time. Every
//! load loop is bounded by its plan's profile (a few seconds at most) and stops on its own.

mod behaviour;
mod counts;
mod errors;
mod keep_alive;
mod profile;
mod support;
