/* The floor: what a sandbox costs when a hand-written C program does the same work as cleave
 * and nothing else. Each bench/c/floor_*.c is one row of bench/run: the same namespaces in one
 * clone3, the same id maps, the same mounts in the same order with the same flags, the same
 * pivot_root, the same init (a reaper that is PID 1) and the same exec, written the shortest
 * way the kernel allows (classic mount(2) by path where it gives the same mount, no fds kept,
 * no options, no checks but the return codes). A step that fails ends the program with 125 and
 * names the step, so a floor that did less than cleave would show as a failed row rather than
 * as a fast one.
 *
 * Built by bench/run with gcc -O2 -static (cleave's shipped binary is static too). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/sched.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SANDBOX_NS (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | \
                    CLONE_NEWPID | CLONE_NEWNET)

static void die(const char *what)
{
    int e = errno;
    char buf[256];
    int n = snprintf(buf, sizeof buf, "floor: %s: %s\n", what, strerror(e));
    if (n > 0)
        (void)!write(2, buf, (size_t)n);
    _exit(125);
}

static void must(long rc, const char *what)
{
    if (rc < 0)
        die(what);
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    must(fd, path);
    must(write(fd, text, strlen(text)), path);
    close(fd);
}

/* setgroups deny, then the gid and uid maps: `inside outside 1`. */
static void map_ids(unsigned inside_uid, unsigned uid, unsigned inside_gid, unsigned gid)
{
    char line[64];
    write_file("/proc/self/setgroups", "deny");
    snprintf(line, sizeof line, "%u %u 1\n", inside_gid, gid);
    write_file("/proc/self/gid_map", line);
    snprintf(line, sizeof line, "%u %u 1\n", inside_uid, uid);
    write_file("/proc/self/uid_map", line);
}

/* The loopback interface up, as cleave does in every new network namespace. */
static void loopback_up(void)
{
    struct ifreq ifr;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    must(s, "socket");
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    must(ioctl(s, SIOCGIFFLAGS, &ifr), "SIOCGIFFLAGS lo");
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    must(ioctl(s, SIOCSIFFLAGS, &ifr), "SIOCSIFFLAGS lo");
    close(s);
}

static int setattr(const char *path, unsigned flags, uint64_t set, uint64_t clr)
{
    struct mount_attr a = {.attr_set = set, .attr_clr = clr};
    return (int)syscall(SYS_mount_setattr, AT_FDCWD, path, flags, &a, sizeof a);
}

/* A fresh procfs on PROC (a path) with cleave's read-only and hidden entries: the read-only
 * ones a recursive bind of themselves made read-only, the hidden files /dev/null bound
 * read-only over them, the hidden directories an empty read-only tmpfs. Entries this kernel
 * lacks fail with ENOENT, which is ignored (cleave's probe of the same entry costs the same
 * one lookup). */
static void mount_proc(const char *proc)
{
    static const char *ro[] = {"sys", "sysrq-trigger", "irq", "bus", "fs"};
    static const char *hidden_files[] = {"kcore", "keys", "timer_list", "latency_stats",
                                         "sched_debug"};
    static const char *hidden_dirs[] = {"scsi", "acpi"};
    const uint64_t strict = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    char p[256];
    must(mount("none", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL), "mount proc");
    for (size_t i = 0; i < sizeof ro / sizeof ro[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", proc, ro[i]);
        if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) == 0)
            must(setattr(p, AT_RECURSIVE, MOUNT_ATTR_RDONLY | strict, 0), p);
    }
    for (size_t i = 0; i < sizeof hidden_files / sizeof hidden_files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", proc, hidden_files[i]);
        if (mount("/dev/null", p, NULL, MS_BIND, NULL) == 0)
            must(setattr(p, 0, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
                         MOUNT_ATTR_NODEV),
                 p);
    }
    for (size_t i = 0; i < sizeof hidden_dirs / sizeof hidden_dirs[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", proc, hidden_dirs[i]);
        (void)mount("none", p, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                    "size=4k,mode=0555");
    }
}

/* clone3 with the sandbox's namespaces, fork-like (no stack: the child returns 0 here). */
static pid_t clone_sandbox(void)
{
    struct clone_args args = {.flags = SANDBOX_NS, .exit_signal = SIGCHLD};
    return (pid_t)syscall(SYS_clone3, &args, sizeof args);
}

/* Waits for PID and exits as it did (the exit code, or 128+N for signal N). */
static void exit_as(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            die("waitpid");
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

/* PID 1 of the sandbox: forks the program (RUN is called in the child) and reaps every child
 * until the program has ended, then exits with its status. */
static void init_then(void (*run)(char **), char **argv)
{
    pid_t child = fork();
    must(child, "fork");
    if (child == 0)
        run(argv);
    for (;;) {
        int status;
        pid_t p = wait(&status);
        if (p < 0 && errno != EINTR)
            die("wait");
        if (p == child)
            _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    }
}

/* The program's capabilities: none, in every set, and none that exec could give back. */
static inline void drop_caps(void)
{
    struct {
        uint32_t version;
        int pid;
    } hdr = {0x20080522, 0};
    struct {
        uint32_t effective, permitted, inheritable;
    } data[2] = {{0, 0, 0}, {0, 0, 0}};
    must(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs");
    for (int cap = 0; prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0; cap++)
        ;
    must(syscall(SYS_capset, &hdr, data), "capset");
}
