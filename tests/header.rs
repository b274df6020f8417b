//! The checked-in C header is exactly what cbindgen generates now, and its version macros
//! match Cargo.toml.

const CHECKED_IN: &str = include_str!("../include/sluice.h");
const GENERATED: &str = include_str!(concat!(env!("OUT_DIR"), "/sluice.h"));

#[test]
fn checked_in_header_is_up_to_date() {
    assert!(
        CHECKED_IN == GENERATED,
        "include/sluice.h is stale: run `make header` and commit it"
    );
}

fn define(name: &str) -> String {
    let prefix = format!("#define {name} ");
    CHECKED_IN
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{name} is missing from include/sluice.h"))
        .trim()
        .to_string()
}

#[test]
fn version_macros_match_cargo_toml() {
    assert_eq!(define("SLUICE_VERSION_MAJOR"), env!("CARGO_PKG_VERSION_MAJOR"));
    assert_eq!(define("SLUICE_VERSION_MINOR"), env!("CARGO_PKG_VERSION_MINOR"));
    assert_eq!(define("SLUICE_VERSION_PATCH"), env!("CARGO_PKG_VERSION_PATCH"));
    assert_eq!(define("SLUICE_VERSION_STRING"), format!("\"{}\"", env!("CARGO_PKG_VERSION")));
    let version = unsafe { std::ffi::CStr::from_ptr(sluice::ffi::sluice_version()) };
    assert_eq!(version.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn every_contract_function_is_declared() {
    for name in [
        "sluice_version", "sluice_status_name", "sluice_last_error", "sluice_store_new", "sluice_store_add",
        "sluice_store_flush", "sluice_store_close", "sluice_store_free", "sluice_store_stats", "sluice_string_free",
        "sluice_store_add_callback_exporter", "sluice_store_add_pull_exporter", "sluice_store_poll",
        "sluice_batch_data", "sluice_batch_event_count", "sluice_batch_complete", "sluice_store_remove_exporter",
        "sluice_set_log_callback",
    ] {
        assert!(CHECKED_IN.contains(&format!("{name}(")), "{name} is not declared");
    }
}
