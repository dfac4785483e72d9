/* Raw C baselines for cleave's in-process benchmarks.
 *
 * Each function creates one child the way a C programmer would write it, waits for it, and
 * returns 0, or a negative errno (-1000 when the child did not exit with status 0). They are
 * compiled with gcc -O2 (by build.rs, through the cc crate) into the benchmark binary and
 * timed by the same harness as cleave's own calls: same timer, same process (so the same
 * page tables to copy on fork), same statistics. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int reap(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, __WALL) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1000;
}

/* Thread-like: clone(CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|SIGCHLD) on a static stack
 * (reused: the child has exited when waitpid returns), then waitpid. */
static char task_stack[256 * 1024] __attribute__((aligned(64)));

static int task_body(void *arg)
{
    (void)arg;
    return 0;
}

int c_clone_vm_once(void)
{
    pid_t pid = clone(task_body, task_stack + sizeof task_stack,
                      CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | SIGCHLD, NULL);
    if (pid < 0)
        return -errno;
    return reap(pid);
}

static void *thread_body(void *arg)
{
    return arg;
}

int c_pthread_once(void)
{
    pthread_t t;
    int e = pthread_create(&t, NULL, thread_body, NULL);
    if (e != 0)
        return -e;
    e = pthread_join(t, NULL);
    return e ? -e : 0;
}

int c_fork_once(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0)
        _exit(0);
    return reap(pid);
}

int c_vfork_once(void)
{
    pid_t pid = vfork();
    if (pid < 0)
        return -errno;
    if (pid == 0)
        _exit(0);
    return reap(pid);
}

int c_posix_spawn_once(const char *path)
{
    char *argv[] = {(char *)path, NULL};
    pid_t pid;
    int e = posix_spawn(&pid, path, NULL, NULL, argv, environ);
    if (e != 0)
        return -e;
    return reap(pid);
}

/* clone3 with `flags` (plus CLONE_INTO_CGROUP's fd when cgroup_fd >= 0), exit signal
 * SIGCHLD, fork-style (no stack): the child exits at once. */
int c_clone3_once(uint64_t flags, int cgroup_fd)
{
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = flags;
    args.exit_signal = SIGCHLD;
    if (cgroup_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)cgroup_fd;
    }
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0)
        return -errno;
    if (pid == 0)
        syscall(SYS_exit_group, 0);
    return reap((pid_t)pid);
}

/* clone3(CLONE_PIDFD), then waitid(P_PIDFD). */
int c_clone3_pidfd_once(void)
{
    int pidfd = -1;
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_PIDFD;
    args.pidfd = (uint64_t)(uintptr_t)&pidfd;
    args.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0)
        return -errno;
    if (pid == 0)
        syscall(SYS_exit_group, 0);
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int r = 0;
    while (waitid(P_PIDFD, (id_t)pidfd, &info, WEXITED) < 0) {
        if (errno != EINTR) {
            r = -errno;
            break;
        }
    }
    close(pidfd);
    if (r == 0 && !(info.si_code == CLD_EXITED && info.si_status == 0))
        r = -1000;
    return r;
}

/* The classic way into a cgroup: fork, and the child writes "0" (itself) into the target's
 * cgroup.procs, as a runtime does before exec. */
int c_fork_cgroup_procs_once(int procs_fd)
{
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0)
        _exit(write(procs_fd, "0", 1) == 1 ? 0 : 1);
    return reap(pid);
}
