//! One file per verb.
pub mod enter;
pub mod explain;
pub mod inspect;
pub mod spawn;

use cleave::flags::signal_from_name;
use cleave::Namespace;

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

/// Reads a namespace list (`--new`, `--ns`): names, or `all` for every one (`None`).
pub fn parse_namespaces(list: &[String], option: &str) -> Result<Option<Vec<Namespace>>, String> {
    let mut out = Vec::new();
    for n in list {
        if n.trim().eq_ignore_ascii_case("all") {
            return Ok(None);
        }
        out.push(Namespace::from_name(n).ok_or_else(|| {
            format!("unknown {option} item `{n}`: choose from mount,uts,ipc,net,pid,user,cgroup,time, or all")
        })?);
    }
    Ok(Some(out))
}
