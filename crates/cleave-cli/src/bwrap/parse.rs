//! bubblewrap 0.8's command line read as bubblewrap reads it: options in order, mount
//! operations kept in argv order, `--perms`/`--size` attached to the operation that follows,
//! `--args FD` spliced in where it stands, and the program from the first word that is not an
//! option (or after `--`).
use std::ffi::{OsStr, OsString};
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// How deep `--args` may nest (an `--args` file naming `--args` again).
const MAX_ARGS_DEPTH: usize = 8;

/// What a bind mount lets through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindKind {
    /// `--bind`: writable, devices refused.
    Rw,
    /// `--ro-bind`: read-only, devices refused.
    Ro,
    /// `--dev-bind`: writable, devices usable.
    Dev,
}

/// One filesystem operation, in argv order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FsOp {
    Bind {
        kind: BindKind,
        src: PathBuf,
        dst: PathBuf,
        optional: bool,
    },
    BindFd {
        fd: RawFd,
        dst: PathBuf,
        read_only: bool,
    },
    RemountRo(PathBuf),
    Proc(PathBuf),
    Dev(PathBuf),
    Tmpfs {
        dst: PathBuf,
        perms: Option<u32>,
        size: Option<u64>,
    },
    Mqueue(PathBuf),
    Dir {
        dst: PathBuf,
        perms: Option<u32>,
    },
    File {
        fd: RawFd,
        dst: PathBuf,
        perms: Option<u32>,
    },
    BindData {
        fd: RawFd,
        dst: PathBuf,
        read_only: bool,
        perms: Option<u32>,
    },
    Symlink {
        target: PathBuf,
        dst: PathBuf,
    },
    Overlay {
        /// The `--overlay-src` lower layers given before it, in order.
        lower: Vec<PathBuf>,
        /// `--overlay RWSRC WORKDIR DEST`: the upper and work directories; `None` for
        /// `--tmp-overlay` (a throw-away upper layer) and `--ro-overlay` (none).
        upper: Option<(PathBuf, PathBuf)>,
        /// `--tmp-overlay`.
        tmp: bool,
        dst: PathBuf,
    },
    Chmod {
        perms: u32,
        path: PathBuf,
    },
}

/// Which namespaces were asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unshare {
    pub user: bool,
    pub user_try: bool,
    pub ipc: bool,
    pub pid: bool,
    pub net: bool,
    pub uts: bool,
    pub cgroup: bool,
    pub cgroup_try: bool,
}

/// A change to the environment, applied in order to the caller's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvOp {
    Clear,
    Set(OsString, OsString),
    Unset(OsString),
}

/// A whole bubblewrap command line.
#[derive(Clone, Debug, Default)]
pub struct Invocation {
    pub help: bool,
    pub version: bool,
    pub unshare: Unshare,
    pub share_net: bool,
    pub userns: Option<RawFd>,
    pub userns2: Option<RawFd>,
    pub pidns: Option<RawFd>,
    pub disable_userns: bool,
    pub assert_userns_disabled: bool,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub hostname: Option<OsString>,
    pub chdir: Option<PathBuf>,
    pub env: Vec<EnvOp>,
    pub lock_files: Vec<PathBuf>,
    pub sync_fd: Option<RawFd>,
    pub ops: Vec<FsOp>,
    /// The words of each op as given, for error messages.
    pub op_words: Vec<String>,
    pub exec_label: Option<OsString>,
    pub file_label: Option<OsString>,
    pub seccomp: Option<RawFd>,
    pub add_seccomp: Vec<RawFd>,
    pub block_fd: Option<RawFd>,
    pub userns_block_fd: Option<RawFd>,
    pub info_fd: Option<RawFd>,
    pub json_status_fd: Option<RawFd>,
    pub new_session: bool,
    pub die_with_parent: bool,
    pub as_pid_1: bool,
    /// `--cap-add` (true) and `--cap-drop` (false) in order.
    pub caps: Vec<(bool, String)>,
    pub argv0: Option<OsString>,
    pub level_prefix: bool,
    pub command: Vec<OsString>,
}

/// A command line bubblewrap would refuse, in one line.
#[derive(Debug, PartialEq, Eq)]
pub struct Usage(pub String);

