//! Signal names and numbers (1..=64), as used for exit signals.

const NAMES: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// Parses `SIGCHLD`, `chld`, `17`, `SIGRTMIN+3` into a signal number (1..=64).
pub fn signal_from_name(text: &str) -> Option<i32> {
    let t = text.trim();
    if let Ok(n) = t.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let upper = t.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(rest) = bare.strip_prefix("RTMIN") {
        let off: i32 = if rest.is_empty() {
            0
        } else {
            rest.strip_prefix('+')?.parse().ok()?
        };
        let n = off.checked_add(34)?;
        return (34..=64).contains(&n).then_some(n);
    }
    if bare == "RTMAX" {
        return Some(64);
    }
    if bare == "CLD" {
        return Some(libc::SIGCHLD);
    }
    if bare == "POLL" {
        return Some(libc::SIGIO);
    }
    NAMES.iter().find(|(n, _)| *n == bare).map(|&(_, s)| s)
}

/// A signal as written that names no signal.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown signal `{}`: give a name such as SIGCHLD or SIGUSR1, a number from 1 to 64, or none",
    crate::error::one_line(.0)
)]
pub struct UnknownSignal(pub String);

/// Parses an exit signal: a name or number as [`signal_from_name`] reads them, or `none` (or
/// `0`) for no signal at all, which is 0.
pub fn parse_exit_signal(text: &str) -> Result<i32, UnknownSignal> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("none") || t == "0" {
        return Ok(0);
    }
    signal_from_name(t).ok_or_else(|| UnknownSignal(t.to_string()))
}

/// `SIGCHLD` for 17, `SIGRTMIN+2` for 36, `signal 99` outside the known range.
pub fn signal_name(sig: i32) -> String {
    if let Some((n, _)) = NAMES.iter().find(|(_, s)| *s == sig) {
        return format!("SIG{n}");
    }
    match sig {
        34 => "SIGRTMIN".to_string(),
        35..=64 => format!("SIGRTMIN+{}", sig - 34),
        1..=64 => sig.to_string(),
        _ => format!("signal {sig}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(signal_from_name("SIGCHLD"), Some(17));
        assert_eq!(signal_from_name("usr1"), Some(10));
        assert_eq!(signal_from_name("17"), Some(17));
        assert_eq!(signal_from_name("SIGRTMIN+2"), Some(36));
        assert_eq!(signal_from_name("0"), None);
        assert_eq!(signal_from_name("65"), None);
        assert_eq!(signal_from_name("SIGNOPE"), None);
        for s in 1..=64 {
            assert_eq!(signal_from_name(&signal_name(s)), Some(s), "{s}");
        }
    }

    #[test]
    fn a_huge_realtime_offset_is_no_signal() {
        // Found by the fuzz target `signal`: 34 + the offset overflowed i32 and panicked.
        assert_eq!(signal_from_name("RTMIN+2147483646"), None);
        assert_eq!(signal_from_name("SIGRTMIN+2147483647"), None);
        assert_eq!(signal_from_name("SIGRTMIN+-2147483648"), None);
        assert_eq!(signal_from_name("SIGRTMIN+30"), Some(64));
    }

    #[test]
    fn exit_signals_and_their_errors() {
        assert_eq!(parse_exit_signal(" none "), Ok(0));
        assert_eq!(parse_exit_signal("0"), Ok(0));
        assert_eq!(parse_exit_signal("sigusr1"), Ok(10));
        let e = parse_exit_signal("SIG\nUSR1\n").unwrap_err().to_string();
        assert!(!e.contains('\n') && e.contains("`SIG\\nUSR1`"), "{e}");
    }
}
