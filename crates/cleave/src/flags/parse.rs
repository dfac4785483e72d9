//! Reading flag expressions: `CLONE_VM|CLONE_FS`, `vm,fs`, `0x3d0f00`, and legacy words with
//! the exit signal in the low byte (`CLONE_VM|CLONE_VFORK|SIGCHLD`).
use super::{signal_from_name, CloneFlags, FLAG_INFO};

/// A parsed flag expression: the flags and, when the text named one, the exit signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlagExpr {
    /// The clone flags.
    pub flags: CloneFlags,
    /// The exit signal given in the text (a `SIG*` word or a number's low byte), if any.
    pub exit_signal: Option<i32>,
}

/// Why a flag expression could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Nothing but separators.
    #[error("empty flag expression: write flags such as `CLONE_VM|CLONE_FS`, `vm,fs` or `0x300`")]
    Empty,
    /// A word that is no flag, signal or number.
    #[error("unknown flag `{token}`{}", .suggestion.map(|s| format!(": did you mean `{s}`?")).unwrap_or_default())]
    Unknown {
        /// The word as written.
        token: String,
        /// The closest known name, if one is close.
        suggestion: Option<&'static str>,
    },
    /// A flag that existed once and no longer does.
    #[error("`{token}` was removed from Linux: {why}")]
    Removed {
        /// The word as written.
        token: String,
        /// What happened to it and what to use instead.
        why: &'static str,
    },
    /// A number whose low byte is not a valid exit signal.
    #[error("in `{token}` the low byte {low:#x} is read as the exit signal (legacy clone keeps it there), but signals go up to 64; write CLONE_NEWTIME by name")]
    BadSignalByte {
        /// The number as written.
        token: String,
        /// Its low byte.
        low: u64,
    },
    /// Two different exit signals.
    #[error("two exit signals in one expression ({first} and {second}); give one")]
    TwoSignals {
        /// The first signal number.
        first: i32,
        /// The second signal number.
        second: i32,
    },
    /// Bits no kernel defines.
    #[error("`{token}` sets bits {bits:#x} that no kernel defines as clone flags")]
    UnknownBits {
        /// The number as written.
        token: String,
        /// The unknown bits.
        bits: u64,
    },
}

const REMOVED: &[(&str, &str)] = &[
    ("PID", "CLONE_PID (0x1000) gave the child its parent's PID and was meant for the boot process only; Linux 2.6 removed it, and bit 0x1000 is CLONE_PIDFD since 5.2"),
    ("IDLETASK", "CLONE_IDLETASK replaced CLONE_PID inside the kernel to create per-CPU idle tasks with PID 0; it was never usable from clone() and is gone"),
    ("STOPPED", "CLONE_STOPPED (0x2000000) started the child stopped; it was removed in 2.6.38 and bit 0x2000000 is CLONE_NEWCGROUP since 4.6; send SIGSTOP or use a sync fd instead"),
];

