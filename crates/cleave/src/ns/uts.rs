//! The names of a UTS namespace: sethostname(2) and setdomainname(2) take at most
//! `__NEW_UTS_LEN` (64) bytes and answer EINVAL beyond; a NUL byte would silently end the
//! name early, so it is refused too.
use crate::error::{quote_prefix, RangeError};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// The longest hostname or NIS domain name, in bytes (HOST_NAME_MAX, `__NEW_UTS_LEN`).
pub const HOST_NAME_MAX: usize = 64;

/// Checks a hostname for sethostname(2): at most [`HOST_NAME_MAX`] bytes, no NUL.
pub fn check_hostname(name: &OsStr) -> Result<(), RangeError> {
    check("hostname", name)
}

/// Checks a NIS domain name for setdomainname(2): at most [`HOST_NAME_MAX`] bytes, no NUL.
pub fn check_domainname(name: &OsStr) -> Result<(), RangeError> {
    check("NIS domain name", name)
}

/// Both names of a sandbox, when given.
pub fn check_names(hostname: Option<&OsStr>, domainname: Option<&OsStr>) -> Result<(), RangeError> {
    hostname.map_or(Ok(()), check_hostname)?;
    domainname.map_or(Ok(()), check_domainname)
}

fn check(what: &'static str, name: &OsStr) -> Result<(), RangeError> {
    let bytes = name.as_bytes();
    let value = quote_prefix(bytes);
    if bytes.len() > HOST_NAME_MAX {
        return Err(RangeError::new(
            what,
            value,
            format!(
                "{} bytes long; give at most {HOST_NAME_MAX} bytes (HOST_NAME_MAX)",
                bytes.len()
            ),
        ));
    }
    if bytes.contains(&0) {
        return Err(RangeError::new(
            what,
            value,
            format!("contains a NUL byte; give at most {HOST_NAME_MAX} bytes without NUL"),
        ));
    }
    Ok(())
}

/// The child's steps that set the names of `uts`.
pub(crate) fn steps(uts: &crate::sandbox::Uts) -> Vec<crate::plan::Step> {
    use crate::error::Origin;
    use crate::plan::{text, Step};
    use cleave_child::Op;
    let mut steps = Vec::new();
    if let Some(h) = &uts.hostname {
        steps.push(
            Step::new(
                Op::SetHostname { name: text(h) },
                format!("sethostname({h:?})"),
            )
            .at(Origin::Hostname),
        );
    }
    if let Some(d) = &uts.domainname {
        steps.push(
            Step::new(
                Op::SetDomainname { name: text(d) },
                format!("setdomainname({d:?})"),
            )
            .at(Origin::Domainname),
        );
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_up_to_64_bytes() {
        let ok = "a".repeat(64);
        assert!(check_hostname(OsStr::new(&ok)).is_ok());
        assert!(check_hostname(OsStr::new("")).is_ok());
        assert!(check_domainname(OsStr::new("example.org")).is_ok());
        let long = "b".repeat(70_000);
        let e = check_hostname(OsStr::new(&long)).unwrap_err();
        assert!(e.why.contains("70000 bytes") && e.why.contains("64"), "{e}");
        assert!(e.value.len() < 40, "{}", e.value);
        assert!(check_domainname(OsStr::new(&"c".repeat(65))).is_err());
        let e = check_hostname(OsStr::new("a\0b")).unwrap_err();
        assert!(e.why.contains("NUL"), "{e}");
        assert!(check_names(None, Some(OsStr::new(&long))).is_err());
        assert!(check_names(Some(OsStr::new("box")), None).is_ok());
    }
}
