/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtckpt backup | restore | verify | list */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backup/backup.h"
#include "backup/backup-guard.h"
#include "cli/backup-json.h"
#include "cli/handover.h"
#include "common/cleanup.h"
#include "cli/commands.h"
#include "common/exit-codes.h"
#include "common/json-writer.h"
#include "libvirt/libvirt-conn.h"
#include "common/log.h"
#include "backup/manifest.h"
#include "backup/restore.h"
#include "backup/verify.h"
#include "common/vc-strings.h"
#include "store/daemon-client.h"

static volatile sig_atomic_t cancelled;

static void
on_signal (int sig)
{
  cancelled = sig;
}

/* A backup or cancel that virtckptd runs for a handed-over job is never
 * handed over again; nor one given a libvirt URI.
 */
static bool
handover_allowed (const struct vc_options *o)
{
  return o->uri == NULL && getenv ("VIRTCKPT_LEASE_JOB") == NULL;
}

static const char *const levels[] = { "full", "inc", "diff", "copy", "auto", NULL };

static int open_backup_dir (const char *dir, struct vc_manifest *m, bool none_ok);

static int
json_done (struct vc_json *j, int ret)
{
  if (vc_json_finish (j) == -1) {
    vc_error ("cannot write to standard output: %m");
    return VC_EXIT_ERROR;
  }
  return ret;
}

/* backup --json: the backup made, as the manifest now records it. */
static int
print_summary (const char *dir, unsigned id)
{
  struct vc_manifest m;
  const struct vc_backup *b;
  struct vc_json j;
  int fd = open_backup_dir (dir, &m, false);

  if (fd == -1)
    return VC_EXIT_ERROR;
  close (fd);
  b = vc_manifest_find (&m, id);
  if (b == NULL) {
    vc_error ("backup %u is not in %s any more: no summary", id, dir);
    vc_manifest_clear (&m);
    return VC_EXIT_ERROR;
  }
  vc_json_init (&j, stdout);
  vc_json_begin_object (&j);
  vc_json_member_uint (&j, "version", 1);
  vc_json_member_string (&j, "domain", m.domain);
  vc_json_member_string (&j, "directory", dir);
  vc_json_backup_members (&j, b);
  vc_json_end_object (&j);
  vc_manifest_clear (&m);
  return json_done (&j, VC_EXIT_OK);
}

int
vc_cmd_backup (const struct vc_options *o, int argc, char **argv)
{
  struct vc_backup_options bo = {
    .level = o->level ? o->level : "auto",
    .include = o->disks, .exclude = o->excludes,
    .rundir = o->rundir, .connections = o->connections ? o->connections : 1,
    .request_size = o->request_size, .max_in_flight = o->in_flight,
    .max_rate = o->max_rate,
    .progress = !o->no_progress && isatty (STDERR_FILENO) && o->verbosity >= 0,
    .cancel = &cancelled,
    .offline = o->offline, .config = o->config,
  };
  struct vc_store store;
  virConnectPtr conn;
  struct sigaction sa = { .sa_handler = on_signal };
  bool known = false;
  unsigned done = 0;
  int ret, runs;
  struct vc_daemon *lease = NULL;

  if (argc != 1 || o->output == NULL) {
    fprintf (stderr, "virtckpt: backup: expected DOMAIN and -o DIR\n"
             "Try 'virtckpt backup --help'.\n");
    return VC_EXIT_USAGE;
  }
  for (size_t i = 0; levels[i]; i++)
    known |= strcmp (bo.level, levels[i]) == 0;
  if (!known) {
    fprintf (stderr, "virtckpt: backup: unknown level '%s' "
             "(full, inc, diff, copy or auto)\n", bo.level);
    return VC_EXIT_USAGE;
  }
  if (o->checksum && vc_checksum_algo_of (o->checksum, &bo.checksum) == -1) {
    fprintf (stderr, "virtckpt: backup: unknown checksum '%s' (xxh128 or sha256)\n",
             o->checksum);
    return VC_EXIT_USAGE;
  }
  bo.domain = argv[0];
  bo.outdir = o->output;
  bo.done_id = &done;

  /* Not running here: handed over to the node where it runs, if one
   * does; else (or without a cluster) as before.
   */
  runs = vc_domain_runs_here (o->uri, bo.domain);
  bool nowhere = false;
  if (runs != 1 && !o->offline && handover_allowed (o)) {
    ret = vc_handover (o, "backup", bo.domain, &nowhere, &bo.no_member_runs_it);
    if (!nowhere)
      return ret;
  }
  /* Here, or offline because it runs nowhere: the cluster-wide lease, so
   * that no handed-over backup of the domain runs elsewhere meanwhile
   * (during a migration, or a start).
   */
  if ((runs == 1 || nowhere) && (lease = vc_backup_lease (bo.domain, o->store_dir, &ret)) == NULL &&
      ret != VC_EXIT_OK)
    return ret;

  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGHUP, &sa, NULL);
  signal (SIGPIPE, SIG_IGN);

  ret = vc_store_open_cli (&store, o->store_dir, o->store_explicit, true);
  if (ret < 0) {
    vc_daemon_close (lease);
    return vc_store_open_exit_code (ret);
  }
  conn = vc_libvirt_open (o->uri);
  if (conn == NULL) {
    vc_store_close (&store);
    vc_daemon_close (lease);
    return VC_EXIT_ERROR;
  }
  ret = vc_backup_run (conn, &store, &bo);
  virConnectClose (conn);
  vc_store_close (&store);
  vc_daemon_close (lease);
  if (cancelled)
    vc_error ("backup interrupted by signal %d: nothing was committed", (int) cancelled);
  if (ret == VC_EXIT_OK && o->json)
    ret = print_summary (o->output, done);
  return ret;
}

