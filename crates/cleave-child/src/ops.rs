//! The setup steps a child runs before exec, one raw system call (or a short fixed sequence)
//! each, and the minimal init that a PID namespace's first process becomes.
use crate::data;
use crate::fs;
use crate::plan::{Bytes, Op, Plan, Slot};
use crate::sys::{self, borrow, check, cstr, errno, syscall2, syscall4, syscall5};
use rustix::fs::OFlags;
use rustix::process::{DumpableBehavior, Resource, Rlimit, Signal};
use rustix::thread::{CapabilitySet, CapabilitySets, LinkNameSpaceType, UnshareFlags};

/// Runs one op (every one but [`Op::ForkInit`], which [`fork_init`] handles).
pub fn run_op(plan: &Plan, op: &Op) -> Result<(), i32> {
    match *op {
        Op::SetHostname { name } => {
            // SAFETY: the parent built `len` bytes at `ptr` for this op, alive until exec.
            let name = unsafe { bytes(name) };
            rustix::system::sethostname(name).map_err(errno)
        }
        Op::SetDomainname { name } => {
            // SAFETY: as for SetHostname.
            let name = unsafe { bytes(name) };
            rustix::system::setdomainname(name).map_err(errno)
        }
        // SAFETY: `path` is NUL-terminated and alive until exec (Op's contract).
        Op::Chdir { path } => rustix::process::chdir(unsafe { cstr(path.0) }).map_err(errno),
        // SAFETY: as for Chdir.
        Op::ChdirOrRoot { path } => match rustix::process::chdir(unsafe { cstr(path.0) }) {
            Ok(()) => Ok(()),
            Err(_) => {
                crate::exec::note(plan, crate::plan::Notes::CWD_FALLBACK);
                rustix::process::chdir(c"/").map_err(errno)
            }
        },
        Op::Propagation { flags } => {
            let flags = rustix::mount::MountPropagationFlags::from_bits_retain(flags as u32);
            rustix::mount::mount_change(c"/", flags).map_err(errno)
        }
        Op::OpenPath { path, flags, slot } => fs::open_path(plan, path, flags, slot),
        Op::CheckIdentity { slot, dev, ino } => fs::check_identity(plan, slot, dev, ino),
        Op::BindRoot { dir, root } => fs::bind_root(plan, dir, root),
        Op::Bind {
            src,
            root,
            dst,
            set,
            clear,
            recursive,
            keep,
        } => fs::bind(plan, (src, root, dst), (set, clear), recursive, keep),
        Op::FsMount {
            fstype,
            options,
            attrs,
            root,
            dst,
            keep,
        } => fs::fs_mount(plan, (fstype, options, attrs), (root, dst), keep),
        Op::MkdirAt {
            root,
            parent,
            name,
            mode,
        } => fs::mkdir_at(plan, (root, parent, name), mode),
        Op::CreateFileAt {
            root,
            parent,
            name,
            mode,
        } => fs::create_file_at(plan, (root, parent, name), mode),
        Op::SymlinkAt {
            root,
            parent,
            name,
            target,
        } => fs::symlink_at(plan, (root, parent, name), target),
        Op::SetAttrAt {
            root,
            path,
            set,
            clear,
            propagation,
            recursive,
        } => fs::set_attr_at(plan, (root, path), (set, clear, propagation), recursive),
        Op::MaskAt { root, path, empty } => fs::mask_at(plan, (root, path), empty),
        Op::ReadOnlyAt { root, path } => fs::read_only_at(plan, (root, path)),
        Op::PivotRoot { root } => fs::pivot_root(plan, root),
        Op::UnstackRoot { root, count } => fs::unstack_root(plan, root, count),
        Op::UnstackAt { root, dst, count } => fs::unstack_at(plan, root, dst, count),
        Op::CloseSlots { keep } => {
            fs::close_all(plan, keep);
            Ok(())
        }
        Op::OpenProc { slot } => crate::lock::open_proc(plan, slot),
        Op::WriteFile { path, data } => {
            // SAFETY: `path` is NUL-terminated and `data` holds `len` bytes, alive until exec.
            unsafe { write_file(cstr(path.0), bytes(data)) }
        }
        Op::WriteFd { fd, data } => {
            // SAFETY: `data` holds `len` bytes, alive until exec (Op's contract).
            let data = unsafe { bytes(data) };
            rustix::io::write(borrow(fd)?, data)
                .map(|_| ())
                .map_err(errno)
        }
        Op::SetNs { slot, nstype } => {
            let fd = borrow(fs::get(plan, slot)?)?;
            rustix::thread::move_into_link_name_space(fd, ns_type(nstype)?).map_err(errno)
        }
        Op::Unshare { flags } => unshare(flags as u32),
        Op::AssertNoUserNamespaces => match unshare(libc::CLONE_NEWUSER as u32) {
            Ok(()) => Err(libc::EEXIST),
            Err(_) => Ok(()),
        },
        Op::LockMounts {
            proc,
            uid_map,
            gid_map,
        } => crate::lock::lock_mounts(plan, proc, uid_map, gid_map),
        Op::LoopbackUp => loopback_up(),
        Op::SetRlimit {
            resource,
            soft,
            hard,
        } => {
            let limit = Rlimit {
                current: (soft != u64::MAX).then_some(soft),
                maximum: (hard != u64::MAX).then_some(hard),
            };
            rustix::process::prlimit(None, resource_of(resource)?, limit)
                .map(|_| ())
                .map_err(errno)
        }
        Op::Setsid => rustix::process::setsid().map(|_| ()).map_err(errno),
        Op::NoNewPrivs => rustix::thread::set_no_new_privs(true).map_err(errno),
        Op::ParentDeathSignal { signal, parent } => {
            let signal = match signal {
                0 => None,
                // SAFETY: a non-zero signal number the parent checked; it is only stored
                // for the kernel to send to this process, never used to alter a handler.
                n => Some(unsafe { Signal::from_raw_unchecked(n) }),
            };
            rustix::process::set_parent_process_death_signal(signal).map_err(errno)?;
            if parent != 0 && sys::getppid() != parent {
                Err(libc::ESRCH)
            } else {
                Ok(())
            }
        }
        Op::KeepCaps { keep } => rustix::thread::set_keep_capabilities(keep).map_err(errno),
        Op::SetIds {
            uid,
            gid,
            clear_groups,
        } => set_ids(uid, gid, clear_groups),
        Op::DropBounding { keep } => drop_bounding(keep),
        Op::SetCaps { mask } => set_caps(mask),
        Op::SetCapSets {
            effective,
            permitted,
            inheritable,
        } => crate::ops_extra::set_cap_sets(effective, permitted, inheritable),
        Op::Ambient { mask } => raise_ambient(mask),
        Op::SeccompFilter { filter } => {
            crate::ops_extra::seccomp_filter(filter.ptr as usize, filter.len / 8)
        }
        Op::NewSessionKeyring => {
            const KEYCTL_JOIN_SESSION_KEYRING: usize = 1;
            // rustix lacks keyctl.
            // SAFETY: keyctl(JOIN_SESSION_KEYRING, NULL) reads no memory.
            check(unsafe { syscall2(libc::SYS_keyctl as usize, KEYCTL_JOIN_SESSION_KEYRING, 0) })
                .map(|_| ())
        }
        // Handled by the executor before it calls run_op.
        Op::ForkInit { .. } => Err(libc::EINVAL),
        Op::SetGroups { groups } => crate::process::set_groups(groups),
        Op::Umask { mask } => crate::process::umask(mask),
        Op::ControllingTerminal { fd } => crate::process::controlling_terminal(fd),
        Op::WaitForStart { fd } => crate::process::wait_for_start(plan, fd),
        Op::MknodAt {
            root,
            parent,
            name,
            mode,
            dev,
            uid,
            gid,
        } => fs::mknod_at(plan, (root, parent, name), mode, dev, (uid, gid)),
        Op::OpenAt {
            root,
            path,
            flags,
            slot,
        } => fs::open_at(plan, (root, path), flags, slot),
        Op::CopyFileAt {
            root,
            parent,
            name,
            mode,
            uid,
            gid,
            fd,
        } => data::copy_file_at(plan, (root, parent, name), mode, (uid, gid), fd),
        Op::BindData {
            fd,
            mode,
            uid,
            gid,
            root,
            dst,
            set,
        } => data::bind_data(plan, (fd, mode, (uid, gid)), (root, dst), set),
        Op::ChmodAt { root, path, mode } => data::chmod_at(plan, (root, path), mode),
        Op::Overlay {
            lowers,
            upper,
            work,
            discard,
            attrs,
            root,
            dst,
            keep,
        } => {
            let upper = match (discard, upper) {
                (true, _) => data::Upper::Discarded,
                (false, Slot::MAX) => data::Upper::None,
                (false, u) => data::Upper::Dirs(u, work),
            };
            data::overlay(plan, lowers, upper, attrs, (root, dst, keep))
        }
    }
}

