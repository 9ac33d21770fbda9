/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The store and virtckptd's replica: which directory the CLI uses (the
 * daemon's replica when one runs here), the marker that tells a directory
 * is a replica, and the flags of a write made into it while its daemon
 * is down, so that the daemon's next sync can order it.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/atomic-file.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/vc-strings.h"
#include "store/daemon-client.h"
#include "store/remote-node.h"
#include "store/store.h"
#include "store/store-internal.h"

static void read_replica_marker (struct vc_store *store);

int
vc_store_open_cli (struct vc_store *store, const char *dir, bool explicit_dir,
                   bool create)
{
  struct vc_daemon *daemon = NULL;
  const char *no = getenv ("VIRTCKPT_NO_DAEMON");

  if (no == NULL || *no == '\0') {
    bool remote_node;
    daemon = vc_daemon_open (dir, &remote_node);
    if (daemon == NULL && remote_node) {
      /* Its own store would fork the chain the cluster holds. */
      vc_error ("%s", vc_daemon_unreachable (errno));
      return VC_STORE_NO_CLUSTER;
    }
    if (daemon && vc_daemon_is_remote (daemon)) {
      if (explicit_dir) {
        vc_warn ("this is a Pacemaker Remote node, whose store is the cluster's "
                 "(through %s): using %s alone, unreplicated",
                 vc_daemon_server (daemon), dir);
        vc_daemon_close (daemon);
        daemon = NULL;
      }
      else {
        if (vc_store_open_remote (store, daemon) == -1) {
          vc_daemon_close (daemon);
          return -1;
        }
        vc_info ("using the replicated store through virtckptd on %s "
                 "(this is a Pacemaker Remote node)", vc_daemon_server (daemon));
        return 0;
      }
    }
    if (daemon == NULL && errno == EPERM) {
      /* Not the local store either: whoever squats the daemon's name
       * would make this node's writes bypass the cluster unnoticed.
       */
      vc_error ("%s", vc_daemon_unreachable (EPERM));
      return VC_STORE_UNTRUSTED_DAEMON;
    }
    if (daemon == NULL && errno != ENOENT)
      vc_warn ("%s: using the local store", vc_daemon_unreachable (errno));
  }
  if (daemon) {
    const char *ddir = vc_daemon_store_dir (daemon);
    char *a = realpath (dir, NULL), *b = realpath (ddir, NULL);
    bool same = a && b && strcmp (a, b) == 0;
    free (a);
    free (b);
    if (explicit_dir && !same) {
      vc_warn ("virtckptd replicates %s, not %s: using %s alone, unreplicated",
               ddir, dir, dir);
      vc_daemon_close (daemon);
      daemon = NULL;
    }
    else
      dir = ddir;
  }
  if (vc_store_open (store, dir, create && daemon == NULL) == -1) {
    vc_daemon_close (daemon);
    return -1;
  }
  store->daemon = daemon;
  if (daemon)
    vc_info ("using virtckptd: replicated store %s", store->dir);
  else {
    read_replica_marker (store);
    vc_info ("using the local store %s (no virtckptd%s)", store->dir,
             store->unreplicated ? "; it is a virtckptd replica" : "");
  }
  return 0;
}

/* A replica written while its daemon is down: see vc_store.unreplicated. */
static void
read_replica_marker (struct vc_store *store)
{
  CLEANUP_FREE char *buf = NULL;
  size_t len;
  unsigned node;

  if (store->dirfd == -1 ||
      vc_read_file (store->dirfd, VC_REPLICA_MARKER, 64, &buf, &len) == -1)
    return;
  if (sscanf (buf, "node %u", &node) != 1) {
    vc_warn ("%s/%s is damaged: treating the store as a replica of node 0",
             store->dir, VC_REPLICA_MARKER);
    node = 0;
  }
  store->unreplicated = true;
  store->replica_node = node;
}

int
vc_store_mark_replica (struct vc_store *store, uint32_t nodeid)
{
  char want[32];
  CLEANUP_FREE char *have = NULL;
  size_t len;

  snprintf (want, sizeof want, "node %" PRIu32 "\n", nodeid);
  if (vc_read_file (store->dirfd, VC_REPLICA_MARKER, 64, &have, &len) == 0 &&
      len == strlen (want) && memcmp (have, want, len) == 0)
    return 0;
  if (vc_atomic_write (store->dirfd, VC_REPLICA_MARKER, want, strlen (want)) == -1) {
    vc_error ("cannot write %s/%s: %m", store->dir, VC_REPLICA_MARKER);
    return -1;
  }
  return 0;
}

/* Flags a write into a replica whose daemon is down (see store.h).  Its
 * base becomes the version it replaces when that one came from the
 * cluster: base is otherwise only moved by a sync, and the daemon's sync
 * must see this write as made on top of what the cluster holds (it wins)
 * unless the cluster changed the domain since (a conflict, and the
 * cluster's quorate version wins).  Its generation goes above the one it
 * replaces, tombstones included (callers count from what they can load,
 * which hides a tombstone): a write below its base could not be ordered
 * by the sync.  Nothing replaced: the write has no base.
 */
void
vc_store_flag_unreplicated (struct vc_store *store, struct vc_chain *chain)
{
  struct vc_chain current;

  chain->version.base_generation = 0;
  chain->version.base_node = 0;
  if (vc_store_load_any (store, chain->domain, &current) == 0) {
    if (!current.version.without_quorum) {
      chain->version.base_generation = current.version.generation;
      chain->version.base_node = current.version.node;
    }
    else {
      chain->version.base_generation = current.version.base_generation;
      chain->version.base_node = current.version.base_node;
    }
    if (chain->version.generation <= current.version.generation)
      chain->version.generation = current.version.generation + 1;
    vc_chain_clear (&current);
  }
  if (chain->version.generation <= chain->version.base_generation)
    chain->version.generation = chain->version.base_generation + 1;
  chain->version.without_quorum = true;
  chain->version.node = store->replica_node;
  if (!store->warned_unreplicated)
    vc_warn ("virtckptd is not running: writing its replica %s alone; the "
             "change is replicated when virtckptd starts, and yields to the "
             "cluster's if %s was changed elsewhere meanwhile",
             store->dir, chain->domain);
  store->warned_unreplicated = true;
}