/// Parses a flag expression. Separators are `|`, `,` and whitespace.
pub fn parse_flags(text: &str) -> Result<FlagExpr, ParseError> {
    let mut flags = CloneFlags::empty();
    let mut signal: Option<i32> = None;
    let mut any = false;
    let mut set_signal = |s: i32| match signal {
        Some(first) if first != s => Err(ParseError::TwoSignals { first, second: s }),
        _ => {
            signal = Some(s);
            Ok(())
        }
    };
    for token in text
        .split(|c: char| c == '|' || c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
    {
        any = true;
        if let Some(n) = parse_number(token) {
            let low = n & 0xff;
            if low != 0 {
                if low > 64 {
                    return Err(ParseError::BadSignalByte {
                        token: token.to_string(),
                        low,
                    });
                }
                set_signal(low as i32)?;
            }
            let high = n & !0xff;
            let known = CloneFlags::from_bits(high).ok_or(ParseError::UnknownBits {
                token: token.to_string(),
                bits: high & !CloneFlags::all().bits(),
            })?;
            flags |= known;
            continue;
        }
        let upper = token.to_ascii_uppercase();
        if upper.starts_with("SIG") {
            if let Some(s) = signal_from_name(&upper) {
                set_signal(s)?;
                continue;
            }
        }
        let bare = upper.strip_prefix("CLONE_").unwrap_or(&upper);
        // The namespace names of `--new` and unshare(1) (net, mount, user, pid, ...); a
        // CLONE_ prefix means the kernel's name (CLONE_PID is the removed flag).
        if bare.len() == upper.len() {
            if let Some(ns) = crate::ns::Namespace::from_name(bare) {
                flags |= ns.flag();
                continue;
            }
        }
        if let Some((_, why)) = REMOVED.iter().find(|(n, _)| *n == bare) {
            return Err(ParseError::Removed {
                token: token.to_string(),
                why,
            });
        }
        match FLAG_INFO
            .iter()
            .find(|i| i.short.eq_ignore_ascii_case(bare))
        {
            Some(info) => flags |= info.flag,
            None => {
                return Err(ParseError::Unknown {
                    token: token.to_string(),
                    suggestion: suggest(bare),
                })
            }
        }
    }
    if !any {
        return Err(ParseError::Empty);
    }
    Ok(FlagExpr {
        flags,
        exit_signal: signal,
    })
}

fn parse_number(token: &str) -> Option<u64> {
    if let Some(hex) = token
        .strip_prefix("0x")
        .or_else(|| token.strip_prefix("0X"))
    {
        u64::from_str_radix(hex, 16).ok()
    } else if token.bytes().all(|b| b.is_ascii_digit()) {
        token.parse().ok()
    } else {
        None
    }
}

fn suggest(bare: &str) -> Option<&'static str> {
    let lower = bare.to_ascii_lowercase();
    FLAG_INFO
        .iter()
        .map(|i| (distance(&lower, i.short), i.name))
        .filter(|&(d, _)| d <= 2)
        .min_by_key(|&(d, _)| d)
        .map(|(_, n)| n)
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_names_short_names_and_hex_agree() {
        let a = parse_flags("CLONE_VM|CLONE_FS").unwrap();
        let b = parse_flags("vm,fs").unwrap();
        let c = parse_flags("0x300").unwrap();
        assert_eq!(a.flags, CloneFlags::VM | CloneFlags::FS);
        assert_eq!(a, b);
        assert_eq!(b, c);
        assert_eq!(a.exit_signal, None);
    }

    #[test]
    fn namespace_names_of_new_are_flags() {
        assert_eq!(parse_flags("net").unwrap().flags, CloneFlags::NEWNET);
        assert_eq!(parse_flags("mount").unwrap().flags, CloneFlags::NEWNS);
        assert_eq!(
            parse_flags("user,pid").unwrap().flags,
            CloneFlags::NEWUSER | CloneFlags::NEWPID
        );
        assert!(parse_flags("CLONE_PID").is_err());
    }

    #[test]
    fn nptl_hex_word() {
        let e = parse_flags("0x3d0f00").unwrap();
        assert_eq!(e.flags, CloneFlags::PRESET_NPTL);
        assert_eq!(e.exit_signal, None);
    }

    #[test]
    fn legacy_words_carry_a_signal() {
        let e = parse_flags("CLONE_VM|CLONE_VFORK|SIGCHLD").unwrap();
        assert_eq!(e.flags, CloneFlags::PRESET_VFORK);
        assert_eq!(e.exit_signal, Some(libc::SIGCHLD));
        let n = parse_flags("0x4111").unwrap();
        assert_eq!(n.flags, CloneFlags::PRESET_VFORK);
        assert_eq!(n.exit_signal, Some(libc::SIGCHLD));
        assert_eq!(parse_flags("0").unwrap().flags, CloneFlags::empty());
    }

    #[test]
    fn every_flag_by_both_names() {
        for i in FLAG_INFO {
            assert_eq!(parse_flags(i.name).unwrap().flags, i.flag);
            assert_eq!(parse_flags(i.short).unwrap().flags, i.flag);
            assert_eq!(
                parse_flags(&i.name.to_ascii_lowercase()).unwrap().flags,
                i.flag
            );
        }
    }

    #[test]
    fn removed_flags_are_explained() {
        for t in ["CLONE_PID", "CLONE_IDLETASK", "clone_stopped"] {
            let err = parse_flags(t).unwrap_err();
            assert!(matches!(err, ParseError::Removed { .. }), "{t}: {err}");
            assert!(err.to_string().contains("removed"), "{err}");
        }
        assert!(parse_flags("CLONE_PID")
            .unwrap_err()
            .to_string()
            .contains("CLONE_PIDFD"));
    }

    #[test]
    fn errors_name_the_word() {
        let e = parse_flags("vm|sighnd").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown flag `sighnd`: did you mean `CLONE_SIGHAND`?"
        );
        assert_eq!(parse_flags(" | ,"), Err(ParseError::Empty));
        assert!(matches!(
            parse_flags("SIGCHLD|SIGUSR1"),
            Err(ParseError::TwoSignals {
                first: 17,
                second: 10
            })
        ));
        assert!(matches!(
            parse_flags("0x80"),
            Err(ParseError::BadSignalByte { low: 0x80, .. })
        ));
        assert!(matches!(
            parse_flags("0x10000000000"),
            Err(ParseError::UnknownBits { .. })
        ));
    }
}
