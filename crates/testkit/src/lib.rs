//! stampede-testkit
