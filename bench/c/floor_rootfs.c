/* The floor of the busybox-rootfs rows:
 *   cleave spawn --new user,pid,mount,uts,ipc,net,cgroup --rootfs ROOTFS --proc /proc
 *       --dev /dev --tmpfs /tmp -- PROGRAM                    (floor-rootfs explicit ROOTFS ...)
 *   cleave spawn --preset container --rootfs ROOTFS -- PROGRAM
 *                                                             (floor-rootfs container ROOTFS ...)
 * The namespaces in one clone3, root inside mapped to the caller, loopback up, / private,
 * ROOTFS bound recursively on itself with nodev, a fresh /proc with cleave's read-only and
 * hidden entries, a tmpfs /dev with the six device nodes bound from the host, its symlinks, a
 * devpts and a /dev/shm, a tmpfs /tmp, (container: /sys/firmware hidden), pivot_root, an
 * init, and for the program no capabilities with no_new_privs, (explicit: the TIOCSTI and
 * TIOCLINUX filter cleave installs when the program keeps the caller's session; container:
 * a new session and session keyring), then execv. See floor.h. */
#include "floor.h"
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/seccomp.h>
#include <stddef.h>

static int container;

static void program(char **argv)
{
    if (container) {
        must(setsid(), "setsid");
        must(syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL), "keyctl");
    }
    drop_caps();
    if (!container) {
        struct sock_filter f[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ioctl, 0, 4),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCSTI, 1, 0),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCLINUX, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
        must(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog), "seccomp");
    }
    execv(argv[0], argv);
    die(argv[0]);
}

static void dev_node(const char *name)
{
    char host[64], inside[64];
    snprintf(host, sizeof host, "/dev/%s", name);
    snprintf(inside, sizeof inside, "dev/%s", name);
    must(mknod(inside, S_IFREG | 0666, 0), inside);
    must(mount(host, inside, NULL, MS_BIND, NULL), inside);
    must(setattr(inside, 0, 0, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV), inside);
}

int main(int argc, char **argv)
{
    unsigned uid = getuid(), gid = getgid();
    if (argc < 4 || (strcmp(argv[1], "explicit") && strcmp(argv[1], "container"))) {
        fprintf(stderr, "usage: floor-rootfs explicit|container ROOTFS PROGRAM [ARG...]\n");
        return 125;
    }
    container = strcmp(argv[1], "container") == 0;
    const char *rootfs = argv[2];
    pid_t pid = clone_sandbox();
    must(pid, "clone3");
    if (pid > 0)
        exit_as(pid);
    map_ids(0, uid, 0, gid);
    loopback_up();
    must(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "make / private");
    must(mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL), "bind rootfs");
    must(setattr(rootfs, AT_RECURSIVE, MOUNT_ATTR_NODEV, 0), "rootfs nodev");
    must(chdir(rootfs), "chdir rootfs");
    mount_proc("proc");
    must(mount("none", "dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755"), "mount /dev");
    static const char *nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++)
        dev_node(nodes[i]);
    must(symlink("/proc/self/fd", "dev/fd"), "dev/fd");
    must(symlink("/proc/self/fd/0", "dev/stdin"), "dev/stdin");
    must(symlink("/proc/self/fd/1", "dev/stdout"), "dev/stdout");
    must(symlink("/proc/self/fd/2", "dev/stderr"), "dev/stderr");
    must(symlink("pts/ptmx", "dev/ptmx"), "dev/ptmx");
    must(mkdir("dev/pts", 0755), "dev/pts");
    must(mount("none", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
               "newinstance,ptmxmode=0666,mode=620"),
         "mount devpts");
    must(mkdir("dev/shm", 0755), "dev/shm");
    must(mount("none", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"), "/dev/shm");
    must(mount("none", "tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"), "/tmp");
    if (container)
        (void)mount("none", "sys/firmware", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                    "size=4k,mode=0555");
    must(syscall(SYS_pivot_root, ".", "."), "pivot_root");
    must(umount2(".", MNT_DETACH), "umount old root");
    must(chdir("/"), "chdir /");
    init_then(program, argv + 3);
}
