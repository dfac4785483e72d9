//! runc's command line as clap types: global options, then the verb.
use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

const RUNC_HELP: &str = "\
cleave is also an OCI runtime with runc's command line: podman, docker and containerd call
it as they call runc. State lives under --root, one directory per container.

--systemd-cgroup: cleave does not talk to systemd (it starts no unit). A cgroupsPath of
systemd's slice:prefix:name form is placed, through the cgroup filesystem, where systemd
would put the scope: the slice nested in its parents, as systemd nests them
(machine-web.slice:p:n is machine.slice/machine-web.slice/p-n.scope; an empty slice is
system.slice, or user.slice rootless). Other paths are used as given.

Rootless (without root, or as root of a user namespace): state lives under
$XDG_RUNTIME_DIR/cleave; a container's cgroup goes below the caller's own cgroup2 directory
when that was delegated to the user (directory and cgroup.procs writable), and then pause,
resume, ps and kill --all work; otherwise the container has no cgroup and no limits.";

/// cleave as an OCI runtime (runc's command line).
#[derive(Parser, Debug)]
#[command(
    name = "cleave",
    disable_version_flag = true,
    after_help = RUNC_HELP,
    subcommand_value_name = "VERB"
)]
pub struct Runc {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub verb: Option<RuncVerb>,
}

/// Options before the verb.
#[derive(Args, Debug, Default)]
pub struct Global {
    /// Where container state lives [default: /run/cleave; rootless (without root, or root
    /// of a user namespace, as under rootless podman) $XDG_RUNTIME_DIR/cleave when set]
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Write log lines (and errors) to this file as well as errors to stderr
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// The log's format: text | json (one JSON object a line: level, msg, time)
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    pub log_format: String,
    /// Log debug lines too
    #[arg(long)]
    pub debug: bool,
    /// Place a systemd slice:prefix:name cgroupsPath where systemd would (no unit; see below)
    #[arg(long)]
    pub systemd_cgroup: bool,
    /// auto | true | false: whether to act as a rootless runtime [default: auto: without
    /// root, or as root of a user namespace]
    #[arg(long, value_name = "auto|true|false")]
    pub rootless: Option<String>,
    /// The criu program for checkpoint and restore [default: criu on PATH; >= 4, see
    /// scripts/install-criu.sh]
    #[arg(long, value_name = "PATH")]
    pub criu: Option<PathBuf>,
    /// Print the version in runc's shape
    #[arg(short = 'v', long)]
    pub version: bool,
}

#[derive(Subcommand, Debug)]
pub enum RuncVerb {
    /// Create a container from a bundle; it waits for `start`
    Create(CreateArgs),
    /// Start a created container's program
    Start(IdArg),
    /// Create and start a container; wait for it unless --detach
    Run(RunArgs),
    /// Print a container's state as JSON
    State(IdArg),
    /// Send a signal to a container's init (or every process with --all)
    Kill(KillArgs),
    /// Delete a container: its cgroup and its state
    Delete(DeleteArgs),
    /// Run a process in a running container
    Exec(ExecArgs),
    /// Freeze every process of a container
    Pause(IdArg),
    /// Thaw a paused container
    Resume(IdArg),
    /// List a container's processes
    Ps(PsArgs),
    /// List containers
    List(ListArgs),
    /// Write a default config.json
    Spec(SpecArgs),
    /// Print the runtime-spec features.json document
    Features(NoArgs),
    /// Change a container's resource limits
    Update(UpdateArgs),
    /// Print a container's resource statistics as JSON events
    Events(EventsArgs),
    /// cleave's own: runs one createContainer or startContainer hook in a container's
    /// namespaces (what create and start call; see runc/hook_exec.rs)
    #[command(hide = true)]
    HookExec(super::hook_exec::HookExecArgs),
    /// Save a running container (ID), or a sandbox of `cleave spawn` (--pid PID or --name
    /// NAME), to an image directory with CRIU (it stops unless --leave-running)
    Checkpoint(CheckpointArgs),
    /// Start a container from a checkpoint's image directory and a bundle (ID), or resume
    /// a checkpointed `cleave spawn` sandbox (no ID; cleave stays as its supervisor)
    Restore(RestoreArgs),
}

#[derive(Args, Debug)]
pub struct NoArgs {}

