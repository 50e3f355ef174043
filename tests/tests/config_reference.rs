//! docs/configuration.md is what the code's parsers and template.yaml say: a variable added to
//! the code without its row (with its meaning), a changed default or range, or a template
//! setting no function reads, fails here.

use watchdog_tests::config_reference::{PAGE, meanings_on_page, render, rows, set_but_not_read};
use watchdog_tests::lambda::workspace_root;

#[test]
fn the_page_is_what_the_code_and_the_template_say() {
    let on_page = std::fs::read_to_string(workspace_root().join(PAGE)).expect("docs/configuration.md");
    let generated = render(&rows(&meanings_on_page()));
    assert!(
        on_page == generated,
        "docs/configuration.md is out of date: run `cargo run -p watchdog-tests --bin watchdog-config-reference`"
    );
}

#[test]
fn every_variable_has_a_meaning() {
    let missing: Vec<String> =
        rows(&meanings_on_page()).into_iter().filter(|r| r.meaning.is_empty()).map(|r| r.variable).collect();
    assert!(missing.is_empty(), "write the meaning of {missing:?} in docs/configuration.md");
}

#[test]
fn the_template_sets_only_variables_a_function_reads() {
    assert_eq!(set_but_not_read(), Vec::<String>::new());
}

#[test]
fn a_variable_added_without_its_meaning_is_caught() {
    // As a new variable appears: a row the page has no meaning for, and a page that differs.
    let mut meanings = meanings_on_page();
    let dropped = meanings.keys().next().cloned().expect("the page has rows");
    meanings.remove(&dropped);
    let without = rows(&meanings);
    assert!(without.iter().any(|r| r.variable == dropped && r.meaning.is_empty()));
    assert_ne!(render(&without), render(&rows(&meanings_on_page())));
}
