//! The command line, as clap derive types.
use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

mod docs;
pub use docs::{CompletionsArgs, ManArgs};

/// Create processes, tasks and sandboxes with exactly the clone() flags you choose.
#[derive(Parser, Debug)]
#[command(name = "cleave", version, about, long_about = None, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Verb,
}

// `Cli` with `spawn` alone: what `cleave spawn ...` is parsed with, so that the other verbs'
// arguments are not built for every sandbox (about a fifth of cleave's instructions before
// clone). Its doc lines and attributes are `Cli`'s and `Verb::Spawn`'s, so that spawn's help,
// usage and errors read the same (tests below).
/// Create processes, tasks and sandboxes with exactly the clone() flags you choose.
#[derive(Parser, Debug)]
#[command(name = "cleave", version, about, long_about = None, after_help = EXIT_CODES)]
pub struct SpawnCli {
    #[command(subcommand)]
    pub command: SpawnVerb,
}

#[derive(Subcommand, Debug)]
pub enum SpawnVerb {
    /// Run a program in a child created with the flags you choose
    Spawn(Box<SpawnArgs>),
}

const EXIT_CODES: &str = "\
Exit codes:
  N      the program's own exit code (128+N when it was killed by signal N)
  125    the request is invalid (unknown flag, impossible combination, bad argument)
  126    the kernel refused the clone, or setting up the child failed
  127    the program could not be found or executed

cleave is also an OCI runtime with runc's command line (podman, docker and containerd call
it as runc): cleave [--root DIR] [--log FILE] [--log-format text|json] [--debug]
[--systemd-cgroup] [--rootless auto|true|false] [--criu PATH] VERB, where VERB is create,
start, run, state, kill, delete, exec, pause, resume, ps, list, spec, features, update,
events, checkpoint or restore (with CRIU >= 4: scripts/install-criu.sh); `cleave VERB --help`
tells more, `cleave -v` the version in runc's shape.

cleave also takes bubblewrap 0.8's command line: `cleave bwrap [OPTIONS...] PROGRAM`, or
the binary run under the name bwrap (a symlink); `cleave bwrap --help` lists the options.";

#[derive(Subcommand, Debug)]
pub enum Verb {
    /// Run a program in a child created with the flags you choose
    Spawn(Box<SpawnArgs>),
    /// Explain a flag expression: what each flag does, and whether this kernel accepts it
    Explain(ExplainArgs),
    /// Compare two running processes: what they share, resource by resource
    Inspect(InspectArgs),
    /// Run a program inside a running process's namespaces, cgroups and root
    Enter(EnterArgs),
    /// Print a shell completion script for bash, zsh or fish
    Completions(CompletionsArgs),
    /// Print the man page of cleave or of one verb (roff), or write them all to a directory
    Man(ManArgs),
}

const SPAWN_HELP: &str = "\
Flags come from --flags, --share, --new, --preset and the single switches; they add up.
By default the program is started the way posix_spawn does it (CLONE_VM|CLONE_VFORK on a
small stack of cleave's, CLONE_CLEAR_SIGHAND): cleave pauses until the program runs, so an
exec failure is reported with exit code 127. --unchecked passes your flags untouched.

What some flags mean for the command line:
  thread    the program joins cleave's thread group; its exec ends cleave's own thread, so
            the program takes over cleave's PID and cleave's exit status is the program's
  parent    cleave's parent becomes the program's parent and collects its status; cleave
            awaits the exit through a pidfd and exits 0
  files     the program shares cleave's fd table until exec, so stdio is left as it is
  vm, vfork, fs, sighand, sysvsem, io, settls
            shared only until exec, which gives the program fresh ones
Signals SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to cleave are forwarded
to the program.

Sandboxes: without root, a user namespace is added whenever another namespace is asked
for, with you as root inside (--map-root). --new pid puts the program behind a small init
of cleave's (PID 1: reaps zombies, forwards signals, exits with the program's status).
Mount options apply in the order given; DST paths are inside the sandbox. A sandbox
(--preset sandbox|container or --rootfs) keeps no capability it was not asked for
(--cap-add) and sets no_new_privs. Every /proc cleave mounts has /proc/sys, sysrq-trigger,
irq, bus and fs read-only and kcore, keys, timer_list, latency_stats, sched_debug, scsi
and acpi hidden. The presets also start a new session (--same-session keeps this one and
refuses TIOCSTI instead; a terminal the program is handed cannot take a new line
discipline), give the program an empty session keyring and hide
/sys/firmware. --preset container adds a read-only /sys, its own hostname (the root
directory's name, in /etc/hostname too), a container's environment (PATH, HOME, TERM,
HOSTNAME) and / as the working directory; with a terminal on stdin, both presets bind it
on /dev/console.
--share NS keeps one namespace of the caller's instead (net, ipc, uts, pid, cgroup; user
for root; never mount), giving up that namespace's isolation only (SECURITY.md; -v says
what). The program starts in this working directory as the sandbox sees it, or in /
when it does not exist there (-v says so). Limits create a cgroup below cleave's own in
each hierarchy (or under cleave/ at the top where the kernel does not allow it; -v says
where and why), removed at the end; if cleave is killed, the next cleave that creates
one removes it, once the program has ended.

