#include <config.h>

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <stdarg.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "common/hex.h"
#include "store/document.h"
#include "common/log.h"
#include "store/name-map.h"
#include "replica/replica.h"
#include "store/store-scan.h"
#include "common/vc-strings.h"
#include "common/xml-safe.h"

/* --- wire format ------------------------------------------------------------
 * Every CPG message: a 40-byte little-endian header, then the payload
 * fragment.  A logical message (a summary, a document) larger than
 * VC_FRAGMENT_SIZE goes as several fragments with the same msgid; CPG
 * keeps each sender's messages in order, so fragments arrive in order.
 */
#define HEADER_SIZE 40

struct header {
  uint32_t magic;
  uint16_t version, type;
  uint64_t epoch, msgid;
  uint32_t frag, frags, len;
};

static void
put_header (unsigned char *p, const struct header *h)
{
  uint32_t v32;
  uint16_t v16;
  uint64_t v64;

  memset (p, 0, HEADER_SIZE);
  v32 = htole32 (h->magic); memcpy (p, &v32, 4);
  v16 = htole16 (h->version); memcpy (p + 4, &v16, 2);
  v16 = htole16 (h->type); memcpy (p + 6, &v16, 2);
  v64 = htole64 (h->epoch); memcpy (p + 8, &v64, 8);
  v64 = htole64 (h->msgid); memcpy (p + 16, &v64, 8);
  v32 = htole32 (h->frag); memcpy (p + 24, &v32, 4);
  v32 = htole32 (h->frags); memcpy (p + 28, &v32, 4);
  v32 = htole32 (h->len); memcpy (p + 32, &v32, 4);
}

static void
get_header (const unsigned char *p, struct header *h)
{
  uint32_t v32;
  uint16_t v16;
  uint64_t v64;

  memcpy (&v32, p, 4); h->magic = le32toh (v32);
  memcpy (&v16, p + 4, 2); h->version = le16toh (v16);
  memcpy (&v16, p + 6, 2); h->type = le16toh (v16);
  memcpy (&v64, p + 8, 8); h->epoch = le64toh (v64);
  memcpy (&v64, p + 16, 8); h->msgid = le64toh (v64);
  memcpy (&v32, p + 24, 4); h->frag = le32toh (v32);
  memcpy (&v32, p + 28, 4); h->frags = le32toh (v32);
  memcpy (&v32, p + 32, 4); h->len = le32toh (v32);
}

/* --- state ----------------------------------------------------------------- */

struct vc_sync_entry {
  char *name;
  size_t member;                /* index in r->members */
  uint64_t gen;
  uint32_t node;
  bool without_quorum, deleted;
  uint64_t base_gen;
  uint32_t base_node;
};

struct vc_pending {
  uint64_t cookie, msgid, epoch;
  char *domain;
  char *text;                   /* NULL: tombstone */
  size_t len;
};

struct vc_deferred {
  struct vc_member from;
  uint64_t msgid;
  char *payload;
  size_t len;
};

struct vc_reassembly {
  struct vc_member from;
  uint64_t msgid;
  uint32_t type, next, frags;
  char *buf;
  size_t len, cap;
};

static void
set_error (struct vc_replica *r, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

static void
set_error (struct vc_replica *r, const char *fmt, ...)
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
}

static void
free_entries (struct vc_replica *r)
{
  for (size_t i = 0; i < r->entries.len; i++) {
    free (r->entries.ptr[i]->name);
    free (r->entries.ptr[i]);
  }
  vc_sync_entry_vector_reset (&r->entries);
}

static void
free_reassembly (struct vc_replica *r)
{
  for (size_t i = 0; i < r->reassembly.len; i++) {
    free (r->reassembly.ptr[i]->buf);
    free (r->reassembly.ptr[i]);
  }
  vc_reassembly_vector_reset (&r->reassembly);
}

static void
free_pending (struct vc_pending *p)
{
  free (p->domain);
  free (p->text);
  free (p);
}

static void
free_deferred (struct vc_replica *r)
{
  for (size_t i = 0; i < r->deferred.len; i++) {
    free (r->deferred.ptr[i]->payload);
    free (r->deferred.ptr[i]);
  }
  vc_deferred_vector_reset (&r->deferred);
}

void
vc_replica_free (struct vc_replica *r)
{
  free_entries (r);
  free_reassembly (r);
  free_deferred (r);
  for (size_t i = 0; i < r->pending.len; i++)
    free_pending (r->pending.ptr[i]);
  vc_pending_vector_reset (&r->pending);
  for (size_t i = 0; i < r->out.len; i++)
    free (r->out.ptr[i].buf);
  vc_outmsg_vector_reset (&r->out);
  vc_member_vector_reset (&r->members);
  vc_string_vector_free (&r->conflicts);
  free (r->have_summary);
  free (r->have_done);
  free (r->last_error);
}

