//! The rules against hand-written contexts: no root, no system call, no file read. The section
//! and row numbers (§1, C7, ...) are those of shared/reference/kernel-rules.md; that each
//! verdict is the running kernel's own answer is checked by tests/rules.rs.
use super::*;

fn ids(flags: F, sig: i32, ctx: &Context) -> Vec<&'static str> {
    check(&Request::new(flags, sig), ctx)
        .iter()
        .map(|v| v.rule.id)
        .collect()
}

fn first_errno(r: &Request, ctx: &Context) -> Option<i32> {
    check(r, ctx).first().map(|v| v.errno)
}

const ROOT: Context = Context {
    kernel: (6, 18),
    clone3: true,
    privileged: true,
    pid_ns_init: false,
    pid_ns_for_children_differs: false,
};
const USER: Context = Context {
    privileged: false,
    ..ROOT
};

#[test]
fn presets_are_valid() {
    assert!(ids(F::PRESET_FORK, 17, &ROOT).is_empty());
    assert!(ids(F::PRESET_VFORK, 17, &ROOT).is_empty());
    assert!(ids(F::PRESET_LINUXTHREADS, 17, &ROOT).is_empty());
    assert!(ids(F::PRESET_NPTL, 0, &ROOT).is_empty());
}

#[test]
fn all_broken_rules_are_reported_in_kernel_order() {
    let v = ids(F::SIGHAND | F::THREAD | F::NEWNS | F::FS, 17, &ROOT);
    assert_eq!(
        v,
        [
            "exit-signal-with-thread-or-parent",
            "newns-with-fs",
            "sighand-needs-vm"
        ]
    );
    assert!(ids(F::THREAD, 17, &ROOT).contains(&"thread-needs-sighand"));
}

#[test]
fn version_dependent_rules() {
    let old = Context::assume((6, 8), true);
    assert_eq!(
        ids(F::PRESET_NPTL | F::PIDFD, 0, &old),
        ["pidfd-with-thread"]
    );
    assert!(ids(F::PRESET_NPTL | F::PIDFD, 0, &ROOT).is_empty());
    assert_eq!(
        ids(F::NEWTIME, 17, &Context::assume((5, 4), true)),
        ["flag-too-new"]
    );
}

#[test]
fn privilege_changes_the_errno_of_newipc_sysvsem() {
    let r = Request::new(F::NEWIPC | F::SYSVSEM, 17);
    assert_eq!(check(&r, &ROOT)[0].errno, libc::EINVAL);
    let v = check(&r, &USER);
    assert_eq!(v[0].errno, libc::EPERM);
    assert_eq!(v[0].rule.id, "namespace-needs-cap-sys-admin");
    let with_user = Request::new(F::NEWIPC | F::SYSVSEM | F::NEWUSER, 17);
    assert_eq!(check(&with_user, &USER)[0].errno, libc::EINVAL);
}

#[test]
fn newpid_and_newuser_with_parent_are_allowed() {
    assert!(ids(F::NEWPID | F::PARENT, 0, &ROOT).is_empty());
    assert!(ids(F::NEWUSER | F::PARENT, 0, &USER).is_empty());
    assert!(ids(F::NEWUSER | F::NEWNS | F::NEWPID, 17, &USER).is_empty());
}

#[test]
fn legacy_interface_rules() {
    let mut r = Request::new(F::PIDFD | F::PARENT_SETTID, 17);
    assert!(check(&r, &ROOT).is_empty());
    r.interface = Interface::Legacy;
    assert_eq!(
        check(&r, &ROOT)[0].rule.id,
        "pidfd-with-parent-settid-legacy"
    );
    r.flags = F::NEWTIME;
    assert_eq!(check(&r, &ROOT)[0].rule.id, "clone3-only-flag");
    r.flags = F::THREAD | F::SIGHAND | F::VM;
    assert!(
        check(&r, &ROOT).is_empty(),
        "legacy ignores the signal with THREAD"
    );
}

#[test]
fn every_rule_has_text_and_a_suite() {
    for r in RULES {
        assert!(!r.why.is_empty() && !r.suite.is_empty(), "{}", r.id);
        assert!(errno_name(r.errno).starts_with('E'));
    }
    assert_eq!(parse_release("6.18.44-fc-v782"), Some((6, 18)));
}