Examples:
  cleave spawn -- true
  cleave spawn --new user,uts --hostname box -- hostname
  cleave spawn --flags 'CLONE_NEWUSER|CLONE_NEWPID' -- sh -c 'echo $$'
  cleave spawn --preset vfork --exit-signal SIGUSR1 -- true
  cleave spawn --share thread,sighand,vm -- sh -c 'echo I am cleave now'
  cleave spawn --unchecked --flags sighand -- true     # the kernel's own EINVAL
  cleave spawn --preset sandbox -- sh                  # host read-only, fresh /proc /dev /tmp
  cleave spawn --preset sandbox --share net -- curl https://example.org   # the host's network
  cleave spawn --preset container --rootfs ./rootfs -- /bin/sh
  cleave spawn --new pid,mount --mount-proc -- ps ax
  cleave spawn --new mount --tmpfs /mnt --dir /mnt/a --ro-bind /etc/hostname /mnt/h -- ls /mnt
  cleave spawn --new user --map-user 0:100000:65536 --map-group 0:100000:65536 -- id
  cleave spawn --new user --map-auto -- cat /proc/self/uid_map   # ranges from /etc/subuid
  cleave spawn --new user,time --boottime 86400 -- cat /proc/uptime
  cleave spawn --new net -- ip link                    # only lo, and it is up
  cleave spawn --memory 256M --pids 64 --cpus 0.5 -- make -j8
  cleave spawn --rlimit nofile=1024:4096 --new-session --die-with-parent -- ./server
  cleave spawn --preset sandbox --cap-add CAP_NET_BIND_SERVICE -- ./httpd
  cleave spawn --new user,uts --json-status 3 -- true 3>status.json
  cleave spawn --new mount --persist-ns mount=/run/ns/mnt -- true   # then enter --ns-file
  cleave spawn --root ./rootfs -- /bin/sh              # unshare -R: a new root, privileges kept
  cleave spawn --clearenv --setenv PATH /bin --argv0 login-sh -- sh -c 'echo $0; env'";