/* --- sending ----------------------------------------------------------------- */

static int
queue_message (struct vc_replica *r, enum vc_msg_type type, uint64_t msgid,
               const char *payload, size_t len)
{
  uint32_t frags = len ? (len + VC_FRAGMENT_SIZE - 1) / VC_FRAGMENT_SIZE : 1;

  for (uint32_t i = 0; i < frags; i++) {
    size_t off = (size_t) i * VC_FRAGMENT_SIZE;
    size_t n = len - off < VC_FRAGMENT_SIZE ? len - off : VC_FRAGMENT_SIZE;
    struct vc_outmsg m = { .buf = malloc (HEADER_SIZE + n), .len = HEADER_SIZE + n };
    struct header h = {
      .magic = VC_MSG_MAGIC, .version = VC_PROTO_VERSION, .type = type,
      .epoch = r->epoch, .msgid = msgid, .frag = i, .frags = frags, .len = n,
    };
    if (len == 0)
      m.len = HEADER_SIZE;
    if (m.buf == NULL) {
      set_error (r, "out of memory queueing a message");
      return -1;
    }
    put_header (m.buf, &h);
    if (n)
      memcpy (m.buf + HEADER_SIZE, payload + off, n);
    if (vc_outmsg_vector_append (&r->out, m) == -1) {
      free (m.buf);
      set_error (r, "out of memory queueing a message");
      return -1;
    }
  }
  return 0;
}

/* Names travel %-escaped, so that they never contain tabs or newlines. */
static bool
plain_on_wire (unsigned char c, size_t pos)
{
  return c > ' ' && c != '%' && c < 0x7f;
}

static char *
escape_name (const char *name)
{
  return vc_percent_encode (name, plain_on_wire);
}

static char *
unescape_name (const char *s, size_t n)
{
  char *out = vc_percent_decode (s, n);

  if (out && *out == '\0') {
    free (out);
    return NULL;
  }
  return out;
}

/* --- versions ------------------------------------------------------------------ */

static int
version_cmp (bool a_noq, uint64_t a_gen, uint32_t a_node,
             bool b_noq, uint64_t b_gen, uint32_t b_node)
{
  /* A version written with quorum beats one written without: only the
   * quorate partition runs the domain.  Then the newer generation, then
   * the higher node id, so that every member picks the same.
   */
  if (a_noq != b_noq)
    return a_noq ? -1 : 1;
  if (a_gen != b_gen)
    return a_gen < b_gen ? -1 : 1;
  if (a_node != b_node)
    return a_node < b_node ? -1 : 1;
  return 0;
}

static bool
same_version (const struct vc_sync_entry *a, const struct vc_sync_entry *b)
{
  return a->gen == b->gen && a->node == b->node && a->deleted == b->deleted &&
    a->without_quorum == b->without_quorum;
}

static bool
changed_since_base (const struct vc_sync_entry *e)
{
  return e->gen != e->base_gen || e->node != e->base_node;
}

/* f was written on top of u's version (or a later one). */
static bool
descends (const struct vc_sync_entry *f, const struct vc_sync_entry *u)
{
  if (!changed_since_base (f))
    return false;
  return (u->gen == f->base_gen && u->node == f->base_node) || u->gen < f->base_gen;
}

/* Among the n entries of one domain: is e a candidate to win? */
static bool
is_candidate (struct vc_sync_entry *const *v, size_t n, const struct vc_sync_entry *e,
              bool any_changed)
{
  if (!any_changed)
    return true;
  for (size_t k = 0; k < n; k++)
    if (!same_version (v[k], e) && descends (v[k], e))
      return false;
  return true;
}

/* --- membership ------------------------------------------------------------------ */

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

