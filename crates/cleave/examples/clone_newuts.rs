//! Seed 001, Example 3: CLONE_NEWUTS. The child sets its own hostname; the parent's is
//! unchanged. As root the flag is used alone, as in the seed; unprivileged, CLONE_NEWUSER is
//! added, which grants the CAP_SYS_ADMIN that sethostname needs.
use cleave::{CloneFlags, Fork};

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is writable for its length.
    unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

fn main() -> Result<(), cleave::Error> {
    println!("[Parent] hostname before = '{}'", hostname());
    let mut flags = CloneFlags::NEWUTS;
    // SAFETY: geteuid has no side effects.
    if unsafe { libc::geteuid() } != 0 {
        flags |= CloneFlags::NEWUSER;
    }
    let new_hostname = "my-container-host";
    let mut child = Fork::new().flags(flags).spawn(|| {
        // SAFETY: a valid buffer and its length.
        if unsafe { libc::sethostname(new_hostname.as_ptr().cast(), new_hostname.len()) } != 0 {
            eprintln!("sethostname: {}", std::io::Error::last_os_error());
            return 1;
        }
        println!("[Child] hostname = '{}'", hostname());
        0
    })?;
    let status = child.wait()?;
    println!("[Parent] hostname after = '{}' (unchanged)", hostname());
    std::process::exit(status.shell_code());
}
