/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The replica's state machine: membership changes open epochs, delivered
 * messages go to one handler per type, and the state changes in one
 * place.  The sync itself is in sync.c, updates in update.c.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

#include "common/log.h"
#include "replica/replica-internal.h"

void
vc_replica_error (struct vc_replica *r, const char *fmt, ...)
{
  va_list ap;
  char *s = NULL;

  va_start (ap, fmt);
  if (vasprintf (&s, fmt, ap) == -1)
    s = NULL;
  va_end (ap);
  if (s) {
    vc_error ("%s", s);
    free (r->last_error);
    r->last_error = s;
  }
}

static int
lease_send (void *opaque, enum vc_msg_type type, const char *payload, size_t len)
{
  struct vc_replica *r = opaque;

  if (r->epoch == 0)
    return -1;
  return vc_replica_queue (r, type, r->next_msgid++, payload, len);
}

void
vc_replica_init (struct vc_replica *r, struct vc_store *store,
                 uint32_t nodeid, uint32_t pid, vc_applied_fn applied,
                 void *opaque)
{
  memset (r, 0, sizeof *r);
  r->store = store;
  r->self = (struct vc_member) { nodeid, pid };
  r->applied = applied;
  r->applied_opaque = opaque;
  r->next_msgid = 1;
  vc_lease_init (&r->leases, r->self, NULL, lease_send, r);
}

void
vc_replica_set_job_hooks (struct vc_replica *r, vc_lease_event_fn lease_event,
                          vc_job_message_fn job_message, void *opaque)
{
  /* leases.opaque stays r (lease_send's): the events get r too. */
  r->leases.event = lease_event;
  r->job_message = job_message;
  r->job_opaque = opaque;
}

int
vc_replica_send_job (struct vc_replica *r, const char *payload, size_t len)
{
  if (r->state != VC_REPLICA_SYNCED) {
    errno = ENOTCONN;
    return -1;
  }
  if (vc_replica_queue (r, VC_MSG_JOB, r->next_msgid++, payload, len) == -1) {
    errno = ENOMEM;
    return -1;
  }
  return 0;
}

static void
drop_queued (struct vc_replica *r)
{
  for (size_t i = 0; i < r->out.len; i++)
    free (r->out.ptr[i].buf);
  r->out.len = 0;
}

void
vc_replica_free (struct vc_replica *r)
{
  vc_sync_free_entries (r);
  vc_wire_reassembly_free (&r->reassembly);
  vc_update_free_deferred (r);
  vc_update_free_pending (r);
  vc_pending_vector_reset (&r->pending);
  drop_queued (r);
  vc_outmsg_vector_reset (&r->out);
  vc_member_vector_reset (&r->members);
  vc_string_vector_free (&r->conflicts);
  vc_lease_free (&r->leases);
  free (r->have_summary);
  free (r->have_done);
  free (r->last_error);
}

int
vc_replica_queue (struct vc_replica *r, enum vc_msg_type type, uint64_t msgid,
                  const char *payload, size_t len)
{
  if (vc_wire_fragment (&r->out, type, r->epoch, msgid, payload, len) == -1) {
    vc_replica_error (r, "out of memory queueing a message");
    return -1;
  }
  return 0;
}

/* --- states and membership ------------------------------------------------------- */

/* Every change of state goes through here.  What a sync gathers belongs
 * to one epoch: entering a new sync or leaving the group drops it, and
 * leaving the group also drops what was to be sent or applied.
 */
static void
set_state (struct vc_replica *r, enum vc_replica_state state)
{
  if (state != VC_REPLICA_SYNCED) {
    vc_sync_free_entries (r);
    vc_wire_reassembly_free (&r->reassembly);
    if (r->have_summary && r->have_done) {
      memset (r->have_summary, 0, r->members.len * sizeof (bool));
      memset (r->have_done, 0, r->members.len * sizeof (bool));
    }
  }
  if (state == VC_REPLICA_OFFLINE) {
    drop_queued (r);
    vc_update_free_deferred (r);
  }
  r->state = state;
}