static ssize_t
member_index (const struct vc_replica *r, struct vc_member m)
{
  for (size_t i = 0; i < r->members.len; i++)
    if (r->members.ptr[i].nodeid == m.nodeid && r->members.ptr[i].pid == m.pid)
      return i;
  return -1;
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

static int queue_summary (struct vc_replica *r);
static void finish_sync (struct vc_replica *r);

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
  uint64_t view = UINT64_C (0xcbf29ce484222325);

  vc_member_vector_reset (&r->members);
  for (size_t i = 0; i < n; i++)
    if (vc_member_vector_append (&r->members, members[i]) == -1) {
      set_error (r, "out of memory");
      return;
    }
  if (r->members.len)
    qsort (r->members.ptr, r->members.len, sizeof (struct vc_member), member_cmp);
  for (size_t i = 0; i < r->members.len; i++)
    view = fnv1a (view, &r->members.ptr[i], sizeof (struct vc_member));
  r->view = view;
  r->epoch = 0;
  /* What was queued for the old view is of no use in the new one (pending
   * updates are resent after the sync), and a SYNC_START among it could
   * name a view that comes back.
   */
  for (size_t i = 0; i < r->out.len; i++)
    free (r->out.ptr[i].buf);
  r->out.len = 0;

  free_entries (r);
  free_reassembly (r);
  /* Updates deferred in the old epoch: their senders resend them after the
   * new sync (they are still pending there), to all of the new members.
   */
  free_deferred (r);
  free (r->have_summary);
  free (r->have_done);
  r->have_summary = calloc (r->members.len + 1, sizeof (bool));
  r->have_done = calloc (r->members.len + 1, sizeof (bool));
  r->docs_expected = 0;

  if (member_index (r, r->self) == -1) {
    r->state = VC_REPLICA_OFFLINE;
    return;
  }
  r->state = VC_REPLICA_SYNCING;
  vc_notice ("membership changed: %zu member%s: syncing", r->members.len,
             r->members.len == 1 ? "" : "s");
  if (r->members.ptr[0].nodeid == r->self.nodeid && r->members.ptr[0].pid == r->self.pid) {
    uint64_t epoch = 0;
    while (epoch == 0)
      if (getrandom (&epoch, sizeof epoch, 0) != sizeof epoch)
        epoch = ((uint64_t) r->self.pid << 32) ^ (uint64_t) time (NULL) ^ r->next_msgid;
    r->epoch = epoch;
    char payload[32];
    snprintf (payload, sizeof payload, "%016" PRIx64, r->view);
    queue_message (r, VC_MSG_SYNC_START, r->next_msgid++, payload, strlen (payload));
    queue_summary (r);
  }
}

static void
start_epoch (struct vc_replica *r, struct vc_member from, uint64_t epoch,
             const char *payload, size_t len)
{
  char view[32];

  if (r->state == VC_REPLICA_OFFLINE || r->members.len == 0 ||
      from.nodeid != r->members.ptr[0].nodeid || from.pid != r->members.ptr[0].pid)
    return;
  snprintf (view, sizeof view, "%016" PRIx64, r->view);
  if (len != strlen (view) || memcmp (payload, view, len) != 0 || epoch == 0)
    return;                     /* for another view: stale */
  if (epoch == r->epoch)
    return;                     /* the leader's own, or a repeat */
  free_entries (r);
  free_reassembly (r);
  memset (r->have_summary, 0, r->members.len * sizeof (bool));
  memset (r->have_done, 0, r->members.len * sizeof (bool));
  r->state = VC_REPLICA_SYNCING;
  r->epoch = epoch;
  queue_summary (r);
}

void
vc_replica_offline (struct vc_replica *r, const char *why)
{
  r->state = VC_REPLICA_OFFLINE;
  vc_member_vector_reset (&r->members);
  free_reassembly (r);
  free_deferred (r);
  for (size_t i = 0; i < r->out.len; i++)
    free (r->out.ptr[i].buf);
  r->out.len = 0;
  for (size_t i = 0; i < r->pending.len; i++) {
    struct vc_pending *p = r->pending.ptr[i];
    if (r->applied)
      r->applied (r->applied_opaque, p->cookie, -1, why);
    free_pending (p);
  }
  r->pending.len = 0;
}

void
vc_replica_set_quorate (struct vc_replica *r, bool quorate)
{
  if (r->quorate != quorate)
    vc_notice ("quorum %s", quorate ? "gained" : "lost");
  r->quorate = quorate;
}

/* --- summaries ---------------------------------------------------------------- */

static int
summary_line (const struct vc_doc_summary *d, void *opaque)
{
  FILE *fp = opaque;
  CLEANUP_FREE char *esc = escape_name (d->domain);

  if (esc)
    fprintf (fp, "%s\t%" PRIu64 "\t%" PRIu32 "\t%c%c\t%" PRIu64 "\t%" PRIu32 "\n",
             esc, d->version.generation, d->version.node, d->version.without_quorum ? 'n' : 'q',
             d->version.deleted ? 'd' : '-', d->version.base_generation, d->version.base_node);
  return 0;
}