/// The `len` bytes at `ptr` as a slice.
///
/// # Safety
/// `b` points at `len` readable bytes that live, unchanged, for `'a`.
pub(crate) unsafe fn bytes<'a>(b: Bytes) -> &'a [u8] {
    if b.len == 0 {
        return &[];
    }
    // SAFETY: the caller's contract.
    unsafe { core::slice::from_raw_parts(b.ptr, b.len) }
}

/// The namespace type setns(2) should check, from its CLONE_NEW* number (0: any).
fn ns_type(nstype: u64) -> Result<Option<LinkNameSpaceType>, i32> {
    Ok(Some(match nstype as i32 {
        0 => return Ok(None),
        libc::CLONE_NEWNS => LinkNameSpaceType::Mount,
        libc::CLONE_NEWCGROUP => LinkNameSpaceType::ControlGroup,
        libc::CLONE_NEWUTS => LinkNameSpaceType::HostNameAndNISDomainName,
        libc::CLONE_NEWIPC => LinkNameSpaceType::InterProcessCommunication,
        libc::CLONE_NEWUSER => LinkNameSpaceType::User,
        libc::CLONE_NEWPID => LinkNameSpaceType::ProcessID,
        libc::CLONE_NEWNET => LinkNameSpaceType::Network,
        libc::CLONE_NEWTIME => LinkNameSpaceType::Time,
        // What the kernel answers for a type it does not know.
        _ => return Err(libc::EINVAL),
    }))
}

