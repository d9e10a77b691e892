//! Walking an HTML document: elements in document order, form field values, and the embedded
//! resources a browser would fetch.

use crate::Parsed;
use ego_tree::NodeRef;
use scraper::{ElementRef, Html, Node};
use std::collections::HashSet;

/// Elements of a document in document order. Never descends into `<template>` contents (like
/// `querySelectorAll`), nor into `<noscript>` when `skip_noscript`.
pub(crate) struct Elements<'a> {
    next: Option<NodeRef<'a, Node>>,
    skip_noscript: bool,
}

impl<'a> Elements<'a> {
    pub(crate) fn new(doc: &'a Html, skip_noscript: bool) -> Elements<'a> {
        Elements {
            next: doc.tree.root().first_child(),
            skip_noscript,
        }
    }
}

impl<'a> Iterator for Elements<'a> {
    type Item = ElementRef<'a>;

    fn next(&mut self) -> Option<ElementRef<'a>> {
        while let Some(node) = self.next {
            let descend = match node.value() {
                // Template contents hang under a fragment node of the `<template>` element.
                Node::Fragment => false,
                Node::Element(e) => !(self.skip_noscript && e.name() == "noscript"),
                _ => true,
            };
            self.next = descend.then(|| node.first_child()).flatten().or_else(|| {
                let mut n = node;
                loop {
                    if let Some(sibling) = n.next_sibling() {
                        return Some(sibling);
                    }
                    n = n.parent()?;
                }
            });
            if let Some(element) = ElementRef::wrap(node) {
                return Some(element);
            }
        }
        None
    }
}

/// The value of attribute `name` (ASCII case-insensitive).
pub(crate) fn attribute<'a>(element: &ElementRef<'a>, name: &str) -> Option<&'a str> {
    let element = element.value();
    element.attr(name).or_else(|| {
        element
            .attrs()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// The element's text: its descendant text nodes joined, trimmed at both ends.
pub(crate) fn text(element: &ElementRef<'_>) -> String {
    let text: String = element.text().collect();
    let trimmed = text.trim();
    if trimmed.len() == text.len() {
        text
    } else {
        trimmed.to_owned()
    }
}

/// Values a form would submit for field `name`, in document order: `<input>` (checkboxes and
/// radio buttons only when checked), `<textarea>`, and the selected `<option>`s of a `<select>`
/// (the first enabled option when a single-choice select has none selected).
pub(crate) fn form_values<'a>(doc: &'a Html, name: &'a str) -> impl Iterator<Item = String> + 'a {
    Elements::new(doc, false)
        .filter(move |e| {
            matches!(e.value().name(), "input" | "textarea" | "select")
                && e.value().attr("name") == Some(name)
        })
        .flat_map(|e| -> Vec<String> {
            match e.value().name() {
                "input" => {
                    let kind = e.value().attr("type").unwrap_or("text");
                    let choice =
                        kind.eq_ignore_ascii_case("checkbox") || kind.eq_ignore_ascii_case("radio");
                    if choice && e.value().attr("checked").is_none() {
                        return Vec::new();
                    }
                    let default = if choice { "on" } else { "" };
                    vec![e.value().attr("value").unwrap_or(default).to_owned()]
                }
                "textarea" => vec![e.text().collect()],
                _ => selected_options(&e),
            }
        })
}

/// Values of the selected options of a `<select>`.
fn selected_options(select: &ElementRef<'_>) -> Vec<String> {
    let options: Vec<ElementRef<'_>> = select
        .descendent_elements()
        .filter(|e| e.value().name() == "option")
        .collect();
    let value = |o: &ElementRef<'_>| match o.value().attr("value") {
        Some(v) => v.to_owned(),
        None => collapse_whitespace(&o.text().collect::<String>()),
    };
    let selected = || {
        options
            .iter()
            .filter(|o| o.value().attr("selected").is_some())
    };
    if select.value().attr("multiple").is_some() {
        return selected().map(value).collect();
    }
    // A single-choice select shows its last selected option, or else its first enabled one.
    let chosen = selected().next_back().or_else(|| {
        options
            .iter()
            .find(|o| o.value().attr("disabled").is_none())
    });
    chosen.map(value).into_iter().collect()
}

/// Whitespace stripped at both ends and runs of it replaced by one space.
fn collapse_whitespace(text: &str) -> String {
    text.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
}

/// Embedded resources a browser would fetch for an HTML page, as written in the page (relative
/// references unresolved: resolve them with [`resolve_reference`](crate::resolve_reference)
/// against [`document_base`] or else the page URL), deduplicated, in document order:
///
/// `img[src]`, `script[src]`, `link[href]` whose `rel` has `stylesheet` or `icon`,
/// `iframe[src]`, `frame[src]` and `video[poster]`.
///
/// Skips empty references, fragments (`#top`) and `data:`, `javascript:`, `about:`, `mailto:`,
/// `tel:` and `blob:` URLs; ignores comments and what is inside `<template>` and `<noscript>`.
/// Not covered: `srcset` candidates, `<source>`, `<embed>`, `<object>`, preloads, and URLs
/// inside CSS (`@import`, `url()`).
pub fn embedded_resources(response: &Parsed<'_>) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for element in Elements::new(response.html(), true) {
        let e = element.value();
        let reference = match e.name() {
            "img" | "script" | "iframe" | "frame" => e.attr("src"),
            "video" => e.attr("poster"),
            "link" => {
                let rel = e.attr("rel").unwrap_or("");
                let wanted = rel.split_ascii_whitespace().any(|token| {
                    token.eq_ignore_ascii_case("stylesheet") || token.eq_ignore_ascii_case("icon")
                });
                if wanted { e.attr("href") } else { None }
            }
            _ => None,
        };
        let Some(reference) = reference.map(trim_url) else {
            continue;
        };
        if reference.is_empty() || reference.starts_with('#') || skipped_scheme(reference) {
            continue;
        }
        if seen.insert(reference) {
            out.push(reference.to_owned());
        }
    }
    out
}