static int
queue_summary (struct vc_replica *r)
{
  char *text = NULL;
  size_t len = 0;
  FILE *fp = open_memstream (&text, &len);

  /* A damaged document is left out: a peer's copy will replace it. */
  if (fp == NULL || vc_store_scan (r->store, summary_line, fp) == -1) {
    if (fp)
      fclose (fp);
    free (text);
    set_error (r, "cannot list the local store for the summary");
    return -1;
  }
  fclose (fp);
  int ret = queue_message (r, VC_MSG_SUMMARY, r->next_msgid++, text, len);
  free (text);
  return ret;
}

static int
parse_summary (struct vc_replica *r, size_t member, const char *p, size_t len)
{
  const char *end = p + len;

  while (p < end) {
    const char *nl = memchr (p, '\n', end - p);
    const char *tab = nl ? memchr (p, '\t', nl - p) : NULL;
    struct vc_sync_entry *e;
    char flags[3];
    if (nl == NULL || tab == NULL)
      return -1;
    e = calloc (1, sizeof *e);
    if (e == NULL)
      return -1;
    e->name = unescape_name (p, tab - p);
    e->member = member;
    CLEANUP_FREE char *rest = strndup (tab + 1, nl - tab - 1);
    if (e->name == NULL || rest == NULL ||
        sscanf (rest, "%" SCNu64 "\t%" SCNu32 "\t%2s\t%" SCNu64 "\t%" SCNu32,
                &e->gen, &e->node, flags, &e->base_gen, &e->base_node) != 5 ||
        strlen (flags) != 2 || vc_sync_entry_vector_append (&r->entries, e) == -1) {
      free (e->name);
      free (e);
      return -1;
    }
    e->without_quorum = flags[0] == 'n';
    e->deleted = flags[1] == 'd';
    p = nl + 1;
  }
  return 0;
}

static int
entry_cmp (const void *a, const void *b)
{
  const struct vc_sync_entry *x = *(struct vc_sync_entry *const *) a;
  const struct vc_sync_entry *y = *(struct vc_sync_entry *const *) b;
  int c = strcmp (x->name, y->name);
  if (c)
    return c;
  return x->member < y->member ? -1 : x->member > y->member;
}

static void
record_conflict (struct vc_replica *r, const char *domain,
                 const struct vc_sync_entry *winner,
                 const struct vc_sync_entry *loser)
{
  char *line = vc_printf ("%s: version %" PRIu64 "/%" PRIu32 "%s of node %" PRIu32
                          " lost to version %" PRIu64 "/%" PRIu32 "%s",
                          domain, loser->gen, loser->node,
                          loser->without_quorum ? " (no quorum)" : "",
                          r->members.ptr[loser->member].nodeid,
                          winner->gen, winner->node,
                          winner->without_quorum ? " (no quorum)" : "");
  if (line == NULL)
    return;
  vc_warn ("conflicting changes made apart (partition or daemon down): %s", line);
  for (size_t i = 0; i < r->conflicts.len; i++)
    if (strcmp (r->conflicts.ptr[i], line) == 0) {
      free (line);
      return;
    }
  if (string_vector_append (&r->conflicts, line) == -1)
    free (line);

  /* The member holding the losing version keeps a copy of it. */
  if (r->members.ptr[loser->member].nodeid == r->self.nodeid &&
      r->members.ptr[loser->member].pid == r->self.pid) {
    struct vc_chain c;
    if (vc_store_load_any (r->store, domain, &c) == 0) {
      size_t len;
      CLEANUP_FREE char *text = vc_document_format (&c, &len);
      CLEANUP_FREE char *dir = vc_printf ("%s/conflicts", r->store->dir);
      CLEANUP_FREE char *path = NULL;
      CLEANUP_FREE char *esc = vc_name_to_file (domain);
      if (esc && strlen (esc) > strlen (VC_DOC_SUFFIX))
        esc[strlen (esc) - strlen (VC_DOC_SUFFIX)] = '\0';
      if (dir && esc && text && (mkdir (dir, 0700) == 0 || errno == EEXIST) &&
          (path = vc_printf ("%s/%s@%" PRIu64 "-%" PRIu32 ".xml", dir, esc,
                             c.version.generation, c.version.node))) {
        FILE *fp = fopen (path, "w");
        if (fp) {
          fwrite (text, 1, len, fp);
          fclose (fp);
        }
      }
      vc_chain_clear (&c);
    }
  }
}

