//! One file per verb.
pub mod enter;
pub mod explain;
pub mod inspect;
pub mod spawn;

use cleave::flags::signal_from_name;

/// Parses `--exit-signal`: a name, a number, or `none`/`0`.
pub fn parse_exit_signal(text: &str) -> Result<i32, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("none") || t == "0" {
        return Ok(0);
    }
    signal_from_name(t).ok_or_else(|| {
        format!("unknown exit signal `{t}`: give a name such as SIGCHLD or SIGUSR1, a number from 1 to 64, or none")
    })
}
