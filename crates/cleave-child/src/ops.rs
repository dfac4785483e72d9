//! The setup steps a child runs before exec, one raw system call (or a short fixed sequence)
//! each, and the minimal init that a PID namespace's first process becomes.
use crate::fs;
use crate::plan::{Bytes, Op, Plan};
use crate::sys::{self, check, syscall1, syscall2, syscall3, syscall4, syscall5};

const AT_FDCWD: usize = libc::AT_FDCWD as isize as usize;

/// Runs one op (every one but [`Op::ForkInit`], which [`fork_init`] handles).
pub fn run_op(plan: &Plan, op: &Op) -> Result<(), i32> {
    #[allow(unsafe_code)]
    // SAFETY: for every call below, the strings are NUL-terminated and the byte buffers hold
    // `len` bytes, built by the parent for this op and alive until exec (Op's contract);
    // numbers are passed by value.
    let ret = unsafe {
        match *op {
            Op::SetHostname { name } => {
                syscall2(libc::SYS_sethostname as usize, name.ptr as usize, name.len)
            }
            Op::SetDomainname { name } => syscall2(
                libc::SYS_setdomainname as usize,
                name.ptr as usize,
                name.len,
            ),
            Op::Chdir { path } => syscall1(libc::SYS_chdir as usize, path.0 as usize),
            Op::ChdirOrRoot { path } => match syscall1(libc::SYS_chdir as usize, path.0 as usize) {
                0 => 0,
                _ => {
                    crate::exec::note(plan, crate::plan::Notes::CWD_FALLBACK);
                    syscall1(libc::SYS_chdir as usize, c"/".as_ptr() as usize)
                }
            },
            Op::Propagation { flags } => syscall5(
                libc::SYS_mount as usize,
                0,
                c"/".as_ptr() as usize,
                0,
                flags as usize,
                0,
            ),
            Op::OpenPath { path, flags, slot } => return fs::open_path(plan, path, flags, slot),
            Op::CheckIdentity { slot, dev, ino } => {
                return fs::check_identity(plan, slot, dev, ino)
            }
            Op::BindRoot { dir, root } => return fs::bind_root(plan, dir, root),
            Op::Bind {
                src,
                root,
                dst,
                set,
                clear,
                recursive,
            } => return fs::bind(plan, (src, root, dst), set, clear, recursive),
            Op::FsMount {
                fstype,
                options,
                attrs,
                root,
                dst,
                keep,
            } => return fs::fs_mount(plan, (fstype, options, attrs), (root, dst), keep),
            Op::MkdirAt {
                root,
                parent,
                name,
                mode,
            } => return fs::mkdir_at(plan, (root, parent, name), mode),
            Op::CreateFileAt {
                root,
                parent,
                name,
                mode,
            } => return fs::create_file_at(plan, (root, parent, name), mode),
            Op::SymlinkAt {
                root,
                parent,
                name,
                target,
            } => return fs::symlink_at(plan, (root, parent, name), target),
            Op::SetAttrAt {
                root,
                path,
                set,
                clear,
                propagation,
                recursive,
            } => return fs::set_attr_at(plan, (root, path), (set, clear, propagation), recursive),
            Op::MaskAt { root, path, empty } => return fs::mask_at(plan, (root, path), empty),
            Op::ReadOnlyAt { root, path } => return fs::read_only_at(plan, (root, path)),
            Op::PivotRoot { root } => return fs::pivot_root(plan, root),
            Op::CloseSlots => {
                fs::close_all(plan);
                0
            }
            Op::WriteFile { path, data } => {
                return write_file(path.0 as usize, data.ptr as usize, data.len)
            }
            Op::WriteFd { fd, data } => syscall3(
                libc::SYS_write as usize,
                fd as usize,
                data.ptr as usize,
                data.len,
            ),
            Op::SetNs { slot, nstype } => syscall2(
                libc::SYS_setns as usize,
                fs::get(plan, slot)? as usize,
                nstype as usize,
            ),
            Op::Unshare { flags } => syscall1(libc::SYS_unshare as usize, flags as usize),
            Op::LockMounts { uid_map, gid_map } => return lock_mounts(uid_map, gid_map),
            Op::LoopbackUp => return loopback_up(),
            Op::SetRlimit {
                resource,
                soft,
                hard,
            } => {
                let limit: [u64; 2] = [soft, hard];
                syscall4(
                    libc::SYS_prlimit64 as usize,
                    0,
                    resource as usize,
                    limit.as_ptr() as usize,
                    0,
                )
            }
            Op::Setsid => sys::syscall0(libc::SYS_setsid as usize),
            Op::NoNewPrivs => prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0),
            Op::ParentDeathSignal { signal, parent } => {
                let r = prctl(libc::PR_SET_PDEATHSIG, signal as usize, 0);
                if r == 0 && parent != 0 && sys::getppid() != parent {
                    -(libc::ESRCH as isize)
                } else {
                    r
                }
            }
            Op::KeepCaps { keep } => prctl(libc::PR_SET_KEEPCAPS, keep as usize, 0),
            Op::SetIds {
                uid,
                gid,
                clear_groups,
            } => return set_ids(uid as usize, gid as usize, clear_groups),
            Op::DropBounding { keep } => return drop_bounding(keep),
            Op::SetCaps { mask } => return set_caps(mask),
            Op::SetCapSets {
                effective,
                permitted,
                inheritable,
            } => return crate::ops_extra::set_cap_sets(effective, permitted, inheritable),
            Op::Ambient { mask } => return raise_ambient(mask),
            Op::SeccompFilter { filter } => {
                return crate::ops_extra::seccomp_filter(filter.ptr as usize, filter.len / 8)
            }
            Op::NewSessionKeyring => {
                const KEYCTL_JOIN_SESSION_KEYRING: usize = 1;
                syscall2(libc::SYS_keyctl as usize, KEYCTL_JOIN_SESSION_KEYRING, 0)
            }
            // Handled by the executor before it calls run_op.
            Op::ForkInit { .. } => -(libc::EINVAL as isize),
            Op::SetGroups { groups } => return crate::process::set_groups(groups),
            Op::Umask { mask } => return crate::process::umask(mask),
            Op::ControllingTerminal { fd } => return crate::process::controlling_terminal(fd),
            Op::WaitForStart { fd } => return crate::process::wait_for_start(plan, fd),
            Op::MknodAt {
                root,
                parent,
                name,
                mode,
                dev,
                uid,
                gid,
            } => return fs::mknod_at(plan, (root, parent, name), mode, dev, (uid, gid)),
        }
    };
    check(ret).map(|_| ())
}

