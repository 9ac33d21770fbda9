/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Cluster-wide per-domain leases (lease.h): one table, the same on every
 * member, changed only by what CPG delivers in agreed order.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "replica/lease.h"

/* --- tables ------------------------------------------------------------------ */

static void
lease_clear (struct vc_lease *x)
{
  free (x->domain);
  free (x->job);
  x->domain = x->job = NULL;
}

static void
table_reset (vc_lease_vector *v)
{
  for (size_t i = 0; i < v->len; i++)
    lease_clear (&v->ptr[i]);
  v->len = 0;
}

static ssize_t
table_find (const vc_lease_vector *v, const char *domain)
{
  for (size_t i = 0; i < v->len; i++)
    if (strcmp (v->ptr[i].domain, domain) == 0)
      return i;
  return -1;
}

static int
table_add (vc_lease_vector *v, const char *domain, const char *job,
           struct vc_member holder)
{
  struct vc_lease x = { strdup (domain), strdup (job), holder };

  if (x.domain == NULL || x.job == NULL ||
      vc_lease_vector_append (v, x) == -1) {
    lease_clear (&x);
    vc_error ("out of memory recording a lease");
    return -1;
  }
  return 0;
}

static void
table_remove (vc_lease_vector *v, size_t i)
{
  lease_clear (&v->ptr[i]);
  vc_lease_vector_remove (v, i);
}

static void
own_remove (struct vc_leases *l, const char *domain, const char *job)
{
  ssize_t i = table_find (&l->own, domain);

  if (i >= 0 && strcmp (l->own.ptr[i].job, job) == 0)
    table_remove (&l->own, i);
}

static bool
valid (const char *s, size_t max)
{
  size_t n = strlen (s);
  return n > 0 && n <= max;
}

/* --- requests ---------------------------------------------------------------- */

static void
request_clear (struct vc_lease_request *q)
{
  free (q->domain);
  free (q->job);
}

static void
pending_remove (struct vc_leases *l, const char *domain, const char *job)
{
  for (size_t i = 0; i < l->pending.len; i++) {
    struct vc_lease_request *q = &l->pending.ptr[i];
    if (strcmp (q->domain, domain) == 0 && strcmp (q->job, job) == 0) {
      request_clear (q);
      vc_lease_request_vector_remove (&l->pending, i);
      return;
    }
  }
}

static bool
online (const struct vc_leases *l)
{
  return l->in_group;
}

static void
send_fields (struct vc_leases *l, enum vc_msg_type type, size_t n,
             const char *const *fields)
{
  CLEANUP_FREE char *payload = vc_wire_join (n, fields);

  if (payload == NULL || l->send (l->opaque, type, payload, strlen (payload)) == -1)
    vc_error ("cannot send a lease message");
}

static void
send_acquire (struct vc_leases *l, struct vc_lease_request *q)
{
  const char *f[] = { "A", q->domain, q->job, l->quorate ? "q" : "n" };

  send_fields (l, VC_MSG_LEASE, 4, f);
  q->sent_in = l->views;
}

/* Our requests not sent in this view (never, or swallowed by a change). */
static void
send_pending (struct vc_leases *l)
{
  if (!online (l) || l->syncing)
    return;
  for (size_t i = 0; i < l->pending.len; i++)
    if (l->pending.ptr[i].sent_in != l->views)
      send_acquire (l, &l->pending.ptr[i]);
}

void
vc_lease_init (struct vc_leases *l, struct vc_member self,
               vc_lease_event_fn event, vc_lease_send_fn send, void *opaque)
{
  memset (l, 0, sizeof *l);
  l->self = self;
  l->event = event;
  l->send = send;
  l->opaque = opaque;
}

static void
deferred_reset (struct vc_leases *l)
{
  for (size_t i = 0; i < l->deferred.len; i++)
    free (l->deferred.ptr[i].payload);
  l->deferred.len = 0;
}

void
vc_lease_free (struct vc_leases *l)
{
  table_reset (&l->table);
  table_reset (&l->next);
  table_reset (&l->own);
  vc_lease_vector_reset (&l->table);
  vc_lease_vector_reset (&l->next);
  vc_lease_vector_reset (&l->own);
  for (size_t i = 0; i < l->pending.len; i++)
    request_clear (&l->pending.ptr[i]);
  vc_lease_request_vector_reset (&l->pending);
  deferred_reset (l);
  vc_lease_deferred_vector_reset (&l->deferred);
}

