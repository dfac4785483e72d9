use super::*;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier};

/// A fresh root directory under the system's temporary directory, removed when dropped.
struct Root(PathBuf);

impl Root {
    fn new() -> Root {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "cleave-state-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        Root(p)
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sample(id: &str) -> State {
    let mut s = State::new(id, "/bundles/b".into(), "/bundles/b/rootfs".into()).unwrap();
    s.annotations
        .insert("org.example/key".into(), "value".into());
    s.cgroup_path = Some("/machine/ctr".into());
    s.cgroup_dirs = vec!["/sys/fs/cgroup/machine/ctr".into()];
    s.namespaces.insert("net".into(), "/proc/1/ns/net".into());
    s
}

fn errno_of(e: &Error) -> Option<i32> {
    match e {
        Error::ContainerState { source, .. } => source.raw_os_error(),
        _ => None,
    }
}

#[test]
fn ids() {
    for ok in [
        "a",
        "ctr-1",
        "A_b+c.d",
        "..a",
        ".hidden",
        &"x".repeat(MAX_ID_LEN),
    ] {
        assert!(validate_id(ok).is_ok(), "{ok:?}");
    }
    for (bad, why) in [
        ("", IdError::Empty),
        (".", IdError::Dots),
        ("..", IdError::Dots),
        ("a/b", IdError::Byte(b'/')),
        ("../x", IdError::Byte(b'/')),
        ("a b", IdError::Byte(b' ')),
        ("a\0", IdError::Byte(0)),
        ("é", IdError::Byte(0xc3)),
        (
            &"x".repeat(MAX_ID_LEN + 1),
            IdError::TooLong(MAX_ID_LEN + 1),
        ),
    ] {
        match validate_id(bad) {
            Err(Error::ContainerId { why: got, .. }) => assert_eq!(got, why, "{bad:?}"),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    let e = validate_id("a/b").unwrap_err().to_string();
    assert_eq!(
        e,
        "container id \"a/b\": holds '/': use ASCII letters, digits, '_', '+', '-' and '.'"
    );
    // Every entry point refuses a bad id before touching the disk.
    let root = Root::new();
    assert!(matches!(
        load(&root.0, "../etc"),
        Err(Error::ContainerId { .. })
    ));
    assert!(matches!(
        lock(&root.0, ".."),
        Err(Error::ContainerId { .. })
    ));
    assert!(matches!(
        remove(&root.0, "a/b"),
        Err(Error::ContainerId { .. })
    ));
    assert!(!root.0.exists());
}

#[test]
fn times() {
    let at = |s: u64, ns: u32| rfc3339(UNIX_EPOCH + std::time::Duration::new(s, ns));
    assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000000Z");
    assert_eq!(at(951_782_400, 5), "2000-02-29T00:00:00.000000005Z");
    assert_eq!(at(1_709_210_096, 0), "2024-02-29T12:34:56.000000000Z");
    assert_eq!(
        at(4_102_444_799, 999_999_999),
        "2099-12-31T23:59:59.999999999Z"
    );
    let now = State::new("x", "/b".into(), "/r".into()).unwrap().created;
    assert_eq!(now.len(), "1970-01-01T00:00:00.000000000Z".len(), "{now}");
}

#[test]
fn create_load_list_save_remove() {
    let root = Root::new();
    assert!(
        list(&root.0).unwrap().is_empty(),
        "a missing root holds none"
    );
    let mut a = sample("a");
    let held = create(&root.0, &a).unwrap();
    // The id is taken while the creator holds the lock and after.
    assert_eq!(
        errno_of(&create(&root.0, &sample("a")).unwrap_err()),
        Some(libc::EEXIST)
    );
    assert!(
        try_lock(&root.0, "a").unwrap().is_none(),
        "the creator holds the lock"
    );
    drop(held);
    create(&root.0, &sample("b")).unwrap();
    let mode = std::fs::metadata(&root.0).unwrap().mode() & 0o777;
    assert_eq!(mode, 0o700);

    assert_eq!(load(&root.0, "a").unwrap(), a);
    a.status = Status::Paused;
    a.pid = 42;
    save(&root.0, &a).unwrap();
    assert_eq!(load(&root.0, "a").unwrap(), a);
    let text = std::fs::read_to_string(root.0.join("a").join(STATE_FILE)).unwrap();
    assert!(text.contains("\"status\":\"paused\""), "{text}");
    assert!(text.contains("\"org.example/key\":\"value\""), "{text}");

    let ids: Vec<String> = list(&root.0).unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(ids, ["a", "b"]);
    // Strangers in the root are not containers.
    std::fs::write(root.0.join("stray-file"), "x").unwrap();
    std::fs::create_dir(root.0.join("half-made")).unwrap();
    std::fs::create_dir(root.0.join("bad id")).unwrap();
    assert_eq!(list(&root.0).unwrap().len(), 2);

    // A lock's record must be its own.
    let l = lock(&root.0, "a").unwrap();
    assert!(matches!(
        l.save(&sample("b")),
        Err(Error::ContainerState {
            op: StateOp::Write,
            ..
        })
    ));
    drop(l);

    remove(&root.0, "a").unwrap();
    assert!(!root.0.join("a").exists());
    assert_eq!(
        errno_of(&load(&root.0, "a").unwrap_err()),
        Some(libc::ENOENT)
    );
    assert_eq!(
        errno_of(&lock(&root.0, "a").unwrap_err()),
        Some(libc::ENOENT)
    );
    assert_eq!(
        errno_of(&remove(&root.0, "a").unwrap_err()),
        Some(libc::ENOENT)
    );
    assert_eq!(list(&root.0).unwrap().len(), 1);
}

#[test]
fn unreadable_records_are_refused_not_misread() {
    let root = Root::new();
    drop(create(&root.0, &sample("c")).unwrap());
    let file = root.0.join("c").join(STATE_FILE);
    let good = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, good.replace("\"format\":1", "\"format\":99")).unwrap();
    let e = load(&root.0, "c").unwrap_err().to_string();
    assert!(e.contains("newer than this library's"), "{e}");
    std::fs::write(&file, good.replace("\"id\":\"c\"", "\"id\":\"d\"")).unwrap();
    let e = load(&root.0, "c").unwrap_err().to_string();
    assert!(e.contains("names container \"d\""), "{e}");
    std::fs::write(&file, &good[..good.len() / 2]).unwrap();
    let e = load(&root.0, "c").unwrap_err();
    assert!(
        matches!(
            e,
            Error::ContainerState {
                op: StateOp::Read,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        list(&root.0).is_err(),
        "a damaged record is reported, not skipped"
    );
}

/// Threads, each with its own lock (its own open file description, as separate processes
/// have), increment a counter in the record. Without the lock, read-modify-write cycles
/// interleave and increments are lost; with it, none is.
#[test]
fn the_lock_serializes_read_modify_write() {
    const THREADS: u32 = 8;
    const ROUNDS: u32 = 40;
    let root = Arc::new(Root::new());
    drop(create(&root.0, &sample("race")).unwrap());
    let start = Arc::new(Barrier::new(THREADS as usize));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (root, start) = (Arc::clone(&root), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                for _ in 0..ROUNDS {
                    let l = lock(&root.0, "race").unwrap();
                    let mut s = l.load().unwrap();
                    let n: u32 = s.annotations.get("n").map_or(0, |v| v.parse().unwrap());
                    std::thread::yield_now();
                    s.annotations.insert("n".into(), (n + 1).to_string());
                    l.save(&s).unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let s = load(&root.0, "race").unwrap();
    assert_eq!(s.annotations["n"], (THREADS * ROUNDS).to_string());
}

/// A waiter blocked on the lock of a container that its holder removes gets ENOENT, not a
/// lock on a file that no longer names the container.
#[test]
fn removed_while_waiting() {
    let root = Arc::new(Root::new());
    let held = create(&root.0, &sample("gone")).unwrap();
    let waiter = {
        let root = Arc::clone(&root);
        std::thread::spawn(move || lock(&root.0, "gone").map(|_| ()))
    };
    // Let the waiter reach flock; whether it opened the lock file yet or not, it must fail.
    std::thread::sleep(std::time::Duration::from_millis(50));
    held.remove().unwrap();
    let e = waiter.join().unwrap().unwrap_err();
    assert_eq!(errno_of(&e), Some(libc::ENOENT), "{e}");
}

/// A writer that dies between writing the temporary file and renaming it leaves the old
/// record in place and readable; the leftover is ignored and the next save succeeds.
#[test]
fn crash_between_write_and_rename() {
    let root = Root::new();
    let mut s = sample("crash");
    drop(create(&root.0, &s).unwrap());
    let l = lock(&root.0, "crash").unwrap();
    let mut next = s.clone();
    next.status = Status::Running;
    let temp = l.write_temp(&next).unwrap();
    assert!(temp.exists());
    // The crash: the lock goes (as the kernel drops a dead holder's), no rename happens.
    drop(l);
    assert_eq!(load(&root.0, "crash").unwrap(), s, "the old record, whole");
    assert_eq!(list(&root.0).unwrap(), [s.clone()]);
    // A half-written leftover changes nothing either.
    std::fs::write(&temp, "{\"format\":1,\"id\":\"cra").unwrap();
    assert_eq!(load(&root.0, "crash").unwrap(), s);
    s.status = Status::Stopped;
    save(&root.0, &s).unwrap();
    assert_eq!(load(&root.0, "crash").unwrap(), s);
    assert!(!temp.exists(), "the save renamed its own temporary file");
}

#[test]
fn init_liveness_and_pid_reuse() {
    let mut s = sample("live");
    assert_eq!(s.status_now(), Status::Creating);
    s.set_init(std::process::id() as i32).unwrap();
    s.status = Status::Running;
    assert!(s.init_alive());
    assert_eq!(s.status_now(), Status::Running);
    // The same PID with another start time: another process that reused it.
    s.pid_start += 1;
    assert!(!s.init_alive());
    assert_eq!(s.status_now(), Status::Stopped);
    // A child that has exited and been reaped.
    let mut child = std::process::Command::new("sleep")
        .arg("1000")
        .spawn()
        .unwrap();
    let mut t = sample("gone");
    t.set_init(child.id() as i32).unwrap();
    t.status = Status::Created;
    assert_eq!(t.status_now(), Status::Created);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(t.status_now(), Status::Stopped);
    assert_eq!(Status::Paused.to_string(), "paused");
}