/// The resource prlimit(2) should set, from its RLIMIT_* number.
fn resource_of(n: u32) -> Result<Resource, i32> {
    Ok(match n {
        0 => Resource::Cpu,
        1 => Resource::Fsize,
        2 => Resource::Data,
        3 => Resource::Stack,
        4 => Resource::Core,
        5 => Resource::Rss,
        6 => Resource::Nproc,
        7 => Resource::Nofile,
        8 => Resource::Memlock,
        9 => Resource::As,
        10 => Resource::Locks,
        11 => Resource::Sigpending,
        12 => Resource::Msgqueue,
        13 => Resource::Nice,
        14 => Resource::Rtprio,
        15 => Resource::Rttime,
        // What the kernel answers past RLIM_NLIMITS.
        _ => return Err(libc::EINVAL),
    })
}

/// `unshare(flags)`.
fn unshare(flags: u32) -> Result<(), i32> {
    // SAFETY: the child is the only thread of its process here, so no other thread holds
    // fds that an unshared table (CLONE_FILES) would take away from it.
    unsafe { rustix::thread::unshare_unsafe(UnshareFlags::from_bits_retain(flags)) }.map_err(errno)
}

/// Writes `data` to the file at `path` in one write (a short write is EIO).
fn write_file(path: &core::ffi::CStr, data: &[u8]) -> Result<(), i32> {
    let flags = OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOCTTY;
    // rustix's openat asserts on the fd it returns (see sys::new_fd).
    // SAFETY: `path` is a NUL-terminated string.
    let fd = unsafe {
        sys::new_fd(
            libc::SYS_openat,
            libc::AT_FDCWD as isize as usize,
            path.as_ptr() as usize,
            flags.bits() as usize,
            0,
            0,
        )
    }?;
    let written = sys::write(fd, data);
    sys::close(fd);
    match written {
        Ok(n) if n == data.len() => Ok(()),
        Ok(_) => Err(libc::EIO),
        Err(e) => Err(e),
    }
}

/// Brings the loopback interface up: SIOCGIFFLAGS, then SIOCSIFFLAGS with IFF_UP|RUNNING.
fn loopback_up() -> Result<(), i32> {
    use rustix::ioctl::{ioctl, Opcode, Updater};
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    // struct ifreq: 16-byte name, then a union whose first member is the short flags.
    let mut ifr = [0u8; 40];
    ifr[0] = b'l';
    ifr[1] = b'o';
    let kind = SocketType::DGRAM.as_raw() | SocketFlags::CLOEXEC.bits();
    // rustix's socket asserts on the fd it returns (see sys::new_fd).
    // SAFETY: socket on numbers.
    let fd = unsafe {
        sys::new_fd(
            libc::SYS_socket,
            AddressFamily::INET.as_raw() as usize,
            kind as usize,
            0,
            0,
            0,
        )
    }?;
    let result = (|| {
        let sock = borrow(fd)?;
        // SAFETY: SIOCGIFFLAGS reads and fills a struct ifreq, which `ifr` is the size of.
        unsafe {
            ioctl(
                sock,
                Updater::<{ libc::SIOCGIFFLAGS as Opcode }, _>::new(&mut ifr),
            )
        }
        .map_err(errno)?;
        let flags =
            u16::from_ne_bytes([ifr[16], ifr[17]]) | (libc::IFF_UP | libc::IFF_RUNNING) as u16;
        let [lo, hi] = flags.to_ne_bytes();
        ifr[16] = lo;
        ifr[17] = hi;
        // SAFETY: SIOCSIFFLAGS reads a struct ifreq, which `ifr` is the size of.
        unsafe {
            ioctl(
                sock,
                Updater::<{ libc::SIOCSIFFLAGS as Opcode }, _>::new(&mut ifr),
            )
        }
        .map_err(errno)
    })();
    sys::close(fd);
    result
}

