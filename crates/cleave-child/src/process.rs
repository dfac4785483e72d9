//! What the program's process gets last, after its ids and capabilities: supplementary
//! groups, the umask, a controlling terminal, and the start barrier an OCI runtime's
//! `create`/`start` split waits on. Same rules as ops.rs: no libc, no allocation.
use crate::exec::note;
use crate::plan::{Bytes, Notes, Plan};
use crate::sys::{self, borrow, errno};

/// [`crate::Op::SetGroups`].
pub fn set_groups(groups: Bytes) -> Result<(), i32> {
    let groups: &[rustix::thread::Gid] = if groups.len < 4 {
        &[]
    } else {
        // SAFETY: `groups` holds `len` bytes, 8-byte aligned, that the parent keeps alive
        // until exec (Op's contract): `len / 4` gids, and a Gid is a transparent u32.
        unsafe { core::slice::from_raw_parts(groups.ptr.cast(), groups.len / 4) }
    };
    rustix::thread::set_thread_groups(groups).map_err(errno)
}

/// [`crate::Op::Umask`]: umask(2) cannot fail.
pub fn umask(mask: u32) -> Result<(), i32> {
    let _ = rustix::process::umask(rustix::fs::Mode::from_raw_mode(mask & 0o777));
    Ok(())
}

/// [`crate::Op::ControllingTerminal`]: TIOCSCTTY with 0 (do not steal it from another
/// session).
pub fn controlling_terminal(fd: i32) -> Result<(), i32> {
    rustix::process::ioctl_tiocsctty(borrow(fd)?).map_err(errno)
}

/// Whether the child still needs `fd` after its last setup step: a stdio source, an fd
/// to keep, the report channel, or `also`.
fn still_needed(plan: &Plan, fd: i32, also: i32) -> bool {
    if fd == also || fd == plan.report_fd || plan.stdio.contains(&fd) {
        return true;
    }
    (0..plan.n_keep_fds).any(|i| {
        // SAFETY: `keep_fds` holds `n_keep_fds` elements (Plan's contract).
        unsafe { *plan.keep_fds.add(i) == fd }
    })
}

/// Closes every fd above 2 that the child no longer needs ([`still_needed`]), now rather
/// than at exec: the smallest needed fd above `lo` bounds each close_range.
fn close_unneeded(plan: &Plan, also: i32) -> Result<(), i32> {
    let mut lo: i32 = 3;
    loop {
        let mut next: Option<i32> = None;
        let mut consider = |fd: i32| {
            if fd >= lo && still_needed(plan, fd, also) && next.is_none_or(|n| fd < n) {
                next = Some(fd);
            }
        };
        consider(also);
        consider(plan.report_fd);
        plan.stdio.iter().for_each(|&fd| consider(fd));
        for i in 0..plan.n_keep_fds {
            // SAFETY: `keep_fds` holds `n_keep_fds` elements (Plan's contract).
            consider(unsafe { *plan.keep_fds.add(i) });
        }
        let hi = match next {
            Some(n) => n as u32 as usize,
            None => u32::MAX as usize + 1,
        };
        if hi > lo as usize {
            // `hi - 1` is at most u32::MAX: `hi` is a fd above `lo` or u32::MAX + 1.
            sys::close_range(lo as u32, (hi - 1) as u32, 0)?;
        }
        match next.and_then(|n| n.checked_add(1)) {
            Some(after) => lo = after,
            None => return Ok(()),
        }
    }
}

/// [`crate::Op::WaitForStart`]. Every fd the program would lose at exec is closed first,
/// so that while it waits it holds nothing of the caller's (in particular not the other
/// end of the barrier, whose closing is a go-ahead too).
pub fn wait_for_start(plan: &Plan, fd: i32) -> Result<(), i32> {
    if plan.close_other_fds && !plan.fd_table_shared {
        close_unneeded(plan, fd)?;
    }
    note(plan, Notes::WAITING_FOR_START);
    let mut byte = [0u8; 1];
    loop {
        match sys::read(fd, &mut byte) {
            // A byte, or end-of-file: go.
            Ok(_) => break,
            Err(libc::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
    if !plan.fd_table_shared {
        sys::close(fd);
    }
    Ok(())
}