/// [`Op::LockMounts`].
fn lock_mounts(uid_map: Bytes, gid_map: Bytes) -> Result<(), i32> {
    // /proc/self/*_map must belong to this process's own ids (a change of uid, or an init
    // sharing this memory, made it not dumpable): exec sets the flag again anyway.
    check(prctl(libc::PR_SET_DUMPABLE, 1, 0))?;
    let flags = (libc::CLONE_NEWUSER | libc::CLONE_NEWNS) as usize;
    // SAFETY: unshare on numbers.
    #[allow(unsafe_code)]
    check(unsafe { syscall1(libc::SYS_unshare as usize, flags) })?;
    write_file(
        c"/proc/self/setgroups".as_ptr() as usize,
        b"deny".as_ptr() as usize,
        4,
    )?;
    write_file(
        c"/proc/self/gid_map".as_ptr() as usize,
        gid_map.ptr as usize,
        gid_map.len,
    )?;
    write_file(
        c"/proc/self/uid_map".as_ptr() as usize,
        uid_map.ptr as usize,
        uid_map.len,
    )
}

/// `prctl(option, a, b, 0, 0)`: several options refuse non-zero unused arguments, so every
/// argument is passed.
fn prctl(option: i32, a: usize, b: usize) -> isize {
    // SAFETY: prctl with the options used here takes numbers only.
    #[allow(unsafe_code)]
    unsafe {
        syscall5(libc::SYS_prctl as usize, option as usize, a, b, 0, 0)
    }
}

