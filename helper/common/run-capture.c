/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vc_run_capture (run-capture.h). */
#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "common/run-capture.h"

static int64_t
now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
vc_run_capture (char *const argv[], unsigned timeout_s, char **out, size_t *len)
{
  int pfd[2], status, e = 0;
  size_t n = 0, cap = 4096;
  char *buf = malloc (cap);
  int64_t deadline = now_ms () + (int64_t) timeout_s * 1000;
  bool killed = false;
  pid_t pid;

  *out = NULL;
  if (len)
    *len = 0;
  if (buf == NULL)
    return -1;
  if (pipe2 (pfd, O_CLOEXEC) == -1) {
    free (buf);
    return -1;
  }
  pid = fork ();
  if (pid == 0) {
    int null = open ("/dev/null", O_RDWR);
    sigset_t none;
    sigemptyset (&none);
    sigprocmask (SIG_SETMASK, &none, NULL);
    signal (SIGPIPE, SIG_DFL);
    if (null == -1 || dup2 (null, 0) == -1 || dup2 (pfd[1], 1) == -1 ||
        dup2 (null, 2) == -1)
      _exit (127);
    execvp (argv[0], argv);
    _exit (127);
  }
  close (pfd[1]);
  if (pid == -1) {
    e = errno;
    close (pfd[0]);
    free (buf);
    errno = e;
    return -1;
  }
  for (;;) {
    struct pollfd p = { .fd = pfd[0], .events = POLLIN };
    int64_t left = deadline - now_ms ();
    ssize_t r;
    if (left <= 0) {
      kill (pid, SIGKILL);
      killed = true;
      break;
    }
    if (poll (&p, 1, left > 1000 ? 1000 : (int) left) <= 0)
      continue;
    r = read (pfd[0], buf + n, cap - 1 - n);
    if (r == -1 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (r <= 0)
      break;
    n += r;
    if (n == cap - 1) {
      char *b = cap < VC_RUN_CAPTURE_MAX ? realloc (buf, cap * 2) : NULL;
      if (b == NULL)
        break;
      buf = b;
      cap *= 2;
    }
  }
  close (pfd[0]);
  buf[n] = '\0';
  *out = buf;
  if (len)
    *len = n;
  while (waitpid (pid, &status, 0) == -1)
    if (errno != EINTR)
      return -1;
  if (killed) {
    errno = ETIMEDOUT;
    return -1;
  }
  if (WIFEXITED (status))
    return WEXITSTATUS (status);
  errno = EINTR;
  return -1;
}
