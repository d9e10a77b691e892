//! `stampede demo`: the embedded default. Starts the sample shop on a free loopback port and runs
//! the bundled mixed scenario (20 % buy / 50 % browse / 30 % bounce) against it.

use crate::args::DemoArgs;
use crate::cmd::run::{execute, overrides};
use crate::exit;
use stampede_demo::{DEMO_SCENARIO, ShopTarget};
use stampede_scenario::load_str;

pub async fn demo(args: DemoArgs) -> anyhow::Result<u8> {
    if args.print_scenario {
        print!("{DEMO_SCENARIO}");
        return Ok(exit::OK);
    }
    let shop = ShopTarget::start().await?;
    eprintln!("Sample shop listening on {}", shop.url());
    let overrides = overrides(&args.load, Some(shop.url()));
    let loaded = match load_str(DEMO_SCENARIO, "demo.yaml", &overrides) {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            eprint!("{}", diagnostics.render(false));
            return Ok(exit::INVALID);
        }
    };
    let code = execute(loaded, "demo.yaml (built in)", &args.output).await;
    shop.shutdown().await;
    code
}
