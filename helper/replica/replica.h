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

#include "store/store.h"
#include "common/vector.h"

#define VC_CPG_GROUP "virtckpt"
#define VC_MSG_MAGIC 0x444b4356u        /* "VCKD" little endian */
#define VC_PROTO_VERSION 1
/* Payload per CPG message, well under corosync's limit. */
#define VC_FRAGMENT_SIZE (128 * 1024)
/* Largest reassembled message accepted. */
#define VC_MESSAGE_MAX (40 * 1024 * 1024)

enum vc_msg_type {
  VC_MSG_SUMMARY = 1,           /* what a member holds: names and versions */
  VC_MSG_DOC = 2,               /* a document a member lacks (sync) */
  VC_MSG_DONE = 3,              /* the sender has sent all it had to */
  VC_MSG_UPDATE = 4,            /* a new document or a tombstone (normal) */
  VC_MSG_SYNC_START = 5,        /* the leader opens the epoch of a view */
};

struct vc_member {
  uint32_t nodeid;
  uint32_t pid;
};
DEFINE_VECTOR_TYPE (vc_member_vector, struct vc_member);

struct vc_outmsg {
  unsigned char *buf;
  size_t len;
};
DEFINE_VECTOR_TYPE (vc_outmsg_vector, struct vc_outmsg);

/* Called when a submitted update was applied here (status 0) or failed. */
typedef void (*vc_applied_fn) (void *opaque, uint64_t cookie, int status,
                               const char *message);

struct vc_sync_entry;
struct vc_pending;
struct vc_deferred;
struct vc_reassembly;
DEFINE_VECTOR_TYPE (vc_sync_entry_vector, struct vc_sync_entry *);
DEFINE_VECTOR_TYPE (vc_pending_vector, struct vc_pending *);
DEFINE_VECTOR_TYPE (vc_deferred_vector, struct vc_deferred *);
DEFINE_VECTOR_TYPE (vc_reassembly_vector, struct vc_reassembly *);

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

  vc_outmsg_vector out;         /* to multicast, in order */
  uint64_t next_msgid;
  vc_reassembly_vector reassembly;
  vc_pending_vector pending;    /* submitted here, not yet applied */
  vc_deferred_vector deferred;  /* updates delivered while syncing */
  string_vector conflicts;      /* one line each */

  vc_applied_fn applied;
  void *applied_opaque;

  /* For status. */
  uint64_t syncs, updates_applied, rejected;
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

/* Appends a status report (key: value lines) to *out. */
extern char *vc_replica_status (const struct vc_replica *r);

#endif