int
vc_lease_acquire (struct vc_leases *l, const char *domain, const char *job)
{
  struct vc_lease_request q;

  if (!valid (domain, VC_LEASE_NAME_MAX) || !valid (job, VC_LEASE_JOB_MAX)) {
    errno = EINVAL;
    return -1;
  }
  for (size_t i = 0; i < l->pending.len; i++)
    if (strcmp (l->pending.ptr[i].domain, domain) == 0 &&
        strcmp (l->pending.ptr[i].job, job) == 0)
      return 0;                 /* asked already */
  q = (struct vc_lease_request) { strdup (domain), strdup (job), 0 };
  if (q.domain == NULL || q.job == NULL ||
      vc_lease_request_vector_append (&l->pending, q) == -1) {
    request_clear (&q);
    errno = ENOMEM;
    return -1;
  }
  send_pending (l);
  return 0;
}

void
vc_lease_release (struct vc_leases *l, const char *domain, const char *job)
{
  const char *f[] = { "R", domain, job };

  pending_remove (l, domain, job);
  own_remove (l, domain, job);
  /* Also when only asked for: the release follows the acquire (each
   * sender's messages arrive in order), so a grant still on its way is
   * undone.  One a change swallowed is not sent again, nor claimed.
   */
  if (online (l))
    send_fields (l, VC_MSG_LEASE, 3, f);
}

const struct vc_lease *
vc_lease_holder (const struct vc_leases *l, const char *domain)
{
  ssize_t i = table_find (&l->table, domain);
  return i >= 0 ? &l->table.ptr[i] : NULL;
}

/* --- membership and sync ----------------------------------------------------- */

static bool
is_member (const struct vc_member *members, size_t n, struct vc_member m)
{
  for (size_t i = 0; i < n; i++)
    if (vc_member_eq (members[i], m))
      return true;
  return false;
}

void
vc_lease_view (struct vc_leases *l, const struct vc_member *members, size_t n)
{
  if (!is_member (members, n, l->self)) {
    vc_lease_offline (l);
    return;
  }
  l->views++;
  l->in_group = true;
  l->syncing = true;
  /* Messages waiting for the old sync: every member drops them at the
   * same point; their senders send them again (pending).
   */
  deferred_reset (l);
  table_reset (&l->next);
  /* Until the sync ends, the table shows what is known: the leases of
   * members that left are freed now.
   */
  for (size_t i = l->table.len; i-- > 0;)
    if (!is_member (members, n, l->table.ptr[i].holder)) {
      vc_info ("lease of %s freed: node %" PRIu32 " left", l->table.ptr[i].domain,
               l->table.ptr[i].holder.nodeid);
      table_remove (&l->table, i);
    }
}

void
vc_lease_sync_start (struct vc_leases *l)
{
  char *text = NULL;
  size_t len = 0;
  FILE *fp;

  table_reset (&l->next);
  fp = open_memstream (&text, &len);
  if (fp == NULL) {
    vc_error ("out of memory sending the leases held here");
    return;
  }
  for (size_t i = 0; i < l->own.len; i++) {
    const char *f[] = { l->own.ptr[i].domain, l->own.ptr[i].job };
    CLEANUP_FREE char *line = vc_wire_join (2, f);
    if (line)
      fprintf (fp, "%s\n", line);
  }
  fclose (fp);
  if (text == NULL || l->send (l->opaque, VC_MSG_CLAIMS, text, len) == -1)
    vc_error ("cannot send the leases held here");
  free (text);
}

void
vc_lease_claims (struct vc_leases *l, struct vc_member from,
                 const char *payload, size_t len)
{
  const char *p = payload, *end = payload + len;

  if (!l->syncing)
    return;
  while (p < end) {
    const char *nl = memchr (p, '\n', end - p);
    char *f[2];
    ssize_t n;
    ssize_t w;

    if (nl == NULL)
      break;
    n = vc_wire_split (p, nl - p, 2, f);
    p = nl + 1;
    if (n != 2 || !valid (f[0], VC_LEASE_NAME_MAX) || !valid (f[1], VC_LEASE_JOB_MAX)) {
      vc_warn ("ignored a malformed lease claim of node %" PRIu32, from.nodeid);
      if (n > 0)
        vc_wire_fields_free (n, f);
      continue;
    }
    w = table_find (&l->next, f[0]);
    if (w == -1)
      table_add (&l->next, f[0], f[1], from);
    else {
      /* Granted apart (a partition): the claim delivered first wins. */
      struct vc_lease req = { f[0], f[1], from };
      struct vc_lease winner = l->next.ptr[w];
      vc_warn ("lease of %s claimed by node %" PRIu32 " and node %" PRIu32
               ": node %" PRIu32 " keeps it", f[0], winner.holder.nodeid,
               from.nodeid, winner.holder.nodeid);
      if (vc_member_eq (from, l->self))
        own_remove (l, f[0], f[1]);
      if (l->event)
        l->event (l->opaque, VC_LEASE_LOST, &req, &winner);
    }
    vc_wire_fields_free (2, f);
  }
}

