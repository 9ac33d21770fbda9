/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The local checkpoint store: a directory with one document per domain.
 *
 * Readers take no lock: documents are replaced atomically, so a reader
 * sees the old or the new one.  Writers serialise on an flock of
 * DIR/.lock for their read-modify-write.  Every function reports its own
 * errors through the log.
 */
#ifndef VIRTCKPT_STORE_H
#define VIRTCKPT_STORE_H

#include <stdbool.h>

#include "store/chain.h"
#include "common/exit-codes.h"
#include "common/vector.h"

DEFINE_VECTOR_TYPE (string_vector, char *);

struct vc_daemon;

struct vc_store {
  char *dir;
  int dirfd;
  int lockfd;
  /* When virtckptd runs on this node: writes go through it (replicated,
   * applied in cluster order), reads come from its local replica (dir).
   */
  struct vc_daemon *daemon;
  /* dir is virtckptd's replica but no virtckptd answers: writes are
   * flagged as made without quorum by node replica_node, so that at the
   * daemon's next sync they win only if nobody else changed the domain
   * (see VC_REPLICA_MARKER).
   */
  bool unreplicated;
  bool warned_unreplicated;
  uint32_t replica_node;
  /* On a Pacemaker Remote node (store/remote-node.h): dir is a private
   * snapshot of a full node's replica, reached through daemon; it holds
   * the files of remote_fetched, or all of them when remote_all.
   */
  bool remote;
  bool remote_all;
  string_vector remote_fetched;
  /* What vc_store_scan (store-scan.h) knows of the documents. */
  struct vc_store_scan *scan;
};

/* A file virtckptd keeps in its replica ("node N\n", its corosync node
 * id): tells the CLI that the directory is replicated.
 */
#define VC_REPLICA_MARKER ".virtckptd-replica"

/* Called by virtckptd once it knows its node id. */
extern int vc_store_mark_replica (struct vc_store *store, uint32_t nodeid);

/* Opens dir; with create, makes it (mode 0700) if missing.  Without
 * create, a missing dir opens as an empty store (dirfd -1) that reads as
 * empty and refuses writes.
 */
extern int vc_store_open (struct vc_store *store, const char *dir, bool create);
extern void vc_store_close (struct vc_store *store);

/* For the CLI: uses virtckptd's replica when a daemon runs here (on a
 * Pacemaker Remote node, the replica of a full node; see remote-node.h)
 * (unless
 * VIRTCKPT_NO_DAEMON is set, or dir was given explicitly and differs from
 * the daemon's), the local store dir otherwise.  Says which with -v.
 * Returns 0, -1 on error, VC_STORE_UNTRUSTED_DAEMON when the process
 * serving the daemon's name is no trustworthy virtckptd (then no store is
 * used at all); errors are logged.
 */
#define VC_STORE_UNTRUSTED_DAEMON (-2)
/* On a Pacemaker Remote node, no full node could be reached (logged):
 * no store is used at all.
 */
#define VC_STORE_NO_CLUSTER (-3)
extern int vc_store_open_cli (struct vc_store *store, const char *dir,
                              bool explicit_dir, bool create);
/* The exit code (common/exit-codes.h) for a failed vc_store_open_cli. */
static inline int
vc_store_open_exit_code (int ret)
{
  return ret == VC_STORE_UNTRUSTED_DAEMON ? VC_EXIT_UNTRUSTED_DAEMON
    : ret == VC_STORE_NO_CLUSTER ? VC_EXIT_NO_CLUSTER : VC_EXIT_ERROR;
}

/* Takes the writers' lock (fails clearly on a read-only store), waiting
 * up to 30 s for another writer; vc_store_lock_now does not wait.
 */
extern int vc_store_lock (struct vc_store *store);
extern int vc_store_lock_now (struct vc_store *store);

/* 0 loaded, 1 no document for that domain (or only a tombstone), -1
 * error (logged).
 */
extern int vc_store_load (struct vc_store *store, const char *domain,
                          struct vc_chain *chain);
/* The same, saying nothing when the document is unreadable or damaged
 * (still -1): for a caller that then removes it whole.
 */
extern int vc_store_load_quiet (struct vc_store *store, const char *domain,
                                struct vc_chain *chain);
/* The same, tombstones included (for replication). */
extern int vc_store_load_any (struct vc_store *store, const char *domain,
                              struct vc_chain *chain);
/* The document in file (a name in the store directory) whatever domain
 * it names: 0, 1 no such file, -1 unreadable or damaged (logged).
 */
extern int vc_store_load_file (struct vc_store *store, const char *file,
                               struct vc_chain *chain);

/* Writes chain->domain's document atomically.  Caller holds the lock. */
extern int vc_store_save (struct vc_store *store, const struct vc_chain *chain);

/* Marks the stored chain of domain broken (the next automatic backup is
 * full; the first reason is kept) or clears the mark.  A new version when
 * it changes; 0 when there is no chain.
 */
extern int vc_store_set_broken (struct vc_store *store, const char *domain,
                                bool broken, const char *reason);

/* Writes an already serialised document of domain (replication). */
extern int vc_store_save_text (struct vc_store *store, const char *domain,
                               const char *text, size_t len);

/* Keeps chain, a version that lost to another member's in a sync, as
 * DIR/conflicts/FILE@GENERATION-NODE.xml (FILE: its document's file name
 * without the suffix), for the administrator.
 */
#define VC_CONFLICTS_DIR "conflicts"
extern int vc_store_save_conflict (struct vc_store *store,
                                   const struct vc_chain *chain);

/* 0 removed, 1 there was none, -1 error.  Caller holds the lock. */
extern int vc_store_remove (struct vc_store *store, const char *domain);

/* Names of all stored domains, sorted, without tombstones (with them
 * when tombstones is true).  Unreadable documents of hashed names are
 * reported and skipped.
 */
extern int vc_store_list (struct vc_store *store, string_vector *names);
extern int vc_store_list_any (struct vc_store *store, string_vector *names,
                              bool tombstones);

extern void vc_string_vector_free (string_vector *v);

#endif
