//! Steps that give a program another process's security context (`cleave enter`): exact
//! capability sets and a copied seccomp filter. Same rules as ops.rs: raw system calls only.
use crate::sys::{check, syscall2, syscall3, syscall5};

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// `capset` with the three sets given, each narrowed first to what the caller holds: the
/// permitted set to the current permitted set, effective to the new permitted set, and
/// inheritable to what capset(2) allows (current inheritable or permitted, within the
/// bounding set).
pub fn set_cap_sets(effective: u64, permitted: u64, inheritable: u64) -> Result<(), i32> {
    let header: [u32; 2] = [LINUX_CAPABILITY_VERSION_3, 0];
    // Two cap_user_data_t records (bits 0-31, 32-63): effective, permitted, inheritable.
    let mut now = [0u32; 6];
    // SAFETY: header and data are local arrays of the sizes capget(2) uses for version 3.
    check(unsafe {
        syscall2(
            libc::SYS_capget as usize,
            header.as_ptr() as usize,
            now.as_mut_ptr() as usize,
        )
    })?;
    let old_p = u64::from(now[1]) | (u64::from(now[4]) << 32);
    let old_i = u64::from(now[2]) | (u64::from(now[5]) << 32);
    let mut bounding = 0u64;
    for cap in 0..64usize {
        // SAFETY: prctl on numbers.
        let r = unsafe {
            syscall5(
                libc::SYS_prctl as usize,
                libc::PR_CAPBSET_READ as usize,
                cap,
                0,
                0,
                0,
            )
        };
        match check(r) {
            Ok(1) => bounding |= 1 << cap,
            Ok(_) => {}
            Err(_) => break, // past the last capability this kernel knows
        }
    }
    let p = permitted & old_p;
    let e = effective & p;
    let i = inheritable & (old_i | old_p) & (old_i | bounding);
    let data: [u32; 6] = [
        e as u32,
        p as u32,
        i as u32,
        (e >> 32) as u32,
        (p >> 32) as u32,
        (i >> 32) as u32,
    ];
    // SAFETY: as above, for capset(2).
    check(unsafe {
        syscall2(
            libc::SYS_capset as usize,
            header.as_ptr() as usize,
            data.as_ptr() as usize,
        )
    })
    .map(|_| ())
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, 0, &prog)` for the `len` instructions at `filter`.
pub fn seccomp_filter(filter: usize, len: usize) -> Result<(), i32> {
    // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
    #[repr(C)]
    struct Prog {
        len: u16,
        filter: usize,
    }
    let Ok(len) = u16::try_from(len) else {
        return Err(libc::EINVAL);
    };
    let prog = Prog { len, filter };
    // SAFETY: `prog` is a local sock_fprog; `filter` holds `len` instructions that the parent
    // keeps alive until exec (Op::SeccompFilter).
    check(unsafe {
        syscall3(
            libc::SYS_seccomp as usize,
            libc::SECCOMP_SET_MODE_FILTER as usize,
            0,
            &prog as *const Prog as usize,
        )
    })
    .map(|_| ())
}
