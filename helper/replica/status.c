/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtckptd's status report, as `virtckpt status` shows it. */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>

#include "common/kv-lines.h"
#include "replica/replica.h"
#include "store/store-scan.h"

struct counts {
  size_t domains, checkpoints, tombstones;
};

static int
count_docs (const struct vc_doc_summary *d, void *opaque)
{
  struct counts *n = opaque;

  if (d->version.deleted)
    n->tombstones++;
  else {
    n->domains++;
    n->checkpoints += d->checkpoints;
  }
  return 0;
}

/* The lines STATE and STATUS share; STATUS names the store second. */
static void
state_lines (FILE *fp, const struct vc_replica *r, const char *store)
{
  fprintf (fp, "node: %" PRIu32 "\n", r->self.nodeid);
  if (store)
    vc_kv_put (fp, "store", store);
  fprintf (fp, "state: %s\n", r->state == VC_REPLICA_SYNCED ? "synced"
           : r->state == VC_REPLICA_SYNCING ? "syncing" : "offline");
  fprintf (fp, "members:");
  for (size_t i = 0; i < r->members.len; i++)
    fprintf (fp, " %" PRIu32, r->members.ptr[i].nodeid);
  fprintf (fp, "\nquorate: %s\n", r->quorate ? "yes" : "no");
}

char *
vc_replica_state (const struct vc_replica *r)
{
  char *text = NULL;
  size_t len = 0;
  FILE *fp = open_memstream (&text, &len);

  if (fp == NULL)
    return NULL;
  state_lines (fp, r, NULL);
  fclose (fp);
  return text;
}

char *
vc_replica_status (const struct vc_replica *r)
{
  char *text = NULL;
  size_t len = 0;
  FILE *fp = open_memstream (&text, &len);
  struct counts n = { 0 };

  if (fp == NULL)
    return NULL;
  vc_store_scan (r->store, count_docs, &n);

  state_lines (fp, r, r->store->dir);
  fprintf (fp, "epoch: %016" PRIx64 "\n", r->epoch);
  fprintf (fp, "view: %016" PRIx64 "\n", r->view);
  fprintf (fp, "syncs: %" PRIu64 "\n", r->syncs);
  fprintf (fp, "domains: %zu\n", n.domains);
  fprintf (fp, "checkpoints: %zu\n", n.checkpoints);
  fprintf (fp, "tombstones: %zu\n", n.tombstones);
  fprintf (fp, "updates-applied: %" PRIu64 "\n", r->updates_applied);
  fprintf (fp, "messages-rejected: %" PRIu64 "\n", r->rejected);
  fprintf (fp, "messages-sent: %" PRIu64 "\n", r->messages_sent);
  fprintf (fp, "bytes-sent: %" PRIu64 "\n", r->bytes_sent);
  fprintf (fp, "messages-received: %" PRIu64 "\n", r->messages_received);
  fprintf (fp, "bytes-received: %" PRIu64 "\n", r->bytes_received);
  fprintf (fp, "conflicts: %" PRIu64 "\n", r->conflicts_total);
  fprintf (fp, "conflicts-not-kept: %" PRIu64 "\n", r->conflicts_unkept);
  for (size_t i = 0; i < r->conflicts.len; i++)
    vc_kv_put (fp, "conflict", r->conflicts.ptr[i]);
  if (r->conflicts_total > r->conflicts.len)
    fprintf (fp, "conflict: ... %" PRIu64 " more (see the system log)\n",
             r->conflicts_total - r->conflicts.len);
  vc_kv_put (fp, "last-error", r->last_error ? r->last_error : "-");
  fclose (fp);
  return text;
}
