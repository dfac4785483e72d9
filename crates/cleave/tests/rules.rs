//! For each rule: the library's verdict must match what this kernel really answers to the raw
//! call. Cases mirror LTP clone3/clone302.c, clone3/clone304.c, selftests clone3/*.c and the
//! errno table of shared/reference/kernel-rules.md.
mod common;

use cleave::flags::rules::{self, Interface, Request};
use cleave::host;
use cleave::raw::{self, CloneArgs};
use cleave::stack::Stack;
use cleave::CloneFlags as F;
use common::*;
use std::ffi::c_void;

unsafe extern "C" fn exit_now(_: *mut c_void) -> i32 {
    0
}

/// The kernel's answer: Ok if it created a child (which is reaped or left to exit).
fn kernel_answer(req: &Request, set_tid: &[i32]) -> Result<(), i32> {
    let stack = Stack::new(64 * 1024).map_err(|_| libc::ENOMEM)?;
    let mut args = CloneArgs {
        flags: req.flags.bits(),
        exit_signal: req.exit_signal as u64,
        stack: stack.base(),
        stack_size: stack.size(),
        set_tid: if set_tid.is_empty() {
            0
        } else {
            set_tid.as_ptr() as u64
        },
        set_tid_size: set_tid.len() as u64,
        ..Default::default()
    };
    // Distinct words, as cleave uses them (one shared pointer is itself EINVAL: C13).
    let (mut pidfd, mut tid): (i32, i32) = (-1, 0);
    args.pidfd = &mut pidfd as *mut i32 as u64;
    args.parent_tid = &mut tid as *mut i32 as u64;
    if req.interface == Interface::Legacy {
        args.pidfd = args.parent_tid; // clone() has one pointer for both
    }
    // SAFETY: the child runs `exit_now` on its own stack, which is leaked below when the
    // child might still use it.
    let r = unsafe {
        match req.interface {
            Interface::Clone3 => raw::clone3(&mut args, Some((exit_now, std::ptr::null_mut()))),
            Interface::Legacy => {
                raw::clone_legacy(&mut args, Some((exit_now, std::ptr::null_mut())))
            }
        }
    };
    match r {
        Ok(pid) => {
            if pidfd >= 0 {
                // SAFETY: the kernel created this pidfd for us.
                unsafe { libc::close(pidfd) };
            }
            std::mem::forget(stack);
            if !req.flags.intersects(F::THREAD | F::PARENT) {
                let _ = raw::waitpid(pid, libc::__WALL);
            } else {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

struct Case {
    rule: &'static str,
    flags: F,
    signal: i32,
    interface: Interface,
    set_tid: &'static [i32],
}

const fn case(rule: &'static str, flags: F, signal: i32) -> Case {
    Case {
        rule,
        flags,
        signal,
        interface: Interface::Clone3,
        set_tid: &[],
    }
}

fn check_cases(cases: &[Case]) -> Result<(), String> {
    let ctx = host::context();
    for c in cases {
        let req = Request {
            flags: c.flags,
            exit_signal: c.signal,
            interface: c.interface,
            set_tid_len: c.set_tid.len(),
        };
        let verdict = rules::check(&req, &ctx);
        let library = verdict.first().map(|v| v.errno);
        let kernel = kernel_answer(&req, c.set_tid).err();
        ensure!(
            library == kernel,
            "{} ({}): library says {:?}, kernel says {:?}",
            c.rule,
            c.flags,
            library.map(rules::errno_name),
            kernel.map(rules::errno_name)
        );
        if c.rule != "valid" {
            ensure!(
                verdict.iter().any(|v| v.rule.id == c.rule),
                "{}: broken rules {:?}",
                c.rule,
                verdict.iter().map(|v| v.rule.id).collect::<Vec<_>>()
            );
        }
    }
    Ok(())
}

const VM_SIG: F = F::VM.union(F::SIGHAND);

fn flag_combinations() -> TestResult {
    let mut cases = vec![
        case("sighand-needs-vm", F::SIGHAND, 17),
        case("thread-needs-sighand", F::VM.union(F::THREAD), 0),
        case("newns-with-fs", F::NEWNS.union(F::FS), 17),
        case("newuser-with-fs", F::NEWUSER.union(F::FS), 17),
        case(
            "thread-with-newuser",
            VM_SIG.union(F::THREAD).union(F::NEWUSER),
            0,
        ),
        case(
            "thread-with-newpid",
            VM_SIG.union(F::THREAD).union(F::NEWPID),
            0,
        ),
        case(
            "clear-sighand-with-sighand",
            VM_SIG.union(F::CLEAR_SIGHAND),
            17,
        ),
        case(
            "exit-signal-with-thread-or-parent",
            VM_SIG.union(F::THREAD),
            17,
        ),
        case("exit-signal-with-thread-or-parent", F::PARENT, 17),
        case("exit-signal-range", F::empty(), 65),
        case("detached-in-clone3", F::DETACHED, 17),
        case("valid", F::PRESET_NPTL.difference(F::SETTLS), 0),
        case(
            "valid",
            F::PRESET_NPTL.difference(F::SETTLS).union(F::PIDFD),
            0,
        ), // 6.9+
        case("valid", F::NEWUSER.union(F::NEWNS).union(F::NEWPID), 17),
        case("valid", F::NEWUSER.union(F::SYSVSEM), 17),
        case(
            "newipc-with-sysvsem",
            F::NEWUSER.union(F::NEWIPC).union(F::SYSVSEM),
            17,
        ),
        case("valid", F::PRESET_VFORK, 17),
        case("valid", F::PRESET_LINUXTHREADS, 17),
    ];
    let mut legacy = case(
        "pidfd-with-parent-settid-legacy",
        F::PIDFD.union(F::PARENT_SETTID),
        17,
    );
    legacy.interface = Interface::Legacy;
    cases.push(legacy);
    let mut legacy = case("pidfd-with-detached", F::PIDFD.union(F::DETACHED), 17);
    legacy.interface = Interface::Legacy;
    cases.push(legacy);
    cases.push(Case {
        set_tid: &[1; 33],
        ..case("set-tid-too-long", F::empty(), 17)
    });
    if is_root() {
        cases.push(case("newipc-with-sysvsem", F::NEWIPC.union(F::SYSVSEM), 17));
        cases.push(case("valid", F::NEWPID.union(F::PARENT), 0));
    }
    check_cases(&cases)?;
    pass()
}

fn unprivileged() -> TestResult {
    as_nobody(|| {
        check_cases(&[
            case("namespace-needs-cap-sys-admin", F::NEWUTS, 17),
            case(
                "namespace-needs-cap-sys-admin",
                F::NEWNET.union(F::NEWNS),
                17,
            ),
            // EPERM comes before the NEWIPC|SYSVSEM EINVAL for an unprivileged caller.
            case(
                "namespace-needs-cap-sys-admin",
                F::NEWIPC.union(F::SYSVSEM),
                17,
            ),
            case(
                "newipc-with-sysvsem",
                F::NEWUSER.union(F::NEWIPC).union(F::SYSVSEM),
                17,
            ),
            Case {
                set_tid: &[30000],
                ..case("set-tid-needs-privilege", F::empty(), 17)
            },
            case("valid", F::NEWUSER.union(F::NEWUTS).union(F::NEWPID), 17),
            case("newns-with-fs", F::NEWNS.union(F::FS), 17),
        ])
    })?;
    pass()
}

fn after_unshare_newpid() -> TestResult {
    // C9/C10: after unshare(CLONE_NEWPID) the caller's children are born elsewhere.
    in_child(|| {
        let flags = if is_root() { 0 } else { libc::CLONE_NEWUSER };
        // SAFETY: unshare in a single-threaded child.
        if unsafe { libc::unshare(flags | libc::CLONE_NEWPID) } != 0 {
            return Err(format!("unshare: {}", std::io::Error::last_os_error()));
        }
        ensure!(
            host::context().pid_ns_for_children_differs,
            "context missed the unshare"
        );
        check_cases(&[
            case("thread-after-pid-ns-change", VM_SIG.union(F::THREAD), 0),
            case("newpid-after-pid-ns-change", F::NEWPID, 17),
        ])
    })?;
    pass()
}

fn parent_from_init() -> TestResult {
    // C8: PID 1 of a namespace cannot use CLONE_PARENT.
    let flags = if is_root() {
        F::NEWPID
    } else {
        F::NEWPID | F::NEWUSER
    };
    in_child(|| {
        let mut f = cleave::Fork::new();
        f.flags(flags);
        let mut c = f
            .spawn(
                || match check_cases(&[case("parent-from-init", F::PARENT, 0)]) {
                    Ok(()) => 0,
                    Err(e) => {
                        eprintln!("{e}");
                        1
                    }
                },
            )
            .map_err(|e| e.to_string())?;
        let st = c.wait().map_err(|e| e.to_string())?;
        ensure!(st.success(), "inside the new PID namespace: {st}");
        Ok(())
    })?;
    pass()
}

fn legacy_cannot_express_newtime() -> TestResult {
    // Why clone3-only-flag exists: legacy clone() reads 0x80 as exit signal 128, so the child
    // stays in the caller's time namespace.
    let before = ns_inode("self", "time");
    let (r, w) = pipe();
    let wfd = std::os::fd::AsRawFd::as_raw_fd(&w);
    let mut args = CloneArgs {
        exit_signal: 0x80,
        ..Default::default()
    };
    // SAFETY: no CLONE_VM; the child writes one number and exits.
    match unsafe { raw::clone_legacy(&mut args, None) } {
        Ok(0) => {
            let s = ns_inode("self", "time").to_string();
            let _ = cleave_child::sys::write(wfd, s.as_bytes());
            cleave_child::sys::exit_group(0)
        }
        Ok(pid) => {
            drop(w);
            let mut out = String::new();
            std::io::Read::read_to_string(&mut std::fs::File::from(r), &mut out)
                .map_err(|e| e.to_string())?;
            let _ = raw::waitpid(pid, libc::__WALL);
            ensure_eq!(out, before.to_string());
        }
        Err(e) => return Err(format!("legacy clone: errno {e}")),
    }
    let mut req = Request::new(F::NEWTIME, 17);
    req.interface = Interface::Legacy;
    let v = rules::check(&req, &host::context());
    ensure_eq!(v.first().map(|v| v.rule.id), Some("clone3-only-flag"));
    pass()
}

/// Installs a seccomp filter that answers ENOSYS to clone3, as container runtimes with an
/// older profile do (bwrap tests/try-syscall.c).
fn block_clone3() -> Result<(), String> {
    #[repr(C)]
    struct Insn(u16, u8, u8, u32);
    #[repr(C)]
    struct Prog {
        len: u16,
        filter: *const Insn,
    }
    let nr = libc::SYS_clone3 as u32;
    let filter = [
        Insn(0x20, 0, 0, 0),                                 // ld [nr]
        Insn(0x15, 0, 1, nr),                                // jeq clone3
        Insn(0x06, 0, 0, 0x0005_0000 | libc::ENOSYS as u32), // ret ERRNO(ENOSYS)
        Insn(0x06, 0, 0, 0x7fff_0000),                       // ret ALLOW
    ];
    let prog = Prog {
        len: filter.len() as u16,
        filter: filter.as_ptr(),
    };
    // SAFETY: prctl with a valid filter program that outlives the call.
    let ok = unsafe {
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
            && libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &prog) == 0
    };
    ensure!(ok, "seccomp: {}", std::io::Error::last_os_error());
    Ok(())
}

fn clone3_blocked_by_seccomp() -> TestResult {
    // The rule clone3-unavailable, against a kernel that refuses clone3: ENOSYS before any
    // other check, while legacy clone() still works.
    in_child(|| {
        block_clone3()?;
        let mut ctx = host::context();
        ctx.clone3 = false;
        for (flags, signal) in [(F::empty(), 17), (F::SIGHAND, 17), (F::DETACHED, 17)] {
            let req = Request::new(flags, signal);
            let verdict = rules::check(&req, &ctx);
            ensure_eq!(
                verdict.first().map(|v| v.rule.id),
                Some("clone3-unavailable")
            );
            ensure_eq!(kernel_answer(&req, &[]).err(), Some(libc::ENOSYS));
        }
        let mut legacy = Request::new(F::empty(), 17);
        legacy.interface = Interface::Legacy;
        ensure!(rules::check(&legacy, &ctx).is_empty(), "legacy refused");
        ensure_eq!(kernel_answer(&legacy, &[]).err(), None);
        Ok(())
    })?;
    pass()
}

fn main() {
    run(&[
        ("flag_combinations", flag_combinations),
        ("unprivileged", unprivileged),
        ("after_unshare_newpid", after_unshare_newpid),
        ("parent_from_init", parent_from_init),
        (
            "legacy_cannot_express_newtime",
            legacy_cannot_express_newtime,
        ),
        ("clone3_blocked_by_seccomp", clone3_blocked_by_seccomp),
    ]);
}
