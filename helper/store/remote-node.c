/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/run-capture.h"
#include "remote/remote.h"
#include "store/daemon-client.h"
#include "store/remote-node.h"
#include "store/store.h"

/* crm_node goes through pacemaker_remoted's proxy on a remote node. */
#define CRM_NODE_TIMEOUT 15

#define PACEMAKER_REMOTED "/usr/sbin/pacemaker-remoted"
#define PACEMAKERD "/usr/sbin/pacemakerd"

/* Whether pacemaker-remoted (or pacemaker_remoted, its old name) runs
 * on this host: the kernel keeps 15 bytes of a command's name.
 */
static bool
remoted_runs (void)
{
  DIR *proc = opendir ("/proc");
  struct dirent *e;
  bool found = false;

  if (proc == NULL)
    return false;
  while (!found && (e = readdir (proc)) != NULL) {
    char path[64], comm[32] = "";
    FILE *f;
    if (e->d_name[0] < '1' || e->d_name[0] > '9')
      continue;
    snprintf (path, sizeof path, "/proc/%.20s/comm", e->d_name);
    if ((f = fopen (path, "re")) == NULL)
      continue;
    if (fgets (comm, sizeof comm, f))
      found = strncmp (comm, "pacemaker-remot", 15) == 0 ||
              strncmp (comm, "pacemaker_remot", 15) == 0;
    fclose (f);
  }
  closedir (proc);
  return found;
}

bool
vc_remote_node (const char *store_dir)
{
  const char *servers = getenv ("VIRTCKPT_SERVERS");
  CLEANUP_FREE char *marker = NULL;

  if (servers && *servers)
    return true;
  if (access (vc_remote_authkey_path (), F_OK) == -1)
    return false;
  if (asprintf (&marker, "%s/%s", store_dir, VC_REPLICA_MARKER) == -1 ||
      access (marker, F_OK) == 0)
    return false;
  /* Neither the authkey (pacemaker-common makes one on every node,
   * full, remote, or alone) nor corosync.conf (the corosync package
   * installs a sample, and virtckpt recommends corosync) tells a remote
   * node.  pacemaker-remoted does: running here, or installed where
   * Pacemaker's own daemons are not (the two packages conflict).
   */
  return remoted_runs () ||
         (access (PACEMAKER_REMOTED, X_OK) == 0 && access (PACEMAKERD, X_OK) == -1);
}

static int
append (string_vector *v, const char *s, size_t len)
{
  char *copy = strndup (s, len);

  if (copy == NULL || string_vector_append (v, copy) == -1) {
    free (copy);
    vc_error ("out of memory");
    return -1;
  }
  return 0;
}

/* "HOST[:PORT] ..." */
static int
split_servers (const char *list, string_vector *out)
{
  const char *p = list;

  while (*p) {
    size_t n = strcspn (p, " \t\n,");
    if (n && append (out, p, n) == -1)
      return -1;
    p += n;
    p += strspn (p, " \t\n,");
  }
  return 0;
}

/* crm_node -l: "ID NAME STATE" a line. */
static int
cluster_members (string_vector *out)
{
  char *const argv[] = { (char *) "crm_node", (char *) "-l", NULL };
  CLEANUP_FREE char *text = NULL;
  size_t len;
  int status = vc_run_capture (argv, CRM_NODE_TIMEOUT, &text, &len);

  if (status != 0 || text == NULL) {
    vc_error ("cannot list the cluster's nodes: crm_node -l %s; "
              "set VIRTCKPT_SERVERS to the full nodes to use",
              status == 127 ? "is not installed"
              : status == -1 ? "did not answer" : "failed");
    return -1;
  }
  for (char *line = text, *next; line && *line; line = next) {
    char name[256], state[32];
    unsigned long id;
    next = strchr (line, '\n');
    if (next)
      *next++ = '\0';
    if (sscanf (line, "%lu %255s %31s", &id, name, state) == 3 &&
        strcmp (state, "member") == 0 &&
        append (out, name, strlen (name)) == -1)
      return -1;
  }
  return 0;
}

int
vc_remote_servers (string_vector *servers)
{
  const char *list = getenv ("VIRTCKPT_SERVERS");
  char host[256] = "";
  unsigned long h = 5381;
  string_vector all = empty_vector;
  size_t start;

  if ((list && *list ? split_servers (list, &all) : cluster_members (&all)) == -1)
    goto fail;
  if (all.len == 0) {
    vc_error (list && *list ? "VIRTCKPT_SERVERS names no server"
              : "crm_node -l lists no full node that is a member of the cluster");
    goto fail;
  }
  gethostname (host, sizeof host - 1);
  for (const char *c = host; *c; c++)
    h = h * 33 + (unsigned char) *c;
  start = h % all.len;
  for (size_t i = 0; i < all.len; i++)
    if (string_vector_append (servers, all.ptr[(start + i) % all.len]) == -1) {
      vc_error ("out of memory");
      for (size_t j = i; j < all.len; j++)
        free (all.ptr[(start + j) % all.len]);
      string_vector_reset (&all);
      return -1;
    }
  string_vector_reset (&all);
  return 0;

 fail:
  vc_string_vector_free (&all);
  return -1;
}

struct vc_daemon *
vc_daemon_open (const char *store_dir, bool *remote_node)
{
  struct vc_daemon *d = vc_daemon_connect ();
  string_vector servers = empty_vector;

  *remote_node = false;
  if (d || errno != ENOENT || !vc_remote_node (store_dir))
    return d;
  *remote_node = true;
  if (vc_remote_servers (&servers) == -1) {
    errno = EHOSTUNREACH;
    return NULL;
  }
  d = vc_daemon_connect_remote ((const char *const *) servers.ptr, servers.len);
  {
    int e = errno;
    vc_string_vector_free (&servers);
    errno = e;
  }
  return d;
}
