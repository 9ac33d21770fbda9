/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The sync of an epoch: every member sends a summary of what it holds;
 * with all of them in, each runs the same plan (plan.c), sends the
 * winning documents it is the first to hold, keeps a copy of what it
 * lost, and says DONE.  When every member said DONE, what everyone holds
 * becomes each document's base.
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/atomic-file.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/vc-strings.h"
#include "common/xml-safe.h"
#include "replica/replica-internal.h"
#include "store/document.h"
#include "store/name-map.h"
#include "store/store-scan.h"

static void
free_entries (struct vc_sync_entry **v, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    free (v[i]->name);
    free (v[i]);
  }
}

void
vc_sync_free_entries (struct vc_replica *r)
{
  free_entries (r->entries.ptr, r->entries.len);
  vc_sync_entry_vector_reset (&r->entries);
  r->planned = false;
}

/* --- summaries ---------------------------------------------------------------- */

struct summary_text {
  FILE *fp;
  size_t lines;
};

static int
summary_line (const struct vc_doc_summary *d, void *opaque)
{
  struct summary_text *t = opaque;

  vc_wire_summary_line (t->fp, d->domain, &d->version);
  t->lines++;
  return 0;
}

int
vc_sync_send_summary (struct vc_replica *r)
{
  char *text = NULL;
  size_t len = 0;
  struct summary_text t = { open_memstream (&text, &len), 0 };

  /* A damaged document is left out: a peer's copy will replace it. */
  if (t.fp == NULL || vc_store_scan (r->store, summary_line, &t) == -1) {
    if (t.fp)
      fclose (t.fp);
    free (text);
    vc_replica_error (r, "cannot list the local store for the summary");
    return -1;
  }
  fclose (t.fp);
  if (t.lines > VC_SUMMARY_MAX_ENTRIES)
    vc_replica_error (r, "the store holds %zu documents (domains and tombstones), "
                      "over the %d a summary may list: the members will "
                      "reject this node's summary", t.lines,
                      VC_SUMMARY_MAX_ENTRIES);
  int ret = vc_replica_queue (r, VC_MSG_SUMMARY, r->next_msgid++, text, len);
  free (text);
  return ret;
}

static int
add_entry (char *name, const struct vc_version *v, void *opaque)
{
  vc_sync_entry_vector *entries = opaque;
  struct vc_sync_entry *e;

  if (entries->len == VC_SUMMARY_MAX_ENTRIES ||
      (e = malloc (sizeof *e)) == NULL) {
    free (name);
    return -1;
  }
  if (vc_sync_entry_vector_append (entries, e) == -1) {
    free (e);
    free (name);
    return -1;
  }
  *e = (struct vc_sync_entry) { .name = name, .v = *v };
  return 0;
}

/* A member's summary is taken whole or not at all: a malformed line,
 * a name listed twice (which would also make the plan of that domain
 * quadratic) or too many lines, and the member counts as holding
 * nothing (it then receives every domain someone else holds).
 */
int
vc_sync_add_summary (struct vc_replica *r, size_t member, const char *payload,
                     size_t len)
{
  vc_sync_entry_vector mine = empty_vector;
  int ret = vc_wire_parse_summary (payload, len, add_entry, &mine);

  if (ret == 0 && mine.len > 1) {
    qsort (mine.ptr, mine.len, sizeof *mine.ptr, vc_sync_entry_cmp);
    for (size_t i = 1; i < mine.len && ret == 0; i++)
      if (strcmp (mine.ptr[i - 1]->name, mine.ptr[i]->name) == 0)
        ret = -1;
  }
  if (ret == 0 && vc_sync_entry_vector_reserve (&r->entries, mine.len) == -1)
    ret = -1;
  if (ret == -1) {
    free_entries (mine.ptr, mine.len);
    vc_sync_entry_vector_reset (&mine);
    return -1;
  }
  for (size_t i = 0; i < mine.len; i++) {
    mine.ptr[i]->member = member;
    r->entries.ptr[r->entries.len++] = mine.ptr[i];
  }
  vc_sync_entry_vector_reset (&mine);
  return 0;
}

/* --- the plan ----------------------------------------------------------------- */

