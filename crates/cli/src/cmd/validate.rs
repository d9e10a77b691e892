//! `stampede validate FILE`: every problem in the file at once, with file:line:column and a hint.

use crate::args::{Format, ValidateArgs};
use crate::exit;
use stampede_scenario::{Diagnostics, Overrides, load_file};
use std::io::IsTerminal;

pub fn validate(args: &ValidateArgs) -> anyhow::Result<u8> {
    let color = std::io::stderr().is_terminal();
    let file = args.file.display().to_string();
    let (diagnostics, valid) = match load_file(
        &args.file,
        &Overrides {
            env: args.env.clone(),
            ..Overrides::default()
        },
    ) {
        Ok(loaded) => {
            if args.format == Format::Text {
                let plan = &loaded.plan;
                println!(
                    "{file} is valid: {} scenario(s), {} request row(s), load {}",
                    plan.scenarios.len(),
                    plan.rows.len(),
                    plan.load.description
                );
            }
            let source = std::fs::read_to_string(&args.file).unwrap_or_default();
            let warnings = Diagnostics {
                file,
                source,
                items: loaded.warnings,
                included: Vec::new(),
            };
            (warnings, true)
        }
        Err(diagnostics) => (diagnostics, false),
    };
    match args.format {
        Format::Json => {
            let mut json = diagnostics.to_json();
            json["valid"] = serde_json::Value::Bool(valid);
            println!("{json}");
        }
        Format::Text if !diagnostics.items.is_empty() => eprint!("{}", diagnostics.render(color)),
        Format::Text => {}
    }
    Ok(if valid { exit::OK } else { exit::INVALID })
}