/* none_ok: a directory without a manifest holds no backups, as an empty
 * manifest; else that is an error.
 */
static int
open_backup_dir (const char *dir, struct vc_manifest *m, bool none_ok)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd == -1) {
    vc_error ("cannot open backup directory %s: %m", dir);
    return -1;
  }
  switch (vc_manifest_load (fd, dir, m)) {
  case 0:
    return fd;
  case 1:
    if (none_ok) {
      *m = (struct vc_manifest) { 0 };
      return fd;
    }
    vc_error ("%s holds no virtckpt backups (no %s)", dir, VC_MANIFEST_FILE);
    /* fallthrough */
  default:
    close (fd);
    return -1;
  }
}

/* The DIR argument of verify and list, opened, its manifest loaded.
 * Returns its fd, or -1 with the exit code in *status.
 */
static int
dir_argument (const char *cmd, int argc, char **argv, struct vc_manifest *m,
              bool none_ok, int *status)
{
  if (argc != 1) {
    fprintf (stderr, "virtckpt: %s: expected DIR\n", cmd);
    *status = VC_EXIT_USAGE;
    return -1;
  }
  *status = VC_EXIT_ERROR;
  return open_backup_dir (argv[0], m, none_ok);
}

static void
json_head (struct vc_json *j, const struct vc_manifest *m, const char *dir)
{
  vc_json_init (j, stdout);
  vc_json_begin_object (j);
  vc_json_member_uint (j, "version", 1);
  vc_json_member_string (j, "domain", m->domain);
  vc_json_member_string (j, "directory", dir);
  vc_json_key (j, "backups");
  vc_json_begin_array (j);
}

/* --json: each backup's problems are counted; what they are goes to
 * stderr, as without it.
 */
