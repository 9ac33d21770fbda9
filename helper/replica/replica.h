/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The replicated checkpoint store: the protocol virtckptd speaks over
 * corosync CPG, independent of corosync itself (the daemon feeds it
 * membership changes and delivered messages, and sends what it queues),
 * so that it can be tested without a cluster.
 *
 * See doc/design.md, "Replication", for the messages and states.
 */
#ifndef VIRTCKPT_REPLICA_H
#define VIRTCKPT_REPLICA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/vector.h"
#include "replica/lease.h"
#include "replica/plan.h"
#include "replica/wire.h"
#include "store/store.h"

/* Called when a submitted update was applied here (status 0) or failed. */
typedef void (*vc_applied_fn) (void *opaque, uint64_t cookie, int status,
                               const char *message);
/* Called with each JOB message delivered in the current epoch. */
typedef void (*vc_job_message_fn) (void *opaque, struct vc_member from,
                                   const char *payload, size_t len);

struct vc_pending;
struct vc_deferred;
DEFINE_VECTOR_TYPE (vc_pending_vector, struct vc_pending *);
DEFINE_VECTOR_TYPE (vc_deferred_vector, struct vc_deferred *);

/* Conflicts a sync keeps (copy written, logged one by one); beyond, they
 * are counted and logged once per sync, and the losing versions are not
 * kept.
 */
#define VC_CONFLICTS_PER_SYNC 100
/* Conflict lines the status shows (the latest); it says how many more. */
#define VC_STATUS_CONFLICTS 20

enum vc_replica_state {
  VC_REPLICA_OFFLINE,           /* not in the group: reads only */
  VC_REPLICA_SYNCING,           /* exchanging summaries and documents */
  VC_REPLICA_SYNCED,
};

struct vc_replica {
  struct vc_store *store;
  struct vc_member self;
  enum vc_replica_state state;
  uint64_t epoch;               /* 0 until the leader opened one */
  uint64_t view;                /* hash of the member list */
  vc_member_vector members;     /* sorted */
  bool quorate;

  /* The sync of the current epoch. */
  bool *have_summary, *have_done;
  vc_sync_entry_vector entries;
  size_t docs_expected;
  bool planned;                 /* entries sorted, plan made */
  size_t sync_conflicts;        /* recorded in this sync */

  vc_outmsg_vector out;         /* to multicast, in order */
  uint64_t next_msgid;
  vc_reassembly_vector reassembly;
  vc_pending_vector pending;    /* submitted here, not yet applied */
  vc_deferred_vector deferred;  /* updates delivered while syncing */
  string_vector conflicts;      /* the latest VC_STATUS_CONFLICTS, one line each */
  uint64_t conflicts_total;     /* since the start */
  uint64_t conflicts_unkept;    /* over VC_CONFLICTS_PER_SYNC: no copy */

  vc_applied_fn applied;
  void *applied_opaque;

  /* Leases (lease.h) and handed-over jobs (the daemon's). */
  struct vc_leases leases;
  vc_job_message_fn job_message;
  void *job_opaque;

  /* For status. */
  uint64_t syncs, updates_applied, rejected;
  /* CPG traffic since the start, headers included, counted as CPG
   * delivers it: "sent" are this member's own messages (delivered back to
   * it), "received" every other member's, whatever became of them.
   */
  uint64_t messages_sent, bytes_sent, messages_received, bytes_received;
  char *last_error;
};

extern void vc_replica_init (struct vc_replica *r, struct vc_store *store,
                             uint32_t nodeid, uint32_t pid,
                             vc_applied_fn applied, void *opaque);
extern void vc_replica_free (struct vc_replica *r);

/* A membership change of the group. */
extern void vc_replica_confchg (struct vc_replica *r,
                                const struct vc_member *members, size_t n);
/* The connection to corosync is gone: pending updates fail. */
extern void vc_replica_offline (struct vc_replica *r, const char *why);
extern void vc_replica_set_quorate (struct vc_replica *r, bool quorate);

/* A message delivered by CPG, in agreed order. */
extern void vc_replica_deliver (struct vc_replica *r, uint32_t nodeid,
                                uint32_t pid, const void *buf, size_t len);

/* Submits a new document (text) or, with text NULL, a tombstone for
 * domain.  applied(cookie) is called once it is applied here.
 */
extern int vc_replica_submit (struct vc_replica *r, uint64_t cookie,
                              const char *domain, const char *text, size_t len);
/* The same for a document the caller parsed already into *parsed, which
 * is taken (cleared, whatever the result): applying the update here uses
 * it instead of parsing text again.
 */
extern int vc_replica_submit_parsed (struct vc_replica *r, uint64_t cookie,
                                     const char *domain, const char *text,
                                     size_t len, struct vc_chain *parsed);

/* Where lease decisions (called with r as opaque) and JOB messages
 * (with opaque) go: the daemon's.
 */
extern void vc_replica_set_job_hooks (struct vc_replica *r,
                                      vc_lease_event_fn lease_event,
                                      vc_job_message_fn job_message,
                                      void *opaque);
/* Multicasts a JOB message in the current epoch: -1 (errno ENOTCONN)
 * unless synced, ENOMEM.
 */
extern int vc_replica_send_job (struct vc_replica *r, const char *payload,
                                size_t len);

/* A status report (key: value lines), malloc'd; status.c. */
extern char *vc_replica_status (const struct vc_replica *r);
/* Its first lines only: node, state, members, quorate (no scan of the
 * replica). */
extern char *vc_replica_state (const struct vc_replica *r);

#endif
