/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Replicated updates: a document or a tombstone submitted here goes
 * round the group as UPDATE and every synced member applies it in the
 * order CPG delivers it.  Updates delivered during a sync wait for its
 * end; our own that a membership change swallowed are sent again.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "replica/replica-internal.h"
#include "store/document.h"
#include "store/store-scan.h"

/* --- our own updates ------------------------------------------------------------- */

static void
free_pending (struct vc_pending *p)
{
  if (p->have_parsed)
    vc_chain_clear (&p->parsed);
  free (p->domain);
  free (p->text);
  free (p);
}

void
vc_update_free_pending (struct vc_replica *r)
{
  for (size_t i = 0; i < r->pending.len; i++)
    free_pending (r->pending.ptr[i]);
  r->pending.len = 0;
}

void
vc_update_fail_pending (struct vc_replica *r, const char *why)
{
  for (size_t i = 0; i < r->pending.len; i++)
    if (r->applied)
      r->applied (r->applied_opaque, r->pending.ptr[i]->cookie, -1, why);
  vc_update_free_pending (r);
}

static void
complete_pending (struct vc_replica *r, uint64_t msgid, int status, const char *msg)
{
  for (size_t i = 0; i < r->pending.len; i++) {
    struct vc_pending *p = r->pending.ptr[i];
    if (p->msgid != msgid || p->epoch != r->epoch)
      continue;
    if (r->applied)
      r->applied (r->applied_opaque, p->cookie, status, msg);
    free_pending (p);
    vc_pending_vector_remove (&r->pending, i);
    return;
  }
}

static int
send_pending (struct vc_replica *r, struct vc_pending *p)
{
  CLEANUP_FREE char *payload = vc_wire_update (p->domain, p->text, p->len,
                                               r->quorate);

  if (payload == NULL)
    return -1;
  return vc_replica_queue (r, VC_MSG_UPDATE, p->msgid, payload, strlen (payload));
}

/* Our own updates that the membership change swallowed go again, whole. */
void
vc_update_resend_pending (struct vc_replica *r)
{
  for (size_t i = 0; i < r->pending.len; i++) {
    struct vc_pending *p = r->pending.ptr[i];
    if (p->epoch == r->epoch)
      continue;
    p->msgid = r->next_msgid++;
    p->epoch = r->epoch;
    send_pending (r, p);
  }
}

int
vc_replica_submit (struct vc_replica *r, uint64_t cookie, const char *domain,
                   const char *text, size_t len)
{
  return vc_replica_submit_parsed (r, cookie, domain, text, len, NULL);
}

int
vc_replica_submit_parsed (struct vc_replica *r, uint64_t cookie,
                          const char *domain, const char *text, size_t len,
                          struct vc_chain *parsed)
{
  struct vc_pending *p;

  if (r->state == VC_REPLICA_OFFLINE || len > VC_MESSAGE_MAX - 1024 ||
      (p = calloc (1, sizeof *p)) == NULL) {
    int e = r->state == VC_REPLICA_OFFLINE ? ENOTCONN
      : len > VC_MESSAGE_MAX - 1024 ? EFBIG : ENOMEM;
    if (parsed)
      vc_chain_clear (parsed);
    errno = e;
    return -1;
  }
  if (parsed && text) {
    p->parsed = *parsed;
    p->have_parsed = true;
    memset (parsed, 0, sizeof *parsed);
  }
  else if (parsed)
    vc_chain_clear (parsed);
  p->cookie = cookie;
  p->domain = strdup (domain);
  p->text = text ? strndup (text, len) : NULL;
  p->len = len;
  p->msgid = r->next_msgid++;
  p->epoch = r->epoch;
  if (p->domain == NULL || (text && p->text == NULL) ||
      vc_pending_vector_append (&r->pending, p) == -1) {
    free_pending (p);
    errno = ENOMEM;
    return -1;
  }
  /* While syncing, the update waits: the end of the sync sends it in the
   * new epoch.
   */
  if (r->state != VC_REPLICA_SYNCED) {
    p->epoch = 0;
    return 0;
  }
  return send_pending (r, p);
}

/* --- updates delivered during a sync -------------------------------------------- */

void
vc_update_defer (struct vc_replica *r, struct vc_member from, uint64_t msgid,
                 const char *payload, size_t len)
{
  struct vc_deferred *d = calloc (1, sizeof *d);

  if (d == NULL)
    return;
  d->from = from;
  d->msgid = msgid;
  d->payload = malloc (len + 1);
  d->len = len;
  if (d->payload == NULL || vc_deferred_vector_append (&r->deferred, d) == -1) {
    free (d->payload);
    free (d);
    return;
  }
  memcpy (d->payload, payload, len);
  d->payload[len] = '\0';
}

