//! stampede-demo
