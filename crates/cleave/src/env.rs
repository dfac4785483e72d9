//! What a program's environment may hold: a variable's name is what comes before the first
//! `=` of a `NAME=VALUE` string in execve(2)'s envp, so a name can hold neither `=` nor a
//! NUL byte (which would end the string), and an empty name gives a `=VALUE` entry that
//! getenv(3) can never find. A value may hold anything but NUL.
use crate::error::{quote_prefix, RangeError};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// Checks an environment variable's name: not empty, no `=`, no NUL byte.
pub fn check_name(name: &OsStr) -> Result<(), RangeError> {
    let bytes = name.as_bytes();
    let problem = if bytes.is_empty() {
        "empty"
    } else if bytes.contains(&b'=') {
        "contains '='"
    } else if bytes.contains(&0) {
        "contains a NUL byte"
    } else {
        return Ok(());
    };
    Err(RangeError::new(
        "environment variable name",
        quote_prefix(bytes),
        format!("{problem}; give a non-empty name without '=' or NUL bytes, e.g. PATH"),
    ))
}

/// Checks an environment variable's value: no NUL byte.
pub fn check_value(value: &OsStr) -> Result<(), RangeError> {
    let bytes = value.as_bytes();
    if !bytes.contains(&0) {
        return Ok(());
    }
    Err(RangeError::new(
        "environment variable value",
        quote_prefix(bytes),
        "contains a NUL byte, which execve(2) cannot pass",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["PATH", "a", "A_B1", "lower.dots-ok"] {
            assert!(check_name(OsStr::new(ok)).is_ok(), "{ok}");
        }
        for (bad, why) in [("", "empty"), ("A=B", "'='"), ("=", "'='"), ("A\0", "NUL")] {
            let e = check_name(OsStr::new(bad)).unwrap_err();
            assert!(e.why.contains(why), "{bad:?}: {e}");
        }
        assert!(check_value(OsStr::new("a=b c")).is_ok());
        assert!(check_value(OsStr::new("a\0b")).is_err());
    }
}
