//! `cleave bwrap --help`: bubblewrap 0.8's options, described in cleave's words.

pub const HELP: &str = "\
usage: bwrap [OPTIONS...] [--] PROGRAM [ARGS...]
       cleave bwrap [OPTIONS...] [--] PROGRAM [ARGS...]

cleave's bubblewrap-compatible command line: the options of bubblewrap 0.8, read in order,
with bubblewrap's meaning. The sandbox starts from an empty root (a tmpfs) in a new mount
namespace; a caller that is not root also gets a new user namespace mapping its own ids.
Failures of the sandbox's set-up exit with 1; otherwise the program's exit code (128+N when
killed by signal N).

General
  --help                     this text
  --version                  the bubblewrap version this command line follows
  --args FD                  read more options from FD, separated by NUL bytes
  --argv0 VALUE              argv[0] of the program
  --level-prefix             start error lines with a syslog level (<3>)
Namespaces
  --unshare-all              new user (when possible), ipc, pid, net, uts, cgroup namespaces
  --share-net                keep the caller's network namespace (with --unshare-all)
  --unshare-user             a new user namespace (implied when the caller is not root)
  --unshare-user-try         a new user namespace when one can be made
  --unshare-ipc | --unshare-pid | --unshare-net | --unshare-uts | --unshare-cgroup
                             a new namespace of that kind
  --unshare-cgroup-try       a new cgroup namespace when one can be made
  --userns FD                join the user namespace FD refers to instead of making one
  --pidns FD                 run in the PID namespace FD refers to (with --unshare-pid:
                             in a new one nested in it)
  --disable-userns           the program cannot make user namespaces (needs a user namespace)
  --userns2 FD               after setup, switch to the user namespace FD refers to (a
                             descendant of the sandbox's)
  --assert-userns-disabled   fail unless the program cannot make user namespaces
Ids, names, environment
  --uid UID, --gid GID       the ids inside (needs a user namespace)
  --hostname NAME            the hostname (needs --unshare-uts)
  --chdir DIR                the working directory inside
  --clearenv                 start from an empty environment
  --setenv VAR VALUE         set a variable
  --unsetenv VAR             remove a variable
Filesystem (applied in the order given, inside the new root)
  --bind SRC DEST            bind the host's SRC on DEST (-try: skip a missing SRC)
  --ro-bind SRC DEST         the same, read-only (also --ro-bind-try)
  --dev-bind SRC DEST        the same, with device nodes usable (also --dev-bind-try)
  --remount-ro DEST          make DEST read-only
  --proc DEST                a procfs
  --dev DEST                 a minimal /dev (null, zero, full, random, urandom, tty, pts, shm)
  --tmpfs DEST               an empty tmpfs, owned by the sandbox's ids
  --mqueue DEST              a POSIX message queue filesystem
  --dir DEST                 a directory
  --symlink TARGET DEST      a symbolic link DEST pointing at TARGET
  --bind-fd FD DEST          bind the directory FD refers to on DEST (--ro-bind-fd: read-only)
  --file FD DEST             a new file at DEST holding what FD reads
  --bind-data FD DEST        the same on a private tmpfs, bound on DEST (--ro-bind-data)
  --overlay-src SRC          a lower layer for the next overlay (repeat for more)
  --overlay RWSRC WORK DEST  an overlay of the layers on DEST, writes going to RWSRC
  --tmp-overlay DEST         the same, writes going to a throw-away tmpfs
  --ro-overlay DEST          the same, read-only (two layers at least)
  --chmod OCTAL PATH         set the permission bits of PATH (which must exist)
  --perms OCTAL              the mode of what the next option creates (--tmpfs, --dir,
                             --file, --bind-data, --ro-bind-data)
  --size BYTES               the size of the next --tmpfs
Security
  --cap-add CAP, --cap-drop CAP
                             capabilities kept (root keeps its own, anyone else none)
  --seccomp FD               a seccomp program (classic BPF) read from FD
  --add-seccomp-fd FD        another one (may be repeated; not with --seccomp)
  --new-session              run the program in a new session (no way to its terminal)
  --exec-label, --file-label SELinux labels: refused (cleave sets no SELinux context)
Lifetime and status
  --die-with-parent          kill the sandbox when its caller dies
  --as-pid-1                 the program is PID 1 itself (with --unshare-pid)
  --block-fd FD              wait until FD is readable before running the program
  --userns-block-fd FD       write no id maps: wait for a byte on FD once the pid is on
                             --info-fd, while someone else writes them (with
                             --unshare-user and --info-fd)
  --lock-file DEST           hold a read lock on DEST (inside) while the sandbox runs
  --sync-fd FD               keep FD open (outside the sandbox) while it runs
  --info-fd FD               write the child's pid and namespaces (JSON) to FD
  --json-status-fd FD        the same, then {\"exit-code\": N} when it ends
";