// §1 step 5, C7: the EPERM of copy_namespaces comes before the NEWIPC|SYSVSEM EINVAL.
#[test]
fn newipc_sysvsem_is_eperm_unprivileged_and_einval_privileged() {
    let r = Request::new(F::NEWIPC | F::SYSVSEM, 17);
    assert_eq!(first_errno(&r, &USER), Some(libc::EPERM));
    assert_eq!(first_errno(&r, &ROOT), Some(libc::EINVAL));
    assert_eq!(check(&r, &ROOT)[0].rule.id, "newipc-with-sysvsem");
    // With CLONE_NEWUSER the new namespace grants the capability: EINVAL for anyone.
    let r = Request::new(F::NEWUSER | F::NEWIPC | F::SYSVSEM, 17);
    assert_eq!(first_errno(&r, &USER), Some(libc::EINVAL));
    // Either without the other is fine.
    assert!(ids(F::SYSVSEM, 17, &USER).is_empty());
    assert!(ids(F::NEWIPC, 17, &ROOT).is_empty());
}

// C30: every namespace but a user namespace needs CAP_SYS_ADMIN, unless NEWUSER comes too.
#[test]
fn namespaces_need_cap_sys_admin_or_a_user_namespace() {
    for ns in F::ALL_NAMESPACES.difference(F::NEWUSER).iter() {
        let r = Request::new(ns, 17);
        assert_eq!(first_errno(&r, &USER), Some(libc::EPERM), "{ns}");
        assert_eq!(first_errno(&r, &ROOT), None, "{ns}");
        assert_eq!(first_errno(&Request::new(ns | F::NEWUSER, 17), &USER), None);
    }
    assert!(ids(F::NEWUSER, 17, &USER).is_empty());
}

// §2 (clone3 arrived in 5.3) and C23: no clone3 is ENOSYS before any other check; legacy
// clone() still works.
#[test]
fn kernel_5_2_has_no_clone3() {
    let old = Context::assume((5, 2), true);
    assert!(!old.clone3);
    let r = Request::new(F::empty(), 17);
    assert_eq!(ids(F::empty(), 17, &old), ["clone3-unavailable"]);
    assert_eq!(first_errno(&r, &old), Some(libc::ENOSYS));
    let legacy = Request {
        interface: Interface::Legacy,
        ..r
    };
    assert!(check(&legacy, &old).is_empty());
    assert!(Context::assume((5, 3), true).clone3);
    assert!(ids(F::empty(), 17, &Context::assume((5, 3), true)).is_empty());
    // A new kernel whose seccomp policy answers ENOSYS: the same answer, first.
    let blocked = Context {
        clone3: false,
        ..ROOT
    };
    let v = ids(F::SIGHAND, 17, &blocked);
    assert_eq!(v.first(), Some(&"clone3-unavailable"), "{v:?}");
    assert!(check(
        &Request {
            interface: Interface::Legacy,
            ..Request::new(F::PRESET_VFORK, 17)
        },
        &blocked
    )
    .is_empty());
}

// §2: a flag the kernel predates is an unknown bit (EINVAL), by version alone.
#[test]
fn old_kernels_lack_new_flags() {
    let ancient = Context::assume((2, 4), true);
    let legacy = |flags| Request {
        interface: Interface::Legacy,
        ..Request::new(flags, 17)
    };
    assert_eq!(
        check(&legacy(F::NEWUSER), &ancient)[0].rule.id,
        "flag-too-new"
    );
    assert!(check(&legacy(F::VM | F::FS), &ancient).is_empty());
    assert_eq!(
        check(&legacy(F::NEWUSER), &Context::assume((3, 7), true))[0]
            .rule
            .id,
        "flag-too-new"
    );
    assert!(check(&legacy(F::NEWUSER), &Context::assume((3, 8), true)).is_empty());
    // C4 holds since 3.9 only.
    let newuser_fs = legacy(F::NEWUSER | F::FS);
    assert!(check(&newuser_fs, &Context::assume((3, 8), true)).is_empty());
    assert_eq!(
        check(&newuser_fs, &Context::assume((3, 9), true))[0]
            .rule
            .id,
        "newuser-with-fs"
    );
}

// C8: PID 1 of any PID namespace cannot hand a child to its parent.
#[test]
fn parent_from_a_pid_namespace_init() {
    let init = Context {
        pid_ns_init: true,
        ..ROOT
    };
    assert_eq!(ids(F::PARENT, 0, &init), ["parent-from-init"]);
    assert!(ids(F::PARENT, 0, &ROOT).is_empty());
    assert!(ids(F::empty(), 17, &init).is_empty());
}

// C9, C10: after unshare(CLONE_NEWPID) or setns to a PID namespace.
#[test]
fn after_a_pid_namespace_change() {
    let moved = Context {
        pid_ns_for_children_differs: true,
        ..ROOT
    };
    assert_eq!(
        ids(F::PRESET_NPTL, 0, &moved),
        ["thread-after-pid-ns-change"]
    );
    assert_eq!(ids(F::NEWPID, 17, &moved), ["newpid-after-pid-ns-change"]);
    assert!(ids(F::PRESET_VFORK, 17, &moved).is_empty());
    assert!(ids(F::NEWPID, 17, &ROOT).is_empty());
}