static int
member_cmp (const void *a, const void *b)
{
  const struct vc_member *x = a, *y = b;
  if (x->nodeid != y->nodeid)
    return x->nodeid < y->nodeid ? -1 : 1;
  if (x->pid != y->pid)
    return x->pid < y->pid ? -1 : 1;
  return 0;
}

bool
vc_replica_is_self (const struct vc_replica *r, struct vc_member m)
{
  return vc_member_eq (m, r->self);
}

ssize_t
vc_replica_member_index (const struct vc_replica *r, struct vc_member m)
{
  for (size_t i = 0; i < r->members.len; i++)
    if (vc_member_eq (r->members.ptr[i], m))
      return i;
  return -1;
}

static bool
is_leader (const struct vc_replica *r, struct vc_member m)
{
  return r->members.len > 0 && vc_member_eq (r->members.ptr[0], m);
}

static uint64_t
fnv1a (uint64_t h, const void *p, size_t n)
{
  const unsigned char *c = p;
  for (size_t i = 0; i < n; i++) {
    h ^= c[i];
    h *= UINT64_C (0x100000001b3);
  }
  return h;
}

/* The members, sorted, and the view they make (a hash of the list). */
static int
set_members (struct vc_replica *r, const struct vc_member *members, size_t n)
{
  uint64_t view = UINT64_C (0xcbf29ce484222325);

  vc_member_vector_reset (&r->members);
  for (size_t i = 0; i < n; i++)
    if (vc_member_vector_append (&r->members, members[i]) == -1) {
      vc_replica_error (r, "out of memory");
      return -1;
    }
  if (r->members.len)
    qsort (r->members.ptr, r->members.len, sizeof (struct vc_member), member_cmp);
  for (size_t i = 0; i < r->members.len; i++)
    view = fnv1a (view, &r->members.ptr[i], sizeof (struct vc_member));
  r->view = view;
  free (r->have_summary);
  free (r->have_done);
  r->have_summary = calloc (r->members.len + 1, sizeof (bool));
  r->have_done = calloc (r->members.len + 1, sizeof (bool));
  return 0;
}

/* The leader opens the epoch of its view. */
static void
open_epoch (struct vc_replica *r)
{
  uint64_t epoch = 0;
  char view[VC_WIRE_VIEW_SIZE];

  while (epoch == 0)
    if (getrandom (&epoch, sizeof epoch, 0) != sizeof epoch)
      epoch = ((uint64_t) r->self.pid << 32) ^ (uint64_t) time (NULL) ^ r->next_msgid;
  r->epoch = epoch;
  vc_wire_view (view, r->view);
  vc_replica_queue (r, VC_MSG_SYNC_START, r->next_msgid++, view, strlen (view));
  vc_sync_send_summary (r);
  vc_lease_sync_start (&r->leases);
}

/* Epochs: on every membership change, the leader (the lowest member)
 * opens a new epoch with SYNC_START, naming the view (a hash of the member
 * list) it is for.  Members accept it only from the leader of their own
 * current view, so a SYNC_START sent before the leader saw a later change
 * is ignored, and the leader's next one restarts the sync.  Every other
 * message carries its epoch; messages of any other epoch are dropped.
 */
void
vc_replica_confchg (struct vc_replica *r, const struct vc_member *members,
                    size_t n)
{
  if (set_members (r, members, n) == -1)
    return;
  r->epoch = 0;
  /* What was queued for the old view is of no use in the new one (pending
   * updates are resent after the sync), and a SYNC_START among it could
   * name a view that comes back.  Updates deferred in the old epoch:
   * their senders resend them after the new sync (they are still pending
   * there), to all of the new members.
   */
  drop_queued (r);
  vc_update_free_deferred (r);
  r->docs_expected = 0;
  r->leases.self = r->self;
  vc_lease_view (&r->leases, r->members.ptr, r->members.len);

  if (vc_replica_member_index (r, r->self) == -1) {
    set_state (r, VC_REPLICA_OFFLINE);
    return;
  }
  set_state (r, VC_REPLICA_SYNCING);
  vc_notice ("membership changed: %zu member%s: syncing", r->members.len,
             r->members.len == 1 ? "" : "s");
  if (is_leader (r, r->self))
    open_epoch (r);
}