static void apply (struct vc_leases *l, struct vc_member from,
                   const char *payload, size_t len);

void
vc_lease_synced (struct vc_leases *l)
{
  vc_lease_deferred_vector waiting = l->deferred;
  vc_lease_vector old = l->table;

  if (!l->syncing)
    return;
  l->table = l->next;
  l->next = (vc_lease_vector) empty_vector;
  table_reset (&old);
  vc_lease_vector_reset (&old);
  l->syncing = false;
  l->deferred = (vc_lease_deferred_vector) empty_vector;
  for (size_t i = 0; i < waiting.len; i++) {
    apply (l, waiting.ptr[i].from, waiting.ptr[i].payload, waiting.ptr[i].len);
    free (waiting.ptr[i].payload);
  }
  vc_lease_deferred_vector_reset (&waiting);
  send_pending (l);
}

void
vc_lease_offline (struct vc_leases *l)
{
  /* What this member holds stays in own: it is claimed again in the
   * sync after it rejoins (where a lease granted meanwhile wins if its
   * claim comes first, and this member is told it lost).
   */
  l->views++;
  l->in_group = false;
  l->syncing = false;
  table_reset (&l->table);
  table_reset (&l->next);
  deferred_reset (l);
}

/* --- requests delivered -------------------------------------------------------- */

static void
emit (struct vc_leases *l, enum vc_lease_event ev, const struct vc_lease *req,
      const struct vc_lease *holder)
{
  if (l->event)
    l->event (l->opaque, ev, req, holder);
}

static void
apply_acquire (struct vc_leases *l, struct vc_member from, char **f)
{
  struct vc_lease req = { f[1], f[2], from };
  ssize_t i = table_find (&l->table, f[1]);
  bool mine = vc_member_eq (from, l->self);

  if (mine)
    pending_remove (l, f[1], f[2]);
  if (strcmp (f[3], "q") != 0) {
    emit (l, VC_LEASE_DENIED, &req, NULL);
    return;
  }
  if (i >= 0) {
    struct vc_lease holder = l->table.ptr[i];
    if (vc_member_eq (holder.holder, from) && strcmp (holder.job, f[2]) == 0)
      emit (l, VC_LEASE_GRANTED, &req, &holder);   /* held already */
    else
      emit (l, VC_LEASE_DENIED, &req, &holder);
    return;
  }
  if (table_add (&l->table, f[1], f[2], from) == -1)
    return;
  if (mine && table_add (&l->own, f[1], f[2], from) == -1) {
    table_remove (&l->table, l->table.len - 1);
    return;
  }
  emit (l, VC_LEASE_GRANTED, &req, &l->table.ptr[l->table.len - 1]);
}

static void
apply_release (struct vc_leases *l, struct vc_member from, char **f)
{
  struct vc_lease req = { f[1], f[2], from };
  ssize_t i = table_find (&l->table, f[1]);

  if (i < 0 || !vc_member_eq (l->table.ptr[i].holder, from) ||
      strcmp (l->table.ptr[i].job, f[2]) != 0)
    return;                     /* not held (any more) by this job */
  table_remove (&l->table, i);
  if (vc_member_eq (from, l->self))
    own_remove (l, f[1], f[2]);
  emit (l, VC_LEASE_RELEASED, &req, NULL);
}

static void
apply (struct vc_leases *l, struct vc_member from, const char *payload, size_t len)
{
  char *f[4];
  ssize_t n = vc_wire_split (payload, len, 4, f);

  if (n >= 3 && valid (f[1], VC_LEASE_NAME_MAX) && valid (f[2], VC_LEASE_JOB_MAX)) {
    if (n == 4 && strcmp (f[0], "A") == 0) {
      apply_acquire (l, from, f);
      vc_wire_fields_free (n, f);
      return;
    }
    if (n == 3 && strcmp (f[0], "R") == 0) {
      apply_release (l, from, f);
      vc_wire_fields_free (n, f);
      return;
    }
  }
  vc_warn ("ignored a malformed lease message of node %" PRIu32, from.nodeid);
  if (n > 0)
    vc_wire_fields_free (n, f);
}

void
vc_lease_deliver (struct vc_leases *l, struct vc_member from,
                  const char *payload, size_t len)
{
  struct vc_lease_deferred w = { from, NULL, len };

  if (!online (l))
    return;
  if (!l->syncing) {
    apply (l, from, payload, len);
    return;
  }
  w.payload = malloc (len + 1);
  /* The table is being rebuilt: the request waits for the end of the
   * sync, as it does on every member.
   */
  if (w.payload == NULL ||
      (memcpy (w.payload, payload, len), vc_lease_deferred_vector_append (&l->deferred, w) == -1)) {
    free (w.payload);
    vc_error ("out of memory: a lease request delivered during a sync is lost");
  }
}