int
vc_cmd_verify (const struct vc_options *o, int argc, char **argv)
{
  struct vc_manifest m;
  struct vc_json j;
  int status, problems = 0;
  size_t files = 0;
  int fd = dir_argument ("verify", argc, argv, &m, false, &status);

  if (fd == -1)
    return status;
  if (o->json)
    json_head (&j, &m, argv[0]);
  for (size_t i = 0; i < m.backups.len; i++) {
    const struct vc_backup *b = &m.backups.ptr[i];
    size_t n = b->disks.len + b->files.len;
    /* -v prints a line per file on stdout: not with --json. */
    int p = vc_verify_backup (fd, argv[0], b, o->verbosity > 0 && !o->json);
    files += n;
    problems += p;
    if (o->json) {
      vc_json_begin_object (&j);
      vc_json_member_uint (&j, "id", b->id);
      vc_json_member_string (&j, "dir", b->dir);
      vc_json_member_uint (&j, "files", n);
      vc_json_member_uint (&j, "problems", p);
      vc_json_member_bool (&j, "ok", p == 0);
      vc_json_end_object (&j);
    }
  }
  close (fd);
  if (problems)
    vc_error ("%d problem%s in %s", problems, problems == 1 ? "" : "s", argv[0]);
  else
    vc_notice ("%zu backups, %zu files verified in %s", m.backups.len, files, argv[0]);
  vc_manifest_clear (&m);
  status = problems ? VC_EXIT_ERROR : VC_EXIT_OK;
  if (!o->json)
    return status;
  vc_json_end_array (&j);
  vc_json_member_uint (&j, "files", files);
  vc_json_member_uint (&j, "problems", problems);
  vc_json_member_bool (&j, "ok", problems == 0);
  vc_json_end_object (&j);
  return json_done (&j, status);
}

static int
list_json (const struct vc_manifest *m, const char *dir)
{
  struct vc_json j;

  json_head (&j, m, dir);
  for (size_t i = 0; i < m->backups.len; i++) {
    vc_json_begin_object (&j);
    vc_json_backup_members (&j, &m->backups.ptr[i]);
    vc_json_end_object (&j);
  }
  vc_json_end_array (&j);
  vc_json_end_object (&j);
  return json_done (&j, VC_EXIT_OK);
}

int
vc_cmd_list (const struct vc_options *o, int argc, char **argv)
{
  struct vc_manifest m;
  int status;
  int fd = dir_argument ("list", argc, argv, &m, true, &status);

  if (fd == -1)
    return status;
  close (fd);
  if (o->json) {
    status = list_json (&m, argv[0]);
    vc_manifest_clear (&m);
    return status;
  }
  if (m.backups.len == 0) {
    printf ("no backups in %s\n", argv[0]);
    vc_manifest_clear (&m);
    return VC_EXIT_OK;
  }
  printf ("Domain: %s\n", m.domain);
  printf ("%4s %-5s %-20s %6s %-6s %12s %9s  %s\n", "ID", "LEVEL", "TIME (UTC)",
          "PARENT", "DISKS", "WRITTEN MiB", "SECONDS", "CHECKPOINT");
  for (size_t i = 0; i < m.backups.len; i++) {
    const struct vc_backup *b = &m.backups.ptr[i];
    char when[32] = "", parent[16] = "-";
    time_t t = b->started;
    struct tm tm;
    uint64_t written = 0;
    for (size_t j = 0; j < b->disks.len; j++)
      written += b->disks.ptr[j].file_size;
    if (gmtime_r (&t, &tm))
      strftime (when, sizeof when, "%F %T", &tm);
    if (b->parent)
      snprintf (parent, sizeof parent, "%u", b->parent);
    printf ("%4u %-5s %-20s %6s %-6zu %12.1f %9.2f  %s", b->id, b->level, when,
            parent, b->disks.len, written / 1048576.0, b->seconds,
            b->checkpoint ? b->checkpoint : "-");
    if (b->resumed) {
      uint64_t reused = 0;
      for (size_t j = 0; j < b->disks.len; j++)
        reused += b->disks.ptr[j].bytes_reused;
      printf ("  (resumed %u interrupted run%s, %.1f MiB reused)", b->resumed,
              b->resumed > 1 ? "s" : "", reused / 1048576.0);
    }
    putchar ('\n');
  }
  vc_manifest_clear (&m);
  return VC_EXIT_OK;
}

