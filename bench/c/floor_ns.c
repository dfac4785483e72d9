/* The floor of `cleave spawn --new user,pid,mount,uts,ipc,net,cgroup --mount-proc -- PROGRAM`:
 * the namespaces in one clone3, root inside mapped to the caller, loopback up, / made
 * private, a fresh /proc with cleave's read-only and hidden entries, an init, and for the
 * program a nested user and mount namespace (root inside mapped to root) so that the
 * /proc mounts are locked under it, then execvp. See floor.h. */
#include "floor.h"

static void program(char **argv)
{
    must(unshare(CLONE_NEWNS | CLONE_NEWUSER), "unshare");
    map_ids(0, 0, 0, 0);
    execvp(argv[0], argv);
    die(argv[0]);
}

int main(int argc, char **argv)
{
    unsigned uid = getuid(), gid = getgid();
    if (argc < 2) {
        fprintf(stderr, "usage: floor-ns PROGRAM [ARG...]\n");
        return 125;
    }
    pid_t pid = clone_sandbox();
    must(pid, "clone3");
    if (pid > 0)
        exit_as(pid);
    map_ids(0, uid, 0, gid);
    loopback_up();
    must(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "make / private");
    mount_proc("/proc");
    init_then(program, argv + 1);
}