void
vc_update_free_deferred (struct vc_replica *r)
{
  for (size_t i = 0; i < r->deferred.len; i++) {
    free (r->deferred.ptr[i]->payload);
    free (r->deferred.ptr[i]);
  }
  vc_deferred_vector_reset (&r->deferred);
}

/* In their agreed order. */
void
vc_update_apply_deferred (struct vc_replica *r)
{
  for (size_t i = 0; i < r->deferred.len; i++) {
    struct vc_deferred *d = r->deferred.ptr[i];
    vc_update_apply (r, d->from, d->msgid, d->payload, d->len);
  }
  vc_update_free_deferred (r);
}

/* --- applying -------------------------------------------------------------------- */

/* Our own update's document as its submitter parsed it, if it did. */
static bool
take_parsed (struct vc_replica *r, uint64_t msgid, struct vc_chain *next)
{
  for (size_t i = 0; i < r->pending.len; i++) {
    struct vc_pending *p = r->pending.ptr[i];
    if (p->msgid != msgid || p->epoch != r->epoch || !p->have_parsed)
      continue;
    *next = p->parsed;
    p->have_parsed = false;
    memset (&p->parsed, 0, sizeof p->parsed);
    return true;
  }
  return false;
}

/* The document an update makes: its own, or a tombstone. */
static int
parse_update (struct vc_replica *r, struct vc_member from, uint64_t msgid,
              const struct vc_wire_update *u, struct vc_chain *next)
{
  CLEANUP_FREE char *err = NULL;

  memset (next, 0, sizeof *next);
  if (u->op != 'D' && vc_replica_is_self (r, from) && take_parsed (r, msgid, next))
    return 0;
  if (u->op == 'D') {
    next->domain = strdup (u->domain);
    next->version.deleted = true;
    return 0;
  }
  if (vc_document_parse (u->text, u->text_len, next, &err) == -1 ||
      strcmp (next->domain, u->domain) != 0) {
    r->rejected++;
    vc_replica_error (r, "rejected an update of %s from node %" PRIu32 ": %s",
                      u->domain, from.nodeid,
                      err ? err : "document names another domain");
    if (err == NULL)
      vc_chain_clear (next);
    return -1;
  }
  return 0;
}

/* Every synced member holds the same local version here, so all of them
 * compute the same new version.  -1 when the local copy is damaged: the
 * others' generation is unknown here, so computing one would diverge;
 * the next sync brings the good copy.
 */
static int
next_version (struct vc_replica *r, struct vc_member from,
              const struct vc_wire_update *u, struct vc_chain *next)
{
  /* Its version only: cached since this daemon last wrote or read it. */
  struct vc_doc_summary local;
  int have = vc_store_summary (r->store, u->domain, &local);

  if (have == -1) {
    r->rejected++;
    vc_replica_error (r, "cannot apply an update of %s: the local copy is damaged",
                      u->domain);
    return -1;
  }
  next->version.generation = (have == 0 ? local.version.generation : 0) + 1;
  next->version.node = from.nodeid;
  next->version.without_quorum = u->without_quorum;
  next->version.base_generation = have == 0 ? local.version.base_generation : 0;
  next->version.base_node = have == 0 ? local.version.base_node : 0;
  /* The same on every member: the writer's time for a document, the
   * previous one for a tombstone.
   */
  if (u->op == 'D')
    next->updated = have == 0 ? local.updated : 0;
  return 0;
}

void
vc_update_apply (struct vc_replica *r, struct vc_member from, uint64_t msgid,
                 const char *payload, size_t len)
{
  bool mine = vc_replica_is_self (r, from);
  struct vc_wire_update u;
  struct vc_chain next;
  int s;

  if (vc_wire_parse_update (payload, len, &u) == -1) {
    r->rejected++;
    vc_replica_error (r, "rejected a malformed update from node %" PRIu32,
                      from.nodeid);
    if (mine)
      complete_pending (r, msgid, -1, "malformed update");
    return;
  }
  if (parse_update (r, from, msgid, &u, &next) == -1) {
    if (mine)
      complete_pending (r, msgid, -1, "the document was rejected");
    free (u.domain);
    return;
  }
  if (next_version (r, from, &u, &next) == -1) {
    vc_chain_clear (&next);
    if (mine)
      complete_pending (r, msgid, -1, "the local replica of this domain is damaged");
    free (u.domain);
    return;
  }
  free (u.domain);
  s = vc_store_save (r->store, &next);
  vc_chain_clear (&next);
  r->updates_applied++;
  if (mine)
    complete_pending (r, msgid, s == 0 ? 0 : -1, s == 0 ? NULL : "cannot write the local replica");
}
