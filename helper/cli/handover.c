/* SPDX-License-Identifier: GPL-2.0-or-later */
/* backup and cancel from any node: handed over, through this node's
 * virtckptd, to the node where the domain runs; and the cluster-wide
 * lease a local backup takes.  See doc/design.md, "Leases and jobs".
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/handover.h"
#include "common/cleanup.h"
#include "common/exit-codes.h"
#include "common/log.h"
#include "common/vc-strings.h"
#include "libvirt/libvirt-conn.h"
#include "store/daemon-client.h"
#include "store/remote-node.h"

#define POLL_MS 200
/* How long a daemon just (re)joining the cluster may take to sync. */
#define SYNC_WAIT_SECONDS 30

int
vc_domain_runs_here (const char *uri, const char *domain)
{
  virConnectPtr conn = vc_libvirt_try_open (uri);
  virDomainPtr dom;
  int r;

  if (conn == NULL)
    return -1;
  dom = virDomainLookupByName (conn, domain);
  r = dom && virDomainIsActive (dom) == 1;
  if (dom)
    virDomainFree (dom);
  virConnectClose (conn);
  return r;
}

static int
add (string_vector *v, const char *s)
{
  char *c = strdup (s);

  if (c == NULL || string_vector_append (v, c) == -1) {
    free (c);
    return -1;
  }
  return 0;
}

static int
add_uint (string_vector *v, const char *name, uint64_t n)
{
  char buf[24];

  snprintf (buf, sizeof buf, "%" PRIu64, n);
  return add (v, name) == -1 || add (v, buf) == -1 ? -1 : 0;
}

/* The options that travel with a handed-over job (the daemons accept
 * these only); a relative DIR becomes absolute here.
 */
static int
forwarded (const struct vc_options *o, const char *kind, string_vector *v)
{
  int r = 0;

  if (strcmp (kind, "backup") == 0) {
    CLEANUP_FREE char *dir = NULL;
    char cwd[PATH_MAX];
    if (o->output[0] == '/')
      dir = strdup (o->output);
    else if (getcwd (cwd, sizeof cwd))
      dir = vc_printf ("%s/%s", cwd, o->output);
    if (dir == NULL)
      return -1;
    r |= add (v, "--output") | add (v, dir);
    if (o->level)
      r |= add (v, "--level") | add (v, o->level);
    for (size_t i = 0; i < o->disks.len; i++)
      r |= add (v, "--disk") | add (v, o->disks.ptr[i]);
    for (size_t i = 0; i < o->excludes.len; i++)
      r |= add (v, "--exclude") | add (v, o->excludes.ptr[i]);
    if (o->checksum)
      r |= add (v, "--checksum") | add (v, o->checksum);
    if (o->connections)
      r |= add_uint (v, "--connections", o->connections);
    if (o->request_size)
      r |= add_uint (v, "--request-size", o->request_size);
    if (o->in_flight)
      r |= add_uint (v, "--in-flight", o->in_flight);
    if (o->max_rate)
      r |= add_uint (v, "--max-rate", o->max_rate);
    if (o->json)
      r |= add (v, "--json");
  }
  else {
    if (o->grace)
      r |= add_uint (v, "--grace", o->grace);
    if (o->wait)
      r |= add_uint (v, "--wait", o->wait);
    if (o->hold >= 0)
      r |= add_uint (v, "--hold", o->hold);
    if (o->release)
      r |= add (v, "--release");
  }
  if (o->rundir && strcmp (o->rundir, RUN_DIR) != 0)
    r |= add (v, "--rundir") | add (v, o->rundir);
  return r ? -1 : 0;
}

/* Prints the records of a poll: "1 LINE" to stdout, "2 LINE" to stderr. */
static void
print_records (const char *p)
{
  while (*p) {
    const char *nl = strchr (p, '\n');
    size_t n = nl ? (size_t) (nl - p) : strlen (p);
    if (n >= 2)
      fprintf (p[0] == '1' ? stdout : stderr, "%.*s\n", (int) n - 2, p + 2);
    p += n + (nl != NULL);
  }
  fflush (stdout);
  fflush (stderr);
}