fn set_ids(uid: u32, gid: u32, clear_groups: bool) -> Result<(), i32> {
    use rustix::thread::{set_thread_groups, set_thread_res_gid, set_thread_res_uid};
    use rustix::thread::{Gid, Uid};
    if clear_groups {
        set_thread_groups(&[]).map_err(errno)?;
    }
    let gid = Gid::from_raw_unchecked(gid);
    set_thread_res_gid(gid, gid, gid).map_err(errno)?;
    let uid = Uid::from_raw_unchecked(uid);
    set_thread_res_uid(uid, uid, uid).map_err(errno)
}

/// The capability numbered `cap` as the one-bit set rustix takes.
fn cap(cap: usize) -> CapabilitySet {
    CapabilitySet::from_bits_retain(1 << cap)
}

fn drop_bounding(keep: u64) -> Result<(), i32> {
    for n in 0..64usize {
        if keep & (1 << n) != 0 {
            continue;
        }
        match rustix::thread::remove_capability_from_bounding_set(cap(n)).map_err(errno) {
            Ok(()) => {}
            // Past the last capability this kernel knows.
            Err(libc::EINVAL) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn set_caps(mask: u64) -> Result<(), i32> {
    let now = rustix::thread::capabilities(None).map_err(errno)?;
    // Keep only what the child holds: asking for a capability outside the permitted set
    // is EPERM, and "keep" never means "gain".
    let set = CapabilitySet::from_bits_retain(mask) & now.permitted;
    let sets = CapabilitySets {
        effective: set,
        permitted: set,
        inheritable: set,
    };
    rustix::thread::set_capabilities(None, sets).map_err(errno)
}

fn raise_ambient(mask: u64) -> Result<(), i32> {
    rustix::thread::clear_ambient_capability_set().map_err(errno)?;
    for n in 0..64usize {
        if mask & (1 << n) != 0 {
            match rustix::thread::configure_capability_in_ambient_set(cap(n), true).map_err(errno) {
                // Not permitted (SetCaps kept only what the child held): nothing to raise.
                Ok(()) | Err(libc::EPERM) => {}
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
    sys::close(gate[1]);
    let mut byte = [0u8; 1];
    while let Err(libc::EINTR) = sys::read(gate[0], &mut byte) {}
    sys::close(gate[0]);
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
    rustix::process::set_dumpable_behavior(DumpableBehavior::NotDumpable).map_err(errno)?;
    // An inherited "ignore SIGCHLD" would make the kernel reap the program itself, and the
    // init would wait for it forever. Reset it before the program exists: setting SIG_DFL
    // also discards a pending SIGCHLD, which must not be the program's.
    let dfl = [0usize; 4];
    // rustix lacks rt_sigaction outside its unstable runtime module.
    // SAFETY: a SIG_DFL action from a local array of the kernel's sigaction size.
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
    // rustix's pipe2 asserts on the fds it returns (see sys::new_fd).
    // SAFETY: pipe2 fills the two-int array.
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
        // Hand-written: clone with CLONE_VM and a new stack needs the trampoline.
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
        // rustix lacks clone (a fork without the C library's atfork handlers).
        // SAFETY: a plain fork (no CLONE_VM, no new stack): the child continues on its own
        // copy of this stack, running only this crate's allocation-free code.
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
    let _ = sys::close_range(3, u32::MAX, 0);
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
    rustix::thread::set_no_new_privs(true).map_err(errno)
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
        // rustix lacks rt_sigtimedwait outside its unstable runtime module.
        // SAFETY: the set and info buffers are local and of the sizes the kernel uses.
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
            if let Some(pid) = rustix::process::Pid::from_raw(program) {
                // SAFETY: a signal the kernel just delivered, passed on to the program; it
                // alters no handler of this process.
                let sig = unsafe { Signal::from_raw_unchecked(sig) };
                let _ = rustix::process::kill_process(pid, sig);
            }
            continue;
        }
        loop {
            let any = rustix::process::WaitOptions::NOHANG
                | rustix::process::WaitOptions::from_bits_retain(libc::__WALL as u32);
            match rustix::process::wait(any) {
                Ok(None) | Err(_) => break,
                Ok(Some((pid, status))) if pid.as_raw_nonzero().get() == program => {
                    let status = status.as_raw();
                    let code = if status & 0x7f == 0 {
                        (status >> 8) & 0xff
                    } else {
                        128 + (status & 0x7f)
                    };
                    sys::exit_group(code)
                }
                Ok(Some(_)) => {}
            }
        }
    }
}
