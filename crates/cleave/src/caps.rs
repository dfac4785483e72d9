//! Capability names and sets (capabilities(7)), and resource limit names (getrlimit(2)).
use crate::error::{CapabilityProblem, Error, Result, RlimitFault, RlimitProblem};

/// Capability names in number order (CAP_CHOWN is 0).
pub const NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// Every capability this table knows.
pub const ALL: u64 = (1 << NAMES.len()) - 1;

/// The number of CAP_SYS_ADMIN (`NAMES[21]`).
pub const CAP_SYS_ADMIN: u32 = 21;

/// Reads a capability name (`CAP_SYS_ADMIN`, `sys_admin`) or `ALL` into a mask.
pub fn parse_cap(s: &str) -> Result<u64> {
    let up = s.trim().to_ascii_uppercase();
    if up == "ALL" {
        return Ok(ALL);
    }
    let bare = up.strip_prefix("CAP_").unwrap_or(&up);
    NAMES
        .iter()
        .position(|n| *n == bare)
        .map(|i| 1u64 << i)
        .ok_or_else(|| {
            CapabilityProblem {
                name: s.trim().to_string(),
                suggestion: closest(bare).map(|n| format!("CAP_{n}")),
            }
            .into()
        })
}

/// The known capability within two edits of `bare` (upper case, without `CAP_`), if one is
/// closest: the likely typo behind an unknown name.
fn closest(bare: &str) -> Option<&'static str> {
    let mut best: Option<(usize, &'static str)> = None;
    for n in NAMES {
        let d = edit_distance(bare, n);
        if d <= 2 && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, n));
        }
    }
    best.map(|(_, n)| n)
}

/// Levenshtein distance between two ASCII words.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let up = row[j + 1];
            row[j + 1] = (diag + usize::from(ca != cb)).min(up + 1).min(row[j] + 1);
            diag = up;
        }
    }
    row[b.len()]
}

/// The names of the capabilities in `mask`, `CAP_`-prefixed.
pub fn names(mask: u64) -> Vec<String> {
    NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, n)| format!("CAP_{n}"))
        .collect()
}

/// One resource limit: `RLIMIT_<name>` set to soft/hard (`u64::MAX` is unlimited).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimit {
    /// The RLIMIT_* number.
    pub resource: u32,
    /// Soft limit.
    pub soft: u64,
    /// Hard limit.
    pub hard: u64,
}

// The RLIMIT_* constants are u32 on glibc and c_int on other libcs: the casts are for those.
#[allow(clippy::unnecessary_cast)]
const RLIMITS: [(&str, u32); 16] = [
    ("CPU", libc::RLIMIT_CPU as u32),
    ("FSIZE", libc::RLIMIT_FSIZE as u32),
    ("DATA", libc::RLIMIT_DATA as u32),
    ("STACK", libc::RLIMIT_STACK as u32),
    ("CORE", libc::RLIMIT_CORE as u32),
    ("RSS", libc::RLIMIT_RSS as u32),
    ("NPROC", libc::RLIMIT_NPROC as u32),
    ("NOFILE", libc::RLIMIT_NOFILE as u32),
    ("MEMLOCK", libc::RLIMIT_MEMLOCK as u32),
    ("AS", libc::RLIMIT_AS as u32),
    ("LOCKS", libc::RLIMIT_LOCKS as u32),
    ("SIGPENDING", libc::RLIMIT_SIGPENDING as u32),
    ("MSGQUEUE", libc::RLIMIT_MSGQUEUE as u32),
    ("NICE", libc::RLIMIT_NICE as u32),
    ("RTPRIO", libc::RLIMIT_RTPRIO as u32),
    ("RTTIME", libc::RLIMIT_RTTIME as u32),
];

impl Rlimit {
    /// The limit's name in lower case (`nofile`), as `--rlimit` takes it.
    pub fn name(&self) -> String {
        RLIMITS
            .iter()
            .find(|(_, r)| *r == self.resource)
            .map_or_else(
                || self.resource.to_string(),
                |(n, _)| n.to_ascii_lowercase(),
            )
    }
}

