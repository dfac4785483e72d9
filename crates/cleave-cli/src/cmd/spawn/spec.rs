//! The options of `cleave spawn` turned into a [`SandboxSpec`], and the command-line words
//! for each part of it, so that the library's errors name the option they came from.
use crate::cli::SpawnArgs;
use cleave::caps::{self, Rlimit};
use cleave::cgroup::{self, Limits};
use cleave::error::{IdMapProblem, LimitProblem};
use cleave::error::{Origin, Problem};
use cleave::idmap::{IdMap, IdMapping};
use cleave::ns::{time, uts};
use cleave::sandbox::{Capabilities, Preset, PresetOptions, SandboxSpec};
use cleave::CloneFlags;
use std::path::PathBuf;

/// Why the options cannot become a [`SandboxSpec`]: a value refused, in the command line's
/// words, or the library's error for what only it can judge.
pub(super) enum Refused {
    Usage(String),
    Library(cleave::Error),
}

impl From<cleave::Error> for Refused {
    fn from(e: cleave::Error) -> Refused {
        Refused::Library(e)
    }
}

fn bad(what: String) -> Refused {
    Refused::Usage(what)
}

/// The library's refusal of one option's value, in the command line's words: the option
/// and its value, then what is wrong.
fn refused(option: &str, value: &str, e: cleave::Error) -> Refused {
    use cleave::Error as E;
    let value = cleave::error::one_line(value);
    bad(match e {
        E::IdMapping(IdMapProblem::Unreadable { fault, .. }) => {
            format!("{option} {value}: {fault}; write INSIDE:OUTSIDE:COUNT, e.g. 0:100000:65536")
        }
        E::Rlimit(p) => format!(
            "{option} {value}: {}; write NAME=SOFT[:HARD], e.g. nofile=1024:4096",
            p.fault
        ),
        E::Limit(LimitProblem::Size(_)) => format!(
            "{option} {value}: not a size; give a number of bytes, or a number with a unit K, M, G or T (powers of 1024; KB, MiB and the like also read), e.g. 512M or 1.5G"
        ),
        E::Limit(p) => match p.range() {
            Some(r) => format!("{option} {value}: {}", r.why),
            None => format!("{option} {value}: {p}"),
        },
        E::Capability(p) => format!("{option} {value}: {p}"),
        E::Invalid { problem, .. } => format!("{option} {value}: {problem}"),
        other => return Refused::Library(other),
    })
}

