//! Advice for the common errnos: what to check or change, in words that name no option of
//! any front end (a front end may swap in its own).
use super::{Error, Origin};
use crate::flags::CloneFlags;

impl Error {
    /// Advice for the common causes, or `None`.
    pub fn hint(&self) -> Option<String> {
        let errno = self.errno()?;
        match self {
            Error::Clone { flags, .. } | Error::InvalidRequest { flags, .. } => {
                clone_hint(*flags, errno)
            }
            Error::Exec { program, .. } => match errno {
                libc::ENOENT if program.contains('/') => {
                    Some(format!("check that `{program}` exists (inside the new root, if one was set)"))
                }
                libc::ENOENT => Some(format!(
                    "`{program}` is not in PATH; give its full path (inside the new root, if one was set)"
                )),
                libc::EACCES => Some(
                    "the file is not executable, a directory on its path is not searchable, or its filesystem is mounted noexec".into(),
                ),
                libc::ENOEXEC => Some("the file is not an executable this kernel can run; scripts need a #! line".into()),
                _ => None,
            },
            Error::ChildSetup { step, origin, .. } => setup_hint(step, origin.as_ref(), errno),
            Error::Enter { .. } | Error::Inspect { .. } => enter_hint(errno),
            Error::Cgroup { .. } => cgroup_hint(errno),
            Error::EnterContext { .. } => match errno {
                libc::EPERM | libc::EACCES => Some("copying another process's seccomp filters needs CAP_SYS_ADMIN and ptrace access to it, and taking its supplementary groups needs CAP_SETGID: run as root, or start the program with the caller's own privileges instead".into()),
                _ => None,
            },
            _ => None,
        }
    }
}

fn setup_hint(step: &str, origin: Option<&Origin>, errno: i32) -> Option<String> {
    Some(match errno {
        libc::EPERM if step.contains("procfs") => "a procfs can be mounted only for a PID namespace owned by the sandbox's user namespace: ask for a new PID namespace too (and, on a host whose /proc has parts hidden by overmounts, the kernel refuses it anyway)".into(),
        libc::EPERM if step.contains("uid_map") && maps_outside_root(step) && !has_setfcap() => "mapping uid 0 of the parent user namespace needs CAP_SETFCAP there when the new namespace is created (Linux 5.12+, user_namespaces(7)), and this process is uid 0 without it (as inside another sandbox): keep CAP_SETFCAP for this process, or run it as a uid other than 0 and map that one".into(),
        libc::EPERM | libc::EACCES if step.contains("uid_map") || step.contains("gid_map") => "the kernel refused the id map: an unprivileged caller may map only its own ids (ranges need newuidmap and /etc/subuid)".into(),
        libc::ENOENT | libc::EROFS if step.contains("lock the sandbox's mounts") => "locking the mounts writes the id maps of a nested user namespace through a procfs: cleave uses the /proc of the mount namespace it runs in, which is missing, read-only or of another PID namespace here, and then the sandbox's own /proc, which is missing too: run cleave where /proc is the procfs of its PID namespace, or take CAP_SYS_ADMIN from the program (then nothing needs locking)".into(),
        libc::EROFS => "the destination is on a read-only filesystem: mount a tmpfs over its parent first".into(),
        libc::ENOENT if origin == Some(&Origin::WorkingDirectory) => "the directory does not exist inside the sandbox (paths are inside the new root)".into(),
        _ => return None,
    })
}

/// Whether the map quoted in a step (`write "0 0 1" to /proc/PID/uid_map`) covers uid 0
/// outside.
fn maps_outside_root(step: &str) -> bool {
    let Some(map) = step.split('"').nth(1) else {
        return false;
    };
    map.split(['\n', ','])
        .filter_map(|line| {
            let n: Vec<u64> = line
                .split_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect();
            (n.len() == 3).then(|| (n[1], n[2]))
        })
        .any(|(outside, count)| outside == 0 && count > 0)
}

