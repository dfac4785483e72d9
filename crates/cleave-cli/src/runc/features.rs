//! `features`: the runtime-spec features.json document.
use super::common::Res;

pub fn run() -> Res<i32> {
    println!(
        "{}",
        serde_json::to_string_pretty(&cleave_oci::features_json()).unwrap_or_default()
    );
    Ok(0)
}
