//! Engine integration tests: real runs against real servers on `127.0.0.1:0`, in real time. Every
//! load loop is bounded by its plan's profile (a few seconds at most) and stops on its own.

mod behaviour;
mod bodies;
mod certs;
mod closed_model;
mod connections;
mod counts;
mod errors;
mod framing;
mod keep_alive;
mod open_model;
mod profile;
mod support;
mod timings;
mod tls;
