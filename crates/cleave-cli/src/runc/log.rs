//! `--log FILE` and `--log-format text|json`: runc's log lines, errors included.
use super::cli::Global;
use std::fs::File;
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

struct Log {
    file: Option<Mutex<File>>,
    json: bool,
    debug: bool,
}

static LOG: OnceLock<Log> = OnceLock::new();

/// Opens the log from the global options.
pub fn init(g: &Global) -> Result<(), String> {
    let json = match g.log_format.as_str() {
        "text" => false,
        "json" => true,
        other => return Err(format!("--log-format {other:?}: give text or json")),
    };
    let file = match &g.log {
        Some(p) => Some(Mutex::new(
            File::options()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| format!("--log {}: {e}", p.display()))?,
        )),
        None => None,
    };
    let _ = LOG.set(Log {
        file,
        json,
        debug: g.debug,
    });
    Ok(())
}

fn write(level: &str, msg: &str) {
    let Some(log) = LOG.get() else { return };
    let Some(file) = &log.file else { return };
    let time = cleave_oci::rfc3339(SystemTime::now());
    let line = if log.json {
        let mut s = serde_json::json!({"level": level, "msg": msg, "time": time}).to_string();
        s.push('\n');
        s
    } else {
        format!("time={time:?} level={level} msg={msg:?}\n")
    };
    if let Ok(mut f) = file.lock() {
        let _ = f.write_all(line.as_bytes());
    }
}

/// An error: to stderr and to the log.
pub fn error(msg: &str) {
    eprintln!("cleave: {msg}");
    write("error", msg);
}

/// A warning: to stderr and to the log.
pub fn warn(msg: &str) {
    eprintln!("cleave: warning: {msg}");
    write("warning", msg);
}

/// What cleave did beyond the request (the lowering notes): to the log when there is one,
/// else to stderr with --debug only (a created container keeps create's stderr).
pub fn info(msg: &str) {
    let Some(log) = LOG.get() else { return };
    if log.file.is_some() {
        write("info", msg);
    } else if log.debug {
        eprintln!("cleave: {msg}");
    }
}

/// A debug line, with --debug only: to the log (or stderr without one).
pub fn debug(msg: &str) {
    let Some(log) = LOG.get() else { return };
    if !log.debug {
        return;
    }
    if log.file.is_some() {
        write("debug", msg);
    } else {
        eprintln!("cleave: debug: {msg}");
    }
}
