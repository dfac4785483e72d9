/* The floor of the OCI `run` row: what `cleave run --bundle B ID` does for the bundle bench/run
 * makes (runc's default config.json over the busybox rootfs, its process /bin/true), on a
 * hybrid-cgroup host, as root, written the shortest way in C (see floor.h):
 *
 *   floor-oci STATE_ROOT BUNDLE ROOTFS ID
 *
 * The runtime's side: config.json read (not parsed: a C floor has no JSON to walk, so this
 * row leaves cleave's parsing and lowering out of the floor), a state directory with a lock
 * file held, the record written and renamed into place, the config copied beside it, the
 * cgroup2 and v1 devices directories with runc's default device rules, the start FIFO; one
 * clone3 with the config's namespaces (mount, UTS, IPC, PID, network) into the cgroup2
 * directory. The container's side: the v1 devices cgroup joined, the hostname, loopback up,
 * / private, the rootfs bound on itself (nodev), the config's mounts in its order (proc with
 * its read-only and masked entries, a tmpfs /dev, devpts, /dev/shm, mqueue, a read-only
 * sysfs, a cgroup namespace and /sys/fs/cgroup as a tmpfs holding each hierarchy read-only),
 * the six device nodes and the /dev symlinks, /sys/firmware masked, the root read-only,
 * pivot_root, a new session, RLIMIT_NOFILE, "ready" to the runtime, the start barrier, then
 * no_new_privs, the bounding set cut to the config's capabilities and the capabilities set,
 * and execv. The runtime then records the PID and its start time, starts it (the FIFO), waits,
 * and deletes it: the cgroups, the record, the directory. */
