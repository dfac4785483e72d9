//! The parser, checked on command lines bubblewrap reads the same way.
use super::*;

fn p(words: &[&str]) -> Result<Invocation, Usage> {
    parse(words.iter().map(OsString::from).collect(), &mut |fd| {
        Ok(match fd {
            7 => split_args(b"--unshare-pid\0--ro-bind\0/usr\0/usr\0"),
            8 => split_args(b"--args\x008\0"),
            _ => return Err(format!("--args {fd}: unreadable")),
        })
    })
}

#[test]
fn ops_keep_argv_order_and_perms_attach_to_the_next() {
    let inv = p(&[
        "--ro-bind",
        "/usr",
        "/usr",
        "--perms",
        "0700",
        "--size",
        "4096",
        "--tmpfs",
        "/tmp",
        "--symlink",
        "usr/lib",
        "/lib",
        "--",
        "sh",
        "-c",
        "x",
    ])
    .unwrap_or_else(|e| panic!("{}", e.0));
    assert_eq!(inv.ops.len(), 3);
    assert_eq!(
        inv.ops[1],
        FsOp::Tmpfs {
            dst: "/tmp".into(),
            perms: Some(0o700),
            size: Some(4096)
        }
    );
    assert_eq!(inv.op_words[2], "--symlink usr/lib /lib");
    assert_eq!(inv.command, ["sh", "-c", "x"]);
}

#[test]
fn the_first_word_that_is_not_an_option_starts_the_program() {
    let inv = p(&["--unshare-pid", "true", "--unshare-net"]).unwrap_or_else(|e| panic!("{}", e.0));
    assert!(inv.unshare.pid && !inv.unshare.net);
    assert_eq!(inv.command, ["true", "--unshare-net"]);
}

#[test]
fn args_fd_is_spliced_in_place_and_bounded() {
    let inv = p(&["--args", "7", "--unshare-uts", "true"]).unwrap_or_else(|e| panic!("{}", e.0));
    assert!(inv.unshare.pid && inv.unshare.uts);
    assert_eq!(inv.ops.len(), 1);
    assert_eq!(inv.command, ["true"]);
    assert!(p(&["--args", "8", "true"])
        .unwrap_err()
        .0
        .contains("nested"));
    assert!(p(&["--args", "9", "true"])
        .unwrap_err()
        .0
        .contains("unreadable"));
}

#[test]
fn refusals_name_the_option() {
    assert!(p(&["--perms", "0700", "--ro-bind", "/", "/", "true"])
        .unwrap_err()
        .0
        .starts_with("--perms"));
    assert!(p(&["--size", "10", "--dir", "/x", "true"])
        .unwrap_err()
        .0
        .starts_with("--size"));
    assert_eq!(
        p(&["--ro-bind", "/"]).unwrap_err().0,
        "--ro-bind takes two arguments"
    );
    assert!(p(&["--frob", "true"])
        .unwrap_err()
        .0
        .starts_with("unknown option --frob"));
    assert!(p(&["--uid", "x", "true"])
        .unwrap_err()
        .0
        .starts_with("--uid x"));
    assert!(p(&["--perms", "9", "--dir", "/x", "true"])
        .unwrap_err()
        .0
        .starts_with("--perms 9"));
    assert!(p(&["--overlay", "/a", "/b", "/c", "true"])
        .unwrap_err()
        .0
        .contains("--overlay-src"));
}

#[test]
fn environment_changes_stay_in_order() {
    let inv = p(&[
        "--setenv",
        "A",
        "1",
        "--unsetenv",
        "A",
        "--clearenv",
        "true",
    ])
    .unwrap_or_else(|e| panic!("{}", e.0));
    assert_eq!(
        inv.env,
        [
            EnvOp::Set("A".into(), "1".into()),
            EnvOp::Unset("A".into()),
            EnvOp::Clear
        ]
    );
}

#[test]
fn args_files_split_on_nul() {
    assert_eq!(split_args(b"a\0b c\0"), ["a", "b c"]);
    assert_eq!(split_args(b"a\0b"), ["a", "b"]);
    assert!(split_args(b"").is_empty());
}