void
vc_replica_offline (struct vc_replica *r, const char *why)
{
  set_state (r, VC_REPLICA_OFFLINE);
  vc_member_vector_reset (&r->members);
  vc_update_fail_pending (r, why);
  vc_lease_offline (&r->leases);
}

void
vc_replica_set_quorate (struct vc_replica *r, bool quorate)
{
  if (r->quorate != quorate)
    vc_notice ("quorum %s", quorate ? "gained" : "lost");
  r->quorate = quorate;
  r->leases.quorate = quorate;
}

void
vc_replica_synced (struct vc_replica *r)
{
  vc_sync_rebase (r);
  set_state (r, VC_REPLICA_SYNCED);
  r->syncs++;
  vc_notice ("synced with %zu member%s (epoch %016" PRIx64 ")", r->members.len,
             r->members.len == 1 ? "" : "s", r->epoch);
  vc_update_apply_deferred (r);
  vc_update_resend_pending (r);
  vc_lease_synced (&r->leases);
}

/* --- handlers ------------------------------------------------------------------- */

static void
on_sync_start (struct vc_replica *r, struct vc_member from, uint64_t epoch,
               const char *payload, size_t len)
{
  char view[VC_WIRE_VIEW_SIZE];

  if (r->state == VC_REPLICA_OFFLINE || !is_leader (r, from))
    return;
  vc_wire_view (view, r->view);
  if (len != strlen (view) || memcmp (payload, view, len) != 0 || epoch == 0)
    return;                     /* for another view: stale */
  if (epoch == r->epoch)
    return;                     /* the leader's own, or a repeat */
  set_state (r, VC_REPLICA_SYNCING);
  r->epoch = epoch;
  vc_sync_send_summary (r);
  vc_lease_sync_start (&r->leases);
}

typedef void handler_fn (struct vc_replica *r, struct vc_member from, size_t m,
                         const struct vc_wire_message *msg);

static bool
all_set (const bool *flags, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (!flags[i])
      return false;
  return true;
}

static void
on_summary (struct vc_replica *r, struct vc_member from, size_t m,
            const struct vc_wire_message *msg)
{
  if (r->state != VC_REPLICA_SYNCING || r->have_summary[m])
    return;
  if (vc_sync_add_summary (r, m, msg->payload, msg->len) == -1) {
    /* Once per sender and epoch: have_summary[m] is set below. */
    vc_replica_error (r, "rejected the summary of node %" PRIu32 " (a malformed "
                      "line, a name listed twice, a version older than its "
                      "base, or over %d documents): it counts as holding "
                      "nothing in this sync", from.nodeid,
                      VC_SUMMARY_MAX_ENTRIES);
    r->rejected++;
  }
  r->have_summary[m] = true;
  if (all_set (r->have_summary, r->members.len))
    vc_sync_plan (r);
}

static void
on_doc (struct vc_replica *r, struct vc_member from, size_t m,
        const struct vc_wire_message *msg)
{
  if (r->state == VC_REPLICA_SYNCING)
    vc_sync_receive_document (r, msg->payload, msg->len);
}

static void
on_done (struct vc_replica *r, struct vc_member from, size_t m,
         const struct vc_wire_message *msg)
{
  if (r->state != VC_REPLICA_SYNCING)
    return;
  r->have_done[m] = true;
  if (all_set (r->have_done, r->members.len))
    vc_replica_synced (r);
}

