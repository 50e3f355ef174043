//! Rewrites docs/configuration.md from the code's configuration parsers and template.yaml,
//! keeping the meanings written there (`watchdog_tests::config_reference`).

use watchdog_tests::config_reference::{PAGE, meanings_on_page, render, rows};
use watchdog_tests::lambda::workspace_root;

fn main() {
    let page = render(&rows(&meanings_on_page()));
    std::fs::write(workspace_root().join(PAGE), page).expect("write the page");
    println!("wrote {PAGE}");
}
