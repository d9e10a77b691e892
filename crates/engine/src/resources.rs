//! Browser-like page loads: after a step with `resources`, the page's embedded resources (images,
//! scripts, stylesheets, icons, frames) are fetched concurrently over up to `concurrency`
//! connections, each recorded under the step's `<name> resources` row.

use crate::client::{Client, Rendered, StepResult};
use crate::flow::Flow;
use crate::prepare::PreparedStep;
use crate::record;
use crate::vu::User;
use futures_util::future::join_all;
use http::header;
use stampede_extract::{Parsed, document_base, embedded_resources, resolve_reference};
use stampede_metrics::{CheckFailure, Outcome};
use stampede_scenario::Resources;

/// Most resources fetched for one page (a page listing thousands is not a browser page).
const MAX_RESOURCES: usize = 256;

impl User<'_> {
    /// Fetches the embedded resources of the page the last request of `step` returned.
    pub(crate) async fn resources(&mut self, step: &PreparedStep, resources: &Resources) -> Flow {
        let Some(resource_step) = step.resource_step.as_deref() else {
            return Flow::Next;
        };
        let urls = {
            let (body, last) = self.client.last_response();
            let html = last
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_none_or(|v| v.contains("html"));
            if !html {
                return Flow::Next;
            }
            let parsed = Parsed::new(last.status, &last.headers, body);
            // A `<base href>` changes what relative references are relative to.
            let page = last.url();
            let base = document_base(&parsed)
                .and_then(|b| resolve_reference(&page, &b))
                .unwrap_or(page);
            let mut urls: Vec<String> = embedded_resources(&parsed)
                .iter()
                .filter_map(|r| resolve_reference(&base, r))
                .map(|mut url| {
                    // The fragment is not sent.
                    if let Some(i) = url.find('#') {
                        url.truncate(i);
                    }
                    url
                })
                .collect();
            urls.truncate(MAX_RESOURCES);
            urls
        };
        if urls.is_empty() {
            return Flow::Next;
        }
        let lanes = (resources.concurrency as usize).clamp(1, urls.len());
        while self.resource_clients.len() + 1 < lanes {
            let shared = self.ctx.client.clone();
            let clients = Client::new(shared, self.ctx.prepared.step_count);
            self.resource_clients.push(clients);
        }
        // Every lane sends the user's cookies, as a browser does: the extra lanes get a copy of
        // the jar, and what resource responses set there is taken back afterwards.
        let before = self.client.jar().cloned();
        let extra = lanes - 1;
        for lane in self.resource_clients.iter_mut().take(extra) {
            lane.set_jar(before.clone());
        }
        let mut queues: Vec<Vec<String>> = vec![Vec::new(); lanes];
        for (i, url) in urls.into_iter().enumerate() {
            queues[i % lanes].push(url);
        }
        let clients = std::iter::once(&mut self.client).chain(self.resource_clients.iter_mut());
        let lanes = clients.zip(queues).map(|(client, urls)| async move {
            let mut results = Vec::with_capacity(urls.len());
            for url in urls {
                let rendered = Rendered {
                    url,
                    headers: resource_step.headers.clone(),
                    body: bytes::Bytes::new(),
                };
                results.push(client.execute_rendered(resource_step, rendered).await);
            }
            results
        });
        let results = join_all(lanes).await;
        if let Some(before) = &before {
            for lane in self.resource_clients.iter().take(extra) {
                if let Some(after) = lane.jar() {
                    self.client.apply_cookie_changes(before, after);
                }
            }
        }
        let mut shard = record::lock(self.shard);
        for result in results.iter().flatten() {
            match *result {
                StepResult::Response {
                    status,
                    latency_us,
                    bytes_in,
                    bytes_out,
                } => {
                    let failure = (!resource_step.check.passes(status)).then(|| CheckFailure {
                        check: resource_step.check.name.clone(),
                        detail: format!("got {status}"),
                    });
                    let outcome = Outcome::Response {
                        status,
                        latency_us,
                        service_us: latency_us,
                        bytes_in,
                        bytes_out,
                        failed_check: failure.as_ref(),
                    };
                    shard.record(resource_step.row, &outcome);
                }
                StepResult::Error {
                    kind,
                    bytes_out,
                    ref message,
                } => {
                    let outcome = Outcome::Error {
                        kind,
                        bytes_out,
                        message,
                    };
                    shard.record(resource_step.row, &outcome);
                }
            }
        }
        Flow::Next
    }
}