fn write_file(path: usize, data: usize, len: usize) -> Result<(), i32> {
    let flags = libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOCTTY;
    // SAFETY: `path` is NUL-terminated and `data` holds `len` bytes (Op::WriteFile).
    #[allow(unsafe_code)]
    unsafe {
        let fd = check(syscall3(
            libc::SYS_openat as usize,
            AT_FDCWD,
            path,
            flags as usize,
        ))?;
        let written = check(syscall3(libc::SYS_write as usize, fd, data, len));
        let _ = sys::close(fd as i32);
        match written {
            Ok(n) if n == len => Ok(()),
            Ok(_) => Err(libc::EIO),
            Err(e) => Err(e),
        }
    }
}

fn loopback_up() -> Result<(), i32> {
    // struct ifreq: 16-byte name, then a union whose first member is the short flags.
    let mut ifr = [0u8; 40];
    ifr[0] = b'l';
    ifr[1] = b'o';
    let kind = libc::SOCK_DGRAM | libc::SOCK_CLOEXEC;
    // SAFETY: socket/ioctl on numbers and on a local, writable ifreq-sized buffer.
    #[allow(unsafe_code)]
    unsafe {
        let fd = check(syscall3(
            libc::SYS_socket as usize,
            libc::AF_INET as usize,
            kind as usize,
            0,
        ))?;
        let mut result = check(syscall3(
            libc::SYS_ioctl as usize,
            fd,
            libc::SIOCGIFFLAGS as usize,
            ifr.as_mut_ptr() as usize,
        ));
        if result.is_ok() {
            let flags =
                u16::from_ne_bytes([ifr[16], ifr[17]]) | (libc::IFF_UP | libc::IFF_RUNNING) as u16;
            let [lo, hi] = flags.to_ne_bytes();
            ifr[16] = lo;
            ifr[17] = hi;
            result = check(syscall3(
                libc::SYS_ioctl as usize,
                fd,
                libc::SIOCSIFFLAGS as usize,
                ifr.as_ptr() as usize,
            ));
        }
        let _ = sys::close(fd as i32);
        result.map(|_| ())
    }
}

fn set_ids(uid: usize, gid: usize, clear_groups: bool) -> Result<(), i32> {
    // SAFETY: id calls on numbers; setgroups with size 0 reads no memory.
    #[allow(unsafe_code)]
    unsafe {
        if clear_groups {
            check(syscall2(libc::SYS_setgroups as usize, 0, 0))?;
        }
        check(syscall3(libc::SYS_setresgid as usize, gid, gid, gid))?;
        check(syscall3(libc::SYS_setresuid as usize, uid, uid, uid))?;
    }
    Ok(())
}