// C29: set_tid needs privilege in the owning user namespace (a new one grants it).
#[test]
fn set_tid_needs_privilege() {
    let r = Request {
        set_tid_len: 1,
        ..Request::new(F::empty(), 17)
    };
    assert_eq!(check(&r, &USER)[0].rule.id, "set-tid-needs-privilege");
    assert!(check(&r, &ROOT).is_empty());
    let with_user = Request {
        flags: F::NEWUSER | F::NEWPID,
        ..r
    };
    assert!(check(&with_user, &USER).is_empty());
    // set_tid arrived in 5.5.
    assert!(check(&r, &Context::assume((5, 4), false)).is_empty());
}

/// Requests over the flags some fact can matter for, with both interfaces, with and without
/// set_tid and an exit signal; and every pair of flags.
fn sample_requests() -> Vec<Request> {
    let key = [
        F::NEWUSER,
        F::NEWIPC,
        F::SYSVSEM,
        F::NEWNET,
        F::PARENT,
        F::THREAD,
        F::NEWPID,
        F::SIGHAND,
        F::VM,
        F::PIDFD,
        F::NEWTIME,
    ];
    let mut sets: Vec<F> = (0u32..1 << key.len())
        .map(|mask| {
            key.iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .fold(F::empty(), |f, (_, k)| f | *k)
        })
        .collect();
    for a in super::super::FLAG_INFO {
        for b in super::super::FLAG_INFO {
            sets.push(a.flag | b.flag);
        }
    }
    let mut out = Vec::new();
    for flags in sets {
        for interface in [Interface::Clone3, Interface::Legacy] {
            for set_tid_len in [0, 1] {
                for exit_signal in [0, 17] {
                    out.push(Request {
                        flags,
                        exit_signal,
                        interface,
                        set_tid_len,
                    });
                }
            }
        }
    }
    out
}

fn every_context(kernel: (u32, u32)) -> Vec<Context> {
    (0u8..16)
        .map(|m| Context {
            kernel,
            clone3: m & 1 != 0,
            privileged: m & 2 != 0,
            pid_ns_init: m & 4 != 0,
            pid_ns_for_children_differs: m & 8 != 0,
        })
        .collect()
}

/// What lets a host read only some facts: a fact `Needs::of` leaves out never changes the
/// verdict, whatever the others are.
#[test]
fn facts_a_request_does_not_need_never_change_its_verdict() {
    for kernel in [(6, 18), (5, 4)] {
        let contexts = every_context(kernel);
        for r in sample_requests() {
            let needs = Needs::of(&r);
            for ctx in &contexts {
                assert_eq!(
                    check(&r, ctx),
                    check(&r, &ctx.only(needs)),
                    "{r:?} with {ctx:?} needs {needs:?}"
                );
            }
        }
    }
}

/// The posix_spawn-style fast path reads no fact beyond the kernel version; an NPTL thread
/// only where its children are born (C9), not the privilege (SYSVSEM alone cannot be EPERM).
#[test]
fn fast_paths_need_no_fact() {
    let none = Needs {
        clone3: false,
        privilege: false,
        pid_ns_init: false,
        pid_ns_for_children: false,
    };
    let legacy = |flags| Request {
        interface: Interface::Legacy,
        ..Request::new(flags, 17)
    };
    assert_eq!(Needs::of(&legacy(F::PRESET_VFORK)), none);
    assert_eq!(
        Needs::of(&legacy(F::PRESET_NPTL)),
        Needs {
            pid_ns_for_children: true,
            ..none
        }
    );
    assert_eq!(
        Needs::of(&Request::new(F::PRESET_VFORK | F::CLEAR_SIGHAND, 17)),
        Needs {
            clone3: true,
            ..none
        }
    );
    assert!(!Needs::of(&Request::new(F::NEWUSER | F::NEWNS | F::NEWNET, 17)).privilege);
}

// §2: the refusal names the flag the kernel predates, not just the rule.
#[test]
fn a_too_new_flag_is_named() {
    let old = Context::assume((3, 2), false);
    let r = Request {
        interface: Interface::Legacy,
        ..Request::new(F::NEWUSER | F::NEWCGROUP, 17)
    };
    let v = check(&r, &old);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].culprits, F::NEWUSER | F::NEWCGROUP);
    let text = v[0].to_string();
    assert!(text.contains("CLONE_NEWCGROUP needs 4.6"), "{text}");
    assert!(text.contains("CLONE_NEWUSER needs 3.8"), "{text}");
    let v = check(&r, &Context::assume((4, 0), false));
    assert_eq!(v[0].culprits, F::NEWCGROUP, "{v:?}");
}
