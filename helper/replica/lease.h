/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Cluster-wide per-domain leases: at most one member of the CPG group
 * holds the lease of a domain, and every member agrees which.
 *
 * A pure state machine, fed by the replica (replica.c) with what CPG
 * delivers, in agreed order; it queues what it sends through a callback,
 * so that it can be tested without corosync (tests/unit/test-lease.c).
 *
 *  - LEASE 'A' (acquire) and 'R' (release) go round the group; every
 *    member applies them in delivery order, so the first request for a
 *    free domain wins everywhere.  A request made without quorum is
 *    denied (everywhere: the flag travels in the message).
 *  - A membership change starts a new table: in the sync of the epoch
 *    that follows, every member sends CLAIMS, the leases it holds; the
 *    table is rebuilt from them in delivery order (the first claim of a
 *    domain wins; a later one is lost).  A member that left claims
 *    nothing: its leases are gone.  Requests delivered during the sync
 *    wait for its end; our own that a change swallowed are sent again.
 *
 * See doc/design.md, "Leases and jobs".
 */
#ifndef VIRTCKPT_LEASE_H
#define VIRTCKPT_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/vector.h"
#include "replica/wire.h"

/* The longest domain name and job id a lease message may carry. */
#define VC_LEASE_NAME_MAX 1024
#define VC_LEASE_JOB_MAX 256

struct vc_lease {
  char *domain;
  char *job;                    /* the holder's job id (opaque) */
  struct vc_member holder;
};
DEFINE_VECTOR_TYPE (vc_lease_vector, struct vc_lease);

enum vc_lease_event {
  VC_LEASE_GRANTED,             /* req now holds the lease */
  VC_LEASE_DENIED,              /* req refused; holder holds it (or NULL:
                                   the requester had no quorum) */
  VC_LEASE_RELEASED,            /* req (the holder) released it */
  VC_LEASE_LOST,                /* req's lease lost in a sync to holder */
};

/* Called for every decision, on every member, the same everywhere. */
typedef void (*vc_lease_event_fn) (void *opaque, enum vc_lease_event ev,
                                   const struct vc_lease *req,
                                   const struct vc_lease *holder);
/* Queues a message of the current epoch for multicast; -1 on failure. */
typedef int (*vc_lease_send_fn) (void *opaque, enum vc_msg_type type,
                                 const char *payload, size_t len);

struct vc_lease_request {
  char *domain, *job;
  uint64_t sent_in;             /* the view count it was sent in, 0: not yet */
};
DEFINE_VECTOR_TYPE (vc_lease_request_vector, struct vc_lease_request);

struct vc_lease_deferred {
  struct vc_member from;
  char *payload;
  size_t len;
};
DEFINE_VECTOR_TYPE (vc_lease_deferred_vector, struct vc_lease_deferred);

struct vc_leases {
  struct vc_member self;
  vc_lease_vector table;        /* agreed, valid once synced */
  vc_lease_vector next;         /* being rebuilt from the claims of a sync */
  vc_lease_vector own;          /* what this member holds */
  vc_lease_request_vector pending;   /* our acquires not yet delivered */
  vc_lease_deferred_vector deferred; /* delivered during a sync */
  bool in_group;                /* a member of a view */
  bool syncing;                 /* its table is being rebuilt */
  bool quorate;                 /* carried by our acquires */
  uint64_t views;               /* views joined */
  vc_lease_event_fn event;
  vc_lease_send_fn send;
  void *opaque;
};

extern void vc_lease_init (struct vc_leases *l, struct vc_member self,
                           vc_lease_event_fn event, vc_lease_send_fn send,
                           void *opaque);
extern void vc_lease_free (struct vc_leases *l);

/* --- fed by the replica --- */

/* The membership changed: a sync follows.  members: the new list. */
extern void vc_lease_view (struct vc_leases *l, const struct vc_member *members,
                           size_t n);
/* The epoch's sync starts here: sends CLAIMS. */
extern void vc_lease_sync_start (struct vc_leases *l);
/* A CLAIMS message of the current sync. */
extern void vc_lease_claims (struct vc_leases *l, struct vc_member from,
                             const char *payload, size_t len);
/* The sync ended: the rebuilt table is agreed; waiting requests apply. */
extern void vc_lease_synced (struct vc_leases *l);
/* A LEASE message. */
extern void vc_lease_deliver (struct vc_leases *l, struct vc_member from,
                              const char *payload, size_t len);
/* Out of the group: nothing is held, nothing is known. */
extern void vc_lease_offline (struct vc_leases *l);

/* --- used by the daemon --- */

/* Asks for domain's lease for job; the answer comes as an event
 * (GRANTED or DENIED with req->holder == self).  -1: out of memory or
 * invalid name/job (errno EINVAL).  The request carries whether this
 * member has quorum when it is sent (l->quorate, set by the replica).
 */
extern int vc_lease_acquire (struct vc_leases *l, const char *domain,
                             const char *job);
/* Releases a lease this member holds (or stops asking for it). */
extern void vc_lease_release (struct vc_leases *l, const char *domain,
                              const char *job);
/* The agreed holder of domain, or NULL. */
extern const struct vc_lease *vc_lease_holder (const struct vc_leases *l,
                                               const char *domain);

#endif