#[derive(Args, Debug)]
#[command(after_help = SPAWN_HELP)]
pub struct SpawnArgs {
    /// Any flag expression: 'CLONE_VM|CLONE_FS', 'vm,fs', '0x3d0f00', 'CLONE_VM|SIGCHLD'
    #[arg(long, value_name = "EXPR")]
    pub flags: Vec<String>,
    /// Share with cleave: vm,files,fs,sighand,sysvsem,io,thread; or a namespace to keep
    /// the caller's instead of a new one from --preset or --new all (net, ipc, uts, pid,
    /// cgroup; user for root), e.g. --preset sandbox --share net (-v says what it costs)
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub share: Vec<String>,
    /// unshare(1)'s and bubblewrap's spelling: refused with a pointer to --new all
    #[arg(long, hide = true)]
    pub unshare_all: bool,
    /// New namespaces: mount,uts,ipc,net,pid,user,cgroup,time, or all
    #[arg(long = "new", value_name = "LIST", value_delimiter = ',')]
    pub new_ns: Vec<String>,
    /// Flag sets: fork | vfork | linuxthreads | nptl (the seeds'), sandbox | container
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,
    /// Signal sent to the parent when the program ends: a name, a number, or none
    /// [default: SIGCHLD; none with thread or parent]
    #[arg(long, value_name = "SIG")]
    pub exit_signal: Option<String>,
    /// CLONE_PARENT: the program's parent is cleave's parent
    #[arg(long)]
    pub parent: bool,
    /// CLONE_VFORK: cleave is suspended until the program runs or exits
    #[arg(long)]
    pub vfork: bool,
    /// CLONE_PIDFD: cleave follows the program through a pidfd (it always does when it can)
    #[arg(long)]
    pub pidfd: bool,
    /// CLONE_CLEAR_SIGHAND: handled signals start as SIG_DFL
    #[arg(long)]
    pub clear_sighand: bool,
    /// CLONE_PTRACE: if cleave is traced, the program is traced too
    #[arg(long)]
    pub ptrace: bool,
    /// CLONE_UNTRACED: a tracer cannot force CLONE_PTRACE on the program
    #[arg(long)]
    pub untraced: bool,
    /// clone3 set_tid: the PID(s) the program gets, innermost namespace first; each from 1
    /// to pid_max - 1 (/proc/sys/kernel/pid_max), at most 32. With --new pid the first is
    /// for the new namespace, which has no init yet: it must be 1 (e.g. 1,42)
    #[arg(
        long,
        value_name = "PID[,PID...]",
        value_delimiter = ',',
        allow_hyphen_values = true
    )]
    pub set_tid: Vec<i32>,
    /// CLONE_INTO_CGROUP: start the program in this cgroup2 directory
    #[arg(long, value_name = "DIR")]
    pub into_cgroup: Option<PathBuf>,
    /// Skip cleave's rules and additions: hand the flags to the kernel and show its answer
    #[arg(long)]
    pub unchecked: bool,
    /// Print the flags used and the child's PID to stderr
    #[arg(short, long)]
    pub verbose: bool,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    /// The program and its arguments
    #[arg(
        required = true,
        trailing_var_arg = true,
        value_name = "PROGRAM [ARG]..."
    )]
    pub command: Vec<OsString>,
}

