//! Script steps: the user's Lua interpreter (created on its first script) sees the user's
//! variables and last response, and can set variables, fail, and emit custom metrics.

use crate::client::LastResponse;
use crate::record;
use crate::vars::{Slots, Value, Vars};
use crate::vu::User;
use stampede_metrics::{CheckFailure, ErrorKind, IntervalRecorder, Outcome};
use stampede_script::{Headers, Host, OwnedValue, Response, ScriptId, Vm};
use std::sync::Mutex;

/// What a script reaches through [`Host`].
struct ScriptHost<'h> {
    vars: &'h mut Vars,
    slots: &'h Slots,
    response: Option<(&'h [u8], &'h LastResponse)>,
    shard: &'h Mutex<IntervalRecorder>,
    /// Messages of `fail(...)` calls.
    failures: Vec<String>,
}

impl Host for ScriptHost<'_> {
    fn var(&self, name: &str) -> Option<stampede_script::Value<'_>> {
        let slot = self.slots.get(name)?;
        match self.vars.get(slot)? {
            Value::Text(t) => Some(stampede_script::Value::Text(t)),
            Value::List(items) => Some(stampede_script::Value::List(items)),
        }
    }

    fn set_var(&mut self, name: &str, value: OwnedValue) -> bool {
        // Only names the plan knows have a slot; a script's `sets` gives them one, and other
        // names are readable by later scripts only through `sets`.
        let Some(slot) = self.slots.get(name) else {
            return false;
        };
        let value = match value {
            OwnedValue::Text(t) => Some(Value::Text(t)),
            OwnedValue::List(items) => Some(Value::List(items.into())),
            OwnedValue::Unset => None,
        };
        self.vars.set(slot, value);
        true
    }

    fn response(&self) -> Option<Response<'_>> {
        let (body, last) = self.response?;
        Some(Response {
            status: last.status,
            body,
            headers: last,
        })
    }

    fn fail(&mut self, message: String) {
        self.failures.push(message);
    }

    fn counter(&mut self, name: &str, delta: f64) {
        record::lock(self.shard).add_counter(name, delta);
    }

    fn trend(&mut self, name: &str, value: f64) {
        record::lock(self.shard).record_trend(name, value);
    }

    fn gauge(&mut self, name: &str, value: f64) {
        record::lock(self.shard).set_gauge(name, value);
    }

    fn vars_version(&self) -> Option<u64> {
        Some(self.vars.version())
    }
}

/// `response:header(name)`.
impl Headers for LastResponse {
    fn get(&self, name: &str) -> Option<&[u8]> {
        self.header(name)
    }
}

impl User<'_> {
    /// Runs a script step. Errors are recorded on the script's row (error kind `script`, with
    /// the file, line and message); each `fail(message)` is a failed check named `message` on
    /// that row. Both make the next `last_check` test see a failure; the run goes on.
    pub(crate) fn script(&mut self, id: ScriptId, row: u32) {
        let prepared = &self.ctx.prepared;
        if self.vm.is_none() {
            match Vm::new(prepared.scripts.clone(), self.ctx.seed ^ self.number) {
                Ok(vm) => self.vm = Some(vm),
                Err(e) => {
                    self.record_script_error(row, &e.to_string());
                    return;
                }
            }
        }
        let vm = self.vm.as_mut().expect("just created");
        let (body, last) = self.client.last_response();
        let mut host = ScriptHost {
            vars: &mut self.vars,
            slots: &prepared.slots,
            response: (last.status != 0).then_some((body, last)),
            shard: self.shard,
            failures: Vec::new(),
        };
        let result = vm.run(id, &mut host);
        let failures = std::mem::take(&mut host.failures);
        match result {
            Ok(()) if failures.is_empty() => self.last_passed = true,
            Ok(()) => {
                // `fail(message)` fails a check named by its message, like a failed `expect`.
                self.last_passed = false;
                let origin = prepared.scripts.origin(id);
                let mut shard = record::lock(self.shard);
                for message in failures {
                    let check = CheckFailure {
                        check: message,
                        detail: format!("fail(...) in {origin}"),
                    };
                    shard.record(
                        row,
                        &Outcome::Failed {
                            failed_check: &check,
                        },
                    );
                }
            }
            Err(e) => self.record_script_error(row, &e.to_string()),
        }
    }

    fn record_script_error(&mut self, row: u32, message: &str) {
        self.last_passed = false;
        let outcome = Outcome::Error {
            kind: ErrorKind::Script,
            bytes_out: 0,
            message: &message,
        };
        record::lock(self.shard).record(row, &outcome);
    }
}
