//! End-to-end tests of the `stampede` binary against real servers on 127.0.0.1.

mod common;

mod demo;
mod distributed;
mod language;
mod load_models;
mod netns;
mod one_cpu;
mod reports;
mod run;
mod security;
mod sharing;
mod thresholds;
mod validate;
