//! What the program's process gets last, after its ids and capabilities: supplementary
//! groups, the umask, a controlling terminal, and the start barrier an OCI runtime's
//! `create`/`start` split waits on. Same rules as ops.rs: raw system calls only.
use crate::exec::note;
use crate::plan::{Bytes, Notes, Plan};
use crate::sys::{self, check, syscall1, syscall2, syscall3};

/// [`crate::Op::SetGroups`].
pub fn set_groups(groups: Bytes) -> Result<(), i32> {
    // SAFETY: `groups` holds `len` bytes, 8-byte aligned, that the parent keeps alive until
    // exec (Op's contract); setgroups reads `len / 4` gids from it.
    check(unsafe {
        syscall2(
            libc::SYS_setgroups as usize,
            groups.len / 4,
            groups.ptr as usize,
        )
    })
    .map(|_| ())
}

/// [`crate::Op::Umask`]: umask(2) cannot fail.
pub fn umask(mask: u32) -> Result<(), i32> {
    // SAFETY: umask on a number.
    let _ = unsafe { syscall1(libc::SYS_umask as usize, (mask & 0o777) as usize) };
    Ok(())
}

/// [`crate::Op::ControllingTerminal`].
pub fn controlling_terminal(fd: i32) -> Result<(), i32> {
    // SAFETY: TIOCSCTTY takes a number (0: do not steal it from another session).
    check(unsafe {
        syscall3(
            libc::SYS_ioctl as usize,
            fd as usize,
            libc::TIOCSCTTY as usize,
            0,
        )
    })
    .map(|_| ())
}

/// [`crate::Op::WaitForStart`].
pub fn wait_for_start(plan: &Plan, fd: i32) -> Result<(), i32> {
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
        let _ = sys::close(fd);
    }
    Ok(())
}
