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

    fn set_var(&mut self, name: &str, value: OwnedValue) {
        // Only names the plan knows have a slot; a script's `sets` gives them one, and other
        // names are readable by later scripts only through `sets`.
        let Some(slot) = self.slots.get(name) else {
            return;
        };
        let value = match value {
            OwnedValue::Text(t) => Some(Value::Text(t)),
            OwnedValue::List(items) => Some(Value::List(items.into())),
            OwnedValue::Unset => None,
        };
        self.vars.set(slot, value);
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
}

/// `response:header(name)`: from the head's bytes when the client kept them instead of a
/// header map (see [`crate::prepare::PreparedStep::raw_head`]).
impl Headers for LastResponse {
    fn get(&self, name: &str) -> Option<&[u8]> {
        if self.raw_head.is_empty() {
            return self.headers.get(name).map(http::HeaderValue::as_bytes);
        }
        raw_header(&self.raw_head, name)
    }
}

/// The first value of header `name` in an HTTP/1.1 response head that httparse accepted: the
/// status line, then `name: value` lines (CRLF or LF), up to the empty line.
fn raw_header<'a>(head: &'a [u8], name: &str) -> Option<&'a [u8]> {
    (head.split(|&b| b == b'\n').skip(1))
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .take_while(|line| !line.is_empty())
        .find_map(|line| {
            let colon = line.iter().position(|&b| b == b':')?;
            let (field, value) = line.split_at(colon);
            field
                .eq_ignore_ascii_case(name.as_bytes())
                .then(|| value[1..].trim_ascii())
        })
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

#[cfg(test)]
mod tests {
    use super::raw_header;

    #[test]
    fn raw_header_finds_the_first_value_in_any_case() {
        let head = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nX-Id:  42 \r\nx-id: 43\r\n\
                     Empty:\r\n\r\n";
        assert_eq!(raw_header(head, "x-id"), Some(&b"42"[..]));
        assert_eq!(raw_header(head, "SERVER"), Some(&b"nginx"[..]));
        assert_eq!(raw_header(head, "empty"), Some(&b""[..]));
        assert_eq!(raw_header(head, "missing"), None);
        assert_eq!(
            raw_header(head, "HTTP/1.1 200 OK"),
            None,
            "not the status line"
        );
        let lf = b"HTTP/1.1 204 No Content\nA: 1\n\nA: body";
        assert_eq!(raw_header(lf, "a"), Some(&b"1"[..]));
    }
}