static int
send_document (struct vc_replica *r, const char *domain)
{
  struct vc_chain c;
  size_t len;
  CLEANUP_FREE char *text = NULL, *esc = escape_name (domain), *payload = NULL;

  if (vc_store_load_any (r->store, domain, &c) != 0)
    return -1;
  text = vc_document_format (&c, &len);
  vc_chain_clear (&c);
  if (text == NULL || esc == NULL)
    return -1;
  payload = vc_printf ("%s\n%s", esc, text);
  if (payload == NULL)
    return -1;
  return queue_message (r, VC_MSG_DOC, r->next_msgid++, payload, strlen (payload));
}

/* With every summary in: for each domain, which version wins, who sends
 * it, who needs it, and whether both sides changed it (a conflict).
 * Every member runs this on the same input and reaches the same plan.
 */
static void
plan_sync (struct vc_replica *r)
{
  size_t self = member_index (r, r->self);
  size_t i = 0;

  qsort (r->entries.ptr, r->entries.len, sizeof (struct vc_sync_entry *), entry_cmp);
  r->docs_expected = 0;
  while (i < r->entries.len) {
    size_t j = i;
    while (j < r->entries.len && strcmp (r->entries.ptr[j]->name, r->entries.ptr[i]->name) == 0)
      j++;

    /* Candidates: the versions changed since their holder's last sync; if
     * none changed, all of them (a member that was away has an older one).
     */
    bool any_changed = false;
    for (size_t k = i; k < j; k++)
      any_changed |= changed_since_base (r->entries.ptr[k]);
    struct vc_sync_entry *w = NULL;
    for (size_t k = i; k < j; k++) {
      struct vc_sync_entry *e = r->entries.ptr[k];
      if (!is_candidate (r->entries.ptr + i, j - i, e, any_changed))
        continue;
      if (w == NULL || version_cmp (e->without_quorum, e->gen, e->node,
                                    w->without_quorum, w->gen, w->node) > 0)
        w = e;
    }
    /* Sender: the first member (in member order) holding the winner. */
    size_t sender = SIZE_MAX;
    bool i_have = false, all_have = (j - i) == r->members.len;
    for (size_t k = i; k < j; k++) {
      struct vc_sync_entry *e = r->entries.ptr[k];
      if (same_version (e, w)) {
        if (sender == SIZE_MAX || e->member < sender)
          sender = e->member;
        if (e->member == self)
          i_have = true;
      }
      else {
        all_have = false;
        if (any_changed && is_candidate (r->entries.ptr + i, j - i, e, true))
          record_conflict (r, w->name, w, e);
      }
    }
    if (!all_have) {
      if (sender == self)
        send_document (r, w->name);
      else if (!i_have)
        r->docs_expected++;
    }
    i = j;
  }
  queue_message (r, VC_MSG_DONE, r->next_msgid++, NULL, 0);
}

/* The winner of domain in the current plan, or NULL. */
static const struct vc_sync_entry *
plan_winner (const struct vc_replica *r, const char *domain)
{
  const struct vc_sync_entry *w = NULL;
  bool any_changed = false;

  for (size_t k = 0; k < r->entries.len; k++)
    if (strcmp (r->entries.ptr[k]->name, domain) == 0)
      any_changed |= changed_since_base (r->entries.ptr[k]);
  size_t first = r->entries.len, n = 0;
  for (size_t k = 0; k < r->entries.len; k++)
    if (strcmp (r->entries.ptr[k]->name, domain) == 0) {
      if (first == r->entries.len)
        first = k;
      n++;
    }
  for (size_t k = 0; k < r->entries.len; k++) {
    const struct vc_sync_entry *e = r->entries.ptr[k];
    if (strcmp (e->name, domain) != 0 ||
        !is_candidate (r->entries.ptr + first, n, e, any_changed))
      continue;
    if (w == NULL || version_cmp (e->without_quorum, e->gen, e->node,
                                  w->without_quorum, w->gen, w->node) > 0)
      w = e;
  }
  return w;
}