/// The names of the resource limits, in lower case (`cpu`, `nofile`, ...).
pub fn rlimit_names() -> Vec<String> {
    RLIMITS
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect()
}

impl std::str::FromStr for Rlimit {
    type Err = Error;

    /// Reads `NAME=SOFT[:HARD]`, e.g. `nofile=1024:4096`, `core=0`, `cpu=unlimited`.
    fn from_str(s: &str) -> Result<Rlimit> {
        let bad = |fault: RlimitFault| RlimitProblem {
            given: s.to_string(),
            fault,
        };
        let (name, values) = s
            .split_once('=')
            .ok_or_else(|| bad(RlimitFault::NoEquals))?;
        let up = name.trim().to_ascii_uppercase();
        let bare = up.strip_prefix("RLIMIT_").unwrap_or(&up);
        let resource = RLIMITS
            .iter()
            .find(|(n, _)| *n == bare)
            .map(|(_, r)| *r)
            .ok_or_else(|| {
                bad(RlimitFault::UnknownName {
                    name: name.to_string(),
                })
            })?;
        let num = |t: &str| -> Result<u64> {
            match t.trim() {
                "unlimited" | "infinity" => Ok(u64::MAX),
                n => n
                    .parse()
                    .map_err(|_| bad(RlimitFault::NotANumber(n.to_string())).into()),
            }
        };
        let (soft, hard) = match values.split_once(':') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => {
                let v = num(values)?;
                (v, v)
            }
        };
        if soft > hard {
            return Err(bad(RlimitFault::SoftAboveHard).into());
        }
        Ok(Rlimit {
            resource,
            soft,
            hard,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_names() {
        assert_eq!(parse_cap("CAP_SYS_ADMIN").unwrap(), 1 << 21);
        assert_eq!(parse_cap("net_admin").unwrap(), 1 << 12);
        assert_eq!(parse_cap("all").unwrap(), ALL);
        assert!(parse_cap("CAP_FLY")
            .unwrap_err()
            .to_string()
            .contains("capabilities(7)"));
        // A typo within two edits of a known name gets it suggested; nothing near, nothing.
        let suggested = |name: &str| match parse_cap(name) {
            Err(Error::Capability(p)) => p.suggestion,
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(suggested("CAP_SYS_ADMN").as_deref(), Some("CAP_SYS_ADMIN"));
        assert_eq!(suggested("net_admn").as_deref(), Some("CAP_NET_ADMIN"));
        assert_eq!(suggested("cap_sysadmin").as_deref(), Some("CAP_SYS_ADMIN"));
        assert_eq!(suggested("CAP_FLY"), None);
        assert_eq!(suggested("TOTALLY_WRONG"), None);
        let text = parse_cap("CAP_SYS_ADMN").unwrap_err().to_string();
        assert!(
            text.contains("did you mean CAP_SYS_ADMIN?") && !text.contains("--"),
            "{text}"
        );
        assert_eq!(
            names((1 << 0) | (1 << 40)),
            ["CAP_CHOWN", "CAP_CHECKPOINT_RESTORE"]
        );
    }

    #[test]
    #[allow(clippy::unnecessary_cast)]
    fn rlimits() {
        let r: Rlimit = "nofile=1024:4096".parse().unwrap();
        assert_eq!(
            (r.resource, r.soft, r.hard),
            (libc::RLIMIT_NOFILE as u32, 1024, 4096)
        );
        let r: Rlimit = "RLIMIT_CORE=unlimited".parse().unwrap();
        assert_eq!((r.soft, r.hard), (u64::MAX, u64::MAX));
        for (bad, fault) in [
            ("nofile", RlimitFault::NoEquals),
            (
                "bogus=1",
                RlimitFault::UnknownName {
                    name: "bogus".into(),
                },
            ),
            ("nofile=x", RlimitFault::NotANumber("x".into())),
            ("nofile=10:5", RlimitFault::SoftAboveHard),
        ] {
            match bad.parse::<Rlimit>() {
                Err(Error::Rlimit(p)) => assert_eq!((p.given.as_str(), p.fault), (bad, fault)),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