/* floor.h serves every floor; this one uses only part of it. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "floor.h"
#include <grp.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/sysmacros.h>

static const char *controllers[] = {"cpu",     "cpuacct", "cpuset", "memory", "devices",
                                    "freezer", "blkio",   "pids"};

static void write_at(const char *dir, const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    write_file(p, text);
}

/* The record: a temporary file renamed over state.json (what runc and cleave both do). */
static void save(const char *dir, const char *text)
{
    char tmp[512], dst[512];
    snprintf(tmp, sizeof tmp, "%s/.state.json.tmp", dir);
    snprintf(dst, sizeof dst, "%s/state.json", dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    must(fd, tmp);
    must(write(fd, text, strlen(text)), tmp);
    close(fd);
    must(rename(tmp, dst), dst);
}

static void dev_node(const char *name, unsigned major, unsigned minor)
{
    char p[64];
    snprintf(p, sizeof p, "dev/%s", name);
    must(mknod(p, S_IFCHR | 0666, makedev(major, minor)), p);
}

/* The capabilities runc's default config gives the process: KILL, NET_BIND_SERVICE and
 * AUDIT_WRITE, in the bounding, effective and permitted sets. */
static void caps(void)
{
    const uint32_t keep = (1u << 5) | (1u << 10) | (1u << 29);
    struct {
        uint32_t version;
        int pid;
    } hdr = {0x20080522, 0};
    struct {
        uint32_t effective, permitted, inheritable;
    } data[2] = {{keep, keep, 0}, {0, 0, 0}};
    must(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs");
    for (int cap = 0; cap < 64; cap++) {
        if (cap < 32 && (keep & (1u << cap)))
            continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0)
            break;
    }
    must(setgroups(0, NULL), "setgroups");
    must(setresgid(0, 0, 0), "setresgid");
    must(setresuid(0, 0, 0), "setresuid");
    must(syscall(SYS_capset, &hdr, data), "capset");
}

static void container(const char *rootfs, const char *devices, int ready, int barrier)
{
    write_at(devices, "tasks", "0");
    must(sethostname("runc", 4), "sethostname");
    loopback_up();
    must(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "make / private");
    must(mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL), "bind rootfs");
    must(setattr(rootfs, AT_RECURSIVE, MOUNT_ATTR_NODEV, 0), "rootfs nodev");
    must(chdir(rootfs), "chdir rootfs");
    mount_proc("proc");
    must(mount("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k"),
         "/dev");
    must(mkdir("dev/pts", 0755), "dev/pts");
    must(mount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
               "newinstance,ptmxmode=0666,mode=0620,gid=5"),
         "devpts");
    must(mkdir("dev/shm", 0755), "dev/shm");
    must(mount("shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
               "mode=1777,size=65536k"),
         "/dev/shm");
    must(mkdir("dev/mqueue", 0755), "dev/mqueue");
    must(mount("mqueue", "dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL),
         "mqueue");
    must(mount("sysfs", "sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL),
         "sysfs");
    must(unshare(CLONE_NEWCGROUP), "unshare cgroup");
    must(mount("none", "sys/fs/cgroup", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
               "mode=0755,size=64k"),
         "/sys/fs/cgroup");
    const unsigned long ro = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    char p[128];
    for (size_t i = 0; i < sizeof controllers / sizeof controllers[0]; i++) {
        snprintf(p, sizeof p, "sys/fs/cgroup/%s", controllers[i]);
        must(mkdir(p, 0755), p);
        must(mount("cgroup", p, "cgroup", ro, controllers[i]), p);
    }
    must(mkdir("sys/fs/cgroup/systemd", 0755), "systemd");
    must(mount("cgroup", "sys/fs/cgroup/systemd", "cgroup", ro, "none,name=systemd"), "systemd");
    must(mkdir("sys/fs/cgroup/unified", 0755), "unified");
    must(mount("cgroup2", "sys/fs/cgroup/unified", "cgroup2", ro, NULL), "unified");
    must(setattr("sys/fs/cgroup", 0, MOUNT_ATTR_RDONLY, 0), "/sys/fs/cgroup ro");
    dev_node("null", 1, 3);
    dev_node("zero", 1, 5);
    dev_node("full", 1, 7);
    dev_node("random", 1, 8);
    dev_node("urandom", 1, 9);
    dev_node("tty", 5, 0);
    must(symlink("/proc/self/fd", "dev/fd"), "dev/fd");
    must(symlink("/proc/self/fd/0", "dev/stdin"), "dev/stdin");
    must(symlink("/proc/self/fd/1", "dev/stdout"), "dev/stdout");
    must(symlink("/proc/self/fd/2", "dev/stderr"), "dev/stderr");
    must(symlink("pts/ptmx", "dev/ptmx"), "dev/ptmx");
    (void)mount("none", "sys/firmware", "tmpfs", ro, "size=4k,mode=0555");
    must(setattr(".", 0, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0), "root ro");
    must(syscall(SYS_pivot_root, ".", "."), "pivot_root");
    must(umount2(".", MNT_DETACH), "umount old root");
    must(chdir("/"), "chdir /");
    must(setsid(), "setsid");
    struct rlimit nofile = {1024, 1024};
    must(setrlimit(RLIMIT_NOFILE, &nofile), "RLIMIT_NOFILE");
    must(write(ready, "r", 1), "ready");
    close(ready);
    char go;
    must(read(barrier, &go, 1), "barrier");
    close(barrier);
    caps();
    char *argv[] = {"/bin/true", NULL};
    execv(argv[0], argv);
    die(argv[0]);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: floor-oci STATE_ROOT BUNDLE ROOTFS ID\n");
        return 125;
    }
    const char *root = argv[1], *bundle = argv[2], *rootfs = argv[3], *id = argv[4];
    char path[1024], dir[512], v2[512], v1[512], fifo[1024], text[4096];

    snprintf(path, sizeof path, "%s/config.json", bundle);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    must(fd, path);
    ssize_t n = read(fd, text, sizeof text - 1);
    must(n, path);
    close(fd);

    (void)mkdir(root, 0700);
    snprintf(dir, sizeof dir, "%s/%s", root, id);
    must(mkdir(dir, 0700), dir);
    snprintf(path, sizeof path, "%s/lock", dir);
    int lock = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    must(lock, path);
    must(flock(lock, LOCK_EX), "flock");
    save(dir, "{\"status\":\"creating\"}");
    snprintf(path, sizeof path, "%s/config.json", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    must(fd, path);
    must(write(fd, text, (size_t)n), path);
    close(fd);

    (void)mkdir("/sys/fs/cgroup/unified/cleave", 0755);
    snprintf(v2, sizeof v2, "/sys/fs/cgroup/unified/cleave/%s", id);
    must(mkdir(v2, 0755), v2);
    int cgroup = open(v2, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    must(cgroup, v2);
    (void)mkdir("/sys/fs/cgroup/devices/cleave", 0755);
    snprintf(v1, sizeof v1, "/sys/fs/cgroup/devices/cleave/%s", id);
    must(mkdir(v1, 0755), v1);
    write_at(v1, "devices.deny", "a");
    static const char *allow[] = {"c 5:2 rwm",   "c 136:* rwm", "c 137:* rwm", "c 138:* rwm",
                                  "c 139:* rwm", "c 140:* rwm", "c 141:* rwm", "c 142:* rwm",
                                  "c 143:* rwm", "c 1:3 rwm",   "c 1:5 rwm",   "c 1:7 rwm",
                                  "c 1:8 rwm",   "c 1:9 rwm",   "c 5:0 rwm"};
    for (size_t i = 0; i < sizeof allow / sizeof allow[0]; i++)
        write_at(v1, "devices.allow", allow[i]);

    snprintf(fifo, sizeof fifo, "%s/start.fifo", dir);
    must(mkfifo(fifo, 0600), fifo);
    int barrier = open(fifo, O_RDWR | O_CLOEXEC);
    must(barrier, fifo);
    int sync[2];
    must(pipe2(sync, O_CLOEXEC), "pipe");

    int pidfd = -1;
    struct clone_args args = {
        .flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET |
                 CLONE_PIDFD | CLONE_INTO_CGROUP,
        .pidfd = (uint64_t)(uintptr_t)&pidfd,
        .exit_signal = SIGCHLD,
        .cgroup = (uint64_t)cgroup,
    };
    pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
    must(pid, "clone3");
    if (pid == 0) {
        close(sync[0]);
        container(rootfs, v1, sync[1], barrier);
    }
    close(sync[1]);
    close(barrier);
    close(cgroup);
    char r;
    if (read(sync[0], &r, 1) != 1)
        die("the container did not get ready");
    close(sync[0]);
    /* The PID's start time, from /proc/PID/stat, goes into the record. */
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    must(fd, path);
    must(read(fd, text, sizeof text - 1), path);
    close(fd);
    save(dir, "{\"status\":\"created\"}");

    /* start */
    fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    must(fd, fifo);
    must(write(fd, "1", 1), fifo);
    close(fd);
    must(unlink(fifo), fifo);
    save(dir, "{\"status\":\"running\"}");

    siginfo_t info;
    must(waitid(P_PIDFD, (id_t)pidfd, &info, WEXITED), "waitid");

    /* delete */
    must(rmdir(v2), v2);
    must(rmdir(v1), v1);
    snprintf(path, sizeof path, "%s/state.json", dir);
    must(unlink(path), path);
    snprintf(path, sizeof path, "%s/config.json", dir);
    must(unlink(path), path);
    snprintf(path, sizeof path, "%s/lock", dir);
    must(unlink(path), path);
    must(rmdir(dir), dir);
    return info.si_status;
}
