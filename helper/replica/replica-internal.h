/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the parts of the replica share: the state machine (replica.c),
 * the sync of an epoch (sync.c) and the replicated updates (update.c).
 * Not for users of the replica: they see replica.h only.
 */
#ifndef VIRTCKPT_REPLICA_INTERNAL_H
#define VIRTCKPT_REPLICA_INTERNAL_H

#include "replica/replica.h"

struct vc_pending {
  uint64_t cookie, msgid, epoch;
  char *domain;
  char *text;                   /* NULL: tombstone */
  size_t len;
  bool have_parsed;             /* parsed: text, parsed by the submitter */
  struct vc_chain parsed;
};

struct vc_deferred {
  struct vc_member from;
  uint64_t msgid;
  char *payload;
  size_t len;
};

/* Records (in the status) and logs an error, once, where it happens. */
extern void vc_replica_error (struct vc_replica *r, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

/* Queues a message of the current epoch for multicast. */
extern int vc_replica_queue (struct vc_replica *r, enum vc_msg_type type,
                             uint64_t msgid, const char *payload, size_t len);

extern bool vc_replica_is_self (const struct vc_replica *r, struct vc_member m);
/* m's index in the sorted member list, or -1. */
extern ssize_t vc_replica_member_index (const struct vc_replica *r,
                                        struct vc_member m);

/* The end of a sync: every member sent all it had to. */
extern void vc_replica_synced (struct vc_replica *r);

/* sync.c */
extern int vc_sync_send_summary (struct vc_replica *r);
extern int vc_sync_add_summary (struct vc_replica *r, size_t member,
                                const char *payload, size_t len);
extern void vc_sync_plan (struct vc_replica *r);
extern void vc_sync_receive_document (struct vc_replica *r, const char *payload,
                                      size_t len);
extern void vc_sync_rebase (struct vc_replica *r);
extern void vc_sync_free_entries (struct vc_replica *r);

/* update.c */
extern void vc_update_apply (struct vc_replica *r, struct vc_member from,
                             uint64_t msgid, const char *payload, size_t len);
extern void vc_update_defer (struct vc_replica *r, struct vc_member from,
                             uint64_t msgid, const char *payload, size_t len);
extern void vc_update_apply_deferred (struct vc_replica *r);
extern void vc_update_free_deferred (struct vc_replica *r);
extern void vc_update_resend_pending (struct vc_replica *r);
extern void vc_update_fail_pending (struct vc_replica *r, const char *why);
extern void vc_update_free_pending (struct vc_replica *r);

#endif