/// How many values each option takes (options absent here are unknown).
fn arity(option: &str) -> Option<usize> {
    Some(match option {
        "--help"
        | "--version"
        | "--unshare-all"
        | "--share-net"
        | "--unshare-user"
        | "--unshare-user-try"
        | "--unshare-ipc"
        | "--unshare-pid"
        | "--unshare-net"
        | "--unshare-uts"
        | "--unshare-cgroup"
        | "--unshare-cgroup-try"
        | "--disable-userns"
        | "--assert-userns-disabled"
        | "--clearenv"
        | "--new-session"
        | "--die-with-parent"
        | "--as-pid-1"
        | "--level-prefix" => 0,
        "--args" | "--userns" | "--userns2" | "--pidns" | "--uid" | "--gid" | "--hostname"
        | "--chdir" | "--unsetenv" | "--lock-file" | "--sync-fd" | "--remount-ro"
        | "--exec-label" | "--file-label" | "--proc" | "--dev" | "--tmpfs" | "--mqueue"
        | "--dir" | "--overlay-src" | "--tmp-overlay" | "--ro-overlay" | "--seccomp"
        | "--add-seccomp-fd" | "--block-fd" | "--userns-block-fd" | "--info-fd"
        | "--json-status-fd" | "--cap-add" | "--cap-drop" | "--perms" | "--size" | "--argv0" => 1,
        "--setenv" | "--bind" | "--bind-try" | "--dev-bind" | "--dev-bind-try" | "--ro-bind"
        | "--ro-bind-try" | "--bind-fd" | "--ro-bind-fd" | "--file" | "--bind-data"
        | "--ro-bind-data" | "--symlink" | "--chmod" => 2,
        "--overlay" => 3,
        _ => return None,
    })
}

fn plural(n: usize) -> &'static str {
    match n {
        1 => "one argument",
        2 => "two arguments",
        _ => "three arguments",
    }
}

