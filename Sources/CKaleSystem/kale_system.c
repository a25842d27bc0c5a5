#define _GNU_SOURCE
#include "kale_system.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int kale_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int kale_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

int kale_wifexited(int status) { return WIFEXITED(status); }
int kale_wexitstatus(int status) { return WEXITSTATUS(status); }
int kale_wifsignaled(int status) { return WIFSIGNALED(status); }
int kale_wtermsig(int status) { return WTERMSIG(status); }

int kale_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
               int stdin_fd, int stdout_fd, int stderr_fd, int control_fd) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    int rc;
    if ((rc = posix_spawn_file_actions_init(&actions)) != 0) return rc;
    if ((rc = posix_spawnattr_init(&attr)) != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return rc;
    }
    // dup2 clears close-on-exec on the target descriptor, so the child keeps exactly 0-3.
    posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0);
    posix_spawn_file_actions_adddup2(&actions, stdout_fd, 1);
    posix_spawn_file_actions_adddup2(&actions, stderr_fd, 2);
    if (control_fd >= 0) posix_spawn_file_actions_adddup2(&actions, control_fd, 3);
    // Belt and braces beside O_CLOEXEC: a descriptor some library opened without it (a
    // socket, a log file) must not keep a pipe or a Redis connection open in the child.
    posix_spawn_file_actions_addclosefrom_np(&actions, control_fd >= 0 ? 4 : 3);

    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETPGROUP);
    rc = posix_spawn(pid, path, &actions, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    return rc;
}

int kale_read_full(int fd, void *buf, size_t len) {
    char *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n == 0) return 1;
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int kale_write_full(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int kale_write_nosigpipe(int fd, const void *buf, size_t len) {
    // Per write rather than once per process (signal(SIGPIPE, SIG_IGN)): the disposition
    // belongs to the application embedding the worker, and these writes run on threads it
    // owns (Swift's cooperative pool), so their masks are left as they were found. The two
    // sigprocmask calls cost 0.26 us (measured here), beside ~9 us for a task's round trip
    // over the pipes alone and far more through Redis.
    sigset_t pipe_only, previous;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &previous);
    int rc = kale_write_full(fd, buf, len);
    int saved = errno;
    // Only a SIGPIPE this write raised can be pending here if the thread did not block it
    // before; one it had blocked already may be someone else's, so it stays.
    if (rc != 0 && saved == EPIPE && !sigismember(&previous, SIGPIPE)) {
        struct timespec zero = {0, 0};
        sigset_t pending;
        if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) sigtimedwait(&pipe_only, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    errno = saved;
    return rc;
}

int kale_move_cloexec(int fd) {
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    if (moved < 0) return -1;
    close(fd);
    return moved;
}

int kale_wait_exited(pid_t pid) {
    siginfo_t info;
    for (;;) {
        memset(&info, 0, sizeof info);
        if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT) == 0) return 0;
        if (errno != EINTR) return -1;
    }
}

long long kale_data_bytes(void) {
    // "e": close-on-exec. A task that spawns a process while another thread reads this file
    // would hand the descriptor to the grandchild (seen: ChildProcessTests found fd 3 there).
    FILE *f = fopen("/proc/self/status", "re");
    if (!f) return -1;
    char line[256];
    long long kb = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmData:", 7) == 0) {
            kb = strtoll(line + 7, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

long long kale_data_limit(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_DATA, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return -1;
    return (long long)limit.rlim_cur;
}

static struct sigaction kale_previous_actions[NSIG];

/// Runs when the child crashes. Swift's allocator traps the moment malloc returns NULL and
/// nothing runs in between, so errno still says ENOMEM: the one clue a crash was the memory
/// limit. The note goes to stderr (an atomic write below PIPE_BUF), not the frame pipe,
/// which another thread may be writing to; then the previous action (the default, or
/// Swift's backtracer) gets the signal.
static void kale_note_crash(int sig, siginfo_t *info, void *context) {
    (void)context;
    int saved = errno;
    if (saved == ENOMEM) {
        static const char note[] = "\n" KALE_MEMORY_LIMIT_MARKER "\n";
        ssize_t ignored = write(2, note, sizeof note - 1);
        (void)ignored;
    }
    sigaction(sig, &kale_previous_actions[sig], NULL);
    // A fault repeats when this returns and reaches the previous action with its own
    // siginfo; a sent signal (abort's raise) would not repeat, so send it again. It stays
    // blocked, hence pending, until this handler returns.
    if (info == NULL || info->si_code <= 0) raise(sig);
    errno = saved;
}

long long kale_limit_data(long long extra) {
    long long committed = kale_data_bytes();
    if (committed < 0 || extra < 0) {
        errno = EINVAL;
        return -1;
    }
    struct rlimit limit = {(rlim_t)(committed + extra), (rlim_t)(committed + extra)};
    if (setrlimit(RLIMIT_DATA, &limit) != 0) return -1;
    static const int crashes[] = {SIGILL, SIGTRAP, SIGABRT, SIGSEGV, SIGBUS};
    for (size_t i = 0; i < sizeof crashes / sizeof crashes[0]; i++) {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_sigaction = kale_note_crash;
        action.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&action.sa_mask);
        sigaction(crashes[i], &action, &kale_previous_actions[crashes[i]]);
    }
    return committed + extra;
}

unsigned long long kale_touch_pages(void *p, size_t len, size_t stride) {
    volatile unsigned char *bytes = p;
    for (size_t i = 0; i < len; i += stride) bytes[i] = 1;
    unsigned long long sum = 0;
    for (size_t i = 0; i < len; i += stride) sum += bytes[i];
    return sum;
}

long long kale_rss_bytes(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    long long size = 0, resident = 0;
    int n = fscanf(f, "%lld %lld", &size, &resident);
    fclose(f);
    if (n != 2) return -1;
    return resident * sysconf(_SC_PAGESIZE);
}