int
vc_handover (const struct vc_options *o, const char *kind, const char *domain,
             bool *nowhere, bool *asked)
{
  struct vc_daemon *d = vc_daemon_connect ();
  string_vector args = empty_vector;
  CLEANUP_FREE char *id = NULL, *why = NULL;
  bool announced = false, offline;
  char *state;
  int ret = VC_EXIT_ERROR;

  *nowhere = false;
  if (asked)
    *asked = false;
  if (d == NULL) {
    *nowhere = true;            /* no cluster to ask: as before */
    return VC_EXIT_OK;
  }
  /* A daemon out of any cluster has no one to ask. */
  state = vc_daemon_status (d);
  offline = state == NULL || strstr (state, "\nstate: offline\n") != NULL;
  free (state);
  if (offline) {
    *nowhere = true;
    ret = VC_EXIT_OK;
    goto out;
  }
  if (vc_daemon_wait_synced (d, SYNC_WAIT_SECONDS) != 1) {
    vc_error ("%s is not running on this node, and virtckptd here is not "
              "synced with the cluster: cannot hand the %s over", domain, kind);
    goto out;
  }
  if (forwarded (o, kind, &args) == -1) {
    vc_error ("out of memory");
    goto out;
  }
  if (vc_daemon_job_submit (d, kind, domain, (const char *const *) args.ptr,
                            args.len, &id, &why) == -1) {
    vc_error ("virtckptd could not hand the %s of %s over: %s", kind, domain,
              why && *why ? why : strerror (errno));
    goto out;
  }
  for (;;) {
    CLEANUP_FREE char *text = vc_daemon_job_poll (d, id);
    char *nl;
    unsigned node;
    int status;

    if (text == NULL) {
      vc_error ("lost virtckptd while the %s of %s ran elsewhere: %s", kind,
                domain, strerror (errno));
      goto out;
    }
    nl = strchr (text, '\n');
    if (nl == NULL)
      goto odd;
    *nl = '\0';
    if (strcmp (text, "nowhere") == 0) {
      *nowhere = true;
      if (asked)
        *asked = true;
      ret = VC_EXIT_OK;
      goto out;
    }
    if (sscanf (text, "running %u", &node) == 1 ||
        sscanf (text, "done %d %u", &status, &node) == 2) {
      if (!announced && o->verbosity >= 0)
        fprintf (stderr, "virtckpt: %s of %s handed over to node %u, where it runs\n",
                 kind, domain, node);
      announced = true;
    }
    print_records (nl + 1);
    if (strncmp (text, "done ", 5) == 0) {
      ret = status;
      goto out;
    }
    if (strcmp (text, "waiting") != 0 && strncmp (text, "running ", 8) != 0)
      goto odd;
    usleep (POLL_MS * 1000);
  }
 odd:
  vc_error ("virtckptd answered oddly about the %s of %s", kind, domain);
 out:
  vc_string_vector_free (&args);
  vc_daemon_close (d);
  return ret;
}

struct vc_daemon *
vc_backup_lease (const char *domain, const char *store_dir, int *status)
{
  bool remote_node;
  struct vc_daemon *d = vc_daemon_open (store_dir, &remote_node);
  const char *env = getenv ("VIRTCKPT_LEASE_JOB");
  CLEANUP_FREE char *job = NULL, *why = NULL;
  char host[256] = "";

  *status = VC_EXIT_OK;
  if (d == NULL)
    return NULL;                /* no daemon: the local run lock only */
  gethostname (host, sizeof host - 1);
  job = env && *env ? strdup (env) : vc_printf ("%s:%ld", host, (long) getpid ());
  if (job == NULL) {
    vc_daemon_close (d);
    return NULL;
  }
  if (vc_daemon_lease (d, domain, job, &why) == 0)
    return d;
  if (errno == EBUSY) {
    vc_error ("%s", why && *why ? why : "the domain's lease is held elsewhere");
    *status = VC_EXIT_ERROR;
  }
  else
    vc_warn ("no cluster-wide lease for the backup of %s (%s): it runs under "
             "this node's run lock only", domain,
             why && *why ? why : strerror (errno));
  vc_daemon_close (d);
  return NULL;
}