/// Turns the options into a [`SandboxSpec`], with the command-line words for each part of
/// it (for error messages).
pub(super) fn spec_from(
    a: &SpawnArgs,
    flags: CloneFlags,
    signal: Option<i32>,
    positions: &super::mounts::Positions,
) -> Result<(SandboxSpec, Labels), Refused> {
    let s = &a.sandbox;
    let mut spec = SandboxSpec::default();
    let mut labels = Labels::default();
    spec.process.program = a.command[0].clone();
    spec.process.args = a.command[1..].iter().map(Into::into).collect();
    spec.process.argv0 = s.argv0.clone();
    spec.process.env.clear = s.clearenv;
    spec.process.env.remove = s.unsetenv.iter().map(Into::into).collect();
    spec.process.env.set = s
        .setenv
        .chunks(2)
        .filter_map(|p| match p {
            [k, v] => Some((k.into(), v.into())),
            _ => None,
        })
        .collect();
    spec.process.preserve_fds = s.preserve_fd.clone();

    spec.namespaces.new = flags & CloneFlags::ALL_NAMESPACES;
    spec.clone.flags = flags.difference(CloneFlags::ALL_NAMESPACES);
    spec.clone.exit_signal = signal;
    spec.clone.set_tid = a.set_tid.clone();
    spec.clone.unchecked = a.unchecked;
    spec.clone.into_cgroup = a.into_cgroup.clone();

    let preset = match a.preset.as_deref().map(|p| p.trim().to_ascii_lowercase()) {
        Some(p) if p == "sandbox" => Some(Preset::Sandbox),
        Some(p) if p == "container" => Some(Preset::Container),
        _ => None,
    };
    if preset == Some(Preset::Container) && s.rootfs.is_none() {
        return Err(bad(
            "--preset container needs --rootfs DIR (scripts/mkrootfs.sh DIR builds a busybox one)"
                .into(),
        ));
    }
    // --root (unshare's -R) is the same new root without the sandbox defaults.
    spec.filesystem.rootfs = s.rootfs.clone().or_else(|| s.root.clone());
    labels.root_dir = spec.filesystem.rootfs.clone();
    labels.rootfs = match (&s.rootfs, &s.root) {
        (Some(r), _) => format!("--rootfs {}", r.display()),
        (None, Some(r)) => format!("--root {}", r.display()),
        (None, None) => "--rootfs".into(),
    };
    // Names first: a container's environment says its hostname.
    if let Some(h) = &s.hostname {
        uts::check_hostname(h.as_ref()).map_err(|e| bad(e.named("--hostname")))?;
    }
    if let Some(d) = &s.domainname {
        uts::check_domainname(d.as_ref()).map_err(|e| bad(e.named("--domainname")))?;
    }
    spec.uts.hostname = s.hostname.clone().map(Into::into);
    spec.uts.domainname = s.domainname.clone().map(Into::into);
    spec.ids.uid = s.uid;
    if let Some(p) = preset {
        let options = PresetOptions {
            shared: super::shared_namespaces(a),
            console: caller_tty(),
        };
        p.apply_with(&mut spec, &options).map_err(|e| match e {
            cleave::Error::Invalid {
                problem: Problem::PresetNeeds(ns),
                ..
            } => bad(format!(
                "--share {}: {}",
                ns.name(),
                Problem::PresetNeeds(ns)
            )),
            e => Refused::Library(e),
        })?;
        let name = if p == Preset::Sandbox {
            "sandbox"
        } else {
            "container"
        };
        for op in &spec.filesystem.ops {
            labels
                .mounts
                .push(format!("--preset {name} ({})", op.dst().display()));
        }
    }

    let picked = [
        s.map_root,
        s.map_current,
        s.map_auto,
        !s.map_user.is_empty() || !s.map_group.is_empty(),
    ];
    if picked.iter().filter(|&&p| p).count() > 1 {
        return Err(bad(
            "choose one of --map-root, --map-current, --map-auto and --map-user/--map-group".into(),
        ));
    }
    let parse_maps = |v: &[String], option: &str| {
        v.iter()
            .map(|m| m.parse::<IdMap>().map_err(|e| refused(option, m, e)))
            .collect::<Result<Vec<_>, Refused>>()
    };
    if s.map_root {
        spec.ids.mapping = IdMapping::Root;
    } else if s.map_current {
        spec.ids.mapping = IdMapping::Current;
    } else if s.map_auto {
        spec.ids.mapping = IdMapping::Auto;
    } else if !s.map_user.is_empty() || !s.map_group.is_empty() {
        spec.ids.mapping = IdMapping::Custom {
            users: parse_maps(&s.map_user, "--map-user")?,
            groups: parse_maps(&s.map_group, "--map-group")?,
        };
    }
    spec.ids.setgroups = match s.setgroups.as_deref() {
        None => None,
        Some("allow") => Some(true),
        Some("deny") => Some(false),
        Some(other) => return Err(bad(format!("--setgroups {other}: choose allow or deny"))),
    };
    spec.ids.uid = s.uid;
    spec.ids.gid = s.gid;
    spec.ids.groups = s.groups.clone();
    if let Some(u) = &s.umask {
        let mask = u32::from_str_radix(u.trim(), 8).map_err(|_| {
            bad(format!(
                "--umask {}: give an octal mask such as 022 or 077",
                cleave::error::one_line(u)
            ))
        })?;
        spec.process.umask = Some(mask);
    }
    spec.as_pid1 = s.as_pid_1;
    spec.mount_proc = s.mount_proc;
    if let Some(m) = s.monotonic {
        time::check_offsets(Some(m), None).map_err(|e| bad(e.named("--monotonic")))?;
    }
    if let Some(b) = s.boottime {
        time::check_offsets(None, Some(b)).map_err(|e| bad(e.named("--boottime")))?;
    }
    spec.time.monotonic = s.monotonic;
    spec.time.boottime = s.boottime;

    for (op, label) in super::mounts::mount_ops(s, positions)? {
        spec.filesystem.ops.push(op);
        labels.mounts.push(label);
    }
    spec.filesystem.propagation = s
        .propagation
        .parse()
        .map_err(|e| refused("--propagation", &s.propagation, e))?;
    if s.chdir.is_some() {
        spec.filesystem.chdir = s.chdir.clone();
    }
    for r in &s.rlimit {
        spec.security
            .rlimits
            .push(r.parse::<Rlimit>().map_err(|e| refused("--rlimit", r, e))?);
        labels.rlimits.push(format!("--rlimit {r}"));
    }
    let memory = match s.memory.as_deref() {
        Some(text) => {
            let bytes = cgroup::parse_size(text).map_err(|e| refused("--memory", text, e))?;
            cgroup::check_memory(bytes).map_err(|e| bad(format!("--memory {text}: {}", e.why)))?;
            Some(bytes)
        }
        None => None,
    };
    if let Some(c) = s.cpus {
        cgroup::check_cpus(c).map_err(|e| bad(e.named("--cpus")))?;
    }
    if let Some(w) = s.cpu_weight {
        cgroup::check_cpu_weight(w).map_err(|e| bad(e.named("--cpu-weight")))?;
    }
    spec.limits = Limits {
        memory,
        cpus: s.cpus,
        cpu_weight: s.cpu_weight,
        pids: s.pids,
        ..Limits::default()
    };
    spec.cgroup_parent = s.cgroup_parent.clone();

    // Capabilities: a sandbox starts from none, anything else from all it would get.
    let sandbox_mode = preset.is_some() || s.rootfs.is_some();
    if sandbox_mode || !s.cap_add.is_empty() || !s.cap_drop.is_empty() {
        let mut keep = if sandbox_mode { 0 } else { caps::ALL };
        for c in &s.cap_drop {
            keep &= !caps::parse_cap(c).map_err(|e| refused("--cap-drop", c, e))?;
        }
        let mut added = 0;
        for c in &s.cap_add {
            added |= caps::parse_cap(c).map_err(|e| refused("--cap-add", c, e))?;
        }
        spec.security.capabilities = Some(Capabilities::keep(keep | added, added));
    }
    if sandbox_mode {
        spec.security.no_new_privs = true;
    }
    // No way back to the caller's terminal: a new session (the presets' default), or, for
    // a sandbox that keeps the terminal, a filter against TIOCSTI, TIOCLINUX and TIOCSETD.
    // A new session stops TIOCSTI only: a terminal the program is handed (its stdio, the
    // /dev/console a preset binds, a --preserve-fd) would still take a new line
    // discipline, so the filter goes on then too. Without a terminal there is none, and
    // an unprivileged `cleave enter` (which cannot read a filter to copy it) still works.
    if s.new_session {
        spec.security.new_session = true;
    }
    if s.same_session {
        spec.security.new_session = false;
    }
    spec.security.block_tty_injection =
        sandbox_mode && (!spec.security.new_session || hands_a_terminal(&s.preserve_fd));
    spec.parent_death_signal = if s.die_with_parent {
        Some(libc::SIGKILL)
    } else if let Some(sig) = &s.kill_child {
        match super::super::parse_exit_signal(sig) {
            Ok(0) | Err(_) => {
                return Err(bad(format!(
                    "--kill-child={sig}: give a signal name such as SIGTERM or a number"
                )))
            }
            Ok(n) => Some(n),
        }
    } else {
        None
    };
    labels.chdir = match &s.chdir {
        Some(d) => format!("--chdir {}", d.display()),
        None => "the working directory".into(),
    };
    labels.uid = s.uid.map(|u| format!("--uid {u}"));
    labels.gid = s.gid.map(|g| format!("--gid {g}"));
    Ok((spec, labels))
}

