//! One file per verb.
pub mod docs;
pub mod enter;
pub mod explain;
pub mod inspect;
pub mod spawn;

use cleave::Namespace;

/// Parses `--exit-signal`: a name, a number, or `none`/`0`.
pub fn parse_exit_signal(text: &str) -> Result<i32, String> {
    cleave::flags::parse_exit_signal(text).map_err(|e| format!("--exit-signal: {e}"))
}

/// Reads a namespace list (`--new`, `--ns`): names, or `all` for every one (`None`).
pub fn parse_namespaces(list: &[String], option: &str) -> Result<Option<Vec<Namespace>>, String> {
    Namespace::parse_list(list.iter().map(String::as_str)).map_err(|e| format!("{option}: {e}"))
}