static void
on_update (struct vc_replica *r, struct vc_member from, size_t m,
           const struct vc_wire_message *msg)
{
  if (r->state == VC_REPLICA_SYNCED)
    vc_update_apply (r, from, msg->msgid, msg->payload, msg->len);
  else if (r->state == VC_REPLICA_SYNCING)
    vc_update_defer (r, from, msg->msgid, msg->payload, msg->len);
}

static void
on_lease (struct vc_replica *r, struct vc_member from, size_t m,
          const struct vc_wire_message *msg)
{
  if (r->state != VC_REPLICA_OFFLINE)
    vc_lease_deliver (&r->leases, from, msg->payload, msg->len);
}

static void
on_claims (struct vc_replica *r, struct vc_member from, size_t m,
           const struct vc_wire_message *msg)
{
  if (r->state == VC_REPLICA_SYNCING)
    vc_lease_claims (&r->leases, from, msg->payload, msg->len);
}

static void
on_job (struct vc_replica *r, struct vc_member from, size_t m,
        const struct vc_wire_message *msg)
{
  if (r->state != VC_REPLICA_OFFLINE && r->job_message)
    r->job_message (r->job_opaque, from, msg->payload, msg->len);
}

static handler_fn *const handlers[] = {
  [VC_MSG_SUMMARY] = on_summary,
  [VC_MSG_DOC] = on_doc,
  [VC_MSG_DONE] = on_done,
  [VC_MSG_UPDATE] = on_update,
  [VC_MSG_LEASE] = on_lease,
  [VC_MSG_CLAIMS] = on_claims,
  [VC_MSG_JOB] = on_job,
};

/* --- delivery -------------------------------------------------------------------- */

static void
process (struct vc_replica *r, struct vc_member from,
         const struct vc_wire_message *msg)
{
  ssize_t m = vc_replica_member_index (r, from);

  if (m >= 0 && msg->type < sizeof handlers / sizeof handlers[0] &&
      handlers[msg->type])
    handlers[msg->type] (r, from, m, msg);
}

void
vc_replica_deliver (struct vc_replica *r, uint32_t nodeid, uint32_t pid,
                    const void *buf, size_t len)
{
  struct vc_member from = { nodeid, pid };
  const char *data = (const char *) buf + VC_WIRE_HEADER_SIZE;
  struct vc_wire_header h;
  struct vc_wire_message msg;

  if (vc_replica_is_self (r, from)) {
    r->messages_sent++;
    r->bytes_sent += len;
  }
  else {
    r->messages_received++;
    r->bytes_received += len;
  }
  if (len < VC_WIRE_HEADER_SIZE) {
    r->rejected++;
    vc_warn ("dropped a %zu-byte message from node %" PRIu32 ": too short", len, nodeid);
    return;
  }
  vc_wire_get_header (buf, &h);
  if (!vc_wire_header_ok (&h, len)) {
    r->rejected++;
    vc_warn ("dropped a message from node %" PRIu32 ": bad header "
             "(magic %08" PRIx32 ", version %u, type %u)", nodeid, h.magic,
             h.version, h.type);
    return;
  }
  if (h.type == VC_MSG_SYNC_START) {
    /* It carries the new epoch, so it is checked against the view. */
    if (h.frags == 1)
      on_sync_start (r, from, h.epoch, data, h.len);
    return;
  }
  if (r->epoch == 0 || h.epoch != r->epoch)
    return;                     /* sent before the sender saw the last change */

  switch (vc_wire_reassemble (&r->reassembly, from, &h, data, &msg)) {
  case VC_WIRE_WHOLE:
    process (r, from, &msg);
    break;
  case VC_WIRE_OUT_OF_SEQUENCE:
    r->rejected++;
    vc_warn ("dropped a fragment from node %" PRIu32 " out of sequence", nodeid);
    break;
  case VC_WIRE_PARTIAL:
  case VC_WIRE_NO_MEMORY:
    break;
  }
}