/// Whether the program gets a terminal of the caller's: one on cleave's stdin, stdout or
/// stderr, or among the fds `preserved`.
#[allow(unsafe_code)]
fn hands_a_terminal(preserved: &[i32]) -> bool {
    [0, 1, 2]
        .iter()
        .chain(preserved)
        // SAFETY: isatty only queries the fd (EBADF for one not open).
        .any(|&fd| unsafe { libc::isatty(fd) } == 1)
}

/// The terminal on cleave's stdin (e.g. /dev/pts/3), which a preset binds on /dev/console.
fn caller_tty() -> Option<PathBuf> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return None;
    }
    std::fs::read_link("/proc/self/fd/0")
        .ok()
        .filter(|p| p.starts_with("/dev/"))
}

/// The command-line words for each part of a [`SandboxSpec`], so that an error names the
/// option it came from.
#[derive(Debug, Default)]
pub(crate) struct Labels {
    /// One per mount operation: the preset's, then the options in the order given.
    pub mounts: Vec<String>,
    pub rootfs: String,
    /// The new root's directory, when one is set (where a program is looked for).
    pub root_dir: Option<std::path::PathBuf>,
    pub rlimits: Vec<String>,
    pub uid: Option<String>,
    pub gid: Option<String>,
    pub chdir: String,
}