static bool
held_here (const struct vc_replica *r, const struct vc_sync_entry *e)
{
  return vc_replica_is_self (r, r->members.ptr[e->member]);
}

static void
keep_line (struct vc_replica *r, char *line)
{
  if (r->conflicts.len == VC_STATUS_CONFLICTS) {
    free (r->conflicts.ptr[0]);
    string_vector_remove (&r->conflicts, 0);
  }
  if (string_vector_append (&r->conflicts, line) == -1)
    free (line);
}

/* The member holding the losing version keeps a copy of it.  A sync
 * keeps at most VC_CONFLICTS_PER_SYNC: a peer claiming changes to every
 * domain must not make each member write a copy of its whole store.
 */
static void
record_conflict (struct vc_replica *r, const struct vc_sync_entry *winner,
                 const struct vc_sync_entry *loser)
{
  const char *domain = winner->name;
  struct vc_chain c;
  char *line = vc_printf ("%s: version %" PRIu64 "/%" PRIu32 "%s of node %" PRIu32
                          " lost to version %" PRIu64 "/%" PRIu32 "%s",
                          domain, loser->v.generation, loser->v.node,
                          loser->v.without_quorum ? " (no quorum)" : "",
                          r->members.ptr[loser->member].nodeid,
                          winner->v.generation, winner->v.node,
                          winner->v.without_quorum ? " (no quorum)" : "");

  if (line == NULL)
    return;
  /* Seen in an earlier sync that did not end. */
  for (size_t i = 0; i < r->conflicts.len; i++)
    if (strcmp (r->conflicts.ptr[i], line) == 0) {
      free (line);
      return;
    }
  r->conflicts_total++;
  if (r->sync_conflicts++ >= VC_CONFLICTS_PER_SYNC) {
    r->conflicts_unkept++;
    free (line);
    return;
  }
  vc_warn ("conflicting changes made apart (partition or daemon down): %s", line);
  keep_line (r, line);
  if (held_here (r, loser) && vc_store_load_any (r->store, domain, &c) == 0) {
    vc_store_save_conflict (r->store, &c);
    vc_chain_clear (&c);
  }
}

/* The stored bytes as they are: they were checked when written, every
 * receiver that needs them parses them, and the summary listed only
 * documents that parse.
 */
static int
send_document (struct vc_replica *r, const char *domain)
{
  CLEANUP_FREE char *file = vc_name_to_file (domain);
  CLEANUP_FREE char *text = NULL, *payload = NULL;
  size_t len;

  if (file == NULL || r->store->dirfd == -1 ||
      vc_read_file (r->store->dirfd, file, VC_XML_MAX_SIZE, &text, &len) == -1 ||
      strlen (text) != len)
    return -1;
  payload = vc_wire_doc (domain, text);
  if (payload == NULL)
    return -1;
  return vc_replica_queue (r, VC_MSG_DOC, r->next_msgid++, payload, strlen (payload));
}

void
vc_sync_plan (struct vc_replica *r)
{
  struct vc_sync_entry **v = r->entries.ptr;
  size_t n = r->entries.len;
  size_t self = vc_replica_member_index (r, r->self);
  qsort (v, n, sizeof *v, vc_sync_entry_cmp);
  r->planned = true;
  r->docs_expected = 0;
  r->sync_conflicts = 0;
  for (size_t i = 0, j; i < n; i = j) {
    struct vc_domain_plan p;
    j = vc_plan_group_end (v, n, i);
    vc_plan_domain (v + i, j - i, r->members.len, self, &p);
    for (size_t k = i; k < j; k++)
      if (vc_plan_conflict (v + i, j - i, v[k], p.winner))
        record_conflict (r, p.winner, v[k]);
    if (p.send)
      send_document (r, p.winner->name);
    else if (p.expect)
      r->docs_expected++;
  }
  if (r->sync_conflicts > VC_CONFLICTS_PER_SYNC)
    vc_replica_error (r, "%zu more conflicts in this sync (over %d): logged "
                      "and copied only up to the limit; the losing versions "
                      "of the others are replaced", r->sync_conflicts -
                      VC_CONFLICTS_PER_SYNC, VC_CONFLICTS_PER_SYNC);
  vc_replica_queue (r, VC_MSG_DONE, r->next_msgid++, NULL, 0);
}

