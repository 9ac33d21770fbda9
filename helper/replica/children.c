/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtckptd's child processes (children.h). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <libvirt/libvirt.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/vc-strings.h"
#include "replica/children.h"
#include "replica/remote-relay.h"
#include "store/store.h"

extern char **environ;

#define LINE_MAX_LEN 4096

static struct {
  qb_loop_t *loop;
  char *exe;                    /* virtckpt, next to this daemon */
} C;

static child_vector children;

static void child_maybe_done (struct child *ch);

static void
child_line (struct child *ch, int s, const char *text, size_t n)
{
  CLEANUP_FREE char *line = strndup (text, n);

  if (line && ch->line)
    ch->line (ch->owner, NULL, s, line);
}

static int32_t
child_readable (int32_t fd, int32_t revents, void *data)
{
  struct child *ch = data;
  int s = fd == ch->fd[1] ? 1 : 2;
  char tmp[4096];
  ssize_t n = read (fd, tmp, sizeof tmp);

  if (n > 0) {
    char *b = realloc (ch->buf[s], ch->len[s] + n);
    if (b == NULL)
      return 0;
    ch->buf[s] = b;
    memcpy (b + ch->len[s], tmp, n);
    ch->len[s] += n;
    /* Lines end at '\n', and at '\r' (progress redraws one line). */
    size_t start = 0;
    for (size_t i = 0; i < ch->len[s]; i++)
      if (b[i] == '\n' || b[i] == '\r' || i - start >= LINE_MAX_LEN) {
        if (i > start)
          child_line (ch, s, b + start, i - start);
        start = i + 1;
      }
    memmove (b, b + start, ch->len[s] - start);
    ch->len[s] -= start;
    return 0;
  }
  if (n == -1 && (errno == EINTR || errno == EAGAIN))
    return 0;
  if (ch->len[s])
    child_line (ch, s, ch->buf[s], ch->len[s]);
  ch->len[s] = 0;
  qb_loop_poll_del (C.loop, fd);
  close (fd);
  ch->fd[s] = -1;
  child_maybe_done (ch);
  return 0;
}

void
vc_child_free (struct child *ch)
{
  for (int s = 1; s <= 2; s++) {
    if (ch->fd[s] >= 0) {
      qb_loop_poll_del (C.loop, ch->fd[s]);
      close (ch->fd[s]);
    }
    free (ch->buf[s]);
  }
  if (ch->timer_armed)
    qb_loop_timer_del (C.loop, ch->timer);
  for (size_t i = 0; i < children.len; i++)
    if (children.ptr[i] == ch) {
      child_vector_remove (&children, i);
      break;
    }
  free (ch);
}

/* Exited and both pipes read to their end. */
static void
child_maybe_done (struct child *ch)
{
  if (!ch->exited || ch->fd[1] >= 0 || ch->fd[2] >= 0)
    return;
  ch->done (ch);
  vc_child_free (ch);
}

static int32_t
on_sigchld (int32_t sig, void *data)
{
  pid_t pid;
  int st;

  while ((pid = waitpid (-1, &st, WNOHANG)) > 0) {
    if (vc_relay_reaped (pid, st))
      continue;
    for (size_t i = 0; i < children.len; i++) {
      struct child *ch = children.ptr[i];
      if (ch->pid != pid)
        continue;
      ch->exited = true;
      ch->status = WIFEXITED (st) ? WEXITSTATUS (st) : 128 + WTERMSIG (st);
      child_maybe_done (ch);
      break;
    }
  }
  return 0;
}

static void
child_timeout (void *data)
{
  struct child *ch = data;

  ch->timer_armed = false;
  if (!ch->exited) {
    vc_warn ("child %d took too long: killed", (int) ch->pid);
    kill (ch->pid, SIGKILL);
  }
}

static struct child *
child_new (child_done_fn *done, vc_job_line_fn line, void *owner)
{
  struct child *ch = calloc (1, sizeof *ch);

  if (ch == NULL)
    return NULL;
  ch->fd[0] = ch->fd[1] = ch->fd[2] = -1;
  ch->done = done;
  ch->line = line;
  ch->owner = owner;
  if (child_vector_append (&children, ch) == -1) {
    free (ch);
    return NULL;
  }
  return ch;
}