impl Labels {
    /// Advice for a program found in no directory of PATH: a signal name read as the
    /// program, a directory (in the new root, when one is set) that does hold it, or none.
    pub fn not_found(&self, program: &str) -> String {
        if program.to_ascii_uppercase().starts_with("SIG")
            && cleave::flags::signal_from_name(program).is_some()
        {
            return format!(
                "`{program}` is a signal name, not a program: an option's optional signal is given with `=` (e.g. --kill-child={program})"
            );
        }
        let root = self
            .root_dir
            .as_deref()
            .unwrap_or(std::path::Path::new("/"));
        let inside = match &self.root_dir {
            Some(r) => format!(" inside the new root {}", r.display()),
            None => String::new(),
        };
        const DIRS: [&str; 6] = [
            "/usr/local/sbin",
            "/usr/local/bin",
            "/usr/sbin",
            "/usr/bin",
            "/sbin",
            "/bin",
        ];
        match DIRS.iter().find(|d| {
            root.join(d.trim_start_matches('/'))
                .join(program)
                .is_file()
        }) {
            Some(d) => format!(
                "`{program}` is not in the program's PATH, but {d}/{program} exists{inside}: give that path, or set PATH with --setenv"
            ),
            None => format!(
                "`{program}` is not in PATH, nor in {}{inside}: give its full path",
                DIRS.join(", ")
            ),
        }
    }

    /// The option an origin came from.
    pub fn name(&self, origin: &Origin) -> String {
        match origin {
            Origin::Mount(i) => self
                .mounts
                .get(*i)
                .cloned()
                .unwrap_or_else(|| origin.to_string()),
            Origin::Rootfs => self.rootfs.clone(),
            Origin::Propagation => "--propagation".into(),
            Origin::WorkingDirectory => self.chdir.clone(),
            Origin::UserMap => "--map-user".into(),
            Origin::GroupMap => "--map-group".into(),
            Origin::Uid => self.uid.clone().unwrap_or_else(|| "--uid".into()),
            Origin::Gid => self.gid.clone().unwrap_or_else(|| "--gid".into()),
            Origin::Hostname => "--hostname".into(),
            Origin::Domainname => "--domainname".into(),
            Origin::Namespaces => "--new".into(),
            Origin::TimeOffsets => "--monotonic/--boottime".into(),
            Origin::Rlimit(i) => self
                .rlimits
                .get(*i)
                .cloned()
                .unwrap_or_else(|| "--rlimit".into()),
            Origin::Capabilities => "--cap-add/--cap-drop".into(),
            Origin::Limits => "--memory/--cpus/--cpu-weight/--pids".into(),
            Origin::MountProc => "--mount-proc".into(),
            Origin::AsPid1 => "--as-pid-1".into(),
            Origin::Sharing => "--share".into(),
            Origin::Groups => "--group".into(),
            Origin::Umask => "--umask".into(),
            other => other.to_string(),
        }
    }

    /// The option a cgroup limit came from.
    pub fn limit(problem: &LimitProblem) -> &'static str {
        match problem {
            LimitProblem::Memory(_) | LimitProblem::Size(_) => "--memory",
            LimitProblem::Cpus(_) | LimitProblem::CpuFraction(_) => "--cpus",
            LimitProblem::CpuWeight(_) => "--cpu-weight",
            LimitProblem::NoPids => "--pids",
            _ => "--memory/--cpus/--cpu-weight/--pids",
        }
    }

    /// A problem in command-line words: what to add, for a missing namespace.
    pub fn problem(&self, problem: &Problem) -> String {
        match problem {
            Problem::NeedsNamespace(ns) => format!(
                "needs a new {0} namespace: add {0} to --new",
                ns.name()
            ),
            Problem::NotMapped(_) => "is not mapped in the new user namespace: map it (--map-user/--map-group) or pick a mapped id".into(),
            Problem::FdTableSharedWithInit => "a shared fd table (files) cannot go with a new PID namespace's init, which closes what it does not need: add --as-pid-1, or drop files".into(),
            other => other.to_string(),
        }
    }
}
