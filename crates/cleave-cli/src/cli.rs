//! The command line, as clap derive types.
use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

/// Create processes, tasks and sandboxes with exactly the clone() flags you choose.
#[derive(Parser, Debug)]
#[command(name = "cleave", version, about, long_about = None, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Verb,
}

const EXIT_CODES: &str = "\
Exit codes:
  N      the program's own exit code (128+N when it was killed by signal N)
  125    the request is invalid (unknown flag, impossible combination, bad argument)
  126    the kernel refused the clone, or setting up the child failed
  127    the program could not be found or executed";

#[derive(Subcommand, Debug)]
pub enum Verb {
    /// Run a program in a child created with the flags you choose
    Spawn(SpawnArgs),
    /// Explain a flag expression: what each flag does, and whether this kernel accepts it
    Explain(ExplainArgs),
    /// Compare two running processes: what they share, resource by resource
    Inspect(InspectArgs),
    /// Run a program inside a running process's namespaces, cgroups and root
    Enter(EnterArgs),
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

Examples:
  cleave spawn -- true
  cleave spawn --new user,uts --hostname box -- hostname
  cleave spawn --flags 'CLONE_NEWUSER|CLONE_NEWPID' -- sh -c 'echo $$'
  cleave spawn --preset vfork --exit-signal SIGUSR1 -- true
  cleave spawn --share thread,sighand,vm -- sh -c 'echo I am cleave now'
  cleave spawn --unchecked --flags sighand -- true     # the kernel's own EINVAL";

#[derive(Args, Debug)]
#[command(after_help = SPAWN_HELP)]
pub struct SpawnArgs {
    /// Any flag expression: 'CLONE_VM|CLONE_FS', 'vm,fs', '0x3d0f00', 'CLONE_VM|SIGCHLD'
    #[arg(long, value_name = "EXPR")]
    pub flags: Vec<String>,
    /// Share with cleave: vm,files,fs,sighand,sysvsem,io,thread
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub share: Vec<String>,
    /// New namespaces: mount,uts,ipc,net,pid,user,cgroup,time, or all
    #[arg(long = "new", value_name = "LIST", value_delimiter = ',')]
    pub new_ns: Vec<String>,
    /// The seeds' flag sets: fork | vfork | linuxthreads | nptl
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
    /// clone3 set_tid: the PID(s) the program gets, innermost namespace first
    #[arg(long, value_name = "PID[,PID...]", value_delimiter = ',')]
    pub set_tid: Vec<i32>,
    /// CLONE_INTO_CGROUP: start the program in this cgroup2 directory
    #[arg(long, value_name = "DIR")]
    pub into_cgroup: Option<PathBuf>,
    /// Hostname inside (with a new UTS namespace)
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// NIS domain name inside (with a new UTS namespace)
    #[arg(long, value_name = "NAME")]
    pub domainname: Option<String>,
    /// Working directory of the program
    #[arg(long, value_name = "DIR")]
    pub chdir: Option<PathBuf>,
    /// Skip cleave's rules and additions: hand the flags to the kernel and show its answer
    #[arg(long)]
    pub unchecked: bool,
    /// Print the flags used and the child's PID to stderr
    #[arg(short, long)]
    pub verbose: bool,
    /// The program and its arguments
    #[arg(
        required = true,
        trailing_var_arg = true,
        value_name = "PROGRAM [ARG]..."
    )]
    pub command: Vec<OsString>,
}

const EXPLAIN_HELP: &str = "\
Examples:
  cleave explain 'CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|SIGCHLD'
  cleave explain 0x3d0f00
  cleave explain newns,fs --json
  cleave explain newipc,sysvsem --unprivileged
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
Exit code: 0, 125 for an invalid PID, 126 when a process is gone or cannot be read.";

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
status, as `cleave spawn` does.

Namespaces: mount, uts, ipc, net, pid, user, cgroup, time, or all.
Joining another user's namespaces needs root, or CAP_SYS_ADMIN in them (an unprivileged
user can enter namespaces it created itself, user namespace included).

Examples:
  cleave enter --target 4242 -- hostname
  cleave enter --target 4242 --ns uts,net -- ip addr
  cleave enter -t 4242 --ns pid,user --no-root -- sh -c 'echo $$'
  cleave enter -t 4242 --no-cgroup -- sh";

#[derive(Args, Debug)]
#[command(after_help = ENTER_HELP)]
pub struct EnterArgs {
    /// The running process whose namespaces to join
    #[arg(short, long, value_name = "PID", value_parser = clap::value_parser!(i32).range(1..))]
    pub target: i32,
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
    /// Print what was joined and the program's PID to stderr
    #[arg(short, long)]
    pub verbose: bool,
    /// The program and its arguments
    #[arg(
        required = true,
        trailing_var_arg = true,
        value_name = "PROGRAM [ARG]..."
    )]
    pub command: Vec<OsString>,
}
