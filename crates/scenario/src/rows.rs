//! The request-row table statistics are grouped by.

use crate::plan::{Method, RowKey};

/// Interns (scenario, step name, method) triples in first-seen order.
#[derive(Default)]
pub(crate) struct Rows {
    keys: Vec<RowKey>,
}

impl Rows {
    /// The row index for this triple, adding it if new.
    pub fn intern(&mut self, scenario: &str, name: &str, method: Method) -> u32 {
        self.intern_kind(scenario, name, method.as_str())
    }

    /// Like [`Rows::intern`] for rows that are not HTTP requests: `SCRIPT` (a script step's
    /// run time, errors and failures).
    pub fn intern_kind(&mut self, scenario: &str, name: &str, method: &str) -> u32 {
        let found = self
            .keys
            .iter()
            .position(|k| k.scenario == scenario && k.name == name && k.method == method);
        let index = found.unwrap_or_else(|| {
            self.keys.push(RowKey {
                scenario: scenario.to_owned(),
                name: name.to_owned(),
                method: method.to_owned(),
            });
            self.keys.len() - 1
        });
        // A file cannot hold anywhere near u32::MAX steps.
        u32::try_from(index).unwrap_or(u32::MAX)
    }

    pub fn into_keys(self) -> Vec<RowKey> {
        self.keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_scenario_name_and_method() {
        let mut rows = Rows::default();
        assert_eq!(rows.intern("a", "/x", Method::Get), 0);
        assert_eq!(rows.intern("a", "/y", Method::Get), 1);
        assert_eq!(rows.intern("a", "/x", Method::Get), 0);
        assert_eq!(rows.intern("a", "/x", Method::Post), 2);
        assert_eq!(rows.intern("b", "/x", Method::Get), 3);
        let keys = rows.into_keys();
        assert_eq!(keys.len(), 4);
        assert_eq!(
            keys[2],
            RowKey {
                scenario: "a".into(),
                name: "/x".into(),
                method: "POST".into()
            }
        );
    }
}