static void
receive_document (struct vc_replica *r, const char *payload, size_t len)
{
  const char *nl = memchr (payload, '\n', len);
  CLEANUP_FREE char *domain = nl ? unescape_name (payload, nl - payload) : NULL;
  CLEANUP_FREE char *err = NULL;
  struct vc_chain incoming, local;
  const struct vc_sync_entry *w;

  if (domain == NULL) {
    r->rejected++;
    return;
  }
  if (vc_document_parse (nl + 1, len - (nl + 1 - payload), &incoming, &err) == -1 ||
      strcmp (incoming.domain, domain) != 0) {
    set_error (r, "rejected a damaged document of %s from a peer: %s", domain,
               err ? err : "wrong domain");
    r->rejected++;
    if (err == NULL)
      vc_chain_clear (&incoming);
    return;
  }
  w = plan_winner (r, domain);
  if (w == NULL || w->gen != incoming.version.generation || w->node != incoming.version.node) {
    vc_chain_clear (&incoming);
    return;                     /* not the version the plan chose */
  }
  if (vc_store_load_any (r->store, domain, &local) == 0) {
    bool same = local.version.generation == incoming.version.generation && local.version.node == incoming.version.node;
    vc_chain_clear (&local);
    if (same) {
      vc_chain_clear (&incoming);
      return;
    }
  }
  if (vc_store_save_text (r->store, domain, nl + 1, len - (nl + 1 - payload)) == 0)
    vc_info ("synced %s (version %" PRIu64 "/%" PRIu32 ")", domain,
             incoming.version.generation, incoming.version.node);
  vc_chain_clear (&incoming);
  if (r->docs_expected)
    r->docs_expected--;
}

/* --- updates ------------------------------------------------------------------------ */

static void apply_update (struct vc_replica *r, struct vc_member from,
                          uint64_t msgid, const char *payload, size_t len);

static int
collect_unbased (const struct vc_doc_summary *d, void *opaque)
{
  string_vector *names = opaque;
  char *name;

  if (d->version.base_generation == d->version.generation && d->version.base_node == d->version.node)
    return 0;
  name = strdup (d->domain);
  if (name == NULL || string_vector_append (names, name) == -1) {
    free (name);
    return -1;
  }
  return 0;
}

