/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "backup/lock-owner.h"
#include "common/cleanup.h"

/* Field 22 of /proc/PID/stat ("self" for pid 0), or 0. */
static unsigned long long
start_time (pid_t pid)
{
  char path[64], buf[1024];
  FILE *f;
  size_t n;
  const char *p;
  unsigned long long t;

  if (pid)
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
  else
    snprintf (path, sizeof path, "/proc/self/stat");
  if ((f = fopen (path, "re")) == NULL)
    return 0;
  n = fread (buf, 1, sizeof buf - 1, f);
  fclose (f);
  buf[n] = '\0';
  /* The command name (field 2) may hold anything: skip past its ')'. */
  if ((p = strrchr (buf, ')')) == NULL)
    return 0;
  p++;
  for (int field = 3; field <= 22; field++) {
    while (*p == ' ')
      p++;
    if (field == 22)
      return sscanf (p, "%llu", &t) == 1 ? t : 0;
    p = strchr (p, ' ');
    if (p == NULL)
      return 0;
  }
  return 0;
}

int
vc_lock_owner_record (int fd)
{
  char rec[64];
  unsigned long long t = start_time (0);

  if (t == 0)
    return -1;
  snprintf (rec, sizeof rec, "%d %llu\n", (int) getpid (), t);
  if (ftruncate (fd, 0) == -1 || pwrite (fd, rec, strlen (rec), 0) != (ssize_t) strlen (rec))
    return -1;
  return 0;
}

void
vc_lock_owner_clear (int fd)
{
  /* A failure is harmless: cancel verifies whatever it reads. */
  if (ftruncate (fd, 0) == -1)
    return;
}

static long
pid_max (void)
{
  FILE *f = fopen ("/proc/sys/kernel/pid_max", "re");
  long m = 0;

  if (f) {
    if (fscanf (f, "%ld", &m) != 1)
      m = 0;
    fclose (f);
  }
  return m > 0 ? m : 4194304;   /* the kernel's limit */
}

/* Strictly "PID STARTTIME\n", digits only. */
static bool
parse_record (const char *buf, long *pid, unsigned long long *start)
{
  const char *p = buf;
  char *end;

  if (!isdigit ((unsigned char) *p))
    return false;
  errno = 0;
  *pid = strtol (p, &end, 10);
  if (errno || *end != ' ' || !isdigit ((unsigned char) end[1]))
    return false;
  p = end + 1;
  *start = strtoull (p, &end, 10);
  return errno == 0 && strcmp (end, "\n") == 0;
}

/* The pid that /proc/locks names as the holder of the flock on fd's
 * file, 0 when none, -1 when it cannot be read.
 */
static pid_t
kernel_holder (int fd)
{
  struct stat st;
  FILE *f;
  char line[256], kind[16];
  unsigned maj, min;
  unsigned long long ino;
  int pid;
  pid_t holder = 0;

  if (fstat (fd, &st) == -1 || (f = fopen ("/proc/locks", "re")) == NULL)
    return -1;
  while (fgets (line, sizeof line, f)) {
    /* "1: FLOCK  ADVISORY  WRITE 1234 00:2d:5678 0 EOF"; waiters read
     * "1: -> FLOCK ..." and do not match.
     */
    if (sscanf (line, "%*u: %15s %*s %*s %d %x:%x:%llu",
                kind, &pid, &maj, &min, &ino) == 5 &&
        strcmp (kind, "FLOCK") == 0 && ino == (unsigned long long) st.st_ino &&
        maj == major (st.st_dev) && min == minor (st.st_dev)) {
      holder = pid;
      break;
    }
  }
  fclose (f);
  return holder;
}

pid_t
vc_lock_owner_claimed (int fd)
{
  char buf[64];
  ssize_t n = pread (fd, buf, sizeof buf - 1, 0);
  long pid;
  unsigned long long start;

  if (n <= 0)
    return 0;
  buf[n] = '\0';
  return parse_record (buf, &pid, &start) && pid > 0 && pid <= pid_max ()
    ? (pid_t) pid : 0;
}

/* buf, printable, for a message. */
static void
printable (char *buf)
{
  for (char *p = buf; *p; p++)
    if (!isprint ((unsigned char) *p))
      *p = '?';
}

int
vc_lock_owner_get (int fd, pid_t *pidp, int *pidfdp, char *why, size_t len)
{
  char buf[64];
  ssize_t n = pread (fd, buf, sizeof buf - 1, 0);
  long pid;
  unsigned long long start;
  pid_t holder;
  CLEANUP_CLOSE int pidfd = -1;

  if (n <= 0)
    return 0;
  buf[n] = '\0';
  if (!parse_record (buf, &pid, &start)) {
    buf[strcspn (buf, "\n")] = '\0';
    printable (buf);
    snprintf (why, len, "holds '%s', not a pid and its start time", buf);
    return -1;
  }
  if (pid < 2 || pid > pid_max () || pid == getpid ()) {
    snprintf (why, len, "names pid %ld, which no backup can have", pid);
    return -1;
  }
  /* From here on pidfd is that process, whoever gets the pid later.
   * Without pidfds (old kernels, valgrind) the checks below still hold,
   * but a pid reused in the instant before the kill would not be seen.
   */
  pidfd = pidfd_open ((pid_t) pid, 0);
  if (pidfd == -1 && errno != ENOSYS) {
    snprintf (why, len, "names pid %ld, which %s", pid,
              errno == ESRCH ? "is not running" : strerror (errno));
    return -1;
  }
  holder = kernel_holder (fd);
  if (holder != pid) {
    if (holder > 0)
      snprintf (why, len, "names pid %ld, while the kernel says pid %d holds "
                "the lock", pid, (int) holder);
    else
      snprintf (why, len, "names pid %ld, which the kernel does not show "
                "as holding the lock", pid);
    return -1;
  }
  if (start_time ((pid_t) pid) != start) {
    snprintf (why, len, "names pid %ld, which now is another process (its "
              "start time differs)", pid);
    return -1;
  }
  *pidp = (pid_t) pid;
  *pidfdp = steal_fd (&pidfd);
  return 1;
}
