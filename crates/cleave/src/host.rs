//! The running system, read: the facts the kernel's rules ([`crate::flags::rules`]) depend on,
//! gathered into a [`Context`], and the few other values checks are made against (pid_max).
//!
//! The rules themselves are pure; this module is where their system calls and /proc lookups
//! live. Each fact is read only when a request can make it matter ([`Needs::of`]): spawn is
//! a hot path, and a capget or a /proc lookup costs more than the clone of a small process.
use crate::flags::rules::{parse_release, Context, Needs, Request};
use crate::raw;
use std::sync::OnceLock;

/// Every fact about the caller and the running kernel.
pub fn context() -> Context {
    context_for(Needs::ALL)
}

/// The facts `needs` names, read from the running system; the others are set to the value
/// that breaks no rule (see [`Context::only`]). The kernel version is always read (once per
/// process).
pub fn context_for(needs: Needs) -> Context {
    Context {
        kernel: kernel_version(),
        clone3: !needs.clone3 || clone3_available(),
        privileged: !needs.privilege || has_cap_sys_admin(),
        pid_ns_init: needs.pid_ns_init && is_pid_ns_init(),
        pid_ns_for_children_differs: needs.pid_ns_for_children && pid_ns_for_children_differs(),
    }
}

/// The facts the rules consult for `request`, read from the running system.
pub fn context_for_request(request: &Request) -> Context {
    context_for(Needs::of(request))
}

/// The running kernel as (major, minor), read once from uname(2); (0, 0) if unreadable.
pub fn kernel_version() -> (u32, u32) {
    static VERSION: OnceLock<(u32, u32)> = OnceLock::new();
    *VERSION.get_or_init(|| {
        // uname(2), not /proc: it works inside a root without a procfs.
        let release = rustix::system::uname()
            .release()
            .to_string_lossy()
            .into_owned();
        parse_release(&release).unwrap_or((0, 0))
    })
}

/// Whether clone3(2) can be called here (probed once per process; see
/// [`raw::clone3_unavailable`]).
pub fn clone3_available() -> bool {
    !raw::clone3_unavailable()
}

/// Whether the caller holds CAP_SYS_ADMIN in its user namespace (capget(2)).
pub fn has_cap_sys_admin() -> bool {
    raw::effective_caps() & (1u64 << 21/* CAP_SYS_ADMIN */) != 0
}

/// Whether this process is in the initial user namespace, whose uid map is the identity of
/// every id (user_namespaces(7)). Root of another user namespace (rootless podman runs its
/// runtime so) holds no capability over what the initial one owns.
pub fn in_initial_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map").map_or(true, |m| {
        m.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"]
    })
}

/// Whether the caller is PID 1 of its PID namespace.
pub fn is_pid_ns_init() -> bool {
    std::process::id() == 1
}

/// Whether the caller's children would be born in another PID namespace (after
/// unshare(CLONE_NEWPID) or setns).
pub fn pid_ns_for_children_differs() -> bool {
    use std::os::unix::fs::MetadataExt;
    match (
        std::fs::metadata("/proc/self/ns/pid"),
        std::fs::metadata("/proc/self/ns/pid_for_children"),
    ) {
        (Ok(a), Ok(b)) => a.ino() != b.ino(),
        // Right after unshare(CLONE_NEWPID), before its first member is born, the link
        // cannot be followed: the namespace for children is a new one.
        (Ok(_), Err(_)) => true,
        _ => false,
    }
}

/// The pid_max of the caller's PID namespace (/proc/sys/kernel/pid_max), or
/// [`crate::flags::PID_MAX_LIMIT`] when it cannot be read.
pub fn pid_max() -> i32 {
    std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(crate::flags::PID_MAX_LIMIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `flags/` stays pure: what reads the system lives here, never there.
    #[test]
    fn flags_module_does_no_io() {
        const FORBIDDEN: &[&str] = &[
            "std::fs",
            "/proc",
            "libc::uname",
            "capget",
            "File::open",
            "std::process",
            "std::env",
            "crate::raw",
            "crate::host::",
            "libc::syscall",
            "rustix",
            "OnceLock",
        ];
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/flags");
        let mut dirs = vec![root];
        let mut scanned = 0;
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                scanned += 1;
                for word in FORBIDDEN {
                    assert!(
                        !text.contains(word),
                        "{} contains `{word}`: flags/ must be pure, move it to host.rs",
                        path.display()
                    );
                }
            }
        }
        assert!(scanned >= 7, "scanned only {scanned} files");
    }

    #[test]
    fn context_for_reads_only_what_is_needed() {
        let none = Needs {
            clone3: false,
            privilege: false,
            pid_ns_init: false,
            pid_ns_for_children: false,
        };
        let c = context_for(none);
        assert_eq!(c, context().only(none));
        assert_eq!(c.kernel, kernel_version());
        assert!(c.kernel >= (3, 8), "{c:?}");
    }
}