static void
finish_sync (struct vc_replica *r)
{
  string_vector names = empty_vector;

  /* What everyone now holds becomes each document's base. */
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
  r->state = VC_REPLICA_SYNCED;
  r->syncs++;
  vc_notice ("synced with %zu member%s (epoch %016" PRIx64 ")", r->members.len,
             r->members.len == 1 ? "" : "s", r->epoch);

  /* Updates delivered during the sync, in their agreed order. */
  for (size_t i = 0; i < r->deferred.len; i++) {
    struct vc_deferred *d = r->deferred.ptr[i];
    apply_update (r, d->from, d->msgid, d->payload, d->len);
  }
  free_deferred (r);

  /* Our own updates that the membership change swallowed go again, whole. */
  for (size_t i = 0; i < r->pending.len; i++) {
    struct vc_pending *p = r->pending.ptr[i];
    if (p->epoch == r->epoch)
      continue;
    CLEANUP_FREE char *esc = escape_name (p->domain);
    CLEANUP_FREE char *payload = NULL;
    if (esc == NULL)
      continue;
    payload = vc_printf ("%c\t%s\t%c\n%.*s", p->text ? 'P' : 'D', esc,
                         r->quorate ? 'q' : 'n', (int) (p->text ? p->len : 0),
                         p->text ? p->text : "");
    p->msgid = r->next_msgid++;
    p->epoch = r->epoch;
    if (payload)
      queue_message (r, VC_MSG_UPDATE, p->msgid, payload, strlen (payload));
  }
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

static void
apply_update (struct vc_replica *r, struct vc_member from, uint64_t msgid,
              const char *payload, size_t len)
{
  const char *nl = memchr (payload, '\n', len);
  char op = len > 2 ? payload[0] : 0;
  const char *t1 = nl ? memchr (payload, '\t', nl - payload) : NULL;
  const char *t2 = t1 ? memchr (t1 + 1, '\t', nl - t1 - 1) : NULL;
  CLEANUP_FREE char *domain = t2 ? unescape_name (t1 + 1, t2 - t1 - 1) : NULL;
  CLEANUP_FREE char *err = NULL;
  bool mine = from.nodeid == r->self.nodeid && from.pid == r->self.pid;
  struct vc_chain next, local;
  int have;

  if (domain == NULL || (op != 'P' && op != 'D')) {
    r->rejected++;
    set_error (r, "rejected a malformed update from node %" PRIu32, from.nodeid);
    if (mine)
      complete_pending (r, msgid, -1, "malformed update");
    return;
  }
  memset (&next, 0, sizeof next);
  if (op == 'P') {
    if (vc_document_parse (nl + 1, len - (nl + 1 - payload), &next, &err) == -1 ||
        strcmp (next.domain, domain) != 0) {
      r->rejected++;
      set_error (r, "rejected an update of %s from node %" PRIu32 ": %s", domain,
                 from.nodeid, err ? err : "document names another domain");
      if (err == NULL)
        vc_chain_clear (&next);
      if (mine)
        complete_pending (r, msgid, -1, "the document was rejected");
      return;
    }
  }
  else {
    next.domain = strdup (domain);
    next.version.deleted = true;
  }

  /* Every synced member holds the same local version here, so all of them
   * compute the same new version.
   */
  have = vc_store_load_any (r->store, domain, &local);
  if (have == -1) {
    /* Our copy is damaged: the others' generation is unknown here, so
     * computing one would diverge.  The next sync brings the good copy.
     */
    vc_chain_clear (&next);
    r->rejected++;
    set_error (r, "cannot apply an update of %s: the local copy is damaged", domain);
    if (mine)
      complete_pending (r, msgid, -1, "the local replica of this domain is damaged");
    return;
  }
  next.version.generation = (have == 0 ? local.version.generation : 0) + 1;
  next.version.node = from.nodeid;
  next.version.without_quorum = t2[1] == 'n';
  next.version.base_generation = have == 0 ? local.version.base_generation : 0;
  next.version.base_node = have == 0 ? local.version.base_node : 0;
  /* The same on every member: the writer's time for a document, the
   * previous one for a tombstone.
   */
  if (op == 'D')
    next.updated = have == 0 ? local.updated : 0;
  if (have == 0)
    vc_chain_clear (&local);

  int s = vc_store_save (r->store, &next);
  vc_chain_clear (&next);
  r->updates_applied++;
  if (mine)
    complete_pending (r, msgid, s == 0 ? 0 : -1, s == 0 ? NULL : "cannot write the local replica");
}

int
vc_replica_submit (struct vc_replica *r, uint64_t cookie, const char *domain,
                   const char *text, size_t len)
{
  struct vc_pending *p;
  CLEANUP_FREE char *esc = escape_name (domain);
  CLEANUP_FREE char *payload = NULL;

  if (r->state == VC_REPLICA_OFFLINE) {
    errno = ENOTCONN;
    return -1;
  }
  if (esc == NULL || len > VC_MESSAGE_MAX - 1024) {
    errno = esc ? EFBIG : ENOMEM;
    return -1;
  }
  p = calloc (1, sizeof *p);
  if (p == NULL)
    return -1;
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
  /* While syncing, the update waits: finish_sync sends it in the new epoch. */
  if (r->state != VC_REPLICA_SYNCED) {
    p->epoch = 0;
    return 0;
  }
  payload = vc_printf ("%c\t%s\t%c\n%.*s", text ? 'P' : 'D', esc,
                       r->quorate ? 'q' : 'n', (int) (text ? len : 0), text ? text : "");
  if (payload == NULL)
    return -1;
  return queue_message (r, VC_MSG_UPDATE, p->msgid, payload, strlen (payload));
}

/* --- delivery ---------------------------------------------------------------------- */

static void
process (struct vc_replica *r, struct vc_member from, uint32_t type,
         uint64_t msgid, char *payload, size_t len)
{
  ssize_t m = member_index (r, from);

  if (m < 0)
    return;
  switch (type) {
  case VC_MSG_SUMMARY:
    if (r->state != VC_REPLICA_SYNCING || r->have_summary[m])
      return;
    if (parse_summary (r, m, payload, len) == -1) {
      set_error (r, "rejected a malformed summary from node %" PRIu32, from.nodeid);
      r->rejected++;
    }
    r->have_summary[m] = true;
    for (size_t i = 0; i < r->members.len; i++)
      if (!r->have_summary[i])
        return;
    plan_sync (r);
    return;

  case VC_MSG_DOC:
    if (r->state == VC_REPLICA_SYNCING)
      receive_document (r, payload, len);
    return;

  case VC_MSG_DONE:
    if (r->state != VC_REPLICA_SYNCING)
      return;
    r->have_done[m] = true;
    for (size_t i = 0; i < r->members.len; i++)
      if (!r->have_done[i])
        return;
    finish_sync (r);
    return;

  case VC_MSG_UPDATE:
    if (r->state == VC_REPLICA_SYNCED) {
      apply_update (r, from, msgid, payload, len);
      return;
    }
    if (r->state == VC_REPLICA_SYNCING) {
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
    return;
  }
}

void
vc_replica_deliver (struct vc_replica *r, uint32_t nodeid, uint32_t pid,
                    const void *buf, size_t len)
{
  struct vc_member from = { nodeid, pid };
  struct vc_reassembly *ra = NULL;
  struct header h;

  if (len < HEADER_SIZE) {
    r->rejected++;
    vc_warn ("dropped a %zu-byte message from node %" PRIu32 ": too short", len, nodeid);
    return;
  }
  get_header (buf, &h);
  if (h.magic != VC_MSG_MAGIC || h.version != VC_PROTO_VERSION ||
      h.len != len - HEADER_SIZE || h.len > VC_FRAGMENT_SIZE ||
      h.frags == 0 || h.frag >= h.frags ||
      h.type < VC_MSG_SUMMARY || h.type > VC_MSG_SYNC_START ||
      (uint64_t) h.frags * VC_FRAGMENT_SIZE > VC_MESSAGE_MAX + VC_FRAGMENT_SIZE) {
    r->rejected++;
    vc_warn ("dropped a message from node %" PRIu32 ": bad header "
             "(magic %08" PRIx32 ", version %u, type %u)", nodeid, h.magic,
             h.version, h.type);
    return;
  }
  if (h.type == VC_MSG_SYNC_START) {
    if (h.frags == 1)
      start_epoch (r, from, h.epoch, (const char *) buf + HEADER_SIZE, h.len);
    return;
  }
  if (r->epoch == 0 || h.epoch != r->epoch)
    return;                     /* sent before the sender saw the last change */

  for (size_t i = 0; i < r->reassembly.len; i++)
    if (r->reassembly.ptr[i]->from.nodeid == nodeid && r->reassembly.ptr[i]->from.pid == pid)
      ra = r->reassembly.ptr[i];
  if (h.frags == 1 && (ra == NULL || ra->next == 0)) {
    process (r, from, h.type, h.msgid, (char *) buf + HEADER_SIZE, h.len);
    return;
  }
  if (ra == NULL) {
    ra = calloc (1, sizeof *ra);
    if (ra == NULL || vc_reassembly_vector_append (&r->reassembly, ra) == -1) {
      free (ra);
      return;
    }
    ra->from = from;
  }
  if (h.frag == 0) {
    ra->msgid = h.msgid;
    ra->type = h.type;
    ra->frags = h.frags;
    ra->next = 0;
    ra->len = 0;
  }
  if (h.msgid != ra->msgid || h.frag != ra->next || h.frags != ra->frags) {
    r->rejected++;
    vc_warn ("dropped a fragment from node %" PRIu32 " out of sequence", nodeid);
    ra->next = 0;
    return;
  }
  if (ra->len + h.len + 1 > ra->cap) {
    size_t cap = ra->cap ? ra->cap * 2 : 1024 * 1024;
    while (cap < ra->len + h.len + 1)
      cap *= 2;
    char *p = realloc (ra->buf, cap);
    if (p == NULL) {
      ra->next = 0;
      return;
    }
    ra->buf = p;
    ra->cap = cap;
  }
  memcpy (ra->buf + ra->len, (const char *) buf + HEADER_SIZE, h.len);
  ra->len += h.len;
  ra->next++;
  if (ra->next == ra->frags) {
    ra->buf[ra->len] = '\0';
    ra->next = 0;
    process (r, from, ra->type, ra->msgid, ra->buf, ra->len);
  }
}

/* --- status -------------------------------------------------------------------------- */

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

  fprintf (fp, "node: %" PRIu32 "\n", r->self.nodeid);
  fprintf (fp, "store: %s\n", r->store->dir);
  fprintf (fp, "state: %s\n", r->state == VC_REPLICA_SYNCED ? "synced"
           : r->state == VC_REPLICA_SYNCING ? "syncing" : "offline");
  fprintf (fp, "members:");
  for (size_t i = 0; i < r->members.len; i++)
    fprintf (fp, " %" PRIu32, r->members.ptr[i].nodeid);
  fprintf (fp, "\nquorate: %s\n", r->quorate ? "yes" : "no");
  fprintf (fp, "epoch: %016" PRIx64 "\n", r->epoch);
  fprintf (fp, "view: %016" PRIx64 "\n", r->view);
  fprintf (fp, "syncs: %" PRIu64 "\n", r->syncs);
  fprintf (fp, "domains: %zu\n", n.domains);
  fprintf (fp, "checkpoints: %zu\n", n.checkpoints);
  fprintf (fp, "tombstones: %zu\n", n.tombstones);
  fprintf (fp, "updates-applied: %" PRIu64 "\n", r->updates_applied);
  fprintf (fp, "messages-rejected: %" PRIu64 "\n", r->rejected);
  fprintf (fp, "conflicts: %zu\n", r->conflicts.len);
  for (size_t i = 0; i < r->conflicts.len; i++)
    fprintf (fp, "conflict: %s\n", r->conflicts.ptr[i]);
  fprintf (fp, "last-error: %s\n", r->last_error ? r->last_error : "-");
  fclose (fp);
  return text;
}
