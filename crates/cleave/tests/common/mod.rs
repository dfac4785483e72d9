//! A single-threaded test runner: tests clone, so they must not run on libtest's threads.
//! A skip is counted and printed; with CI=true any skip fails the run.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub enum Outcome {
    Pass,
    Skip(String),
}

pub type TestResult = Result<Outcome, String>;
pub type TestFn = fn() -> TestResult;

pub fn pass() -> TestResult {
    Ok(Outcome::Pass)
}

pub fn skip(why: impl Into<String>) -> TestResult {
    Ok(Outcome::Skip(why.into()))
}

/// Fails the test with a message unless `cond`.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)*) => {
        if !$cond {
            return Err(format!("{}:{}: {}", file!(), line!(), format!($($fmt)*)));
        }
    };
}

/// Fails the test unless both sides are equal.
#[macro_export]
macro_rules! ensure_eq {
    ($a:expr, $b:expr) => {{
        let (a, b) = (&$a, &$b);
        if a != b {
            return Err(format!(
                "{}:{}: {} = {:?}, expected {} = {:?}",
                file!(),
                line!(),
                stringify!($a),
                a,
                stringify!($b),
                b
            ));
        }
    }};
}

pub fn run(tests: &[(&str, TestFn)]) {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for (name, test) in tests {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        print!("test {name} ... ");
        let _ = std::io::stdout().flush();
        match test() {
            Ok(Outcome::Pass) => {
                println!("ok");
                passed += 1;
            }
            Ok(Outcome::Skip(why)) => {
                println!(
                    "SKIPPED ({why}){}",
                    if ci { " - a failure under CI" } else { "" }
                );
                skipped += 1;
            }
            Err(msg) => {
                println!("FAILED\n    {msg}");
                failed += 1;
            }
        }
    }
    println!("\nresult: {passed} passed, {failed} failed, {skipped} skipped");
    if failed > 0 || (ci && skipped > 0) {
        std::process::exit(1);
    }
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no side effects.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `body` in a forked child as uid/gid 65534 (nobody) with no capabilities and returns
/// what it reported: `Ok(())` or the error text.
pub fn as_nobody(body: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    in_child(|| {
        // SAFETY: plain id changes in a single-threaded child.
        unsafe {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setresgid(65534, 65534, 65534) != 0
                || libc::setresuid(65534, 65534, 65534) != 0
            {
                return Err(format!(
                    "dropping to nobody: {}",
                    std::io::Error::last_os_error()
                ));
            }
        }
        body()
    })
}

/// Runs `body` in a forked child (via cleave's Fork) and returns its result.
pub fn in_child(body: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    let (r, w) = pipe();
    let (rfd, wfd) = (r.as_raw_fd(), w.as_raw_fd());
    let mut child = cleave::Fork::new()
        .spawn(move || {
            // SAFETY: closing the child's copy of the read end.
            unsafe { libc::close(rfd) };
            let result = body();
            let report = match &result {
                Ok(()) => "OK".as_bytes(),
                Err(e) => e.as_bytes(),
            };
            // SAFETY: a valid buffer on the child's copy of the write end.
            unsafe { libc::write(wfd, report.as_ptr().cast(), report.len()) };
            i32::from(result.is_err())
        })
        .map_err(|e| format!("fork: {e}"))?;
    drop(w);
    let mut out = String::new();
    let _ = std::fs::File::from(r).read_to_string(&mut out);
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.success() && out == "OK" {
        Ok(())
    } else if out.is_empty() {
        Err(format!("child ended with {status} without a report"))
    } else {
        Err(out)
    }
}

pub fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [-1; 2];
    // SAFETY: room for two fds.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: fresh fds owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// The nsfs inode of `/proc/<pid>/ns/<name>`.
pub fn ns_inode(pid: &str, name: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}/ns/{name}"))
        .map(|m| m.ino())
        .unwrap_or(0)
}

pub fn raw_fd_open(fd: i32) -> bool {
    // SAFETY: fcntl on a number.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

pub fn write_all(fd: &OwnedFd, data: &[u8]) {
    // SAFETY: valid buffer.
    unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
}
