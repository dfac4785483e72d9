//! Steps that give a program another process's security context (`cleave enter`): exact
//! capability sets and a copied seccomp filter. Same rules as ops.rs: no libc, no allocation.
use crate::sys::{check, errno, syscall3};
use rustix::thread::{CapabilitySet, CapabilitySets};

/// `capset` with the three sets given, each narrowed first to what the caller holds: the
/// permitted set to the current permitted set, effective to the new permitted set, and
/// inheritable to what capset(2) allows (current inheritable or permitted, within the
/// bounding set).
pub fn set_cap_sets(effective: u64, permitted: u64, inheritable: u64) -> Result<(), i32> {
    let now = rustix::thread::capabilities(None).map_err(errno)?;
    let (old_p, old_i) = (now.permitted.bits(), now.inheritable.bits());
    let mut bounding = 0u64;
    for cap in 0..64usize {
        let one = CapabilitySet::from_bits_retain(1 << cap);
        match rustix::thread::capability_is_in_bounding_set(one) {
            Ok(true) => bounding |= 1 << cap,
            Ok(false) => {}
            Err(_) => break, // past the last capability this kernel knows
        }
    }
    let p = permitted & old_p;
    let e = effective & p;
    let i = inheritable & (old_i | old_p) & (old_i | bounding);
    let sets = CapabilitySets {
        effective: CapabilitySet::from_bits_retain(e),
        permitted: CapabilitySet::from_bits_retain(p),
        inheritable: CapabilitySet::from_bits_retain(i),
    };
    rustix::thread::set_capabilities(None, sets).map_err(errno)
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
    // rustix lacks seccomp.
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
