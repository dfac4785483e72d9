//! `linux.seccomp`: an OCI seccomp profile compiled into classic BPF programs with the
//! `seccompiler` crate, for [`cleave::sandbox::Security::seccomp_filters`].
//!
//! seccompiler builds a filter with one action on a match and one on a mismatch, so a
//! profile becomes a stack of filters (the kernel runs all of them and takes the strictest
//! verdict): one that allows what any rule names (with the rule's argument checks) and
//! gives `defaultAction` to the rest, plus one for each other action a rule takes, which
//! gives that action to what its rules match and allows the rest. A system call that
//! matches rules of different actions gets the strictest of them (libseccomp's order of
//! precedence is the kernel's too). Each filter kills a process that calls through another
//! architecture's ABI (the 32-bit compat one, or x32 numbers), which seccompiler's filters
//! do not tell apart; a note says so when the profile lists such architectures. A name
//! this architecture has no call of (profiles name the calls of every ABI they list) is
//! skipped with a note, as runc skips it.
use crate::error::{OciError, Problem, Unsupported};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use std::collections::BTreeMap;
use std::str::FromStr;

/// errno returned by SCMP_ACT_ERRNO without an errnoRet (runc's and libseccomp's EPERM).
const DEFAULT_ERRNO: u32 = libc::EPERM as u32;

#[cfg(target_arch = "x86_64")]
const TARGET: TargetArch = TargetArch::x86_64;
#[cfg(target_arch = "aarch64")]
const TARGET: TargetArch = TargetArch::aarch64;
#[cfg(target_arch = "x86_64")]
pub(crate) const NATIVE: Arch = Arch::ScmpArchX86_64;
#[cfg(target_arch = "aarch64")]
pub(crate) const NATIVE: Arch = Arch::ScmpArchAarch64;

/// The compiled profile.
#[derive(Debug, Default)]
pub struct Compiled {
    /// The filters, each the bytes of a `struct sock_filter` array, installed in order.
    pub filters: Vec<Vec<u8>>,
    /// Architectures of `architectures` other than the native one (their calls kill).
    pub foreign_arches: bool,
    /// The JSON paths of syscall names this architecture does not have (skipped: a call
    /// that does not exist is neither allowed nor denied).
    pub skipped: Vec<String>,
}

fn unsupported(path: String, what: impl Into<String>) -> OciError {
    OciError::new(
        path,
        Problem::Unsupported(Unsupported::Seccomp(what.into())),
    )
}

/// The seccompiler action for an OCI action (`path` names it in errors).
fn action(
    a: LinuxSeccompAction,
    errno: Option<u32>,
    path: &str,
) -> Result<SeccompAction, OciError> {
    Ok(match a {
        LinuxSeccompAction::ScmpActAllow => SeccompAction::Allow,
        LinuxSeccompAction::ScmpActErrno => SeccompAction::Errno(errno.unwrap_or(DEFAULT_ERRNO)),
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            SeccompAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => SeccompAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => SeccompAction::Trap,
        LinuxSeccompAction::ScmpActLog => SeccompAction::Log,
        LinuxSeccompAction::ScmpActTrace => SeccompAction::Trace(errno.unwrap_or(DEFAULT_ERRNO)),
        LinuxSeccompAction::ScmpActNotify => {
            return Err(unsupported(
                path.into(),
                "SCMP_ACT_NOTIFY (a seccomp listener); use another action",
            ))
        }
    })
}

/// An order of strictness, most permissive first (seccomp(2)'s precedence).
fn strictness(a: &SeccompAction) -> u8 {
    match a {
        SeccompAction::Allow => 0,
        SeccompAction::Log => 1,
        SeccompAction::Trace(_) => 2,
        SeccompAction::Errno(_) => 3,
        SeccompAction::Trap => 4,
        SeccompAction::KillThread => 5,
        SeccompAction::KillProcess => 6,
    }
}

fn key(a: &SeccompAction) -> (u8, u32) {
    match a {
        SeccompAction::Errno(n) | SeccompAction::Trace(n) => (strictness(a), *n),
        _ => (strictness(a), 0),
    }
}