/// The sandbox options of `spawn`.
#[derive(Args, Debug, Default)]
pub struct SandboxArgs {
    /// Map the caller to root inside a new user namespace (the default)
    #[arg(long, help_heading = "User namespace and ids")]
    pub map_root: bool,
    /// Map the caller to its own uid and gid inside
    #[arg(long, help_heading = "User namespace and ids")]
    pub map_current: bool,
    /// A uid range INSIDE:OUTSIDE:COUNT, e.g. 0:100000:65536; COUNT at least 1, INSIDE+COUNT
    /// and OUTSIDE+COUNT at most 4294967295 (repeatable; newuidmap without root)
    #[arg(
        long,
        value_name = "IN:OUT:COUNT",
        help_heading = "User namespace and ids"
    )]
    pub map_user: Vec<String>,
    /// A gid range INSIDE:OUTSIDE:COUNT, with --map-user's ranges (repeatable; newgidmap
    /// without root)
    #[arg(
        long,
        value_name = "IN:OUT:COUNT",
        help_heading = "User namespace and ids"
    )]
    pub map_group: Vec<String>,
    /// The caller as root plus its /etc/subuid and /etc/subgid ranges (package uidmap)
    #[arg(long, help_heading = "User namespace and ids")]
    pub map_auto: bool,
    /// Whether setgroups(2) works inside: allow | deny [default: deny for a self map]
    #[arg(
        long,
        value_name = "allow|deny",
        help_heading = "User namespace and ids"
    )]
    pub setgroups: Option<String>,
    /// The uid the program runs as inside
    #[arg(long, value_name = "N", help_heading = "User namespace and ids")]
    pub uid: Option<u32>,
    /// The gid the program runs as inside
    #[arg(long, value_name = "N", help_heading = "User namespace and ids")]
    pub gid: Option<u32>,
    /// A supplementary group of the program, as a gid inside (repeatable; needs root, or a
    /// group map with setgroups allowed)
    #[arg(
        long = "group",
        value_name = "GID",
        help_heading = "User namespace and ids"
    )]
    pub groups: Vec<u32>,
    /// The program's umask, in octal (e.g. 077), set after everything cleave creates
    #[arg(long, value_name = "OCTAL", help_heading = "User namespace and ids")]
    pub umask: Option<String>,

    /// Hostname inside, at most 64 bytes (needs --new uts)
    #[arg(long, value_name = "NAME", help_heading = "UTS, PID and time")]
    pub hostname: Option<String>,
    /// NIS domain name inside, at most 64 bytes (needs --new uts)
    #[arg(long, value_name = "NAME", help_heading = "UTS, PID and time")]
    pub domainname: Option<String>,
    /// With --new pid, run the program itself as PID 1 instead of behind cleave's init.
    /// The kernel drops SIGINT and SIGTERM to a PID 1 that has no handler for them, so
    /// Ctrl-C alone may not stop it: a second SIGINT or SIGTERM within 5 s becomes SIGKILL
    #[arg(long, help_heading = "UTS, PID and time")]
    pub as_pid_1: bool,
    /// Mount a /proc of the new PID namespace (implies a new mount namespace)
    #[arg(long, help_heading = "UTS, PID and time")]
    pub mount_proc: bool,
    /// CLOCK_MONOTONIC offset in seconds inside (a new time namespace); the clock plus the
    /// offset must stay within 0 and 4611686018 s
    #[arg(
        long,
        value_name = "SECS",
        allow_hyphen_values = true,
        help_heading = "UTS, PID and time"
    )]
    pub monotonic: Option<i64>,
    /// CLOCK_BOOTTIME offset in seconds inside (a new time namespace); the clock plus the
    /// offset must stay within 0 and 4611686018 s
    #[arg(
        long,
        value_name = "SECS",
        allow_hyphen_values = true,
        help_heading = "UTS, PID and time"
    )]
    pub boottime: Option<i64>,

    /// The new root: pivot_root into DIR; nothing of the host stays reachable. DIR is never
    /// written: a mount point it lacks goes on a throw-away tmpfs laid over its directory
    #[arg(
        long,
        value_name = "DIR",
        help_heading = "Mounts (applied in the order given)"
    )]
    pub rootfs: Option<PathBuf>,
    /// unshare's -R: run the program with DIR as its root. Unlike --rootfs it keeps the
    /// program's capabilities and privileges (no sandbox defaults); it is made with
    /// pivot_root in a new mount namespace (added), which cannot be left the way a
    /// chroot(2) can
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with = "rootfs",
        help_heading = "Mounts (applied in the order given)"
    )]
    pub root: Option<PathBuf>,
    /// Bind SRC on DST (recursive, nodev)
    #[arg(long, num_args = 2, value_names = ["SRC", "DST"], help_heading = "Mounts (applied in the order given)")]
    pub bind: Vec<PathBuf>,
    /// Bind SRC on DST read-only
    #[arg(long, num_args = 2, value_names = ["SRC", "DST"], help_heading = "Mounts (applied in the order given)")]
    pub ro_bind: Vec<PathBuf>,
    /// Bind SRC on DST with devices usable
    #[arg(long, num_args = 2, value_names = ["SRC", "DST"], help_heading = "Mounts (applied in the order given)")]
    pub dev_bind: Vec<PathBuf>,
    /// As --bind, skipped when SRC does not exist
    #[arg(long, num_args = 2, value_names = ["SRC", "DST"], help_heading = "Mounts (applied in the order given)")]
    pub bind_try: Vec<PathBuf>,
    /// As --ro-bind, skipped when SRC does not exist
    #[arg(long, num_args = 2, value_names = ["SRC", "DST"], help_heading = "Mounts (applied in the order given)")]
    pub ro_bind_try: Vec<PathBuf>,
    /// As --dev-bind, skipped when SRC does not exist
    #[arg(long, num_args = 2, value_names = ["SRC", "DST"], help_heading = "Mounts (applied in the order given)")]
    pub dev_bind_try: Vec<PathBuf>,
    /// A fresh tmpfs on DST, owned by the program's uid and gid (mode 0755 unless --perms);
    /// on / it becomes the root (then bind in what the program needs)
    #[arg(
        long,
        value_name = "DST",
        help_heading = "Mounts (applied in the order given)"
    )]
    pub tmpfs: Vec<PathBuf>,
    /// A procfs of the sandbox on DST; without a new PID namespace the caller's /proc is
    /// bound there instead (bubblewrap's way), with the same paths read-only or hidden
    #[arg(
        long,
        value_name = "DST",
        help_heading = "Mounts (applied in the order given)"
    )]
    pub proc: Vec<PathBuf>,
    /// A minimal /dev on DST: null zero full random urandom tty, pts, shm
    #[arg(
        long,
        value_name = "DST",
        help_heading = "Mounts (applied in the order given)"
    )]
    pub dev: Vec<PathBuf>,
    /// An empty directory DST (mode 0755 unless --perms; an existing one is left as it is)
    #[arg(
        long,
        value_name = "DST",
        help_heading = "Mounts (applied in the order given)"
    )]
    pub dir: Vec<PathBuf>,
    /// A symlink DST pointing to TARGET
    #[arg(long, num_args = 2, value_names = ["TARGET", "DST"], help_heading = "Mounts (applied in the order given)")]
    pub symlink: Vec<PathBuf>,
    /// Make DST (and what is mounted below it) read-only
    #[arg(
        long,
        value_name = "DST",
        help_heading = "Mounts (applied in the order given)"
    )]
    pub remount_ro: Vec<PathBuf>,
    #[command(flatten)]
    pub more_mounts: crate::cli_mounts::MoreMounts,
    /// Propagation of the new mount namespace: private | slave | shared | unchanged
    #[arg(
        long,
        value_name = "MODE",
        default_value = "private",
        help_heading = "Mounts (applied in the order given)"
    )]
    pub propagation: String,
    /// Working directory of the program (inside the new root)
    #[arg(
        long,
        value_name = "DIR",
        help_heading = "Mounts (applied in the order given)"
    )]
    pub chdir: Option<PathBuf>,

    /// Set VAR to VALUE in the program's environment; VAR not empty, without '=' (repeatable)
    #[arg(long, num_args = 2, value_names = ["VAR", "VALUE"], help_heading = "Program")]
    pub setenv: Vec<std::ffi::OsString>,
    /// Remove VAR from the program's environment; VAR not empty, without '=' (repeatable)
    #[arg(long, value_name = "VAR", help_heading = "Program")]
    pub unsetenv: Vec<std::ffi::OsString>,
    /// Start the program with an empty environment (then --setenv adds to it)
    #[arg(long, help_heading = "Program")]
    pub clearenv: bool,
    /// argv[0] of the program (default: PROGRAM as given)
    #[arg(long, value_name = "NAME", help_heading = "Program")]
    pub argv0: Option<std::ffi::OsString>,

    /// Memory limit, at least 1M: bytes, or a number with K, M, G or T (powers of 1024),
    /// e.g. 256M, 1.5G (the program is killed beyond it)
    #[arg(long, value_name = "SIZE", help_heading = "Resource limits")]
    pub memory: Option<String>,
    /// CPU quota in CPUs, from 0.01 to 175921860 (what cpu.max can hold), e.g. 0.5 or 2
    #[arg(
        long,
        value_name = "FRACTION",
        allow_hyphen_values = true,
        help_heading = "Resource limits"
    )]
    pub cpus: Option<f64>,
    /// CPU weight against other cgroups, 1-10000 (100 is the default share)
    #[arg(long, value_name = "N", help_heading = "Resource limits")]
    pub cpu_weight: Option<u64>,
    /// Most processes and threads at once
    #[arg(long, value_name = "N", help_heading = "Resource limits")]
    pub pids: Option<u64>,
    /// A cgroup2 directory delegated to you, to create the sandbox's cgroup under
    #[arg(long, value_name = "DIR", help_heading = "Resource limits")]
    pub cgroup_parent: Option<PathBuf>,
    /// A resource limit NAME=SOFT[:HARD], e.g. nofile=1024:4096 (repeatable)
    #[arg(
        long,
        value_name = "NAME=SOFT[:HARD]",
        help_heading = "Resource limits"
    )]
    pub rlimit: Vec<String>,

    /// Keep this capability (repeatable; a sandbox keeps none it was not asked for)
    #[arg(long, value_name = "CAP", help_heading = "Security and lifetime")]
    pub cap_add: Vec<String>,
    /// Drop this capability, or ALL (repeatable)
    #[arg(long, value_name = "CAP|ALL", help_heading = "Security and lifetime")]
    pub cap_drop: Vec<String>,
    /// Keep fd N, which must be open, in the program (repeatable). Every other fd above 2
    /// is closed, in plain `cleave spawn` too (unlike unshare, which passes them on; -v
    /// lists those closed): one rule for every mode, since an fd crosses any namespace
    /// boundary (a directory fd leaves a new root, a socket a new network), and a plain
    /// spawn grows into a sandbox by adding options; sudo closes them the same way
    #[arg(
        long,
        value_name = "N",
        allow_hyphen_values = true,
        help_heading = "Security and lifetime"
    )]
    pub preserve_fd: Vec<i32>,
    /// A name for the sandbox while it runs, by which `cleave checkpoint --name NAME`
    /// finds it (kept under /run/cleave/sandboxes or $XDG_RUNTIME_DIR/cleave/sandboxes,
    /// removed when it ends)
    #[arg(long, value_name = "NAME", help_heading = "Security and lifetime")]
    pub name: Option<String>,
    /// Run the program in a new session (setsid): no way back to this terminal (a preset
    /// does this unless --same-session). With --new pid cleave's init leads the session,
    /// which CRIU needs to checkpoint the sandbox
    #[arg(long, help_heading = "Security and lifetime")]
    pub new_session: bool,
    /// With a preset, keep this session and controlling terminal (job control in an
    /// interactive shell); a seccomp filter then refuses TIOCSTI, TIOCLINUX and TIOCSETD,
    /// so the program cannot type into the terminal's input
    #[arg(
        long,
        conflicts_with = "new_session",
        help_heading = "Security and lifetime"
    )]
    pub same_session: bool,
    /// The sandbox dies when cleave's parent dies
    #[arg(long, help_heading = "Security and lifetime")]
    pub die_with_parent: bool,
    /// Send SIG (default SIGKILL) to the sandbox when cleave ends
    #[arg(long, value_name = "SIG", num_args = 0..=1, require_equals = true, default_missing_value = "SIGKILL", help_heading = "Security and lifetime")]
    pub kill_child: Option<String>,
    /// unshare's --mount=FILE and the like: bind the sandbox's new NS namespace (mount,
    /// uts, ipc, net, pid, user, cgroup) on FILE (created when missing), where it outlives
    /// the sandbox's processes until `umount FILE`; `cleave enter --ns-file NS=FILE` joins
    /// it. For mount, FILE must be on a mount that does not propagate to the sandbox (as
    /// with unshare: `mount --bind D D; mount --make-private D`) (repeatable)
    #[arg(long, value_name = "NS=FILE", help_heading = "Security and lifetime")]
    pub persist_ns: Vec<String>,
    /// Write JSON lines to fd FD, open for writing (a file, pipe or socket): the child's pid
    /// and namespaces, then its exit code
    #[arg(
        long,
        value_name = "FD",
        allow_hyphen_values = true,
        help_heading = "Security and lifetime"
    )]
    pub json_status: Option<i32>,
}

