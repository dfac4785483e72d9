//! Seed 001, Section E: CLONE_NEWNS. A mount made in the child is invisible to the parent.
//! The child first makes its mounts private (as `unshare --mount` does), since a shared root
//! would propagate the new mount back to the parent's namespace.
use cleave::{CloneFlags, Fork};
use std::ffi::CString;

fn mounted_in_self(dir: &str) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split_whitespace().nth(4) == Some(dir))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("cleave-newns-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let dir_s = dir.to_str().ok_or("non-UTF-8 temp dir")?.to_string();
    let mut flags = CloneFlags::NEWNS;
    // SAFETY: geteuid has no side effects.
    if unsafe { libc::geteuid() } != 0 {
        flags |= CloneFlags::NEWUSER;
    }
    let c_dir = CString::new(dir_s.clone())?;
    let mut child = Fork::new().flags(flags).spawn(|| {
        let none = std::ptr::null::<libc::c_char>();
        // SAFETY: valid NUL-terminated strings or nulls, as mount(2) takes them.
        unsafe {
            if libc::mount(
                none,
                c"/".as_ptr(),
                none,
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ) != 0
                || libc::mount(
                    c"tmpfs".as_ptr(),
                    c_dir.as_ptr(),
                    c"tmpfs".as_ptr(),
                    0,
                    std::ptr::null(),
                ) != 0
            {
                eprintln!("mount: {}", std::io::Error::last_os_error());
                return 1;
            }
        }
        let _ = std::fs::write(format!("{dir_s}/inside"), "made in the child\n");
        println!(
            "[Child] tmpfs mounted on {dir_s}: in my mount table = {}, files = {:?}",
            mounted_in_self(&dir_s),
            std::fs::read_dir(&dir_s)
                .map(|d| d
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name())
                    .collect::<Vec<_>>())
                .unwrap_or_default()
        );
        0
    })?;
    let status = child.wait()?;
    let files: Vec<_> = std::fs::read_dir(&dir)?.filter_map(|e| e.ok()).collect();
    println!(
        "[Parent] {}: in my mount table = {}, files = {} (the child's mount is invisible)",
        dir.display(),
        mounted_in_self(&dir.to_string_lossy()),
        files.len()
    );
    std::fs::remove_dir(&dir)?;
    std::process::exit(status.shell_code());
}