#[derive(Args, Debug)]
pub struct IdArg {
    /// The container id
    pub id: String,
}

#[derive(Args, Debug, Clone, Default)]
pub struct CreateOpts {
    /// The bundle directory (holding config.json) [default: the current directory]
    #[arg(short = 'b', long, value_name = "DIR")]
    pub bundle: Option<PathBuf>,
    /// Write the container's PID to this file before returning
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// An AF_UNIX socket that receives the terminal's master fd (process.terminal)
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Accepted; cleave always moves into the root with pivot_root
    #[arg(long)]
    pub no_pivot: bool,
    /// Keep the caller's session keyring instead of a new, empty one
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass N more fds (3 to 3+N-1) to the program
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Accepted (containerd's restore); cleave never makes itself a subreaper
    #[arg(long, hide = true)]
    pub no_subreaper: bool,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    #[command(flatten)]
    pub opts: CreateOpts,
    /// The container id
    pub id: String,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub opts: CreateOpts,
    /// Return once started; the container runs on
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep the container's state after it exits (delete it yourself)
    #[arg(long)]
    pub keep: bool,
    /// The container id
    pub id: String,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal every process of the container (through its cgroup)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// The container id
    pub id: String,
    /// A name (TERM, SIGTERM) or a number [default: SIGTERM]
    pub signal: Option<String>,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Kill a running container first
    #[arg(short = 'f', long)]
    pub force: bool,
    /// The container id
    pub id: String,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// A process.json (the runtime-spec process object) to run instead of ARGS
    #[arg(long, value_name = "FILE")]
    pub process: Option<PathBuf>,
    /// Return once started
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Write the process's PID to this file
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Give the process a terminal (its master is sent over --console-socket)
    #[arg(short = 't', long)]
    pub tty: bool,
    /// An AF_UNIX socket that receives the terminal's master fd
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// The working directory inside the container
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// An environment variable NAME=VALUE (repeatable)
    #[arg(short = 'e', long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// UID[:GID] to run as (the container init's when absent)
    #[arg(short = 'u', long, value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// A capability to add (repeatable)
    #[arg(long = "cap", value_name = "CAP")]
    pub caps: Vec<String>,
    /// Set no_new_privs
    #[arg(long)]
    pub no_new_privs: bool,
    /// Pass N more fds (3 to 3+N-1) to the process
    #[arg(short = 'p', long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// The container id
    pub id: String,
    /// The program and its arguments (without --process)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<OsString>,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// table | json (a list of PIDs)
    #[arg(short = 'f', long, default_value = "table")]
    pub format: String,
    /// The container id
    pub id: String,
    /// Options for ps(1) (after --) [default: -ef]
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// table | json
    #[arg(short = 'f', long, default_value = "table")]
    pub format: String,
    /// Only the ids
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct SpecArgs {
    /// A config for a rootless container (user namespace, mappings of the caller)
    #[arg(long)]
    pub rootless: bool,
    /// Where to write config.json [default: the current directory]
    #[arg(short = 'b', long, value_name = "DIR")]
    pub bundle: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// The runtime-spec linux.resources JSON, from a file or - for stdin
    #[arg(short = 'r', long, value_name = "FILE")]
    pub resources: Option<String>,
    /// Memory limit in bytes (or with a k, m, g suffix)
    #[arg(long, value_name = "BYTES")]
    pub memory: Option<String>,
    /// Memory+swap limit (accepted; cleave allows no swap beyond the memory limit)
    #[arg(long, value_name = "BYTES")]
    pub memory_swap: Option<String>,
    /// Maximum number of tasks
    #[arg(long, value_name = "N")]
    pub pids_limit: Option<i64>,
    /// CPU quota in microseconds per period
    #[arg(long, value_name = "US")]
    pub cpu_quota: Option<i64>,
    /// CPU period in microseconds
    #[arg(long, value_name = "US")]
    pub cpu_period: Option<u64>,
    /// CPU shares (v1 scale; cgroup2 gets the matching weight)
    #[arg(long, value_name = "N")]
    pub cpu_share: Option<u64>,
    /// The container id
    pub id: String,
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Print one stats event and exit
    #[arg(long)]
    pub stats: bool,
    /// Seconds between stats events
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub interval: String,
    /// The container id
    pub id: String,
}

/// What checkpoint and restore share.
#[derive(Args, Debug, Clone, Default)]
pub struct CriuOpts {
    /// The directory of CRIU's images (made if missing)
    #[arg(long, value_name = "DIR")]
    pub image_path: Option<PathBuf>,
    /// Where CRIU writes its log and work files (made if missing, parents too)
    /// [default: the image directory]
    #[arg(long, value_name = "DIR")]
    pub work_path: Option<PathBuf>,
    /// Save or restore established TCP connections
    #[arg(long)]
    pub tcp_established: bool,
    /// Allow unix sockets connected to a peer outside the container
    #[arg(long)]
    pub ext_unix_sk: bool,
    /// Allow a process that shares the caller's terminal session
    #[arg(long)]
    pub shell_job: bool,
    /// Save or restore file locks
    #[arg(long)]
    pub file_locks: bool,
    /// How CRIU handles the container's cgroups: soft | full | strict | ignore
    #[arg(long, value_name = "MODE", default_value = "soft")]
    pub manage_cgroups_mode: String,
    /// A namespace to create empty instead of saving it (network)
    #[arg(long, value_name = "NS")]
    pub empty_ns: Option<String>,
    /// Deduplicate the images against a parent's as they are written
    #[arg(long)]
    pub auto_dedup: bool,
    /// Lazy migration of memory (needs soft-dirty tracking in the kernel)
    #[arg(long)]
    pub lazy_pages: bool,
}

#[derive(Args, Debug)]
pub struct CheckpointArgs {
    #[command(flatten)]
    pub criu: CriuOpts,
    /// The images of a previous pre-dump, relative to the image directory or absolute
    #[arg(long, value_name = "DIR")]
    pub parent_path: Option<PathBuf>,
    /// Keep the container running after the checkpoint
    #[arg(long)]
    pub leave_running: bool,
    /// Dump memory only, to a parent image for a later checkpoint (needs soft-dirty
    /// tracking in the kernel)
    #[arg(long)]
    pub pre_dump: bool,
    /// A CRIU page server ADDRESS:PORT (not supported)
    #[arg(long, value_name = "ADDRESS:PORT")]
    pub page_server: Option<String>,
    /// Accepted (lazy pages' readiness fd)
    #[arg(long, value_name = "FD", hide = true)]
    pub status_fd: Option<i32>,
    /// Checkpoint the sandbox of `cleave spawn` whose first process is PID (the PID
    /// `cleave spawn -v` reports), instead of a container
    #[arg(long, value_name = "PID", conflicts_with_all = ["id", "name"])]
    pub pid: Option<i32>,
    /// Checkpoint the sandbox started by `cleave spawn --name NAME`, instead of a container
    #[arg(long, value_name = "NAME", conflicts_with = "id")]
    pub name: Option<String>,
    /// The container id (none with --pid or --name)
    #[arg(required_unless_present_any = ["pid", "name"])]
    pub id: Option<String>,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub criu: CriuOpts,
    /// The bundle directory (holding config.json) [default: the current directory]
    #[arg(short = 'b', long, value_name = "DIR")]
    pub bundle: Option<PathBuf>,
    /// Return once restored; the container runs on
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Write the container's PID to this file
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// An AF_UNIX socket for a terminal (a restored container keeps its own: accepted)
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Accepted; the restored container keeps its root
    #[arg(long)]
    pub no_pivot: bool,
    /// Accepted (containerd's restore); cleave is a subreaper only while it waits
    /// without --detach
    #[arg(long, hide = true)]
    pub no_subreaper: bool,
    /// Accepted; the container keeps the LSM profile it was saved with
    #[arg(long, value_name = "PROFILE", hide = true)]
    pub lsm_profile: Option<String>,
    /// Accepted; the container keeps the mount context it was saved with
    #[arg(long, value_name = "CONTEXT", hide = true)]
    pub lsm_mount_context: Option<String>,
    /// A checkpoint of a `cleave spawn` sandbox is restored as a sandbox (no container
    /// id): NAME is its name while it runs, for `cleave checkpoint --name NAME`
    #[arg(long, value_name = "NAME", conflicts_with = "id")]
    pub name: Option<String>,
    /// The container id (none for a sandbox's checkpoint: cleave tells the two apart by
    /// the image directory)
    pub id: Option<String>,
}