/// The page's `<base href>` as written (the first one), against which its relative references
/// resolve; `None` when the page has none.
pub fn document_base(response: &Parsed<'_>) -> Option<String> {
    Elements::new(response.html(), true)
        .filter(|e| e.value().name() == "base")
        .find_map(|e| e.value().attr("href"))
        .map(|href| trim_url(href).to_owned())
        .filter(|href| !href.is_empty())
}

/// A URL attribute without leading and trailing ASCII whitespace and control characters (as
/// browsers read it).
fn trim_url(value: &str) -> &str {
    value.trim_matches(|c: char| c <= ' ')
}

/// Whether `reference` has a scheme no page load fetches.
fn skipped_scheme(reference: &str) -> bool {
    const SKIPPED: [&str; 6] = ["data", "javascript", "about", "mailto", "tel", "blob"];
    let Some((scheme, _)) = reference.split_once(':') else {
        return false;
    };
    SKIPPED.iter().any(|s| s.eq_ignore_ascii_case(scheme))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(html: &str) -> Vec<String> {
        let doc = Html::parse_document(html);
        Elements::new(&doc, true)
            .map(|e| e.value().name().to_owned())
            .collect()
    }

    #[test]
    fn walks_in_document_order_without_templates_or_noscript() {
        let html = "<p><b>x</b><i>y</i></p><template><img></template>\
                    <noscript><img></noscript><ul><li>a</li></ul>";
        assert_eq!(
            names(html),
            [
                "html", "head", "body", "p", "b", "i", "template", "noscript", "ul", "li"
            ]
        );
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let html = "<div>".repeat(5_000);
        assert!(names(&html).len() > 100);
    }

    #[test]
    fn skipped_schemes_are_case_insensitive() {
        assert!(skipped_scheme("DATA:image/png;base64,xx"));
        assert!(skipped_scheme("javascript:void(0)"));
        assert!(!skipped_scheme("https://cdn.example/x.js"));
        assert!(!skipped_scheme("/a:b.png"));
    }
}
