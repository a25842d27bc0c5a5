#ifndef KALE_SYSTEM_H
#define KALE_SYSTEM_H

#include <sys/types.h>

/// pipe2(O_CLOEXEC): without close-on-exec, children spawned concurrently inherit each
/// other's pipe ends and never see EOF. pipe2 is a GNU extension, hence this shim.
int kale_pipe_cloexec(int fds[2]);

/// An eventfd (non-blocking, close-on-exec) used to wake a thread blocked in poll().
int kale_eventfd(void);

/// Decoders for waitpid() status; the W* macros are not imported into Swift.
int kale_wifexited(int status);
int kale_wexitstatus(int status);
int kale_wifsignaled(int status);
int kale_wtermsig(int status);

/// posix_spawn of `path` with `argv`/`envp`, stdin/stdout/stderr and descriptor 3 (the
/// control pipe; -1 for none) bound to the given fds, default signal dispositions restored (SIGPIPE is
/// ignored in the parent) and the child placed in its own process group. Returns 0 or an
/// errno value.
int kale_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
               int stdin_fd, int stdout_fd, int stderr_fd, int control_fd);

/// Whole-buffer read/write that retry on EINTR and short transfers. Return 0 on success,
/// -1 on error (errno set) and 1 on EOF (read only).
int kale_read_full(int fd, void *buf, size_t len);
int kale_write_full(int fd, const void *buf, size_t len);

/// kale_write_full with SIGPIPE blocked on the calling thread for the duration: a write to a
/// pipe whose reader died fails with EPIPE instead of killing the process, whatever the
/// application did with SIGPIPE's disposition. A SIGPIPE the write raised is consumed.
int kale_write_nosigpipe(int fd, const void *buf, size_t len);

/// Moves `fd` to a close-on-exec descriptor numbered 10 or above and closes the original;
/// returns the new descriptor or -1. Keeps a pipe away from the subprocesses a task starts.
int kale_move_cloexec(int fd);

/// Waits until child `pid` has exited without reaping it (waitid WNOWAIT): its pid, and so
/// its process group id, cannot be reused until it is reaped. Returns 0 or -1 (errno set).
int kale_wait_exited(pid_t pid);

/// Bytes of private writable memory the calling process has committed (VmData, what
/// RLIMIT_DATA counts); -1 if unknown.
long long kale_data_bytes(void);

/// RLIMIT_DATA of the calling process in bytes; -1 when unlimited.
long long kale_data_limit(void);

/// Sets RLIMIT_DATA (soft and hard) to what the process has committed now plus `extra`
/// bytes, and notes on stderr when a crash follows a failed allocation (see
/// KALE_MEMORY_LIMIT_MARKER). Returns the limit in bytes, or -1 (errno set).
long long kale_limit_data(long long extra);

/// The line a child writes to stderr when it crashes right after an allocation failed
/// under its memory limit; the supervisor reports such a death as a memory limit.
#define KALE_MEMORY_LIMIT_MARKER "kale-child: an allocation failed at the memory limit"

/// Writes to one byte of every `stride` bytes of `p` (volatile: no optimiser may drop it),
/// then reads them back; returns the sum read, which is the number of pages written.
unsigned long long kale_touch_pages(void *p, size_t len, size_t stride);

/// Resident set size of a process in bytes, from /proc/PID/statm; -1 if unknown.
long long kale_rss_bytes(pid_t pid);

#endif