const EXPLAIN_HELP: &str = "\
Examples:
  cleave explain 'CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|SIGCHLD'
  cleave explain 0x3d0f00
  cleave explain newns,fs --json
  cleave explain newipc,sysvsem --unprivileged
  cleave explain user,pid --set-tid 1,42      (the namespace names of spawn --new work too)
Exit code: 0 when the kernel would accept the request, 1 when it would refuse it, 125 when
the expression cannot be read.";

#[derive(Args, Debug)]
#[command(after_help = EXPLAIN_HELP)]
pub struct ExplainArgs {
    /// The flag expression (same syntax as spawn --flags)
    #[arg(value_name = "EXPR")]
    pub expr: String,
    /// Exit signal to assume when EXPR names none [default: SIGCHLD; none with thread or parent]
    #[arg(long, value_name = "SIG")]
    pub exit_signal: Option<String>,
    /// Judge for legacy clone() instead of clone3
    #[arg(long)]
    pub legacy: bool,
    /// Judge as an unprivileged caller (default: as this process)
    #[arg(long)]
    pub unprivileged: bool,
    /// Judge for this kernel instead of the running one, e.g. 6.8
    #[arg(long, value_name = "MAJOR.MINOR")]
    pub kernel: Option<String>,
    /// Judge these set_tid PIDs too (as spawn --set-tid; with newpid the first must be 1)
    #[arg(long, value_name = "PID,...", value_delimiter = ',')]
    pub set_tid: Vec<i32>,
    /// Print the same as JSON
    #[arg(long)]
    pub json: bool,
}