static int
entry_name_cmp (const void *key, const void *e)
{
  return strcmp (key, (*(struct vc_sync_entry *const *) e)->name);
}

/* The winner of domain in the current plan, or NULL: found in the sorted
 * entries, so that receiving every document of a big sync stays
 * O(n log n).
 */
static const struct vc_sync_entry *
plan_winner (const struct vc_replica *r, const char *domain)
{
  struct vc_sync_entry *const *v = r->entries.ptr;
  struct vc_sync_entry *const *e;
  size_t n = r->entries.len, i;

  if (!r->planned || n == 0)
    return NULL;
  e = bsearch (domain, v, n, sizeof *v, entry_name_cmp);
  if (e == NULL)
    return NULL;
  for (i = e - v; i > 0 && strcmp (v[i - 1]->name, domain) == 0; i--)
    ;
  return vc_plan_winner (v + i, vc_plan_group_end (v, n, i) - i);
}

/* --- documents ---------------------------------------------------------------- */

/* Holds this member the version v already?  From the scan cache: no
 * parse.
 */
static bool
held_already (struct vc_replica *r, const char *domain, const struct vc_version *v)
{
  struct vc_doc_summary local;

  return vc_store_summary (r->store, domain, &local) == 0 &&
    local.version.generation == v->generation && local.version.node == v->node;
}

void
vc_sync_receive_document (struct vc_replica *r, const char *payload, size_t len)
{
  CLEANUP_FREE char *domain = NULL, *err = NULL;
  const char *text;
  size_t text_len;
  struct vc_chain incoming;
  const struct vc_sync_entry *w;

  if (vc_wire_parse_doc (payload, len, &domain, &text, &text_len) == -1) {
    r->rejected++;
    return;
  }
  /* Every member gets every DOC: one that holds the version the plan
   * chose already leaves it unparsed (the others check it).
   */
  w = plan_winner (r, domain);
  if (w && held_already (r, domain, &w->v))
    return;
  if (vc_document_parse (text, text_len, &incoming, &err) == -1 ||
      strcmp (incoming.domain, domain) != 0) {
    vc_replica_error (r, "rejected a damaged document of %s from a peer: %s",
                      domain, err ? err : "wrong domain");
    r->rejected++;
    if (err == NULL)
      vc_chain_clear (&incoming);
    return;
  }
  if (w == NULL || w->v.generation != incoming.version.generation ||
      w->v.node != incoming.version.node) {
    /* not the version the plan chose */
    vc_chain_clear (&incoming);
    return;
  }
  if (vc_store_save_text (r->store, domain, text, text_len) == 0) {
    CLEANUP_FREE char *file = vc_name_to_file (domain);
    /* Parsed here already: the end of the sync's scan need not again. */
    if (file)
      vc_store_scan_wrote (r->store, file, &incoming);
    vc_info ("synced %s (version %" PRIu64 "/%" PRIu32 ")", domain,
             incoming.version.generation, incoming.version.node);
  }
  vc_chain_clear (&incoming);
  if (r->docs_expected)
    r->docs_expected--;
}

/* --- the end --------------------------------------------------------------------- */

static int
collect_unbased (const struct vc_doc_summary *d, void *opaque)
{
  const struct vc_version *v = &d->version;
  string_vector *names = opaque;
  char *name;

  if (v->base_generation == v->generation && v->base_node == v->node)
    return 0;
  name = strdup (d->domain);
  if (name == NULL || string_vector_append (names, name) == -1) {
    free (name);
    return -1;
  }
  return 0;
}

/* What everyone now holds becomes each document's base. */
void
vc_sync_rebase (struct vc_replica *r)
{
  string_vector names = empty_vector;

  if (vc_store_scan (r->store, collect_unbased, &names) == 0) {
    for (size_t i = 0; i < names.len; i++) {
      struct vc_chain c;
      if (vc_store_load_any (r->store, names.ptr[i], &c) != 0)
        continue;
      c.version.base_generation = c.version.generation;
      c.version.base_node = c.version.node;
      vc_store_save (r->store, &c);
      vc_chain_clear (&c);
    }
  }
  vc_string_vector_free (&names);
}