fn drop_bounding(keep: u64) -> Result<(), i32> {
    for cap in 0..64usize {
        if keep & (1 << cap) != 0 {
            continue;
        }
        match check(prctl(libc::PR_CAPBSET_DROP, cap, 0)) {
            Ok(_) => {}
            // Past the last capability this kernel knows.
            Err(libc::EINVAL) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn set_caps(mask: u64) -> Result<(), i32> {
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let header: [u32; 2] = [LINUX_CAPABILITY_VERSION_3, 0];
    // Two cap_user_data_t records (bits 0-31, 32-63): effective, permitted, inheritable.
    let mut now = [0u32; 6];
    // SAFETY: header and data are local arrays of the sizes capget(2) uses for version 3.
    #[allow(unsafe_code)]
    check(unsafe {
        syscall2(
            libc::SYS_capget as usize,
            header.as_ptr() as usize,
            now.as_mut_ptr() as usize,
        )
    })?;
    // Keep only what the child holds: asking for a capability outside the permitted set
    // is EPERM, and "keep" never means "gain".
    let permitted = u64::from(now[1]) | (u64::from(now[4]) << 32);
    let mask = mask & permitted;
    let (lo, hi) = (mask as u32, (mask >> 32) as u32);
    let data: [u32; 6] = [lo, lo, lo, hi, hi, hi];
    // SAFETY: as above, for capset(2).
    #[allow(unsafe_code)]
    let r = unsafe {
        syscall2(
            libc::SYS_capset as usize,
            header.as_ptr() as usize,
            data.as_ptr() as usize,
        )
    };
    check(r).map(|_| ())
}

fn raise_ambient(mask: u64) -> Result<(), i32> {
    check(prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as usize,
        0,
    ))?;
    for cap in 0..64usize {
        if mask & (1 << cap) != 0 {
            match check(prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE as usize,
                cap,
            )) {
                // Not permitted (SetCaps kept only what the child held): nothing to raise.
                Ok(_) | Err(libc::EPERM) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// Where the program child of [`fork_init`] picks the plan up.
struct Continue<'a> {
    plan: &'a Plan,
    next: usize,
    gate: [i32; 2],
}

/// Entry of the program child created with CLONE_VM: waits for the init to give up its
/// privileges, then runs the rest of the plan on its own stack and execs.
unsafe extern "C" fn program_entry(arg: *mut core::ffi::c_void) -> i32 {
    // SAFETY: `arg` is the Continue in fork_init's frame, which never returns (the init
    // loops there for ever), so it lives as long as this child reads it.
    let cont = unsafe { &*(arg as *const Continue<'_>) };
    wait_for_init(cont.gate);
    crate::exec::run_from(cont.plan, cont.next)
}

/// The program waits on the gate until the init has made itself harmless (the init closes
/// the write end once it is done): no instant exists at which the program runs beside an
/// init that still holds capabilities or fds.
fn wait_for_init(gate: [i32; 2]) {
    let _ = sys::close(gate[1]);
    let mut byte = [0u8; 1];
    while let Err(libc::EINTR) = sys::read(gate[0], &mut byte) {}
    let _ = sys::close(gate[0]);
}

/// Creates the program's process; the calling process never returns: it becomes the init
/// described on [`Op::ForkInit`]. With a program stack (its top), the program child is made
/// with CLONE_VM and continues the plan there (no page tables are copied); without, it is a
/// plain fork that returns `Ok(())` here and goes on. Either way it waits until the init has
/// given up what it does not need.
pub fn fork_init(plan: &Plan, index: usize, program_stack: u64) -> Result<(), i32> {
    // Not dumpable before the program exists, so that there is no moment at which the
    // program can ptrace the init or open its /proc/PID/mem or fds: the program shares
    // this memory (and so this flag) only until its exec, which makes it dumpable again.
    check(prctl(libc::PR_SET_DUMPABLE, 0, 0))?;
    // An inherited "ignore SIGCHLD" would make the kernel reap the program itself, and the
    // init would wait for it forever. Reset it before the program exists: setting SIG_DFL
    // also discards a pending SIGCHLD, which must not be the program's.
    let dfl = [0usize; 4];
    // SAFETY: a SIG_DFL action from a local array of the kernel's sigaction size.
    #[allow(unsafe_code)]
    let _ = unsafe {
        syscall4(
            libc::SYS_rt_sigaction as usize,
            libc::SIGCHLD as usize,
            dfl.as_ptr() as usize,
            0,
            8,
        )
    };
    let mut gate = [-1i32; 2];
    // SAFETY: pipe2 fills the two-int array.
    #[allow(unsafe_code)]
    check(unsafe {
        syscall2(
            libc::SYS_pipe2 as usize,
            gate.as_mut_ptr() as usize,
            libc::O_CLOEXEC as usize,
        )
    })?;
    let pid = if program_stack != 0 {
        let cont = Continue {
            plan,
            next: index + 1,
            gate,
        };
        let flags = libc::CLONE_VM | libc::SIGCHLD;
        // SAFETY: program_stack is the top of a stack of this process's memory that nothing
        // else uses; `cont` lives in this frame, which never returns (init_loop below).
        #[allow(unsafe_code)]
        let ret = unsafe {
            sys::clone_entry(
                libc::SYS_clone as usize,
                flags as usize,
                program_stack as usize,
                0,
                0,
                0,
                program_entry,
                &cont as *const Continue<'_> as *mut core::ffi::c_void,
            )
        };
        let pid = check(ret)?;
        // The init never leaves this frame, so `cont` stays where the program reads it.
        harden_and_open_gate();
        init_loop(pid as i32)
    } else {
        // SAFETY: a plain fork (no CLONE_VM, no new stack): the child continues on its own
        // copy of this stack, running only this crate's allocation-free code.
        #[allow(unsafe_code)]
        let pid = check(unsafe {
            syscall5(libc::SYS_clone as usize, libc::SIGCHLD as usize, 0, 0, 0, 0)
        })?;
        if pid == 0 {
            wait_for_init(gate);
            return Ok(());
        }
        pid
    };
    harden_and_open_gate();
    init_loop(pid as i32)
}

/// The init, once the program's process exists: gives up its privileges, then closes every
/// fd it holds — the program's report channel (whose EOF tells the parent the program has
/// exec'd) and the gate's write end, which lets the program go on.
fn harden_and_open_gate() {
    if harden_init().is_err() {
        // An init that could not give up its privileges ends, and the kernel ends the
        // namespace with it: the program never runs beside a stronger PID 1.
        sys::exit_group(crate::EXIT_SETUP_FAILED)
    }
    // SAFETY: close_range on numbers.
    #[allow(unsafe_code)]
    let _ = unsafe { syscall3(libc::SYS_close_range as usize, 3, u32::MAX as usize, 0) };
}

/// The init lives as long as the sandbox beside a program that may be hostile, so it keeps
/// nothing it does not use: it is not dumpable (set in [`fork_init`] before the program
/// exists: no ptrace, no /proc/1/mem or fds; its memory belongs to the user namespace
/// cleave ran in, where the program has no capability), its only capability is CAP_KILL
/// (to forward signals to a program that changed its uid), and no_new_privs is set. It
/// never execs, so the bounding and ambient sets do not matter.
fn harden_init() -> Result<(), i32> {
    const CAP_KILL: u64 = 5;
    set_caps(1 << CAP_KILL)?;
    check(prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0))?;
    Ok(())
}

/// Waits for signals (all are blocked: the parent blocked them around clone and the init
/// never restores them, so each one queues instead of being dropped the way a PID-1 process
/// drops signals it has no handler for). SIGCHLD reaps every zombie; any other signal goes
/// to the program. When the program ends, the init exits with its code, or 128+N when
/// signal N killed it; the kernel then kills whatever is left in the namespace.
fn init_loop(program: i32) -> ! {
    let all: u64 = !0;
    let mut info = [0u64; 16]; // siginfo_t is 128 bytes
    loop {
        // SAFETY: the set and info buffers are local and of the sizes the kernel uses.
        #[allow(unsafe_code)]
        let sig = unsafe {
            syscall4(
                libc::SYS_rt_sigtimedwait as usize,
                &all as *const u64 as usize,
                info.as_mut_ptr() as usize,
                0,
                8,
            )
        };
        let Ok(sig) = check(sig) else { continue };
        let sig = sig as i32;
        // si_code, the third int of siginfo_t: SI_KERNEL for a terminal's signal, which the
        // kernel also gave the program (same process group): forwarding it would double it.
        let code = info[1] as u32 as i32;
        if sig != libc::SIGCHLD && code == libc::SI_KERNEL {
            continue;
        }
        if sig != libc::SIGCHLD {
            // SAFETY: kill on numbers.
            #[allow(unsafe_code)]
            let _ = unsafe { syscall2(libc::SYS_kill as usize, program as usize, sig as usize) };
            continue;
        }
        loop {
            let mut status: i32 = 0;
            // SAFETY: `status` is a local, writable int.
            #[allow(unsafe_code)]
            let reaped = unsafe {
                syscall4(
                    libc::SYS_wait4 as usize,
                    usize::MAX, // -1: any child
                    &mut status as *mut i32 as usize,
                    (libc::WNOHANG | libc::__WALL) as usize,
                    0,
                )
            };
            match check(reaped) {
                Ok(0) | Err(_) => break,
                Ok(pid) if pid as i32 == program => {
                    let code = if status & 0x7f == 0 {
                        (status >> 8) & 0xff
                    } else {
                        128 + (status & 0x7f)
                    };
                    sys::exit_group(code)
                }
                Ok(_) => {}
            }
        }
    }
}