/// Whether this process has CAP_SETFCAP in its effective set (the child it creates has the
/// same).
fn has_setfcap() -> bool {
    const CAP_SETFCAP: u32 = 31;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let hex = s
                .lines()
                .find_map(|l| l.strip_prefix("CapEff:"))?
                .trim()
                .to_string();
            u64::from_str_radix(&hex, 16).ok()
        })
        .is_some_and(|eff| eff & (1 << CAP_SETFCAP) != 0)
}

fn cgroup_hint(errno: i32) -> Option<String> {
    Some(match errno {
        libc::EACCES | libc::EPERM | libc::EROFS => "creating cgroups needs root or a delegated cgroup: give a cgroup parent: a cgroup2 directory you own (e.g. the one of `systemd-run --user -p Delegate=yes --scope ...`); cgroup v1 controllers cannot be delegated".into(),
        libc::EBUSY => "the cgroup still holds processes: a cgroup2 parent with processes cannot enable controllers for its children (no internal processes rule) — move them into a leaf cgroup first; or a process did not exit yet".into(),
        libc::ENOENT => "the controller or file is missing: check /proc/cgroups and the parent's cgroup.controllers and cgroup.subtree_control".into(),
        _ => return None,
    })
}

fn clone_hint(flags: CloneFlags, errno: i32) -> Option<String> {
    let namespaces = CloneFlags::ALL_NAMESPACES.difference(CloneFlags::NEWUSER);
    Some(match errno {
        libc::EPERM if flags.contains(CloneFlags::NEWUSER) => "user namespaces are refused: check /proc/sys/user/max_user_namespaces and /proc/sys/kernel/unprivileged_userns_clone (or an AppArmor userns policy), and that the caller is not chrooted and its uid/gid are mapped".into(),
        libc::EPERM if flags.intersects(namespaces) => "unprivileged: ask for a new user namespace too (CLONE_NEWUSER), which grants the capabilities the other namespaces need".into(),
        libc::EPERM => "the caller lacks a needed capability (set_tid needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE)".into(),
        libc::ENOSPC | libc::EUSERS => "a namespace limit was reached: see /proc/sys/user/max_*_namespaces and the nesting depth (32 levels)".into(),
        libc::EINVAL => format!("run `cleave explain '{flags}'` to see which rule this kernel enforces"),
        libc::EEXIST => "a PID in set_tid is already in use in its namespace".into(),
        libc::ENOMEM => "out of memory, or the target PID namespace's init has exited".into(),
        libc::EBADF if flags.contains(CloneFlags::INTO_CGROUP) => "the cgroup must be a directory of a cgroup2 hierarchy (not cgroup v1)".into(),
        libc::EBUSY if flags.contains(CloneFlags::INTO_CGROUP) => "the target cgroup enables domain controllers in cgroup.subtree_control (no internal processes rule)".into(),
        libc::EACCES if flags.contains(CloneFlags::INTO_CGROUP) => "no permission to write the target cgroup's cgroup.procs (cgroup delegation)".into(),
        libc::EAGAIN => "too many processes: RLIMIT_NPROC or a pids cgroup limit was reached".into(),
        _ => return None,
    })
}

fn enter_hint(errno: i32) -> Option<String> {
    Some(match errno {
        libc::EPERM | libc::EACCES => "joining another user's namespaces needs root or CAP_SYS_ADMIN in them (and reading another user's /proc entries needs ptrace access: run as root or the same user)".into(),
        libc::ESRCH | libc::ENOENT => "the process has exited: check the PID with `ps`".into(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::maps_outside_root;

    #[test]
    fn a_map_of_outside_root_is_seen() {
        assert!(maps_outside_root(r#"write "0 0 1" to /proc/self/uid_map"#));
        assert!(maps_outside_root(
            "write \"1000 1000 1\n0 0 1\" to /proc/7/uid_map"
        ));
        assert!(!maps_outside_root(
            r#"write "0 1000 1" to /proc/self/uid_map"#
        ));
        assert!(!maps_outside_root("write /proc/self/uid_map"));
    }
}