/// Parses argv (without argv[0]); `read_args` reads an `--args FD` (its NUL-separated words).
pub fn parse(
    args: Vec<OsString>,
    read_args: &mut dyn FnMut(RawFd) -> Result<Vec<OsString>, String>,
) -> Result<Invocation, Usage> {
    let mut inv = Invocation::default();
    // Words still to read, in reverse order (an --args splices its words in front).
    let mut rest: Vec<(OsString, usize)> = args.into_iter().rev().map(|a| (a, 0)).collect();
    let mut perms: Option<u32> = None;
    let mut size: Option<u64> = None;
    let mut overlay_src: Vec<PathBuf> = Vec::new();
    while let Some((word, depth)) = rest.pop() {
        let text = word.to_string_lossy().into_owned();
        if text == "--" {
            break;
        }
        if !text.starts_with("--") {
            rest.push((word, depth));
            break;
        }
        let Some(n) = arity(&text) else {
            return Err(Usage(format!(
                "unknown option {text}: bubblewrap 0.8's options are listed by --help"
            )));
        };
        if rest.len() < n {
            return Err(Usage(format!("{text} takes {}", plural(n))));
        }
        let vals: Vec<OsString> = (0..n).filter_map(|_| rest.pop().map(|(w, _)| w)).collect();
        let path = |i: usize| PathBuf::from(&vals[i]);
        let fd = |i: usize| parse_fd(&text, &vals[i]);
        let s = |i: usize| vals[i].to_string_lossy().into_owned();
        // --perms and --size belong to the next option, which must be one that uses them.
        let takes_perms = matches!(
            text.as_str(),
            "--tmpfs" | "--dir" | "--file" | "--bind-data" | "--ro-bind-data"
        );
        if perms.is_some() && !takes_perms && text != "--size" {
            return Err(Usage(format!(
                "--perms must come just before an option that creates a file or directory (--tmpfs, --dir, --file, --bind-data, --ro-bind-data), not {text}"
            )));
        }
        if size.is_some() && text != "--tmpfs" && text != "--perms" {
            return Err(Usage(format!(
                "--size must come just before --tmpfs, not {text}"
            )));
        }
        let words = std::iter::once(text.clone())
            .chain(vals.iter().map(|v| v.to_string_lossy().into_owned()))
            .collect::<Vec<_>>()
            .join(" ");
        let op = |inv: &mut Invocation, op: FsOp| {
            inv.ops.push(op);
            inv.op_words.push(words.clone());
        };
        match text.as_str() {
            "--help" => inv.help = true,
            "--version" => inv.version = true,
            "--args" => {
                if depth >= MAX_ARGS_DEPTH {
                    return Err(Usage(format!(
                        "--args nested more than {MAX_ARGS_DEPTH} deep"
                    )));
                }
                let words = read_args(fd(0)?).map_err(Usage)?;
                rest.extend(words.into_iter().rev().map(|w| (w, depth + 1)));
            }
            "--unshare-all" => {
                let u = &mut inv.unshare;
                u.user_try = true;
                u.ipc = true;
                u.pid = true;
                u.net = true;
                u.uts = true;
                u.cgroup_try = true;
            }
            "--share-net" => inv.share_net = true,
            "--unshare-user" => inv.unshare.user = true,
            "--unshare-user-try" => inv.unshare.user_try = true,
            "--unshare-ipc" => inv.unshare.ipc = true,
            "--unshare-pid" => inv.unshare.pid = true,
            "--unshare-net" => inv.unshare.net = true,
            "--unshare-uts" => inv.unshare.uts = true,
            "--unshare-cgroup" => inv.unshare.cgroup = true,
            "--unshare-cgroup-try" => inv.unshare.cgroup_try = true,
            "--userns" => inv.userns = Some(fd(0)?),
            "--userns2" => inv.userns2 = Some(fd(0)?),
            "--pidns" => inv.pidns = Some(fd(0)?),
            "--disable-userns" => inv.disable_userns = true,
            "--assert-userns-disabled" => inv.assert_userns_disabled = true,
            "--uid" => inv.uid = Some(parse_id(&text, &vals[0])?),
            "--gid" => inv.gid = Some(parse_id(&text, &vals[0])?),
            "--hostname" => inv.hostname = Some(vals[0].clone()),
            "--chdir" => inv.chdir = Some(path(0)),
            "--clearenv" => inv.env.push(EnvOp::Clear),
            "--setenv" => inv.env.push(EnvOp::Set(vals[0].clone(), vals[1].clone())),
            "--unsetenv" => inv.env.push(EnvOp::Unset(vals[0].clone())),
            "--lock-file" => inv.lock_files.push(path(0)),
            "--sync-fd" => inv.sync_fd = Some(fd(0)?),
            "--bind" | "--bind-try" | "--dev-bind" | "--dev-bind-try" | "--ro-bind"
            | "--ro-bind-try" => {
                let kind = match text.trim_end_matches("-try") {
                    "--bind" => BindKind::Rw,
                    "--ro-bind" => BindKind::Ro,
                    _ => BindKind::Dev,
                };
                op(
                    &mut inv,
                    FsOp::Bind {
                        kind,
                        src: path(0),
                        dst: path(1),
                        optional: text.ends_with("-try"),
                    },
                );
            }
            "--bind-fd" | "--ro-bind-fd" => op(
                &mut inv,
                FsOp::BindFd {
                    fd: fd(0)?,
                    dst: path(1),
                    read_only: text == "--ro-bind-fd",
                },
            ),
            "--remount-ro" => op(&mut inv, FsOp::RemountRo(path(0))),
            "--exec-label" => inv.exec_label = Some(vals[0].clone()),
            "--file-label" => inv.file_label = Some(vals[0].clone()),
            "--proc" => op(&mut inv, FsOp::Proc(path(0))),
            "--dev" => op(&mut inv, FsOp::Dev(path(0))),
            "--tmpfs" => op(
                &mut inv,
                FsOp::Tmpfs {
                    dst: path(0),
                    perms: perms.take(),
                    size: size.take(),
                },
            ),
            "--mqueue" => op(&mut inv, FsOp::Mqueue(path(0))),
            "--dir" => op(
                &mut inv,
                FsOp::Dir {
                    dst: path(0),
                    perms: perms.take(),
                },
            ),
            "--file" => op(
                &mut inv,
                FsOp::File {
                    fd: fd(0)?,
                    dst: path(1),
                    perms: perms.take(),
                },
            ),
            "--bind-data" | "--ro-bind-data" => op(
                &mut inv,
                FsOp::BindData {
                    fd: fd(0)?,
                    dst: path(1),
                    read_only: text == "--ro-bind-data",
                    perms: perms.take(),
                },
            ),
            "--symlink" => op(
                &mut inv,
                FsOp::Symlink {
                    target: path(0),
                    dst: path(1),
                },
            ),
            "--overlay-src" => overlay_src.push(path(0)),
            "--overlay" | "--tmp-overlay" | "--ro-overlay" => {
                if overlay_src.is_empty() {
                    return Err(Usage(format!(
                        "{text} needs at least one --overlay-src before it"
                    )));
                }
                let (upper, dst) = match text.as_str() {
                    "--overlay" => (Some((path(0), path(1))), path(2)),
                    _ => (None, path(0)),
                };
                if text == "--ro-overlay" && overlay_src.len() < 2 {
                    return Err(Usage(
                        "--ro-overlay needs at least two --overlay-src before it".into(),
                    ));
                }
                op(
                    &mut inv,
                    FsOp::Overlay {
                        lower: std::mem::take(&mut overlay_src),
                        upper,
                        tmp: text == "--tmp-overlay",
                        dst,
                    },
                );
            }
            "--chmod" => {
                let p = parse_perms(&text, &vals[0])?;
                op(
                    &mut inv,
                    FsOp::Chmod {
                        perms: p,
                        path: path(1),
                    },
                );
            }
            "--seccomp" => {
                if inv.seccomp.is_some() {
                    return Err(Usage("--seccomp given twice: it takes one program (add more with --add-seccomp-fd)".into()));
                }
                inv.seccomp = Some(fd(0)?)
            }
            "--add-seccomp-fd" => inv.add_seccomp.push(fd(0)?),
            "--block-fd" => inv.block_fd = Some(fd(0)?),
            "--userns-block-fd" => inv.userns_block_fd = Some(fd(0)?),
            "--info-fd" => inv.info_fd = Some(fd(0)?),
            "--json-status-fd" => inv.json_status_fd = Some(fd(0)?),
            "--new-session" => inv.new_session = true,
            "--die-with-parent" => inv.die_with_parent = true,
            "--as-pid-1" => inv.as_pid_1 = true,
            "--cap-add" => inv.caps.push((true, s(0))),
            "--cap-drop" => inv.caps.push((false, s(0))),
            "--perms" => {
                if perms.is_some() {
                    return Err(Usage("--perms given twice for the same option".into()));
                }
                perms = Some(parse_perms(&text, &vals[0])?);
            }
            "--size" => {
                if size.is_some() {
                    return Err(Usage("--size given twice for the same --tmpfs".into()));
                }
                size = Some(parse_size(&vals[0])?);
            }
            "--argv0" => inv.argv0 = Some(vals[0].clone()),
            "--level-prefix" => inv.level_prefix = true,
            _ => unreachable!("every option with an arity is handled"),
        }
    }
    if perms.is_some() || size.is_some() {
        return Err(Usage(
            "--perms and --size must be followed by the option they apply to".into(),
        ));
    }
    if !overlay_src.is_empty() {
        return Err(Usage(
            "--overlay-src must be followed by --overlay, --tmp-overlay or --ro-overlay".into(),
        ));
    }
    if inv.seccomp.is_some() && !inv.add_seccomp.is_empty() {
        return Err(Usage(
            "--seccomp cannot be combined with --add-seccomp-fd: give every program with --add-seccomp-fd".into(),
        ));
    }
    inv.command = rest.into_iter().rev().map(|(w, _)| w).collect();
    Ok(inv)
}