int
vc_cmd_restore (const struct vc_options *o, int argc, char **argv)
{
  struct vc_restore_options ro = {
    .outdir = o->output, .format = o->format ? o->format : "qcow2",
    .disks = &o->disks, .verify = !o->no_verify, .instant = o->instant,
    .progress = !o->no_progress && isatty (STDERR_FILENO) && o->verbosity >= 0,
  };
  struct vc_manifest m;
  const struct vc_backup *b;
  int fd, ret = VC_EXIT_ERROR;

  if (argc != 1 || o->output == NULL) {
    fprintf (stderr, "virtckpt: restore: expected DIR and -o OUTDIR\n");
    return VC_EXIT_USAGE;
  }
  if (o->instant && o->format && strcmp (o->format, "qcow2")) {
    fprintf (stderr, "virtckpt: restore: --instant makes qcow2 overlays: no --format raw\n");
    return VC_EXIT_USAGE;
  }
  if (strcmp (ro.format, "qcow2") && strcmp (ro.format, "raw")) {
    fprintf (stderr, "virtckpt: restore: --format is qcow2 or raw\n");
    return VC_EXIT_USAGE;
  }
  fd = open_backup_dir (argv[0], &m, false);
  if (fd == -1)
    return VC_EXIT_ERROR;
  b = o->until ? vc_manifest_lookup (&m, o->until)
    : m.backups.len ? &m.backups.ptr[m.backups.len - 1] : NULL;
  if (b == NULL) {
    if (o->until)
      vc_error ("no backup '%s' in %s", o->until, argv[0]);
    else
      vc_error ("%s holds no backups", argv[0]);
    goto out;
  }
  for (size_t i = 0; i < o->disks.len; i++)
    if (vc_backup_disk (b, o->disks.ptr[i]) == NULL) {
      vc_error ("backup %u has no disk '%s'", b->id, o->disks.ptr[i]);
      ret = VC_EXIT_USAGE;
      goto out;
    }
  ret = vc_restore (fd, argv[0], &m, b, &ro);
 out:
  close (fd);
  vc_manifest_clear (&m);
  return ret;
}

static void
schedule_now (const char *domain)
{
  struct vc_daemon *d = vc_daemon_connect ();

  if (d == NULL)
    return;                     /* no daemon: no scheduler here */
  if (vc_daemon_schedule_now (d, domain) == -1)
    vc_debug ("virtckptd did not take the nudge for %s: %m", domain);
  vc_daemon_close (d);
}

int
vc_cmd_cancel (const struct vc_options *o, int argc, char **argv)
{
  struct vc_cancel_options co = {
    .rundir = o->rundir, .grace = o->grace, .wait = o->wait,
    .hold = o->release ? 0 : o->hold,
  };
  virConnectPtr conn;
  int ret;

  if (argc != 1) {
    fprintf (stderr, "virtckpt: cancel: expected DOMAIN\n"
             "Try 'virtckpt cancel --help'.\n");
    return VC_EXIT_USAGE;
  }
  if (o->release && o->hold >= 0) {
    fprintf (stderr, "virtckpt: cancel: --hold and --release exclude each other\n");
    return VC_EXIT_USAGE;
  }
  co.domain = argv[0];
  /* Not running here, and no backup of it running here: handed over. */
  if (handover_allowed (o) && vc_domain_runs_here (o->uri, co.domain) != 1) {
    int fd = -1, busy = vc_backup_guard_probe (o->rundir, co.domain, &fd);
    if (busy == 0)
      vc_backup_guard_release (&fd);
    if (busy == 0) {
      bool nowhere;
      ret = vc_handover (o, "cancel", co.domain, &nowhere, NULL);
      if (!nowhere)
        return ret;
    }
  }
  /* libvirt is only needed to end a job left by a killed virtckpt: the
   * cancel itself works without it, and so succeeds; what was not done is
   * a warning, not an error (which would exit non-zero).
   */
  conn = vc_libvirt_try_open (o->uri);
  if (conn == NULL)
    vc_warn ("cannot connect to libvirt%s%s (%s): a backup job a killed "
             "virtckpt may have left on %s was not looked for", o->uri ? " at " : "",
             o->uri ? o->uri : "", vc_libvirt_error (), argv[0]);
  ret = vc_backup_cancel (conn, &co);
  if (conn)
    virConnectClose (conn);
  /* Released because the domain (re)starts here: its schedule's window,
   * or the backup a move interrupted, need not wait for the next tick.
   */
  if (ret == VC_EXIT_OK && o->release)
    schedule_now (co.domain);
  return ret;
}
