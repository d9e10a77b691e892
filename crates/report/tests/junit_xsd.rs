//! The JUnit report validates against `tests/junit.xsd` with libxml2's `xmllint --schema`: a real
//! XML parser and schema validator, so well-formedness, escaping and the structure CI tools expect
//! are all checked (a hand-written checker would only test what its author believed).

mod support;

use std::path::Path;
use std::process::Command;
use support::{require_tool, sample, temp_dir};

fn xmllint(xml: &Path) -> std::process::Output {
    let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/junit.xsd");
    Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(xsd)
        .arg(xml)
        .output()
        .expect("run xmllint")
}

#[test]
fn junit_report_is_valid_against_the_junit_xsd() {
    if require_tool("xmllint", "libxml2-utils").is_none() {
        return;
    }
    let dir = temp_dir("junit");
    let mut result = sample();
    // Hostile strings must stay text.
    result.checks[0].sample = "<html>&nbsp;</failure>\u{1}]]>".into();
    result.run.scenario_file = "\"quotes\" & <angles>.yaml".into();
    let xml = stampede_report::junit_report(&result);
    let file = dir.join("junit.xml");
    std::fs::write(&file, &xml).unwrap();
    let out = xmllint(&file);
    assert!(
        out.status.success(),
        "xmllint rejected the report:\n{}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("validates"));

    // The validator does reject what breaks the structure, so the check above can fail.
    let broken = xml.replacen(" tests=\"", " tests=\"-", 1);
    std::fs::write(&file, broken).unwrap();
    assert!(
        !xmllint(&file).status.success(),
        "negative test count accepted"
    );
    let broken = xml.replacen("type=\"check\"", "", 1);
    std::fs::write(&file, broken).unwrap();
    assert!(
        !xmllint(&file).status.success(),
        "failure without type accepted"
    );
}