const INSPECT_HELP: &str = "\
For each resource a clone flag decides, say whether the two processes share it: memory,
fd table, fs attributes, signal handlers, I/O context and SysV semaphore undo (kcmp(2)),
every namespace (the inode of /proc/PID/ns/*), thread group, parent and exit signal. The
FLAG column names the clone flag that shares the resource, or for a namespace the one that
makes it private. Comparing another user's processes needs ptrace access (root, or the same
user); rows that cannot be read say \"unknown\" and why.

Examples:
  cleave inspect $$                      # this shell against its parent
  cleave inspect 4242 4243 --json
  cleave spawn -v --new user,uts -- sleep 60 &   # then: cleave inspect <its pid>
Exit code: 0, 125 for an invalid PID, 126 when a process is gone or cannot be read (every
resource row unknown, the table still printed).";

#[derive(Args, Debug)]
#[command(after_help = INSPECT_HELP)]
pub struct InspectArgs {
    /// The process to inspect
    #[arg(value_name = "PID", value_parser = clap::value_parser!(i32).range(1..))]
    pub pid: i32,
    /// The process to compare it with [default: PID's parent]
    #[arg(value_name = "OTHER_PID", value_parser = clap::value_parser!(i32).range(1..))]
    pub other: Option<i32>,
    /// Print one JSON object with every row
    #[arg(long)]
    pub json: bool,
}

const ENTER_HELP: &str = "\
cleave joins the target's namespaces (one atomic setns through a pidfd; per namespace on
kernels before 5.8), then its cgroups (cgroup2 through CLONE_INTO_CGROUP, v1 by moving
itself), then its root and working directory, and starts PROGRAM there as a new child, so a
new PID namespace applies to it. Namespaces that are already cleave's own are skipped, so
`all` (the default) means every namespace that differs. cleave exits with the program's
status, as `cleave spawn` does. PID may be the sandbox's program, cleave's init there, or
the `cleave spawn` process itself: each enters the same sandbox. Without PROGRAM, $SHELL
(or /bin/sh) runs, as with nsenter.

The program gets the target's security context, as `docker exec` does, and never more than
the target holds: its five capability sets (bounding, permitted, effective, inheritable,
ambient), no_new_privs, uid, gid, supplementary groups and seccomp filters. If the target's
user namespace is not joined, its capabilities do not count where the program runs: the
program gets none, and no_new_privs. Copying seccomp filters needs root (CAP_SYS_ADMIN);
when a filter cannot be copied, cleave refuses rather than enter without it.
--keep-privileges is nsenter's behaviour instead: the program keeps cleave's own
privileges, which after joining a user namespace means every capability in it (enough to
remount a read-only sandbox read-write).

Namespaces: mount, uts, ipc, net, pid, user, cgroup, time, or all.
Joining another user's namespaces needs root, or CAP_SYS_ADMIN in them (an unprivileged
user can enter namespaces it created itself, user namespace included).

Examples:
  cleave enter --target 4242 -- hostname
  cleave enter --target 4242 --ns uts,net -- ip addr
  cleave enter -t 4242 --ns pid,user --no-root -- sh -c 'echo $$'
  cleave enter -t 4242 --no-cgroup -- sh
  cleave enter -t 4242 --keep-privileges -- sh        # nsenter's way: full capabilities
  cleave enter --ns-file uts=/run/ns/uts --ns-file mount=/run/ns/mnt -- hostname";

#[derive(Args, Debug)]
#[command(after_help = ENTER_HELP)]
pub struct EnterArgs {
    /// The running process whose namespaces to join
    #[arg(short, long, value_name = "PID", value_parser = clap::value_parser!(i32).range(1..), required_unless_present = "ns_file")]
    pub target: Option<i32>,
    /// Join the namespace bound on FILE (by `cleave spawn --persist-ns`, `unshare
    /// --mount=FILE` and the like, or a /proc/PID/ns file) instead of a target's, with
    /// cleave's own privileges, as nsenter --mount=FILE does; NS is mount, uts, ipc, net,
    /// pid, user, cgroup or time (repeatable)
    #[arg(long, value_name = "NS=FILE", conflicts_with_all = ["target", "ns", "no_cgroup", "no_root", "keep_privileges"])]
    pub ns_file: Vec<String>,
    /// Namespaces to join: mount,uts,ipc,net,pid,user,cgroup,time, or all [default: all]
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub ns: Vec<String>,
    /// Stay in cleave's own cgroups
    #[arg(long)]
    pub no_cgroup: bool,
    /// Keep cleave's root and working directory (joining a mount namespace still moves
    /// the working directory to that namespace's root, as setns(2) does)
    #[arg(long)]
    pub no_root: bool,
    /// Keep cleave's own privileges (nsenter's behaviour) instead of taking the target's
    /// capabilities, no_new_privs, ids, groups and seccomp filters (docker exec's)
    #[arg(long)]
    pub keep_privileges: bool,
    /// Print what was joined and the program's PID to stderr
    #[arg(short, long)]
    pub verbose: bool,
    /// The program and its arguments [default: $SHELL, or /bin/sh when the target's root
    /// has no $SHELL]
    #[arg(trailing_var_arg = true, value_name = "PROGRAM [ARG]...")]
    pub command: Vec<OsString>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;
    use clap::CommandFactory;

    /// What parsing `cleave ARGS` with `C` prints (help, usage error) or matches.
    fn outcome<C: CommandFactory>(args: &[&str]) -> (String, Option<ErrorKind>) {
        let argv = std::iter::once("cleave").chain(args.iter().copied());
        match C::command().try_get_matches_from(argv) {
            Ok(m) => (format!("{:?}", m.subcommand_matches("spawn")), None),
            Err(e) => (e.render().to_string(), Some(e.kind())),
        }
    }

    #[test]
    fn spawn_alone_parses_prints_and_refuses_as_the_whole_tree_does() {
        let cases: [&[&str]; 9] = [
            &["spawn", "--help"],
            &["spawn", "-h"],
            &["spawn", "-V"],
            &["spawn", "--flag", "vm"],
            &["spawn", "--preset"],
            &["spawn", "--uid", "x", "--", "true"],
            &["spawn", "--new", "user,pid", "--mount-proc", "--", "true"],
            &[
                "spawn", "-v", "--rootfs", "/r", "--tmpfs", "/tmp", "--", "/bin/sh", "-c", "x",
            ],
            &["spawn"],
        ];
        for args in cases {
            let whole = outcome::<Cli>(args);
            assert_eq!(whole, outcome::<SpawnCli>(args), "cleave {args:?}");
            assert!(!whole.0.is_empty(), "{args:?}");
        }
        let (help, kind) = outcome::<SpawnCli>(&["spawn", "--help"]);
        assert_eq!(kind, Some(ErrorKind::DisplayHelp));
        assert!(help.contains("Usage: cleave spawn [OPTIONS]"), "{help}");
        assert!(help.contains("Examples:"), "{help}");
    }
}