/// One rule's conditions; `None` when it has none (it matches every call).
fn conditions(
    args: &[oci_spec::runtime::LinuxSeccompArg],
    path: &str,
) -> Result<Option<SeccompRule>, OciError> {
    if args.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(args.len());
    for (j, a) in args.iter().enumerate() {
        let at = format!("{path}.args[{j}]");
        let (op, value) = match a.op() {
            LinuxSeccompOperator::ScmpCmpNe => (SeccompCmpOp::Ne, a.value()),
            LinuxSeccompOperator::ScmpCmpLt => (SeccompCmpOp::Lt, a.value()),
            LinuxSeccompOperator::ScmpCmpLe => (SeccompCmpOp::Le, a.value()),
            LinuxSeccompOperator::ScmpCmpEq => (SeccompCmpOp::Eq, a.value()),
            LinuxSeccompOperator::ScmpCmpGe => (SeccompCmpOp::Ge, a.value()),
            LinuxSeccompOperator::ScmpCmpGt => (SeccompCmpOp::Gt, a.value()),
            // libseccomp: (arg & value) == valueTwo.
            LinuxSeccompOperator::ScmpCmpMaskedEq => (
                SeccompCmpOp::MaskedEq(a.value()),
                a.value_two().unwrap_or(0),
            ),
        };
        let index = u8::try_from(a.index())
            .ok()
            .filter(|i| *i < 6)
            .ok_or_else(|| {
                OciError::new(
                    format!("{at}.index"),
                    Problem::OutOfRange {
                        value: a.index().to_string(),
                        why: "a system call has arguments 0 to 5",
                    },
                )
            })?;
        let c = SeccompCondition::new(index, SeccompCmpArgLen::Qword, op, value)
            .map_err(|e| unsupported(at.clone(), e.to_string()))?;
        out.push(c);
    }
    SeccompRule::new(out)
        .map(Some)
        .map_err(|e| unsupported(path.into(), e.to_string()))
}

/// Rules by syscall number; an empty list matches every call of that number.
type Rules = BTreeMap<i64, Vec<SeccompRule>>;

fn add(rules: &mut Rules, nr: i64, rule: Option<SeccompRule>) {
    match rule {
        // Unconditional: matches every call, whatever else is listed.
        None => {
            rules.insert(nr, Vec::new());
        }
        Some(r) => match rules.get_mut(&nr) {
            Some(list) if list.is_empty() => {}
            Some(list) => list.push(r),
            None => {
                rules.insert(nr, vec![r]);
            }
        },
    }
}

fn build(rules: Rules, mismatch: SeccompAction, matched: SeccompAction) -> Result<Vec<u8>, String> {
    let filter = SeccompFilter::new(rules, mismatch, matched, TARGET).map_err(|e| e.to_string())?;
    let prog: BpfProgram = filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())?;
    let mut bytes = Vec::with_capacity(prog.len() * 8);
    for i in &prog {
        bytes.extend_from_slice(&i.code.to_ne_bytes());
        bytes.push(i.jt);
        bytes.push(i.jf);
        bytes.extend_from_slice(&i.k.to_ne_bytes());
    }
    Ok(bytes)
}

/// A filter that fails every x32 system call (an x86_64 number with bit 30 set) with
/// ENOSYS: seccompiler's filters check the architecture, which x32 calls share with
/// x86_64, and would give them their mismatch action, allow in a filter that denies.
#[cfg(target_arch = "x86_64")]
fn x32_guard() -> Vec<u8> {
    const LD_W_ABS: u16 = 0x20;
    const JGE_K: u16 = 0x35;
    const RET_K: u16 = 0x06;
    let mut p = Vec::with_capacity(32);
    for (code, jt, jf, k) in [
        (LD_W_ABS, 0u8, 0u8, 0u32),
        (JGE_K, 0, 1, 0x4000_0000),
        (RET_K, 0, 0, 0x0005_0000 | libc::ENOSYS as u32),
        (RET_K, 0, 0, 0x7fff_0000),
    ] {
        p.extend_from_slice(&code.to_ne_bytes());
        p.push(jt);
        p.push(jf);
        p.extend_from_slice(&k.to_ne_bytes());
    }
    p
}