static void
child_watch (struct child *ch, int out, int err, unsigned timeout_s)
{
  ch->fd[1] = out;
  ch->fd[2] = err;
  qb_loop_poll_add (C.loop, QB_LOOP_MED, out, POLLIN, ch, child_readable);
  qb_loop_poll_add (C.loop, QB_LOOP_MED, err, POLLIN, ch, child_readable);
  if (timeout_s &&
      qb_loop_timer_add (C.loop, QB_LOOP_MED, (uint64_t) timeout_s * QB_TIME_NS_IN_SEC,
                         ch, child_timeout, &ch->timer) == 0)
    ch->timer_armed = true;
}

/* virtckpt ARGS as a child: argv, never a shell; the lease's job id in
 * VIRTCKPT_LEASE_JOB, so that its own lease request is the job's.
 */
struct child *
vc_child_spawn_virtckpt (const char *const *args, const char *job_id,
                child_done_fn *done, vc_job_line_fn line, void *owner)
{
  int out[2] = { -1, -1 }, err[2] = { -1, -1 };
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  sigset_t none, deflt;
  string_vector argv = empty_vector, env = empty_vector;
  CLEANUP_FREE char *lease_env = NULL;
  struct child *ch = NULL;
  pid_t pid;
  int e;

  if (string_vector_append (&argv, C.exe) == -1)
    return NULL;
  for (size_t i = 0; args[i]; i++)
    if (string_vector_append (&argv, (char *) args[i]) == -1)
      goto out;
  if (string_vector_append (&argv, NULL) == -1)
    goto out;
  for (char **p = environ; *p; p++)
    if (strncmp (*p, "VIRTCKPT_LEASE_JOB=", 19) != 0 &&
        string_vector_append (&env, *p) == -1)
      goto out;
  if (job_id && ((lease_env = vc_printf ("VIRTCKPT_LEASE_JOB=%s", job_id)) == NULL ||
                 string_vector_append (&env, lease_env) == -1))
    goto out;
  if (string_vector_append (&env, NULL) == -1)
    goto out;
  if (pipe2 (out, O_CLOEXEC) == -1 || pipe2 (err, O_CLOEXEC) == -1) {
    vc_error ("cannot make a pipe: %m");
    goto out;
  }
  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_addopen (&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2 (&fa, out[1], 1);
  posix_spawn_file_actions_adddup2 (&fa, err[1], 2);
  posix_spawnattr_init (&attr);
  sigemptyset (&none);
  sigemptyset (&deflt);
  /* The daemon ignores SIGPIPE and catches these in its loop. */
  sigaddset (&deflt, SIGPIPE);
  sigaddset (&deflt, SIGTERM);
  sigaddset (&deflt, SIGINT);
  sigaddset (&deflt, SIGHUP);
  sigaddset (&deflt, SIGCHLD);
  posix_spawnattr_setsigmask (&attr, &none);
  posix_spawnattr_setsigdefault (&attr, &deflt);
  posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  ch = child_new (done, line, owner);
  e = ch ? posix_spawn (&pid, C.exe, &fa, &attr, argv.ptr, env.ptr) : ENOMEM;
  posix_spawn_file_actions_destroy (&fa);
  posix_spawnattr_destroy (&attr);
  close (out[1]);
  close (err[1]);
  if (e != 0) {
    vc_error ("cannot run %s: %s", C.exe, strerror (e));
    close (out[0]);
    close (err[0]);
    if (ch)
      vc_child_free (ch);
    ch = NULL;
    goto out;
  }
  ch->pid = pid;
  child_watch (ch, out[0], err[0], 0);
 out:
  string_vector_reset (&argv);
  string_vector_reset (&env);
  return ch;
}

/* A forked child that asks libvirt (read-only) and exits with what body
 * returns, or 2 when libvirt is unreachable: a slow libvirtd never stalls
 * the daemon.
 */
typedef int libvirt_body_fn (virConnectPtr conn, const char *arg);

static struct child *
fork_libvirt_child (libvirt_body_fn *body, const char *arg,
                    child_done_fn *done, vc_job_line_fn line, void *owner)
{
  struct child *ch = child_new (done, line, owner);
  int out[2], err[2];
  pid_t pid;

  if (ch == NULL)
    return NULL;
  if (pipe2 (out, O_CLOEXEC) == -1 || (pipe2 (err, O_CLOEXEC) == -1 &&
                                       (close (out[0]), close (out[1]), true))) {
    vc_error ("cannot make a pipe: %m");
    vc_child_free (ch);
    return NULL;
  }
  pid = fork ();
  if (pid == 0) {
    virConnectPtr conn;
    int st = 2;
    /* Not execed: would hold the port past the daemon's end otherwise. */
    vc_relay_close_in_child ();
    signal (SIGPIPE, SIG_DFL);
    dup2 (out[1], 1);
    dup2 (err[1], 2);
    conn = virConnectOpenReadOnly (NULL);
    if (conn) {
      st = body (conn, arg);
      virConnectClose (conn);
    }
    fflush (stdout);
    _exit (st);
  }
  close (out[1]);
  close (err[1]);
  if (pid == -1) {
    vc_error ("cannot fork: %m");
    close (out[0]);
    close (err[0]);
    vc_child_free (ch);
    return NULL;
  }
  ch->pid = pid;
  child_watch (ch, out[0], err[0], VC_JOB_CHECK_SECONDS);
  return ch;
}

/* Exits 0 when domain runs here, 1 when it does not or is not defined. */
static int
check_body (virConnectPtr conn, const char *domain)
{
  virDomainPtr dom = virDomainLookupByName (conn, domain);
  int st = dom && virDomainIsActive (dom) == 1 ? 0 : 1;

  if (dom)
    virDomainFree (dom);
  return st;
}

/* Is domain running here? */
struct child *
vc_child_check_running (const char *domain, child_done_fn *done, void *owner)
{
  return fork_libvirt_child (check_body, domain, done, NULL, owner);
}

/* The names of the domains in the running state (not paused: an
 * incoming migration is paused until it ends), one per line, with '%',
 * '\n' and '\r' as %XX.
 */
static int
list_running_body (virConnectPtr conn, const char *unused)
{
  virDomainPtr *doms = NULL;
  int n = virConnectListAllDomains (conn, &doms, VIR_CONNECT_LIST_DOMAINS_RUNNING);

  if (n < 0)
    return 2;
  for (int i = 0; i < n; i++) {
    const char *name = virDomainGetName (doms[i]);
    for (const char *p = name; p && *p; p++)
      if (*p == '%' || *p == '\n' || *p == '\r')
        printf ("%%%02X", (unsigned char) *p);
      else
        putchar (*p);
    putchar ('\n');
    virDomainFree (doms[i]);
  }
  free (doms);
  return 0;
}

struct lister {
  vc_running_fn done;
  void *opaque;
  string_vector names;
};

static void
lister_line (void *owner, struct vc_job *unused, int stream, const char *line)
{
  struct lister *l = owner;
  char *name;
  size_t k = 0;

  if (stream != 1)
    return;
  name = malloc (strlen (line) + 1);
  if (name == NULL)
    return;
  for (const char *p = line; *p; p++) {
    unsigned v;
    if (*p == '%' && sscanf (p + 1, "%2x", &v) == 1 && p[1] && p[2]) {
      name[k++] = v;
      p += 2;
    }
    else
      name[k++] = *p;
  }
  name[k] = '\0';
  if (string_vector_append (&l->names, name) == -1)
    free (name);
}

static void
lister_done (struct child *ch)
{
  struct lister *l = ch->owner;

  l->done (l->opaque, &l->names, ch->status == 0 ? 0 : -1);
  vc_string_vector_free (&l->names);
  free (l);
}

int
vc_job_list_running (vc_running_fn done, void *opaque)
{
  struct lister *l = calloc (1, sizeof *l);

  if (l == NULL)
    return -1;
  l->done = done;
  l->opaque = opaque;
  if (fork_libvirt_child (list_running_body, NULL, lister_done, lister_line, l) == NULL) {
    free (l);
    return -1;
  }
  return 0;
}

void
vc_children_init (qb_loop_t *loop, char *exe)
{
  C.loop = loop;
  C.exe = exe;
  qb_loop_signal_add (loop, QB_LOOP_HIGH, SIGCHLD, NULL, on_sigchld, NULL);
}

void
vc_children_shutdown (void (*release) (struct child *ch))
{
  while (children.len) {
    struct child *ch = children.ptr[0];
    if (ch->done == lister_done) {
      struct lister *l = ch->owner;
      vc_string_vector_free (&l->names);
      free (l);
    }
    else if (release)
      release (ch);
    vc_child_free (ch);
  }
  child_vector_reset (&children);
  free (C.exe);
  C.exe = NULL;
}
