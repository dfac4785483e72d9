//! The PIDs clone3's `set_tid` may ask for. `alloc_pid` (kernel/pid.c) answers EINVAL for
//! an entry below 1 or at least the pid_max of the namespace it is for (pid_max belongs to
//! each PID namespace since 6.14; a new one starts with its parent's), and no pid_max
//! exceeds `PID_MAX_LIMIT`. Measured on 6.18 with pid_max 32768: `--new pid --set-tid 1`
//! runs, `--set-tid 0` and `--set-tid 4194303` fail with EINVAL.
//!
//! A PID namespace made by this clone has no init yet, and `alloc_pid` refuses any PID but
//! 1 in a namespace without an init (kernel-rules.md section 1, item 6): measured on 6.18,
//! `--new pid --set-tid 42` fails with EINVAL, `--new pid --set-tid 1` runs.
use crate::error::RangeError;

/// `PID_MAX_LIMIT` on 64-bit kernels (4 Mi): no namespace's pid_max is above it.
pub const PID_MAX_LIMIT: i32 = 4 * 1024 * 1024;

/// Checks set_tid entries, innermost PID namespace first. With `new_pid_ns` (CLONE_NEWPID)
/// the first entry is for the namespace the clone makes, which has no init yet: it must be
/// PID 1 there. The entries for that namespace and the caller's have `pid_max` as their
/// limit (a new namespace starts with its parent's); outer ones only get
/// [`PID_MAX_LIMIT`]. Pure: the caller reads pid_max (see `host::pid_max`).
pub fn check_set_tid(pids: &[i32], new_pid_ns: bool, pid_max: i32) -> Result<(), RangeError> {
    if new_pid_ns {
        if let Some(&first) = pids.first().filter(|&&p| p != 1) {
            return Err(RangeError::new(
                "set_tid PID",
                first,
                "the first entry is for the new PID namespace, which has no init yet: \
                 the kernel accepts only 1 there (give 1, then the PID in the caller's \
                 namespace, e.g. 1,42)",
            ));
        }
    }
    let local = 1 + usize::from(new_pid_ns);
    for (i, &pid) in pids.iter().enumerate() {
        let (limit, whose) = if i < local {
            (pid_max, format!("this PID namespace's pid_max, {pid_max}"))
        } else {
            (PID_MAX_LIMIT, format!("PID_MAX_LIMIT, {PID_MAX_LIMIT}"))
        };
        if pid < 1 || pid >= limit {
            return Err(RangeError::new(
                "set_tid PID",
                pid,
                format!("give a PID from 1 to {} (below {whose})", limit - 1),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_from_1_below_pid_max() {
        assert!(check_set_tid(&[], false, 32768).is_ok());
        assert!(check_set_tid(&[1, 32767], true, 32768).is_ok());
        let e = check_set_tid(&[0], false, 32768).unwrap_err();
        assert_eq!(e.value, "0");
        assert!(e.why.contains("from 1 to 32767"), "{e}");
        assert!(check_set_tid(&[-5], false, 32768).is_err());
        assert!(check_set_tid(&[32768], false, 32768).is_err());
        // An outer namespace's pid_max is unknown here: only the hard limit applies.
        assert!(check_set_tid(&[1, 100_000], false, 32768).is_ok());
        let e = check_set_tid(&[1, PID_MAX_LIMIT], false, 32768).unwrap_err();
        assert!(e.why.contains("4194303"), "{e}");
    }

    #[test]
    fn a_new_pid_namespace_takes_only_pid_1() {
        let e = check_set_tid(&[42], true, 32768).unwrap_err();
        assert_eq!(e.value, "42");
        assert!(e.why.contains("no init yet"), "{e}");
        assert!(check_set_tid(&[1], true, 32768).is_ok());
        assert!(check_set_tid(&[42], false, 32768).is_ok());
    }
}