fn parse_fd(option: &str, v: &OsStr) -> Result<RawFd, Usage> {
    let t = v.to_string_lossy();
    t.parse::<RawFd>()
        .ok()
        .filter(|&fd| fd >= 0)
        .ok_or_else(|| Usage(format!("{option} {t}: not a file descriptor number")))
}

fn parse_id(option: &str, v: &OsStr) -> Result<u32, Usage> {
    let t = v.to_string_lossy();
    t.parse::<u32>()
        .ok()
        .filter(|&id| id != u32::MAX)
        .ok_or_else(|| Usage(format!("{option} {t}: give a number from 0 to 4294967294")))
}

fn parse_perms(option: &str, v: &OsStr) -> Result<u32, Usage> {
    let t = v.to_string_lossy();
    u32::from_str_radix(&t, 8)
        .ok()
        .filter(|&p| p <= 0o7777 && !t.is_empty())
        .ok_or_else(|| Usage(format!("{option} {t}: give octal permissions such as 0755")))
}

fn parse_size(v: &OsStr) -> Result<u64, Usage> {
    let t = v.to_string_lossy();
    t.parse::<u64>()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| Usage(format!("--size {t}: give a number of bytes greater than 0")))
}

/// The NUL-separated words of an `--args` file (a last word without its NUL counts).
pub fn split_args(data: &[u8]) -> Vec<OsString> {
    let data = data.strip_suffix(b"\0").unwrap_or(data);
    if data.is_empty() {
        return Vec::new();
    }
    data.split(|&b| b == 0)
        .map(|w| OsStr::from_bytes(w).to_os_string())
        .collect()
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
