/* The floor of the OCI `pause` and `resume` rows: what one `cleave pause ID` (or `resume ID`)
 * does, written the shortest way in C (see floor.h), for a container `cleave run -d` made:
 *
 *   floor-pause STATE_DIR CGROUP2_DIR 1|0        (1 freezes, 0 thaws)
 *
 * The container's lock taken, its record read (not parsed: the PID is given by the record's
 * "pid" field, found by a string search), its init checked alive through /proc/PID/stat, the
 * cgroup2 cgroup.freeze written and cgroup.events read back until it reports the new state
 * (it does at once for a sleeping container; the loop is the floor's bound, not a sleep). */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "floor.h"
#include <sys/file.h>

static ssize_t read_all(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    must(fd, path);
    ssize_t n = read(fd, buf, size - 1);
    must(n, path);
    buf[n] = 0;
    close(fd);
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[3], "1") && strcmp(argv[3], "0"))) {
        fprintf(stderr, "usage: floor-pause STATE_DIR CGROUP2_DIR 1|0\n");
        return 125;
    }
    const char *dir = argv[1], *cgroup = argv[2], *value = argv[3];
    char path[1024], text[8192], want[16];

    snprintf(path, sizeof path, "%s/lock", dir);
    int lock = open(path, O_RDONLY | O_CLOEXEC);
    must(lock, path);
    must(flock(lock, LOCK_EX), "flock");
    snprintf(path, sizeof path, "%s/state.json", dir);
    read_all(path, text, sizeof text);
    const char *pid = strstr(text, "\"pid\":");
    if (!pid) {
        errno = EINVAL;
        die("state.json: no pid");
    }
    snprintf(path, sizeof path, "/proc/%ld/stat", strtol(pid + 6, NULL, 10));
    read_all(path, text, sizeof text);

    snprintf(path, sizeof path, "%s/cgroup.freeze", cgroup);
    write_file(path, value);
    snprintf(path, sizeof path, "%s/cgroup.events", cgroup);
    snprintf(want, sizeof want, "frozen %s", value);
    do
        read_all(path, text, sizeof text);
    while (!strstr(text, want));
    close(lock);
    return 0;
}
