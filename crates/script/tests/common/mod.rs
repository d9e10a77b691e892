//! A recording host for the tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use stampede_script::{Host, OwnedValue, Response, ScriptError, Scripts, Value, Vm};

/// A VU's state as the engine would hold it, recording everything a script does.
#[derive(Debug, Default)]
pub struct TestHost {
    pub vars: BTreeMap<String, OwnedValue>,
    pub response: Option<(u16, Vec<u8>, http::HeaderMap)>,
    pub failures: Vec<String>,
    /// ("counter" | "trend" | "gauge", name, value), in call order.
    pub metrics: Vec<(&'static str, String, f64)>,
    /// With `Some`, the host counts its variable changes (`Host::vars_version`): set it to test
    /// the values an interpreter keeps between runs, and bump it when changing `vars` directly.
    pub version: Option<u64>,
    /// Calls of `Host::var`.
    pub reads: std::cell::Cell<u32>,
    /// Names `set_var` ignores, as the engine ignores names its plan does not know.
    pub ignored: Vec<&'static str>,
}

impl TestHost {
    pub fn with_var(mut self, name: &str, value: &str) -> TestHost {
        self.vars
            .insert(name.into(), OwnedValue::Text(value.into()));
        self
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        match self.vars.get(name) {
            Some(OwnedValue::Text(t)) => Some(t),
            _ => None,
        }
    }
}

impl Host for TestHost {
    fn var(&self, name: &str) -> Option<Value<'_>> {
        self.reads.set(self.reads.get() + 1);
        match self.vars.get(name)? {
            OwnedValue::Text(t) => Some(Value::Text(t)),
            OwnedValue::List(l) => Some(Value::List(l)),
            OwnedValue::Unset => None,
        }
    }
    fn set_var(&mut self, name: &str, value: OwnedValue) -> bool {
        if self.ignored.contains(&name) {
            return false;
        }
        if let Some(v) = &mut self.version {
            *v += 1;
        }
        match value {
            OwnedValue::Unset => self.vars.remove(name),
            value => self.vars.insert(name.to_owned(), value),
        };
        true
    }
    fn response(&self) -> Option<Response<'_>> {
        self.response
            .as_ref()
            .map(|(status, body, headers)| Response {
                status: *status,
                body,
                headers,
            })
    }
    fn fail(&mut self, message: String) {
        self.failures.push(message);
    }
    fn counter(&mut self, name: &str, delta: f64) {
        self.metrics.push(("counter", name.into(), delta));
    }
    fn trend(&mut self, name: &str, value: f64) {
        self.metrics.push(("trend", name.into(), value));
    }
    fn gauge(&mut self, name: &str, value: f64) {
        self.metrics.push(("gauge", name.into(), value));
    }
    fn vars_version(&self) -> Option<u64> {
        self.version
    }
}

/// Adds `code` as inline code of `test.yaml` starting on line 1, and runs it once on `host`.
pub fn run(code: &str, host: &mut TestHost) -> Result<(), ScriptError> {
    let mut scripts = Scripts::new();
    let id = scripts.add("test.yaml", 1, code)?;
    Vm::new(Arc::new(scripts), 1)?.run(id, host)
}

/// Runs `code` on a fresh host and returns the error it must raise.
pub fn run_err(code: &str) -> ScriptError {
    run(code, &mut TestHost::default()).expect_err("the script should fail")
}