/// Compiles `profile` (at JSON path `linux.seccomp`).
pub fn compile(profile: &LinuxSeccomp) -> Result<Compiled, OciError> {
    const AT: &str = "linux.seccomp";
    let mut out = Compiled::default();
    if profile.listener_path().is_some() {
        return Err(unsupported(
            format!("{AT}.listenerPath"),
            "a seccomp listener; remove listenerPath",
        ));
    }
    for (i, f) in profile.flags().iter().flatten().enumerate() {
        match f {
            // One thread: nothing to synchronise.
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => {}
            other => {
                return Err(unsupported(
                    format!("{AT}.flags[{i}]"),
                    format!("the flag {other}; cleave installs filters without flags"),
                ))
            }
        }
    }
    out.foreign_arches = profile
        .architectures()
        .iter()
        .flatten()
        .any(|a| *a != NATIVE && *a != Arch::ScmpArchNative);
    let default = action(
        profile.default_action(),
        profile.default_errno_ret(),
        &format!("{AT}.defaultAction"),
    )?;
    // Every rule's calls are allowed by the first filter; the others give their action.
    let mut allowed: Rules = BTreeMap::new();
    let mut by_action: BTreeMap<(u8, u32), (SeccompAction, Rules)> = BTreeMap::new();
    for (i, s) in profile.syscalls().iter().flatten().enumerate() {
        let path = format!("{AT}.syscalls[{i}]");
        let act = action(s.action(), s.errno_ret(), &format!("{path}.action"))?;
        let rule = conditions(s.args().as_deref().unwrap_or(&[]), &path)?;
        for (j, name) in s.names().iter().enumerate() {
            let Ok(nr) = syscalls::Sysno::from_str(name) else {
                // A call this architecture does not have (profiles list those of every
                // ABI they name: chown32, bdflush): nothing to deny, and allowing it
                // would allow nothing, so the name is skipped, as runc does.
                out.skipped.push(format!("{path}.names[{j}]"));
                continue;
            };
            let nr = i64::from(nr.id());
            if act == default {
                // Same as the default: nothing to add, unless another rule needs the
                // first filter to let it through (then the default applies through
                // this filter's mismatch anyway).
                continue;
            }
            add(&mut allowed, nr, rule.clone());
            if act != SeccompAction::Allow {
                let entry = by_action
                    .entry(key(&act))
                    .or_insert_with(|| (act.clone(), BTreeMap::new()));
                add(&mut entry.1, nr, rule.clone());
            }
        }
    }
    if default != SeccompAction::Allow {
        out.filters.push(
            build(allowed, default.clone(), SeccompAction::Allow)
                .map_err(|e| unsupported(AT.into(), e))?,
        );
    }
    for (_, (act, rules)) in by_action {
        if act == SeccompAction::Allow || rules.is_empty() {
            continue;
        }
        out.filters
            .push(build(rules, SeccompAction::Allow, act).map_err(|e| unsupported(AT.into(), e))?);
    }
    #[cfg(target_arch = "x86_64")]
    out.filters.push(x32_guard());
    if out.filters.is_empty() {
        // Everything allowed: one filter still checks the architecture, so that a
        // profile means the same whatever its rules.
        out.filters.push(
            build(
                BTreeMap::new(),
                SeccompAction::Allow,
                SeccompAction::KillProcess,
            )
            .map_err(|e| unsupported(AT.into(), e))?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A classic-BPF interpreter for what seccompiler and the guard emit, and the
    /// kernel's combination of a stack of filters (the strictest verdict wins).
    fn run_one(prog: &[u8], nr: u32, arch: u32, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_ne_bytes());
        data[4..8].copy_from_slice(&arch.to_ne_bytes());
        for (i, a) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_ne_bytes());
        }
        let (mut acc, mut pc) = (0u32, 0usize);
        loop {
            let i = &prog[pc * 8..pc * 8 + 8];
            let code = u16::from_ne_bytes([i[0], i[1]]);
            let (jt, jf) = (i[2] as usize, i[3] as usize);
            let k = u32::from_ne_bytes([i[4], i[5], i[6], i[7]]);
            pc += 1;
            let jump = |cond: bool| if cond { jt } else { jf };
            match code {
                0x20 => {
                    let k = k as usize;
                    acc = u32::from_ne_bytes(data[k..k + 4].try_into().unwrap());
                }
                0x54 => acc &= k,
                0x05 => pc += k as usize,
                0x15 => pc += jump(acc == k),
                0x25 => pc += jump(acc > k),
                0x35 => pc += jump(acc >= k),
                0x45 => pc += jump(acc & k != 0),
                0x06 => return k,
                other => panic!("instruction {other:#x} not interpreted"),
            }
        }
    }

    fn rank(v: u32) -> u32 {
        // seccomp(2): KILL_PROCESS > KILL_THREAD > TRAP > ERRNO > TRACE > LOG > ALLOW.
        match v & 0xffff_0000 {
            0x8000_0000 => 7,
            0x0000_0000 => 6,
            0x0003_0000 => 5,
            0x0005_0000 => 4,
            0x7ff0_0000 => 3,
            0x7ffc_0000 => 2,
            0x7fff_0000 => 1,
            other => panic!("verdict {other:#x}"),
        }
    }

    fn verdict(c: &Compiled, name: &str, args: [u64; 6]) -> u32 {
        let nr = syscalls::Sysno::from_str(name).unwrap().id() as u32;
        verdict_nr(c, nr, NATIVE as u32, args)
    }

    fn verdict_nr(c: &Compiled, nr: u32, arch: u32, args: [u64; 6]) -> u32 {
        c.filters
            .iter()
            .map(|f| run_one(f, nr, arch, args))
            .max_by_key(|v| rank(*v))
            .unwrap()
    }

    const ALLOW: u32 = 0x7fff_0000;
    const fn errno(n: i32) -> u32 {
        0x0005_0000 | n as u32
    }

    fn profile(v: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(v).unwrap()
    }

    /// A representative part of docker's default profile (moby's profiles/seccomp):
    /// default EPERM, a long allow list, personality allowed for some values only, clone
    /// without namespace flags (masked), clone3 failing with ENOSYS, names this
    /// architecture lacks.
    fn docker_like() -> LinuxSeccomp {
        profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 1,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["accept", "access", "brk", "capget", "capset", "chdir", "close",
                           "close_range", "dup", "dup2", "dup3", "execve", "exit",
                           "exit_group", "fcntl", "fstat", "getdents64", "getpid",
                           "getuid", "ioctl", "lseek", "mmap", "mprotect", "munmap",
                           "newfstatat", "open", "openat", "prctl", "read", "rt_sigaction",
                           "rt_sigprocmask", "rt_sigreturn", "setgroups", "setresuid",
                           "setresgid", "umask", "uname", "wait4", "write", "mkdir",
                           "mkdirat", "arch_prctl", "set_tid_address", "futex"],
                 "action": "SCMP_ACT_ALLOW"},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 4294967295u64, "op": "SCMP_CMP_EQ"}]},
                {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 2114060288, "valueTwo": 0,
                           "op": "SCMP_CMP_MASKED_EQ"}]},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                {"names": ["sync_file_range2", "arm_fadvise64_64", "swapcontext"],
                 "action": "SCMP_ACT_ALLOW",
                 "comment": "names of other architectures: not in an allow rule here"}
            ]
        }))
    }

    #[test]
    fn names_of_other_architectures_are_skipped_by_path() {
        let c = compile(&docker_like()).unwrap();
        assert!(c
            .skipped
            .contains(&"linux.seccomp.syscalls[6].names[1]".to_string()));
        assert_eq!(verdict(&c, "read", [0; 6]), ALLOW);
    }

    #[test]
    fn docker_default_profile_gives_each_call_its_rules_verdict() {
        let c = compile(&docker_like()).unwrap();
        let none = [0u64; 6];
        for name in ["read", "write", "execve", "mkdir", "capset", "setresuid"] {
            assert_eq!(verdict(&c, name, none), ALLOW, "{name}");
        }
        // Not listed: the default, EPERM.
        for name in ["mount", "unshare", "reboot", "ptrace", "bpf"] {
            assert_eq!(verdict(&c, name, none), errno(libc::EPERM), "{name}");
        }
        // personality: some values.
        for (v, want) in [
            (0, ALLOW),
            (8, ALLOW),
            (0xffff_ffff, ALLOW),
            (0x0040_0000, errno(libc::EPERM)),
        ] {
            assert_eq!(
                verdict(&c, "personality", [v, 0, 0, 0, 0, 0]),
                want,
                "{v:#x}"
            );
        }
        // clone: without CLONE_NEW* flags only.
        let thread = (libc::CLONE_VM | libc::CLONE_THREAD | libc::SIGCHLD) as u64;
        assert_eq!(verdict(&c, "clone", [thread, 0, 0, 0, 0, 0]), ALLOW);
        let userns = (libc::CLONE_NEWUSER | libc::SIGCHLD) as u64;
        assert_eq!(
            verdict(&c, "clone", [userns, 0, 0, 0, 0, 0]),
            errno(libc::EPERM)
        );
        // clone3: its own errno.
        assert_eq!(verdict(&c, "clone3", none), errno(libc::ENOSYS));
        // Another ABI: killed (32-bit compat), ENOSYS (x32).
        assert!(c.foreign_arches);
        assert_eq!(
            verdict_nr(&c, 39, Arch::ScmpArchX86 as u32, none),
            0x8000_0000
        );
        #[cfg(target_arch = "x86_64")]
        assert_eq!(
            verdict_nr(&c, 0x4000_0000 | 83, NATIVE as u32, none),
            errno(libc::ENOSYS)
        );
    }

    #[test]
    fn a_deny_list_allows_the_rest_and_skips_unknown_names() {
        let c = compile(&profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["mkdir", "mkdirat", "no_such_call"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["reboot"], "action": "SCMP_ACT_KILL_PROCESS"},
                {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                 "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}]}
            ]
        })))
        .unwrap();
        assert_eq!(c.skipped, ["linux.seccomp.syscalls[0].names[2]"]);
        let none = [0u64; 6];
        assert_eq!(verdict(&c, "mkdirat", none), errno(libc::EPERM));
        assert_eq!(verdict(&c, "reboot", none), 0x8000_0000);
        assert_eq!(verdict(&c, "read", none), ALLOW);
        assert_eq!(verdict(&c, "kill", [1, 9, 0, 0, 0, 0]), errno(libc::EACCES));
        assert_eq!(verdict(&c, "kill", [1, 15, 0, 0, 0, 0]), ALLOW);
        #[cfg(target_arch = "x86_64")]
        assert_eq!(
            verdict_nr(&c, 0x4000_0000 | 83, NATIVE as u32, none),
            errno(libc::ENOSYS)
        );
    }

    #[test]
    fn what_seccompiler_cannot_express_is_refused_by_path() {
        for (v, path) in [
            (
                serde_json::json!({"defaultAction": "SCMP_ACT_NOTIFY"}),
                "linux.seccomp.defaultAction:",
            ),
            (
                serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
                    "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]}),
                "linux.seccomp.syscalls[0].action:",
            ),
            (
                serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
                    "flags": ["SECCOMP_FILTER_FLAG_LOG"]}),
                "linux.seccomp.flags[0]:",
            ),
            (
                serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO",
                    "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                        "args": [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]}]}),
                "linux.seccomp.syscalls[0].args[0].index:",
            ),
        ] {
            let e = compile(&profile(v)).unwrap_err();
            assert!(e.to_string().starts_with(path), "{e}");
        }
    }
}
