/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of helper/replica/: the replication protocol of virtckptd,
 * run on a small simulated CPG inside this process.
 *
 * Every member has its own store (a mkdtemp directory), a node id (1..N)
 * and a pid.  The "network" takes what each member queued in r->out,
 * round-robin one message per member per round, and delivers each message
 * to every member of the sender's current partition before the next one:
 * one global (total) order, each sender's messages in the order it queued
 * them, as CPG does.  Membership changes are delivered to the members of
 * one partition with that partition's member list.
 *
 * The assertions look at what the stores hold, not just at return codes.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "common/atomic-file.h"
#include "store/checkpoint-xml.h"
#include "common/cleanup.h"
#include "common/kv-lines.h"
#include "store/document.h"
#include "common/log.h"
#include "store/name-map.h"
#include "replica/replica.h"
#include "replica/wire.h"
#include "store/store.h"
#include "common/vc-strings.h"
#include "common/xml-safe.h"
#include "unit-common.h"

#define UUID "4dea22b3-1d52-d8f3-2516-782e98ab3fa0"
#define NODES 3
#define MAX_CALLS 256
/* A limit on deliveries per run, so that a livelock fails the test. */
#define MAX_STEPS 100000

/* Domains used by the tests: one needs %-escaping on the wire. */
#define DOM_A "web 1"
#define DOM_B "db"
#define DOM_C "cache"

struct call {
  uint64_t cookie;
  int status;
  bool synced;                  /* the replica's state when called */
};

struct node {
  struct sim *sim;
  char *dir;
  struct vc_store store;
  struct vc_replica r;
  uint32_t nodeid, pid;
  int part;                     /* partition */
  bool up;
  size_t ncalls;
  struct call calls[MAX_CALLS];
};

struct sim {
  char *top;
  size_t n;
  struct node node[NODES];
  /* The epoch each partition's leader opened at its last change. */
  uint64_t opened[NODES];
  /* Network statistics. */
  size_t delivered, full_fragments;
};

/* --- fixture --------------------------------------------------------------- */

static void
applied_cb (void *opaque, uint64_t cookie, int status, const char *message)
{
  struct node *n = opaque;

  assert_true (n->ncalls < MAX_CALLS);
  n->calls[n->ncalls].cookie = cookie;
  n->calls[n->ncalls].status = status;
  n->calls[n->ncalls].synced = n->r.state == VC_REPLICA_SYNCED;
  n->ncalls++;
}

static void
node_start (struct node *n, uint32_t pid)
{
  assert_int_equal (vc_store_open (&n->store, n->dir, true), 0);
  n->pid = pid;
  vc_replica_init (&n->r, &n->store, n->nodeid, n->pid, applied_cb, n);
  vc_replica_set_quorate (&n->r, true);
  n->up = true;
}

static void
node_stop (struct node *n)
{
  vc_replica_free (&n->r);
  vc_store_close (&n->store);
  n->up = false;
}

static int
setup (void **state)
{
  struct sim *s = calloc (1, sizeof *s);

  if (s == NULL)
    return -1;
  s->top = vc_test_mkdtemp ("test-replica");
  if (s->top == NULL)
    return -1;
  s->n = NODES;
  for (size_t i = 0; i < s->n; i++) {
    struct node *n = &s->node[i];
    n->sim = s;
    n->nodeid = i + 1;
    n->dir = vc_printf ("%s/n%zu", s->top, i + 1);
    if (n->dir == NULL)
      return -1;
    node_start (n, 1000 + i);
  }
  *state = s;
  return 0;
}

static int
teardown (void **state)
{
  struct sim *s = *state;

  for (size_t i = 0; i < s->n; i++) {
    if (s->node[i].store.dir)
      node_stop (&s->node[i]);
    free (s->node[i].dir);
  }
  vc_test_rmtree (s->top);
  free (s->top);
  free (s);
  return 0;
}

/* --- the simulated CPG -------------------------------------------------------- */

/* Delivers msg, sent by node src, to every member of src's partition. */
static void
broadcast (struct sim *s, const struct node *src, const void *msg, size_t len)
{
  s->delivered++;
  if (len == VC_WIRE_HEADER_SIZE + VC_FRAGMENT_SIZE)
    s->full_fragments++;
  for (size_t j = 0; j < s->n; j++) {
    struct node *d = &s->node[j];
    if (d->up && d->part == src->part)
      vc_replica_deliver (&d->r, src->nodeid, src->pid, msg, len);
  }
}

/* Sends the first message node i queued; false if it had none. */
static bool
step (struct sim *s, size_t i)
{
  struct node *src = &s->node[i];
  struct vc_outmsg m;

  if (!src->up || src->r.out.len == 0)
    return false;
  m = src->r.out.ptr[0];
  vc_outmsg_vector_remove (&src->r.out, 0);
  broadcast (s, src, m.buf, m.len);
  free (m.buf);
  return true;
}

/* Delivers until nobody has anything queued. */
static void
run (struct sim *s)
{
  size_t steps = 0;
  bool progress = true;

  while (progress) {
    progress = false;
    for (size_t i = 0; i < s->n; i++)
      if (step (s, i)) {
        progress = true;
        if (++steps > MAX_STEPS)
          fail_msg ("the members never stop sending");
      }
  }
}

/* Delivers up to n messages of node i. */
static void
run_some (struct sim *s, size_t i, size_t n)
{
  while (n-- > 0 && step (s, i))
    ;
}

/* A membership change of partition part, to its members. */
static void
confchg (struct sim *s, int part)
{
  struct vc_member members[NODES];
  size_t k = 0;

  /* Listed backwards: the replica must sort them itself. */
  for (size_t i = s->n; i-- > 0;)
    if (s->node[i].up && s->node[i].part == part)
      members[k++] = (struct vc_member) { s->node[i].nodeid, s->node[i].pid };
  for (size_t i = 0; i < s->n; i++)
    if (s->node[i].up && s->node[i].part == part)
      vc_replica_confchg (&s->node[i].r, members, k);
  /* The leader (lowest node id here) opened a new epoch. */
  for (size_t i = 0; i < s->n; i++)
    if (s->node[i].up && s->node[i].part == part) {
      assert_int_not_equal (s->node[i].r.epoch, 0);
      s->opened[part] = s->node[i].r.epoch;
      break;
    }
}

static void
assert_all_synced (struct sim *s)
{
  uint64_t epoch[NODES] = { 0 };

  for (size_t i = 0; i < s->n; i++) {
    struct node *n = &s->node[i];
    if (!n->up)
      continue;
    if (n->r.state != VC_REPLICA_SYNCED)
      fail_msg ("node %" PRIu32 " is not synced", n->nodeid);
    assert_int_not_equal (n->r.epoch, 0);
    epoch[n->part] = n->r.epoch;
  }
  /* The members of a partition share its epoch. */
  for (size_t i = 0; i < s->n; i++)
    if (s->node[i].up)
      assert_true (s->node[i].r.epoch == epoch[s->node[i].part]);
}

/* All up members join one group and sync. */
static void
start_all (struct sim *s)
{
  for (size_t i = 0; i < s->n; i++)
    s->node[i].part = 0;
  confchg (s, 0);
  run (s);
  assert_all_synced (s);
}

/* --- documents ---------------------------------------------------------------- */

/* A store document of domain with checkpoints TAG-c1 <- TAG-c2 <- ...,
 * each padded with pad bytes of description.
 */
static char *
make_doc (const char *domain, const char *tag, size_t ncp, size_t pad, size_t *len)
{
  struct vc_chain chain;
  CLEANUP_FREE char *padding = malloc (pad + 1);
  char *text;

  assert_non_null (padding);
  memset (padding, 'x', pad);
  padding[pad] = '\0';
  memset (&chain, 0, sizeof chain);
  chain.domain = strdup (domain);
  chain.uuid = strdup (UUID);
  chain.updated = 1764228000;
  for (size_t i = 1; i <= ncp; i++) {
    CLEANUP_FREE char *parent = i > 1
      ? vc_printf ("<parent><name>%s-c%zu</name></parent>", tag, i - 1) : strdup ("");
    CLEANUP_FREE char *xml =
      vc_printf ("<domaincheckpoint><name>%s-c%zu</name>%s"
                 "<description>%s</description>"
                 "<creationTime>%zu</creationTime><disks>"
                 "<disk name='vda' checkpoint='bitmap' bitmap='%s-c%zu'/>"
                 "</disks></domaincheckpoint>",
                 tag, i, parent, padding, 1764227000 + i, tag, i);
    struct vc_checkpoint c;
    char *err = NULL;

    assert_non_null (xml);
    if (vc_checkpoint_parse (xml, &c, &err) == -1)
      fail_msg ("test checkpoint does not parse: %s", err);
    assert_int_equal (vc_checkpoint_vector_append (&chain.checkpoints, c), 0);
  }
  text = vc_document_format (&chain, len);
  assert_non_null (text);
  vc_chain_clear (&chain);
  return text;
}

static void
submit (struct sim *s, size_t i, uint64_t cookie, const char *domain,
        const char *tag, size_t ncp)
{
  size_t len;
  CLEANUP_FREE char *text = make_doc (domain, tag, ncp, 0, &len);
  CLEANUP_FREE char *err = NULL;
  struct vc_chain parsed;

  /* Parsed beforehand, as virtckptd does: the submitting node applies
   * that parse, the others their own, and every store must come out the
   * same (assert_stores_identical).
   */
  assert_int_equal (vc_document_parse (text, len, &parsed, &err), 0);
  assert_int_equal (vc_replica_submit_parsed (&s->node[i].r, cookie, domain, text,
                                              len, &parsed), 0);
  assert_null (parsed.domain);
}

static void
forget (struct sim *s, size_t i, uint64_t cookie, const char *domain)
{
  assert_int_equal (vc_replica_submit (&s->node[i].r, cookie, domain, NULL, 0), 0);
}

struct version {
  uint64_t gen;
  uint32_t node;
  bool noq, deleted;
  size_t checkpoints;
  char first[64];               /* name of the first checkpoint, or "" */
};

/* The version of domain in node i's store; false if it has none. */
static bool
version_of (struct sim *s, size_t i, const char *domain, struct version *v)
{
  struct vc_chain c;
  int r = vc_store_load_any (&s->node[i].store, domain, &c);

  assert_true (r == 0 || r == 1);
  memset (v, 0, sizeof *v);
  if (r == 1)
    return false;
  v->gen = c.version.generation;
  v->node = c.version.node;
  v->noq = c.version.without_quorum;
  v->deleted = c.version.deleted;
  v->checkpoints = c.checkpoints.len;
  if (c.checkpoints.len)
    snprintf (v->first, sizeof v->first, "%s", c.checkpoints.ptr[0].name);
  vc_chain_clear (&c);
  return true;
}

static void
assert_version (struct sim *s, size_t i, const char *domain, uint64_t gen,
                uint32_t nodeid, const char *first)
{
  struct version v;

  if (!version_of (s, i, domain, &v))
    fail_msg ("node %zu has no document of %s", i + 1, domain);
  if (v.gen != gen || v.node != nodeid || strcmp (v.first, first) != 0)
    fail_msg ("node %zu holds %s version %" PRIu64 "/%" PRIu32 " (%s), "
              "expected %" PRIu64 "/%" PRIu32 " (%s)", i + 1, domain,
              v.gen, v.node, v.first, gen, nodeid, first);
}

enum flag { ANY, YES, NO };

/* What a member's store should hold of one domain. */
struct expected_version {
  const char *domain;
  uint64_t gen;
  uint32_t node;
  const char *first;
  enum flag noq;                /* written without quorum */
};

static void
assert_versions (struct sim *s, size_t i, const struct expected_version *e,
                 size_t n)
{
  for (size_t k = 0; k < n; k++) {
    struct version v;
    assert_version (s, i, e[k].domain, e[k].gen, e[k].node, e[k].first);
    assert_true (version_of (s, i, e[k].domain, &v));
    if (e[k].noq != ANY && v.noq != (e[k].noq == YES))
      fail_msg ("node %zu holds %s written %s quorum", i + 1, e[k].domain,
                v.noq ? "without" : "with");
  }
}

/* What a member's applied callback should have seen: ncalls calls, the
 * first ones with these cookies, each with status.
 */
struct expected_calls {
  size_t node, ncalls;
  uint64_t cookie[2];
};

static void
assert_calls (struct sim *s, const struct expected_calls *e, size_t n, int status)
{
  for (size_t k = 0; k < n; k++) {
    const struct node *d = &s->node[e[k].node];
    assert_int_equal (d->ncalls, e[k].ncalls);
    for (size_t c = 0; c < d->ncalls && c < 2; c++) {
      assert_int_equal (d->calls[c].cookie, e[k].cookie[c]);
      assert_int_equal (d->calls[c].status, status);
    }
  }
}

#define N_OF(a) (sizeof (a) / sizeof (a)[0])

static uint64_t
fnv (uint64_t h, const void *p, size_t n)
{
  const unsigned char *c = p;
  for (size_t i = 0; i < n; i++) {
    h ^= c[i];
    h *= UINT64_C (0x100000001b3);
  }
  return h;
}

/* A digest of every document in node i's store (tombstones included),
 * with names.  <updated> is left out: each member stamps it with its own
 * clock when it applies an update.
 */
static uint64_t
store_digest (struct sim *s, size_t i, size_t *count)
{
  struct vc_store *st = &s->node[i].store;
  string_vector names = empty_vector;
  uint64_t h = UINT64_C (0xcbf29ce484222325);

  assert_int_equal (vc_store_list_any (st, &names, true), 0);
  for (size_t k = 0; k < names.len; k++) {
    CLEANUP_FREE char *file = vc_name_to_file (names.ptr[k]);
    CLEANUP_FREE char *buf = NULL;
    size_t len;
    char *u, *ue;

    assert_non_null (file);
    if (vc_read_file (st->dirfd, file, VC_XML_MAX_SIZE, &buf, &len) == -1)
      fail_msg ("cannot read %s/%s: %m", st->dir, file);
    h = fnv (h, names.ptr[k], strlen (names.ptr[k]) + 1);
    u = strstr (buf, "<updated>");
    ue = u ? strstr (u, "</updated>") : NULL;
    if (u && ue) {
      h = fnv (h, buf, u - buf);
      h = fnv (h, ue, len - (ue - buf));
    }
    else
      h = fnv (h, buf, len);
  }
  if (count)
    *count = names.len;
  vc_string_vector_free (&names);
  return h;
}

/* Every up member's store holds the same documents. */
static void
assert_stores_identical (struct sim *s)
{
  size_t n0 = 0, n;
  uint64_t d0 = 0;
  bool first = true;

  for (size_t i = 0; i < s->n; i++) {
    if (!s->node[i].up)
      continue;
    uint64_t d = store_digest (s, i, &n);
    if (first) {
      d0 = d;
      n0 = n;
      first = false;
    }
    else if (d != d0 || n != n0)
      fail_msg ("store of node %zu (%zu documents) differs from the first "
                "member's (%zu documents)", i + 1, n, n0);
  }
}

static bool
status_has (struct sim *s, size_t i, const char *line)
{
  CLEANUP_FREE char *st = vc_replica_status (&s->node[i].r);

  assert_non_null (st);
  return strstr (st, line) != NULL;
}

static size_t
count_dir (const char *dir)
{
  DIR *d = opendir (dir);
  struct dirent *e;
  size_t n = 0;

  if (d == NULL)
    return 0;
  while ((e = readdir (d)) != NULL)
    if (strcmp (e->d_name, ".") != 0 && strcmp (e->d_name, "..") != 0)
      n++;
  closedir (d);
  return n;
}

/* A message as the replica puts it on the wire. */
static unsigned char *
craft (uint32_t magic, uint16_t version, uint16_t type, uint64_t epoch,
       uint64_t msgid, uint32_t frag, uint32_t frags, const char *payload,
       size_t len, size_t *mlen)
{
  unsigned char *m = malloc (VC_WIRE_HEADER_SIZE + len);
  struct vc_wire_header h = {
    .magic = magic, .version = version, .type = type, .epoch = epoch,
    .msgid = msgid, .frag = frag, .frags = frags, .len = len,
  };

  assert_non_null (m);
  vc_wire_put_header (m, &h);
  if (len)
    memcpy (m + VC_WIRE_HEADER_SIZE, payload, len);
  *mlen = VC_WIRE_HEADER_SIZE + len;
  return m;
}

/* --- 1. joining, and a replicated update ---------------------------------------- */

static void
test_join_and_update (void **state)
{
  struct sim *s = *state;
  size_t len;
  CLEANUP_FREE char *text = make_doc (DOM_A, "a", 2, 0, &len);

  start_all (s);
  for (size_t i = 0; i < s->n; i++) {
    assert_int_equal (s->node[i].r.members.len, 3);
    assert_int_equal (s->node[i].r.syncs, 1);
    assert_true (status_has (s, i, "state: synced\n"));
    assert_true (status_has (s, i, "members: 1 2 3\n"));
  }

  assert_int_equal (vc_replica_submit (&s->node[0].r, 42, DOM_A, text, len), 0);
  /* Not applied before it went round. */
  assert_int_equal (s->node[0].ncalls, 0);
  assert_false (version_of (s, 0, DOM_A, &(struct version) { 0 }));
  run (s);

  {
    static const struct expected_calls calls[] = {
      { 0, 1, { 42 } }, { 1, 0, { 0 } }, { 2, 0, { 0 } },
    };
    assert_calls (s, calls, N_OF (calls), 0);
  }
  for (size_t i = 0; i < s->n; i++) {
    struct version v;
    assert_version (s, i, DOM_A, 1, 1, "a-c1");
    assert_true (version_of (s, i, DOM_A, &v));
    assert_int_equal (v.checkpoints, 2);
    assert_false (v.noq);
    assert_false (v.deleted);
    assert_int_equal (s->node[i].r.updates_applied, 1);
    assert_int_equal (s->node[i].r.rejected, 0);
  }
  assert_stores_identical (s);

  /* A second update of the same domain, from another member. */
  submit (s, 2, 43, DOM_A, "b", 3);
  run (s);
  {
    static const struct expected_calls calls[] = {
      { 2, 1, { 43 } }, { 0, 1, { 42 } },
    };
    assert_calls (s, calls, N_OF (calls), 0);
  }
  for (size_t i = 0; i < s->n; i++)
    assert_version (s, i, DOM_A, 2, 3, "b-c1");
  assert_stores_identical (s);
}

/* --- 2. a late joiner, and fragmentation ------------------------------------------ */

static void
test_late_joiner (void **state)
{
  struct sim *s = *state;
  size_t len;
  CLEANUP_FREE char *big = make_doc ("big", "big", 6, 100 * 1024, &len);
  size_t before;

  assert_true (len > 4 * VC_FRAGMENT_SIZE);
  node_stop (&s->node[2]);
  confchg (s, 0);
  run (s);
  assert_all_synced (s);

  /* 50 domains, some updated twice, from both members. */
  for (size_t d = 0; d < 50; d++) {
    CLEANUP_FREE char *name = vc_printf ("dom %02zu", d);
    CLEANUP_FREE char *tag = vc_printf ("t%zu", d);
    submit (s, d % 2, d, name, tag, 1 + d % 3);
  }
  run (s);
  for (size_t d = 0; d < 50; d += 5) {
    CLEANUP_FREE char *name = vc_printf ("dom %02zu", d);
    submit (s, (d + 1) % 2, 1000 + d, name, "again", 1);
  }
  run (s);
  /* The big one goes as an update, in fragments. */
  before = s->full_fragments;
  assert_int_equal (vc_replica_submit (&s->node[1].r, 7, "big", big, len), 0);
  run (s);
  assert_true (s->full_fragments - before >= 4);
  assert_int_equal (s->node[1].ncalls, 25 + 5 + 1);
  for (size_t i = 0; i < 2; i++) {
    for (size_t k = 0; k < s->node[i].ncalls; k++)
      assert_int_equal (s->node[i].calls[k].status, 0);
    assert_int_equal (s->node[i].r.rejected, 0);
  }
  assert_int_equal (s->node[0].ncalls, 25 + 5);

  /* n3 joins with an empty store. */
  node_start (&s->node[2], 2000);
  assert_int_equal (count_dir (s->node[2].dir), 0);
  before = s->full_fragments;
  confchg (s, 0);
  run (s);
  assert_all_synced (s);
  /* The big document came as a DOC, in fragments. */
  assert_true (s->full_fragments - before >= 4);
  assert_stores_identical (s);
  for (size_t d = 0; d < 50; d++) {
    CLEANUP_FREE char *name = vc_printf ("dom %02zu", d);
    CLEANUP_FREE char *tag = vc_printf ("t%zu-c1", d);
    struct version v0;
    assert_true (version_of (s, 0, name, &v0));
    if (d % 5 == 0)
      assert_version (s, 2, name, 2, (d + 1) % 2 + 1, "again-c1");
    else
      assert_version (s, 2, name, 1, d % 2 + 1, tag);
    assert_version (s, 2, name, v0.gen, v0.node, v0.first);
  }
  {
    struct version v;
    assert_version (s, 2, "big", 1, 2, "big-c1");
    assert_true (version_of (s, 2, "big", &v));
    assert_int_equal (v.checkpoints, 6);
  }
  assert_int_equal (s->node[2].r.rejected, 0);
  assert_int_equal (s->node[2].ncalls, 0);
}

/* --- 3. updates during a sync, and interrupted fragments ------------------------- */

static void
test_updates_during_sync (void **state)
{
  struct sim *s = *state;

  start_all (s);
  submit (s, 0, 1, DOM_A, "a", 1);
  run (s);
  for (size_t i = 0; i < s->n; i++)
    s->node[i].ncalls = 0;

  /* A membership change (n3 restarts), then updates while syncing: some
   * right away, some once the sync has started.
   */
  node_stop (&s->node[2]);
  node_start (&s->node[2], 3000);
  confchg (s, 0);
  submit (s, 1, 21, DOM_A, "n2x", 1);
  submit (s, 2, 31, DOM_B, "n3first", 1);
  assert_true (step (s, 0));    /* the leader's SYNC_START */
  assert_true (step (s, 0));    /* its summary */
  submit (s, 0, 11, DOM_A, "n1x", 1);
  submit (s, 2, 32, DOM_B, "n3second", 2);
  submit (s, 1, 22, DOM_A, "n2y", 1);
  /* An update of this epoch delivered while the members sync: they hold
   * it until the sync is over.
   */
  assert_int_equal (s->node[1].r.epoch, s->node[0].r.epoch);
  {
    size_t len, mlen;
    CLEANUP_FREE char *doc = make_doc (DOM_C, "held", 1, 0, &len);
    CLEANUP_FREE char *payload = vc_printf ("P\t%s\tq\n%s", DOM_C, doc);
    unsigned char *m = craft (VC_MSG_MAGIC, VC_PROTO_VERSION, VC_MSG_UPDATE,
                              s->node[1].r.epoch, 999, 0, 1, payload,
                              strlen (payload), &mlen);
    broadcast (s, &s->node[1], m, mlen);
    free (m);
  }
  for (size_t i = 0; i < s->n; i++)
    assert_false (version_of (s, i, DOM_C, &(struct version) { 0 }));
  for (size_t i = 0; i < s->n; i++)
    assert_int_not_equal (s->node[i].r.state, VC_REPLICA_SYNCED);

  /* One message at a time: once everyone is synced, every delivery
   * leaves the members with the same versions (the same order).
   */
  for (size_t steps = 0;; steps++) {
    bool progress = false;
    for (size_t i = 0; i < s->n; i++) {
      if (!step (s, i))
        continue;
      progress = true;
      if (s->node[0].r.state != VC_REPLICA_SYNCED)
        continue;
      for (size_t k = 0; k < s->n; k++)
        assert_int_equal (s->node[k].r.state, VC_REPLICA_SYNCED);
      for (size_t d = 0; d < 3; d++) {
        const char *domain = d == 0 ? DOM_A : d == 1 ? DOM_B : DOM_C;
        struct version v0, v;
        bool have0 = version_of (s, 0, domain, &v0);
        for (size_t k = 1; k < s->n; k++) {
          assert_true (version_of (s, k, domain, &v) == have0);
          assert_true (v.gen == v0.gen && v.node == v0.node &&
                       strcmp (v.first, v0.first) == 0);
        }
      }
    }
    if (!progress)
      break;
    assert_true (steps < MAX_STEPS);
  }
  assert_all_synced (s);

  /* Each completed once, after the sync. */
  {
    static const struct expected_calls calls[] = {
      { 0, 1, { 11 } }, { 1, 2, { 21, 22 } }, { 2, 2, { 31, 32 } },
    };
    assert_calls (s, calls, N_OF (calls), 0);
  }
  for (size_t i = 0; i < s->n; i++)
    for (size_t k = 0; k < s->node[i].ncalls; k++) {
      assert_int_equal (s->node[i].calls[k].status, 0);
      assert_true (s->node[i].calls[k].synced);
    }

  /* Applied everywhere in one order: A went through three more updates,
   * B through two, in the order n3 submitted them.
   */
  struct version a;
  assert_true (version_of (s, 0, DOM_A, &a));
  assert_int_equal (a.gen, 4);
  for (size_t i = 0; i < s->n; i++) {
    const struct expected_version versions[] = {
      { DOM_A, a.gen, a.node, a.first, ANY },
      { DOM_B, 2, 3, "n3second-c1", ANY },
      { DOM_C, 1, 2, "held-c1", ANY },
    };
    assert_versions (s, i, versions, N_OF (versions));
  }
  assert_stores_identical (s);
}

static void
test_interrupted_fragments (void **state)
{
  struct sim *s = *state;
  size_t len;
  CLEANUP_FREE char *big = make_doc (DOM_B, "big", 6, 100 * 1024, &len);
  uint64_t applied[NODES];
  static const struct expected_calls calls[] = {
    { 1, 1, { 5 } }, { 0, 1, { 6 } },
  };
  static const struct expected_version versions[] = {
    { DOM_B, 1, 2, "big-c1", ANY },
    { DOM_A, 1, 1, "small-c1", ANY },
  };

  start_all (s);
  for (size_t i = 0; i < s->n; i++)
    applied[i] = s->node[i].r.updates_applied;

  /* n2 sends a big update; two of its fragments go round, then n3
   * leaves.
   */
  assert_int_equal (vc_replica_submit (&s->node[1].r, 5, DOM_B, big, len), 0);
  assert_true (s->node[1].r.out.len >= 5);
  assert_true (step (s, 1));
  assert_true (step (s, 1));
  /* And n1's small update is still queued when the membership changes. */
  submit (s, 0, 6, DOM_A, "small", 1);
  node_stop (&s->node[2]);
  confchg (s, 0);
  run (s);
  assert_all_synced (s);

  assert_calls (s, calls, N_OF (calls), 0);
  for (size_t i = 0; i < 2; i++) {
    assert_int_equal (s->node[i].r.updates_applied, applied[i] + 2);
    assert_versions (s, i, versions, N_OF (versions));
    assert_int_equal (s->node[i].r.rejected, 0);
  }
  assert_stores_identical (s);

  /* The member that left gets it when it comes back. */
  node_start (&s->node[2], 3000);
  confchg (s, 0);
  run (s);
  assert_all_synced (s);
  assert_versions (s, 2, versions, N_OF (versions));
  assert_stores_identical (s);
  assert_calls (s, calls, N_OF (calls), 0);
}

/* The leader goes away in the middle of a sync: the next lowest member
 * leads a new one.
 */
static void
test_leader_leaves_during_sync (void **state)
{
  struct sim *s = *state;

  start_all (s);
  submit (s, 0, 1, DOM_A, "a", 1);
  run (s);

  /* n3 restarts with nothing; the sync starts, n3 submits, then n1
   * (the leader, the only sender of documents) goes.
   */
  node_stop (&s->node[2]);
  {
    CLEANUP_FREE char *file = vc_name_to_file (DOM_A);
    CLEANUP_FREE char *path = vc_printf ("%s/%s", s->node[2].dir, file);
    assert_int_equal (unlink (path), 0);
  }
  node_start (&s->node[2], 3000);
  confchg (s, 0);
  submit (s, 2, 31, DOM_B, "b", 1);
  for (int k = 0; k < 3; k++)
    run_some (s, 0, 1);
  assert_int_equal (s->node[1].r.state, VC_REPLICA_SYNCING);
  node_stop (&s->node[0]);
  confchg (s, 0);
  run (s);
  assert_all_synced (s);
  assert_int_equal (s->node[1].r.members.len, 2);
  assert_int_equal (s->node[2].ncalls, 1);
  assert_int_equal (s->node[2].calls[0].status, 0);
  for (size_t i = 1; i < 3; i++) {
    static const struct expected_version versions[] = {
      { DOM_A, 1, 1, "a-c1", ANY },
      { DOM_B, 1, 3, "b-c1", ANY },
    };
    assert_versions (s, i, versions, N_OF (versions));
  }
  assert_stores_identical (s);

  /* n1 comes back and catches up. */
  node_start (&s->node[0], 5000);
  confchg (s, 0);
  run (s);
  assert_all_synced (s);
  assert_version (s, 0, DOM_B, 1, 3, "b-c1");
  assert_stores_identical (s);
}

/* --- 4. partition and heal: conflicts ------------------------------------------- */

/* n1 alone without quorum, n2 and n3 with quorum. */
static void
partition_1_23 (struct sim *s)
{
  s->node[0].part = 1;
  vc_replica_set_quorate (&s->node[0].r, false);
  confchg (s, 1);
  confchg (s, 0);
  run (s);
  assert_all_synced (s);
  assert_int_equal (s->node[0].r.members.len, 1);
  assert_int_equal (s->node[1].r.members.len, 2);
}

static void
heal (struct sim *s)
{
  for (size_t i = 0; i < s->n; i++) {
    s->node[i].part = 0;
    vc_replica_set_quorate (&s->node[i].r, true);
  }
  confchg (s, 0);
  run (s);
  assert_all_synced (s);
}

static void
test_partition_conflict (void **state)
{
  struct sim *s = *state;
  CLEANUP_FREE char *conflicts = NULL;
  struct version v;

  start_all (s);
  submit (s, 0, 1, DOM_A, "a0", 1);
  submit (s, 0, 2, DOM_B, "b0", 1);
  submit (s, 0, 3, DOM_C, "c0", 1);
  run (s);

  partition_1_23 (s);
  submit (s, 0, 10, DOM_A, "a-n1", 2);
  submit (s, 0, 11, DOM_B, "b-n1", 1);
  submit (s, 1, 20, DOM_A, "a-n2", 3);
  submit (s, 1, 21, DOM_C, "c-n2", 1);
  run (s);
  assert_version (s, 0, DOM_A, 2, 1, "a-n1-c1");
  assert_version (s, 2, DOM_A, 2, 2, "a-n2-c1");
  assert_true (version_of (s, 0, DOM_A, &v));
  assert_true (v.noq);

  heal (s);
  assert_stores_identical (s);
  for (size_t i = 0; i < s->n; i++) {
    static const struct expected_version versions[] = {
      { DOM_A, 2, 2, "a-n2-c1", NO },
      { DOM_B, 2, 1, "b-n1-c1", YES },
      { DOM_C, 2, 2, "c-n2-c1", ANY },
    };
    assert_versions (s, i, versions, N_OF (versions));
    assert_true (version_of (s, i, DOM_A, &v));
    assert_int_equal (v.checkpoints, 3);
    if (!status_has (s, i, "conflicts: 1\n")) {
      CLEANUP_FREE char *st = vc_replica_status (&s->node[i].r);
      fail_msg ("node %zu status:\n%s", i + 1, st);
    }
    assert_true (status_has (s, i, "conflict: " DOM_A ": version 2/1 (no quorum) "
                             "of node 1 lost to version 2/2\n"));
  }

  /* n1, which held the losing version, kept it. */
  conflicts = vc_printf ("%s/conflicts", s->node[0].dir);
  assert_int_equal (count_dir (conflicts), 1);
  {
    CLEANUP_FREE char *path = vc_printf ("%s/web%%201@2-1.xml", conflicts);
    CLEANUP_FREE char *buf = NULL;
    size_t len;
    struct vc_chain c;
    char *err = NULL;
    if (vc_read_file (AT_FDCWD, path, VC_XML_MAX_SIZE, &buf, &len) == -1)
      fail_msg ("cannot read %s: %m", path);
    if (vc_document_parse (buf, len, &c, &err) == -1)
      fail_msg ("%s: %s", path, err);
    assert_string_equal (c.domain, DOM_A);
    assert_int_equal (c.version.generation, 2);
    assert_int_equal (c.version.node, 1);
    assert_int_equal (c.checkpoints.len, 2);
    assert_string_equal (c.checkpoints.ptr[0].name, "a-n1-c1");
    vc_chain_clear (&c);
  }
  for (size_t i = 1; i < s->n; i++) {
    CLEANUP_FREE char *d = vc_printf ("%s/conflicts", s->node[i].dir);
    assert_int_equal (count_dir (d), 0);
  }

  /* Life goes on: the next update builds on the winner everywhere. */
  submit (s, 0, 12, DOM_A, "after", 1);
  run (s);
  for (size_t i = 0; i < s->n; i++)
    assert_version (s, i, DOM_A, 3, 1, "after-c1");
  assert_stores_identical (s);
}

/* As above, but the quorate side goes through another membership change
 * (n3 restarts) after its update and before the heal.  Its version is
 * still the quorate one that the minority's version conflicts with.
 */
static void
test_partition_conflict_after_resync (void **state)
{
  struct sim *s = *state;
  char conflicts[PATH_MAX];

  start_all (s);
  submit (s, 0, 1, DOM_A, "a0", 1);
  run (s);

  partition_1_23 (s);
  submit (s, 0, 10, DOM_A, "a-n1", 1);
  submit (s, 1, 20, DOM_A, "a-n2", 1);
  run (s);
  node_stop (&s->node[2]);
  node_start (&s->node[2], 3000);
  confchg (s, 0);
  run (s);
  assert_all_synced (s);

  heal (s);
  assert_stores_identical (s);
  for (size_t i = 0; i < s->n; i++) {
    assert_version (s, i, DOM_A, 2, 2, "a-n2-c1");
    assert_true (status_has (s, i, "conflicts: 1\n"));
  }
  snprintf (conflicts, sizeof conflicts, "%s/conflicts", s->node[0].dir);
  assert_int_equal (count_dir (conflicts), 1);
}

/* The losing member keeps its copy inside STORE/conflicts, whatever the
 * domain is called.
 */
static void
test_conflict_copy_of_odd_names (void **state)
{
  struct sim *s = *state;
  static const char *const names[] = {
    "../../escaped", "x/y", ".hidden",
    "a name long enough that, escaped, it makes no file name: "
    "0123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789012345678901234567890123456789",
  };
  const size_t n = sizeof names / sizeof names[0];
  char conflicts[PATH_MAX], outside[PATH_MAX];

  snprintf (conflicts, sizeof conflicts, "%s/conflicts", s->node[0].dir);
  snprintf (outside, sizeof outside, "%s/escaped@2-1.xml", s->top);

  start_all (s);
  for (size_t k = 0; k < n; k++)
    submit (s, 0, k, names[k], "v0", 1);
  run (s);
  partition_1_23 (s);
  for (size_t k = 0; k < n; k++) {
    submit (s, 0, 10 + k, names[k], "n1", 1);
    submit (s, 1, 20 + k, names[k], "n2", 1);
  }
  run (s);
  heal (s);
  assert_stores_identical (s);
  for (size_t k = 0; k < n; k++)
    assert_version (s, 0, names[k], 2, 2, "n2-c1");
  assert_true (status_has (s, 0, "conflicts: 4\n"));
  if (access (outside, F_OK) == 0)
    fail_msg ("the conflict copy of %s went outside the store: %s",
              names[0], outside);
  if (count_dir (conflicts) != n)
    fail_msg ("%s holds %zu copies, expected %zu", conflicts,
              count_dir (conflicts), n);
}

/* --- 5. a tombstone against no change --------------------------------------------- */

static void
test_partition_tombstone (void **state)
{
  struct sim *s = *state;
  struct vc_chain c;
  struct version v;

  start_all (s);
  submit (s, 0, 1, DOM_A, "a0", 1);
  submit (s, 0, 2, DOM_B, "b0", 1);
  run (s);

  /* The minority forgets A, the majority forgets B. */
  partition_1_23 (s);
  forget (s, 0, 10, DOM_A);
  forget (s, 2, 30, DOM_B);
  run (s);
  assert_int_equal (s->node[0].calls[s->node[0].ncalls - 1].status, 0);
  assert_int_equal (vc_store_load (&s->node[0].store, DOM_A, &c), 1);
  assert_int_equal (vc_store_load (&s->node[1].store, DOM_A, &c), 0);
  vc_chain_clear (&c);

  heal (s);
  assert_stores_identical (s);
  for (size_t i = 0; i < s->n; i++) {
    assert_int_equal (vc_store_load (&s->node[i].store, DOM_A, &c), 1);
    assert_int_equal (vc_store_load (&s->node[i].store, DOM_B, &c), 1);
    assert_true (version_of (s, i, DOM_A, &v));
    assert_true (v.deleted);
    assert_int_equal (v.gen, 2);
    assert_int_equal (v.node, 1);
    assert_true (version_of (s, i, DOM_B, &v));
    assert_true (v.deleted);
    assert_int_equal (v.node, 3);
    assert_true (status_has (s, i, "conflicts: 0\n"));
    assert_true (status_has (s, i, "tombstones: 2\n"));
    assert_true (status_has (s, i, "domains: 0\n"));
  }

  /* A forgotten domain comes back with a new update. */
  submit (s, 1, 3, DOM_A, "back", 1);
  run (s);
  for (size_t i = 0; i < s->n; i++) {
    assert_int_equal (vc_store_load (&s->node[i].store, DOM_A, &c), 0);
    assert_int_equal (c.version.generation, 3);
    vc_chain_clear (&c);
  }
  assert_stores_identical (s);
}

/* --- 5b. writes into a replica while its daemon is down ------------------------- */

/* What the CLI does on node i while node i's daemon is stopped: opens
 * the replica as a local store and replaces domain's chain (as capture
 * does: the next generation, on top of the stored one), or forgets it.
 */
static void
local_write (struct sim *s, size_t i, const char *domain, const char *tag)
{
  struct vc_store st;
  struct vc_chain stored, live;
  size_t len;
  char *err = NULL;
  CLEANUP_FREE char *text = tag ? make_doc (domain, tag, 1, 0, &len) : NULL;

  assert_false (s->node[i].up);
  setenv ("VIRTCKPT_NO_DAEMON", "1", 1);
  assert_int_equal (vc_store_open_cli (&st, s->node[i].dir, true, false), 0);
  assert_true (st.unreplicated);
  assert_int_equal (st.replica_node, s->node[i].nodeid);
  assert_int_equal (vc_store_lock (&st), 0);
  if (tag == NULL)
    assert_int_equal (vc_store_remove (&st, domain), 0);
  else {
    assert_int_equal (vc_store_load (&st, domain, &stored), 0);
    if (vc_document_parse (text, len, &live, &err) == -1)
      fail_msg ("%s", err);
    live.version.generation = stored.version.generation + 1;
    live.version.node = stored.version.node;
    live.version.base_generation = stored.version.base_generation;
    live.version.base_node = stored.version.base_node;
    assert_int_equal (vc_store_save (&st, &live), 0);
    vc_chain_clear (&live);
    vc_chain_clear (&stored);
  }
  vc_store_close (&st);
  unsetenv ("VIRTCKPT_NO_DAEMON");
}

static void
test_write_while_daemon_down (void **state)
{
  struct sim *s = *state;
  struct version v;
  CLEANUP_FREE char *conflicts = NULL;

  start_all (s);
  submit (s, 0, 1, DOM_A, "a0", 1);
  submit (s, 0, 2, DOM_B, "b0", 1);
  submit (s, 0, 3, DOM_C, "c0", 1);
  run (s);
  for (size_t i = 0; i < s->n; i++)
    assert_int_equal (vc_store_mark_replica (&s->node[i].store, s->node[i].nodeid), 0);

  /* n3's daemon stops; there, the CLI changes A and B and forgets C. */
  node_stop (&s->node[2]);
  confchg (s, 0);
  run (s);
  local_write (s, 2, DOM_A, "a-n3");
  local_write (s, 2, DOM_B, "b-n3");
  local_write (s, 2, DOM_C, NULL);
  /* Flagged: no quorum, node 3 (the copied version said node 1). */
  {
    struct vc_store st;
    struct vc_chain c;
    assert_int_equal (vc_store_open (&st, s->node[2].dir, false), 0);
    assert_int_equal (vc_store_load (&st, DOM_A, &c), 0);
    assert_true (c.version.without_quorum);
    assert_int_equal (c.version.node, 3);
    assert_int_equal (c.version.generation, 2);
    vc_chain_clear (&c);
    assert_int_equal (vc_store_load (&st, DOM_C, &c), 1);
    assert_int_equal (vc_store_load_any (&st, DOM_C, &c), 0);
    assert_true (c.version.deleted);
    vc_chain_clear (&c);
    vc_store_close (&st);
  }
  /* Meanwhile the cluster changes B. */
  submit (s, 0, 10, DOM_B, "b-n1", 1);
  run (s);

  /* n3's daemon comes back. */
  node_start (&s->node[2], 3000);
  confchg (s, 0);
  run (s);
  assert_all_synced (s);
  assert_stores_identical (s);
  for (size_t i = 0; i < s->n; i++) {
    /* A changed only on n3: its change is replicated. */
    assert_version (s, i, DOM_A, 2, 3, "a-n3-c1");
    /* B changed on both sides: the cluster's (quorate) version wins. */
    assert_version (s, i, DOM_B, 2, 1, "b-n1-c1");
    assert_true (version_of (s, i, DOM_B, &v));
    assert_false (v.noq);
    /* C forgotten on n3 stays forgotten. */
    assert_true (version_of (s, i, DOM_C, &v));
    assert_true (v.deleted);
    assert_true (status_has (s, i, "conflicts: 1\n"));
  }
  conflicts = vc_printf ("%s/conflicts", s->node[2].dir);
  assert_int_equal (count_dir (conflicts), 1);
}

/* --- 6. a damaged document, repaired by the sync --------------------------------- */

static void
damage (struct sim *s, size_t i, const char *domain)
{
  CLEANUP_FREE char *file = vc_name_to_file (domain);
  int fd;

  assert_non_null (file);
  fd = openat (s->node[i].store.dirfd, file, O_WRONLY | O_TRUNC);
  assert_true (fd >= 0);
  assert_int_equal (write (fd, "<virtckpt-domain format=\"1\"><na", 31), 31);
  close (fd);
}

static void
test_damaged_document_repaired (void **state)
{
  struct sim *s = *state;
  uint64_t good;

  start_all (s);
  submit (s, 0, 1, DOM_A, "a", 2);
  submit (s, 1, 2, DOM_B, "b", 1);
  run (s);
  /* A sync makes the versions each document's base. */
  confchg (s, 0);
  run (s);
  good = store_digest (s, 0, NULL);

  /* n3 restarts with A damaged; then n1 (the leader) with B damaged. */
  for (size_t k = 0; k < 2; k++) {
    size_t i = k == 0 ? 2 : 0;
    const char *domain = k == 0 ? DOM_A : DOM_B;
    struct vc_chain c;
    node_stop (&s->node[i]);
    node_start (&s->node[i], 4000 + k);
    damage (s, i, domain);
    assert_int_equal (vc_store_load_any (&s->node[i].store, domain, &c), -1);
    confchg (s, 0);
    run (s);
    assert_all_synced (s);
    assert_int_equal (vc_store_load_any (&s->node[i].store, domain, &c), 0);
    vc_chain_clear (&c);
    assert_stores_identical (s);
    assert_true (store_digest (s, i, NULL) == good);
  }
  assert_version (s, 2, DOM_A, 1, 1, "a-c1");
  assert_version (s, 0, DOM_B, 1, 2, "b-c1");
}

/* --- 7. malformed input ------------------------------------------------------------- */

/* Delivers a crafted message as if node i had sent it. */
static void
inject (struct sim *s, size_t i, uint32_t magic, uint16_t version,
        uint16_t type, uint64_t epoch, uint64_t msgid, uint32_t frag,
        uint32_t frags, const char *payload, size_t len)
{
  size_t mlen;
  unsigned char *m = craft (magic, version, type, epoch, msgid, frag, frags,
                            payload, len, &mlen);

  broadcast (s, &s->node[i], m, mlen);
  free (m);
}

/* A well-formed message of the current epoch from node i. */
static void
inject_ok (struct sim *s, size_t i, uint16_t type, const char *payload)
{
  inject (s, i, VC_MSG_MAGIC, VC_PROTO_VERSION, type, s->node[i].r.epoch,
          9000 + s->delivered, 0, 1, payload, strlen (payload));
}

static void
assert_rejected (struct sim *s, const uint64_t *before, uint64_t more)
{
  for (size_t i = 0; i < s->n; i++)
    if (s->node[i].r.rejected != before[i] + more)
      fail_msg ("node %zu rejected %" PRIu64 " messages, expected %" PRIu64,
                i + 1, s->node[i].r.rejected - before[i], more);
}

/* A message header to inject, and its payload. */
struct crafted {
  uint32_t magic;
  uint16_t version, type;
  uint64_t msgid;
  uint32_t frag, frags;
  const char *payload;
};

static void
test_malformed_input (void **state)
{
  struct sim *s = *state;
  uint64_t rejected[NODES], good, epoch;
  size_t len;
  CLEANUP_FREE char *doc_a = make_doc (DOM_A, "evil", 1, 0, &len);
  CLEANUP_FREE char *big = make_doc (DOM_C, "big", 3, 100 * 1024, &len);
  static const struct crafted bad_headers[] = {
    { .magic = 0xdeadbeef, .version = VC_PROTO_VERSION, .type = VC_MSG_UPDATE, .frags = 1 },
    { .magic = VC_MSG_MAGIC, .version = VC_PROTO_VERSION + 1, .type = VC_MSG_UPDATE, .frags = 1 },
    { .magic = VC_MSG_MAGIC, .version = VC_PROTO_VERSION, .type = 0, .frags = 1 },
    { .magic = VC_MSG_MAGIC, .version = VC_PROTO_VERSION, .type = 99, .frags = 1 },
    { .magic = VC_MSG_MAGIC, .version = VC_PROTO_VERSION, .type = VC_MSG_UPDATE, .frags = 0 },
    { .magic = VC_MSG_MAGIC, .version = VC_PROTO_VERSION, .type = VC_MSG_UPDATE,
      .frag = 3, .frags = 3 },
    { .magic = VC_MSG_MAGIC, .version = VC_PROTO_VERSION, .type = VC_MSG_UPDATE,
      .frags = UINT32_MAX },
  };
  static const struct crafted out_of_sequence[] = {
    { .msgid = 50, .frag = 1, .frags = 3, .payload = "x" },
    { .msgid = 51, .frag = 0, .frags = 3, .payload = "P\t" },
    { .msgid = 51, .frag = 2, .frags = 3, .payload = "x" },
    { .msgid = 52, .frag = 0, .frags = 3, .payload = "P\t" },
    { .msgid = 53, .frag = 1, .frags = 3, .payload = "x" },
  };
  static const char *const bad_updates[] = {
    "P\t\tq\n", "X\tweb%201\tq\n", "D\tweb%2\tq\n", "D\tweb%00\tq\n",
    "D\tweb 1", "P", "",
  };

  start_all (s);
  submit (s, 0, 1, DOM_A, "a", 1);
  run (s);
  good = store_digest (s, 0, NULL);
  for (size_t i = 0; i < s->n; i++)
    rejected[i] = s->node[i].r.rejected;
  epoch = s->node[1].r.epoch;

  /* Broken headers. */
  {
    unsigned char shortmsg[VC_WIRE_HEADER_SIZE - 1] = { 0x56, 0x43, 0x4b, 0x44 };
    broadcast (s, &s->node[1], shortmsg, sizeof shortmsg);
    broadcast (s, &s->node[1], shortmsg, 0);
  }
  for (size_t k = 0; k < N_OF (bad_headers); k++) {
    const struct crafted *c = &bad_headers[k];
    inject (s, 1, c->magic, c->version, c->type, epoch, 1, c->frag, c->frags, "x", 1);
  }
  {
    /* The header claims more payload than there is. */
    size_t mlen;
    unsigned char *m = craft (VC_MSG_MAGIC, VC_PROTO_VERSION, VC_MSG_UPDATE,
                              epoch, 1, 0, 1, "xyz", 3, &mlen);
    broadcast (s, &s->node[1], m, mlen - 1);
    free (m);
  }
  assert_rejected (s, rejected, 10);

  /* Fragments out of sequence: a middle one first, then a gap, then a
   * fragment of another message.
   */
  for (size_t k = 0; k < N_OF (out_of_sequence); k++) {
    const struct crafted *c = &out_of_sequence[k];
    inject (s, 1, VC_MSG_MAGIC, VC_PROTO_VERSION, VC_MSG_UPDATE, epoch, c->msgid,
            c->frag, c->frags, c->payload, strlen (c->payload));
  }
  assert_rejected (s, rejected, 13);

  /* Messages of another epoch, or from outside the group: ignored. */
  inject (s, 1, VC_MSG_MAGIC, VC_PROTO_VERSION, VC_MSG_UPDATE, epoch + 1, 60, 0, 1,
          "P\tx\tq\n", 6);
  {
    struct node stranger = { .nodeid = 99, .pid = 99, .part = 0 };
    CLEANUP_FREE char *payload = vc_printf ("P\tweb%%201\tq\n%s", doc_a);
    size_t mlen;
    unsigned char *m = craft (VC_MSG_MAGIC, VC_PROTO_VERSION, VC_MSG_UPDATE,
                              epoch, 61, 0, 1, payload, strlen (payload), &mlen);
    broadcast (s, &stranger, m, mlen);
    free (m);
  }
  assert_rejected (s, rejected, 13);

  /* Bad updates: not XML, another domain's document, then (the table) no
   * domain, bad operation, bad escape, truncated.
   */
  inject_ok (s, 1, VC_MSG_UPDATE, "P\tweb%201\tq\nthis is not XML <<<");
  inject_ok (s, 1, VC_MSG_UPDATE, "P\tweb%201\tq\n<virtckpt-domain format=\"1\"/>");
  {
    CLEANUP_FREE char *payload = vc_printf ("P\tdb\tq\n%s", doc_a);
    inject_ok (s, 1, VC_MSG_UPDATE, payload);
  }
  for (size_t k = 0; k < N_OF (bad_updates); k++)
    inject_ok (s, 1, VC_MSG_UPDATE, bad_updates[k]);
  assert_rejected (s, rejected, 23);
  /* DOC, SUMMARY and DONE outside a sync: ignored. */
  inject_ok (s, 1, VC_MSG_DOC, "web%201\ngarbage");
  inject_ok (s, 1, VC_MSG_SUMMARY, "garbage");
  inject_ok (s, 1, VC_MSG_DONE, "");
  inject_ok (s, 1, VC_MSG_SYNC_START, "not a view");
  assert_rejected (s, rejected, 23);
  for (size_t i = 0; i < s->n; i++) {
    assert_int_equal (s->node[i].r.state, VC_REPLICA_SYNCED);
    assert_true (store_digest (s, i, NULL) == good);
    assert_false (version_of (s, i, DOM_B, &(struct version) { 0 }));
  }

  /* The next good update, in fragments, from the member whose name the
   * garbage carried, is applied everywhere.
   */
  assert_int_equal (vc_replica_submit (&s->node[1].r, 2, DOM_C, big, len), 0);
  run (s);
  assert_int_equal (s->node[1].ncalls, 1);
  assert_int_equal (s->node[1].calls[0].status, 0);
  for (size_t i = 0; i < s->n; i++)
    assert_version (s, i, DOM_C, 1, 2, "big-c1");
  assert_stores_identical (s);
  assert_rejected (s, rejected, 23);
  /* A sync makes the versions each document's base. */
  confchg (s, 0);
  run (s);
  good = store_digest (s, 0, NULL);

  /* During a sync: garbage summaries and documents. */
  confchg (s, 0);
  assert_true (step (s, 0));    /* SYNC_START */
  for (size_t i = 0; i < s->n; i++)
    assert_int_equal (s->node[i].r.state, VC_REPLICA_SYNCING);
  inject_ok (s, 1, VC_MSG_SUMMARY, "garbage line without tabs\n%zz\t1\n");
  inject_ok (s, 2, VC_MSG_SUMMARY, "x\tnotanumber\t1\tq-\t0\t0\n");
  assert_rejected (s, rejected, 25);
  /* A document with a bad name, not XML, of another domain. */
  inject_ok (s, 1, VC_MSG_DOC, "web%2");
  inject_ok (s, 1, VC_MSG_DOC, "web%201\nnot XML");
  {
    CLEANUP_FREE char *payload = vc_printf ("db\n%s", doc_a);
    inject_ok (s, 1, VC_MSG_DOC, payload);
  }
  assert_rejected (s, rejected, 28);
  run (s);
  assert_all_synced (s);
  assert_rejected (s, rejected, 28);
  for (size_t i = 0; i < s->n; i++)
    assert_true (store_digest (s, i, NULL) == good);

  /* Still working. */
  submit (s, 2, 3, DOM_B, "b", 1);
  run (s);
  assert_int_equal (s->node[2].ncalls, 1);
  assert_int_equal (s->node[2].calls[0].status, 0);
  for (size_t i = 0; i < s->n; i++)
    assert_version (s, i, DOM_B, 1, 3, "b-c1");
  assert_stores_identical (s);
}

/* A submitted document that no member accepts fails for its submitter. */
static void
test_submit_rejected_document (void **state)
{
  struct sim *s = *state;
  static const char junk[] = "<not-a-store-document/>";

  start_all (s);
  assert_int_equal (vc_replica_submit (&s->node[1].r, 77, DOM_A, junk,
                                       strlen (junk)), 0);
  run (s);
  assert_int_equal (s->node[1].ncalls, 1);
  assert_int_equal (s->node[1].calls[0].cookie, 77);
  assert_int_equal (s->node[1].calls[0].status, -1);
  for (size_t i = 0; i < s->n; i++) {
    assert_false (version_of (s, i, DOM_A, &(struct version) { 0 }));
    assert_int_equal (s->node[i].r.rejected, 1);
  }
}

/* --- 8. submits before the sync, and going offline -------------------------------- */

static void
test_submit_before_sync_and_offline (void **state)
{
  struct sim *s = *state;

  /* Not in the group yet: refused. */
  errno = 0;
  assert_int_equal (vc_replica_submit (&s->node[0].r, 1, DOM_A, "x", 1), -1);
  assert_int_equal (errno, ENOTCONN);

  /* Syncing: accepted, but completed only once synced, step by step. */
  confchg (s, 0);
  submit (s, 1, 2, DOM_A, "early", 1);
  forget (s, 2, 3, DOM_B);
  for (size_t steps = 0;; steps++) {
    bool progress = false;
    for (size_t i = 0; i < s->n; i++) {
      progress |= step (s, i);
      for (size_t k = 0; k < s->n; k++)
        for (size_t c = 0; c < s->node[k].ncalls; c++)
          assert_true (s->node[k].calls[c].synced);
    }
    if (!progress)
      break;
    assert_true (steps < MAX_STEPS);
  }
  assert_all_synced (s);
  assert_int_equal (s->node[1].ncalls, 1);
  assert_int_equal (s->node[1].calls[0].status, 0);
  assert_int_equal (s->node[2].ncalls, 1);
  assert_int_equal (s->node[2].calls[0].status, 0);
  for (size_t i = 0; i < s->n; i++) {
    assert_version (s, i, DOM_A, 1, 2, "early-c1");
    struct version v;
    assert_true (version_of (s, i, DOM_B, &v));
    assert_true (v.deleted);
  }

  /* A membership change; n3 submits while syncing, then loses its
   * connection before the sync ends: the submit fails, once.
   */
  confchg (s, 0);
  submit (s, 2, 4, DOM_C, "lost", 1);
  assert_true (step (s, 0));
  assert_int_equal (s->node[2].ncalls, 1);
  vc_replica_offline (&s->node[2].r, "corosync went away");
  assert_int_equal (s->node[2].ncalls, 2);
  assert_int_equal (s->node[2].calls[1].cookie, 4);
  assert_int_equal (s->node[2].calls[1].status, -1);
  assert_int_equal (s->node[2].r.state, VC_REPLICA_OFFLINE);
  assert_int_equal (s->node[2].r.out.len, 0);
  errno = 0;
  assert_int_equal (vc_replica_submit (&s->node[2].r, 5, DOM_C, "x", 1), -1);
  assert_int_equal (errno, ENOTCONN);

  /* A submit queued while synced, then offline before it went round. */
  s->node[2].up = false;
  confchg (s, 0);
  run (s);
  assert_all_synced (s);
  submit (s, 1, 6, DOM_C, "queued", 1);
  vc_replica_offline (&s->node[1].r, "gone");
  assert_int_equal (s->node[1].ncalls, 2);
  assert_int_equal (s->node[1].calls[1].cookie, 6);
  assert_int_equal (s->node[1].calls[1].status, -1);
  run (s);
  assert_int_equal (s->node[1].ncalls, 2);
  for (size_t i = 0; i < s->n; i++)
    assert_false (version_of (s, i, DOM_C, &(struct version) { 0 }));
  s->node[2].up = true;
}

/* --- 9. a stale SYNC_START ---------------------------------------------------------- */

/* Delivers everything, one message at a time, checking after each that
 * every member's epoch is 0 or the one its leader opened at the last
 * membership change.
 */
static void
run_checking_epochs (struct sim *s)
{
  size_t steps = 0;
  bool progress = true;

  while (progress) {
    progress = false;
    for (size_t i = 0; i < s->n; i++) {
      if (!step (s, i))
        continue;
      progress = true;
      assert_true (++steps < MAX_STEPS);
      for (size_t k = 0; k < s->n; k++) {
        struct node *n = &s->node[k];
        if (n->up && n->r.epoch != 0 && n->r.epoch != s->opened[n->part])
          fail_msg ("after %zu deliveries node %zu is in epoch %016" PRIx64
                    ", not in the current one %016" PRIx64, steps, k + 1,
                    n->r.epoch, s->opened[n->part]);
      }
    }
  }
}

static void
test_stale_sync_start (void **state)
{
  struct sim *s = *state;

  /* n1 and n2 form a group; before anything is delivered n3 joins: the
   * leader's first SYNC_START, for the view {n1,n2}, is stale.
   */
  s->node[2].up = false;
  confchg (s, 0);
  s->node[2].up = true;
  confchg (s, 0);
  run_checking_epochs (s);
  assert_all_synced (s);
  for (size_t i = 0; i < s->n; i++) {
    assert_int_equal (s->node[i].r.syncs, 1);
    assert_int_equal (s->node[i].r.members.len, 3);
  }
  submit (s, 1, 1, DOM_A, "a", 1);
  run (s);
  for (size_t i = 0; i < s->n; i++)
    assert_version (s, i, DOM_A, 1, 2, "a-c1");
  assert_stores_identical (s);
}

/* The same with a view that comes back: {n1,n2,n3}, then {n1,n2} | {n3},
 * then {n1,n2,n3} again, before anything was delivered.  The first
 * SYNC_START names the same member list as the last one.
 */
static void
test_stale_sync_start_same_view (void **state)
{
  struct sim *s = *state;

  confchg (s, 0);
  s->node[2].part = 1;
  confchg (s, 0);
  confchg (s, 1);
  s->node[2].part = 0;
  confchg (s, 0);
  run_checking_epochs (s);
  assert_all_synced (s);
  for (size_t i = 0; i < s->n; i++)
    assert_int_equal (s->node[i].r.syncs, 1);
  submit (s, 1, 1, DOM_A, "a", 1);
  run (s);
  for (size_t i = 0; i < s->n; i++)
    assert_version (s, i, DOM_A, 1, 2, "a-c1");
  assert_stores_identical (s);
}


/* --- 10. the wire and the plan, alone ------------------------------------------------ */

/* The header's bytes are the protocol: members of different builds must
 * read each other.
 */
static void
test_wire_header_layout (void **state)
{
  static const unsigned char expected[VC_WIRE_HEADER_SIZE] = {
    0x56, 0x43, 0x4b, 0x44,                             /* magic "VCKD" */
    0x01, 0x00,                                         /* version */
    0x04, 0x00,                                         /* type */
    0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,     /* epoch */
    0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11,     /* msgid */
    0x02, 0x00, 0x00, 0x00,                             /* frag */
    0x03, 0x00, 0x00, 0x00,                             /* frags */
    0x05, 0x00, 0x00, 0x00,                             /* len */
    0x00, 0x00, 0x00, 0x00,                             /* reserved */
  };
  const struct vc_wire_header h = {
    .magic = VC_MSG_MAGIC, .version = VC_PROTO_VERSION, .type = VC_MSG_UPDATE,
    .epoch = UINT64_C (0x0102030405060708), .msgid = UINT64_C (0x1112131415161718),
    .frag = 2, .frags = 3, .len = 5,
  };
  unsigned char buf[VC_WIRE_HEADER_SIZE];
  struct vc_wire_header back;

  memset (buf, 0xff, sizeof buf);
  vc_wire_put_header (buf, &h);
  assert_memory_equal (buf, expected, sizeof expected);
  vc_wire_get_header (expected, &back);
  assert_true (back.magic == h.magic && back.version == h.version &&
               back.type == h.type && back.epoch == h.epoch &&
               back.msgid == h.msgid && back.frag == h.frag &&
               back.frags == h.frags && back.len == h.len);
}

/* One domain's entries, as the members' summaries give them. */
struct plan_case {
  const char *what;
  size_t n;
  struct vc_version v[3];
  size_t winner;                /* index in v */
  bool conflict[3];             /* v[k] lost to a change made apart */
};

#define V(g, n, noq, bg, bn) { .generation = g, .node = n, .without_quorum = noq, \
                               .base_generation = bg, .base_node = bn }

static const struct plan_case plan_cases[] = {
  { "nothing changed: the newest", 2,
    { V (1, 1, false, 1, 1), V (2, 2, false, 2, 2) }, 1, { false } },
  { "a change on top of the other", 2,
    { V (2, 1, false, 1, 1), V (1, 1, false, 1, 1) }, 0, { false } },
  { "both changed: quorum wins", 2,
    { V (2, 1, true, 1, 1), V (2, 2, false, 1, 1) }, 1, { true, false } },
  { "both changed with quorum: higher node wins", 3,
    { V (2, 1, false, 1, 1), V (2, 3, false, 1, 1), V (1, 1, false, 1, 1) }, 1,
    { true, false, false } },
  { "a change without quorum on top of the other", 2,
    { V (2, 3, true, 1, 1), V (1, 1, false, 1, 1) }, 0, { false } },
  /* Each claims to be written on top of the other: no candidate. */
  { "bases naming each other", 2,
    { V (2, 1, false, 3, 2), V (3, 2, false, 2, 1) }, 1, { false } },
  { "bases newer than both", 2,
    { V (1, 1, false, 5, 1), V (2, 2, false, 5, 2) }, 1, { false } },
};

static void
test_plan_winner (void **state)
{
  for (size_t c = 0; c < N_OF (plan_cases); c++) {
    const struct plan_case *pc = &plan_cases[c];
    struct vc_sync_entry e[3], *v[3];
    const struct vc_sync_entry *w;

    for (size_t k = 0; k < pc->n; k++) {
      e[k] = (struct vc_sync_entry) { .name = (char *) "d", .member = k, .v = pc->v[k] };
      v[k] = &e[k];
    }
    w = vc_plan_winner (v, pc->n);
    if (w != &e[pc->winner])
      fail_msg ("%s: winner %td, expected %zu", pc->what, w ? w - e : -1, pc->winner);
    for (size_t k = 0; k < pc->n; k++)
      if (vc_plan_conflict (v, pc->n, &e[k], w) != pc->conflict[k])
        fail_msg ("%s: entry %zu %s a conflict", pc->what, k,
                  pc->conflict[k] ? "is not" : "is");
  }
}

/* Writes domain's document into node i's store (node i is down) with
 * version v, as if it had been written so.
 */
static void
plant (struct sim *s, size_t i, const char *domain, const char *tag,
       struct vc_version v)
{
  struct vc_store st;
  struct vc_chain c;
  size_t len;
  char *err = NULL;
  CLEANUP_FREE char *text = make_doc (domain, tag, 1, 0, &len);

  assert_false (s->node[i].up);
  if (vc_document_parse (text, len, &c, &err) == -1)
    fail_msg ("%s", err);
  c.version = v;
  assert_int_equal (vc_store_open (&st, s->node[i].dir, false), 0);
  assert_int_equal (vc_store_lock (&st), 0);
  assert_int_equal (vc_store_save (&st, &c), 0);
  vc_chain_clear (&c);
  vc_store_close (&st);
}

/* The planner picks a winner even when no version qualifies as one
 * (before, the sync dereferenced NULL): every member ends with it.  The
 * store now refuses n2's document (its version is older than its base)
 * as damaged, so n3's replaces it; vc_plan_winner's fallback itself is
 * in the table above.
 */
static void
test_plan_without_candidate (void **state)
{
  struct sim *s = *state;
  const struct vc_version x2 = V (2, 1, false, 3, 2), x3 = V (3, 2, false, 2, 1);

  node_stop (&s->node[1]);
  node_stop (&s->node[2]);
  plant (s, 1, DOM_A, "n2", x2);
  plant (s, 2, DOM_A, "n3", x3);
  node_start (&s->node[1], 2000);
  node_start (&s->node[2], 3000);
  start_all (s);
  assert_stores_identical (s);
  for (size_t i = 0; i < s->n; i++) {
    assert_version (s, i, DOM_A, 3, 2, "n3-c1");
    assert_int_equal (s->node[i].r.rejected, 0);
  }
}

#undef V

/* --- 10. robust to any peer input and any stored document -------------------- */

/* What capture does while the daemon is down: counts its generation from
 * the document it can load (a tombstone hides it) and saves through the
 * store, which flags the write as unreplicated.
 */
static void
capture_while_down (struct sim *s, size_t i, const char *domain, const char *tag)
{
  struct vc_store st;
  struct vc_chain stored, live;
  size_t len;
  char *err = NULL;
  CLEANUP_FREE char *text = make_doc (domain, tag, 1, 0, &len);
  int r;

  assert_false (s->node[i].up);
  setenv ("VIRTCKPT_NO_DAEMON", "1", 1);
  assert_int_equal (vc_store_open_cli (&st, s->node[i].dir, true, false), 0);
  assert_true (st.unreplicated);
  assert_int_equal (vc_store_lock (&st), 0);
  r = vc_store_load (&st, domain, &stored);
  assert_true (r == 0 || r == 1);
  if (vc_document_parse (text, len, &live, &err) == -1)
    fail_msg ("%s", err);
  live.version.generation = (r == 0 ? stored.version.generation : 0) + 1;
  live.version.node = 0;
  assert_int_equal (vc_store_save (&st, &live), 0);
  vc_chain_clear (&live);
  if (r == 0)
    vc_chain_clear (&stored);
  vc_store_close (&st);
  unsetenv ("VIRTCKPT_NO_DAEMON");
}

/* A domain forgotten, then captured on two nodes while their daemons
 * were down.  Both captures were counted from nothing (the tombstone is
 * hidden from capture) and written on top of the tombstone: generation 1
 * over a base of 2, which no planner can order (before, every member
 * crashed; with the fallback, the tombstone won and both captures were
 * lost without a conflict).  Now each write goes above what it replaces:
 * one capture wins, the other is a conflict kept by its node.
 */
static void
test_forgotten_then_captured_while_down (void **state)
{
  struct sim *s = *state;
  CLEANUP_FREE char *conflicts = NULL;

  start_all (s);
  submit (s, 0, 1, DOM_A, "a0", 1);
  run (s);
  forget (s, 0, 2, DOM_A);
  run (s);
  confchg (s, 0);               /* the tombstone becomes everyone's base */
  run (s);
  for (size_t i = 0; i < s->n; i++)
    assert_int_equal (vc_store_mark_replica (&s->node[i].store, s->node[i].nodeid), 0);

  node_stop (&s->node[1]);
  node_stop (&s->node[2]);
  confchg (s, 0);
  run (s);
  capture_while_down (s, 1, DOM_A, "n2");
  capture_while_down (s, 2, DOM_A, "n3");
  /* Each stored capture is readable and above the tombstone it replaced. */
  for (size_t i = 1; i < 3; i++) {
    struct vc_store st;
    struct vc_chain c;
    assert_int_equal (vc_store_open (&st, s->node[i].dir, false), 0);
    assert_int_equal (vc_store_load (&st, DOM_A, &c), 0);
    assert_int_equal (c.version.generation, 3);
    assert_true (c.version.without_quorum);
    assert_int_equal (c.version.base_generation, 2);
    vc_chain_clear (&c);
    vc_store_close (&st);
  }

  node_start (&s->node[1], 2000);
  node_start (&s->node[2], 3000);
  confchg (s, 0);
  run (s);
  assert_all_synced (s);
  assert_stores_identical (s);
  for (size_t i = 0; i < s->n; i++) {
    assert_version (s, i, DOM_A, 3, 3, "n3-c1");
    assert_true (status_has (s, i, "conflicts: 1\n"));
    assert_int_equal (s->node[i].r.rejected, 0);
  }
  conflicts = vc_printf ("%s/conflicts", s->node[1].dir);
  assert_int_equal (count_dir (conflicts), 1);
}

/* A well-formed message of the current epoch from node i, in as many
 * fragments as it takes.
 */
static void
inject_whole (struct sim *s, size_t i, uint16_t type, const char *payload)
{
  vc_outmsg_vector out = empty_vector;

  assert_int_equal (vc_wire_fragment (&out, type, s->node[i].r.epoch,
                                      9000 + s->delivered, payload,
                                      strlen (payload)), 0);
  for (size_t k = 0; k < out.len; k++) {
    broadcast (s, &s->node[i], out.ptr[k].buf, out.ptr[k].len);
    free (out.ptr[k].buf);
  }
  vc_outmsg_vector_reset (&out);
}

/* Summaries one member crafts.  Each is rejected whole, once per sender
 * and epoch (it is delivered twice); the sync ends everywhere with the
 * documents the honest members hold.
 */
static void
test_crafted_summaries (void **state)
{
  struct sim *s = *state;
  static const struct {
    const char *what, *payload;
  } cases[] = {
    /* Both claim to be written on top of the other, and on top of the
     * honest members' version: before, no candidate (NULL winner).
     */
    { "names listed twice, bases naming each other",
      "web%201\t2\t3\tq-\t3\t3\nweb%201\t3\t3\tq-\t2\t3\n" },
    { "a name listed twice", "db\t5\t3\tq-\t4\t3\ndb\t5\t3\tq-\t4\t3\n" },
    { "base above the generation", "web%201\t1\t3\tq-\t2\t1\n" },
    { "same generation as the base, another writer", "web%201\t1\t3\tq-\t1\t1\n" },
    { "unknown flags", "web%201\t9\t3\txy\t1\t1\n" },
    { "a signed number", "web%201\t-1\t3\tq-\t1\t1\n" },
    { "a node id over 32 bits", "web%201\t9\t4294967296\tq-\t1\t1\n" },
    { "a seventh field", "web%201\t9\t3\tq-\t1\t1\textra\n" },
    { "a good line, then a bad one", "zz\t9\t3\tq-\t1\t1\nweb%201\t1\t3\tq-\t2\t1\n" },
    { "too many lines", NULL },
  };

  start_all (s);
  submit (s, 0, 1, DOM_A, "a", 1);
  run (s);
  confchg (s, 0);
  run (s);
  for (size_t k = 0; k < N_OF (cases); k++) {
    uint64_t rejected[NODES];
    CLEANUP_FREE char *many = NULL;
    const char *payload = cases[k].payload;

    if (payload == NULL) {
      size_t len = 0;
      FILE *fp = open_memstream (&many, &len);
      assert_non_null (fp);
      for (size_t i = 0; i <= VC_SUMMARY_MAX_ENTRIES; i++)
        fprintf (fp, "d%zu\t2\t3\tq-\t1\t1\n", i);
      fclose (fp);
      payload = many;
    }
    for (size_t i = 0; i < s->n; i++)
      rejected[i] = s->node[i].r.rejected;
    confchg (s, 0);
    assert_true (step (s, 0));  /* SYNC_START: n3 queues its own summary */
    inject_whole (s, 2, VC_MSG_SUMMARY, payload);
    inject_whole (s, 2, VC_MSG_SUMMARY, payload);
    run (s);
    assert_all_synced (s);
    for (size_t i = 0; i < s->n; i++) {
      struct version v;
      if (s->node[i].r.rejected != rejected[i] + 1)
        fail_msg ("%s: node %zu rejected %" PRIu64 " messages, expected 1",
                  cases[k].what, i + 1, s->node[i].r.rejected - rejected[i]);
      assert_non_null (strstr (s->node[i].r.last_error, "summary of node 3"));
      assert_version (s, i, DOM_A, 1, 1, "a-c1");
      assert_false (version_of (s, i, DOM_B, &v));
      assert_false (version_of (s, i, "zz", &v));
      assert_false (version_of (s, i, "d0", &v));
    }
    assert_stores_identical (s);
  }
}

/* A partition in which both sides change many domains: a sync keeps at
 * most VC_CONFLICTS_PER_SYNC conflicts (copies, log lines), counts the
 * others, and the status shows the latest VC_STATUS_CONFLICTS.
 */
static void
test_conflicts_bounded (void **state)
{
  struct sim *s = *state;
  const size_t n = VC_CONFLICTS_PER_SYNC + 5;
  CLEANUP_FREE char *conflicts = NULL;
  char name[32];

  start_all (s);
  partition_1_23 (s);
  for (size_t d = 0; d < n; d++) {
    snprintf (name, sizeof name, "dom%03zu", d);
    submit (s, 0, 100 + d, name, "minority", 1);
    submit (s, 1, 1000 + d, name, "majority", 1);
  }
  run (s);
  heal (s);
  assert_stores_identical (s);
  conflicts = vc_printf ("%s/conflicts", s->node[0].dir);
  assert_int_equal (count_dir (conflicts), VC_CONFLICTS_PER_SYNC);
  for (size_t i = 0; i < s->n; i++) {
    CLEANUP_FREE char *st = vc_replica_status (&s->node[i].r);
    CLEANUP_FREE char *total = vc_printf ("conflicts: %zu\n", n);
    CLEANUP_FREE char *more = vc_printf ("conflict: ... %zu more (see the system log)\n",
                                         n - VC_STATUS_CONFLICTS);
    size_t lines = 0;
    for (const char *p = st; (p = strstr (p, "\nconflict: ")) != NULL; p++)
      lines++;
    assert_non_null (strstr (st, total));
    assert_non_null (strstr (st, "conflicts-not-kept: 5\n"));
    assert_non_null (strstr (st, more));
    assert_int_equal (lines, VC_STATUS_CONFLICTS + 1);
    snprintf (name, sizeof name, "dom%03zu", n - 1);
    assert_version (s, i, name, 1, 2, "majority-c1");
  }
}

/* A domain name with line breaks can not pass for a status line: the
 * status escapes control characters, and its state is read from its own
 * line.
 */
static void
test_status_escapes_values (void **state)
{
  struct sim *s = *state;
  const char *evil = "x\nstate: synced\nlast-error: -\\";
  CLEANUP_FREE char *st = NULL, *state_value = NULL, *conflict = NULL;

  start_all (s);
  partition_1_23 (s);
  submit (s, 0, 1, evil, "minority", 1);
  submit (s, 1, 2, evil, "majority", 1);
  run (s);
  heal (s);
  /* A new sync starts: the conflict line is still shown. */
  confchg (s, 0);
  st = vc_replica_status (&s->node[1].r);
  assert_non_null (st);
  assert_null (strstr (st, "\nstate: synced\n"));
  state_value = vc_kv_get (st, "state");
  assert_string_equal (state_value, "syncing");
  conflict = vc_kv_get (st, "conflict");
  assert_non_null (conflict);
  assert_non_null (strstr (conflict, "x\\x0astate: synced\\x0alast-error: -\\x5c: version"));
  run (s);
  assert_all_synced (s);
}

/* KEY: VALUE lines: escaped when written, the first line of a key read. */
static void
test_kv_lines (void **state)
{
  static const struct {
    const char *value, *written;
  } put[] = {
    { "plain", "k: plain\n" },
    { "a\nb", "k: a\\x0ab\n" },
    { "tab\there\r", "k: tab\\x09here\\x0d\n" },
    { "back\\slash \x7f", "k: back\\x5cslash \\x7f\n" },
    { "caf\xc3\xa9", "k: caf\xc3\xa9\n" },
    { "", "k: \n" },
  };
  char long_value[VC_KV_VALUE_MAX + 100];
  CLEANUP_FREE char *long_written = NULL;
  static const struct {
    const char *text, *key, *value;
  } get[] = {
    { "state: syncing\nstate: synced\n", "state", "syncing" },
    { "xstate: synced\nstate: offline\n", "state", "offline" },
    { "state:synced\nstate: offline", "state", "offline" },
    { "states: synced\n", "state", NULL },
    { "", "state", NULL },
  };

  for (size_t k = 0; k < N_OF (put); k++) {
    CLEANUP_FREE char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream (&buf, &len);
    assert_non_null (fp);
    vc_kv_put (fp, "k", put[k].value);
    fclose (fp);
    assert_string_equal (buf, put[k].written);
  }
  /* A long value is cut: a status line stays short. */
  {
    size_t len = 0;
    FILE *fp = open_memstream (&long_written, &len);
    memset (long_value, 'n', sizeof long_value - 1);
    long_value[sizeof long_value - 1] = '\0';
    assert_non_null (fp);
    vc_kv_put (fp, "k", long_value);
    fclose (fp);
    assert_int_equal (len, strlen ("k: ") + VC_KV_VALUE_MAX + strlen ("...\n"));
  }
  for (size_t k = 0; k < N_OF (get); k++) {
    CLEANUP_FREE char *v = vc_kv_get (get[k].text, get[k].key);
    if (get[k].value == NULL)
      assert_null (v);
    else
      assert_string_equal (v, get[k].value);
  }
}

/* --- the traffic counters of the status ----------------------------------------- */

/* An update of a document of known size moves bytes-sent on the sender
 * and bytes-received on the others by exactly what went over the
 * (simulated) CPG: the payload and one header per fragment.
 */
static void
test_traffic_counters (void **state)
{
  struct sim *s = *state;
  uint64_t sent[NODES], received[NODES], msent[NODES], mreceived[NODES];
  size_t len;
  /* Over one fragment: the counters must see every one. */
  CLEANUP_FREE char *text = make_doc (DOM_A, "t", 1, VC_FRAGMENT_SIZE, &len);
  CLEANUP_FREE char *payload = vc_wire_update (DOM_A, text, len, true);
  size_t plen, frags, wire;

  assert_non_null (payload);
  plen = strlen (payload);
  frags = (plen + VC_FRAGMENT_SIZE - 1) / VC_FRAGMENT_SIZE;
  assert_int_equal (frags, 2);
  wire = plen + frags * VC_WIRE_HEADER_SIZE;

  start_all (s);
  /* The sync itself was traffic: every member sent its summary and DONE,
   * and received the others'.
   */
  for (size_t i = 0; i < s->n; i++) {
    struct vc_replica *r = &s->node[i].r;
    assert_true (r->messages_sent >= 2);
    assert_true (r->bytes_sent >= 2 * VC_WIRE_HEADER_SIZE);
    assert_true (r->messages_received >= 2 * (s->n - 1));
    sent[i] = r->bytes_sent;
    received[i] = r->bytes_received;
    msent[i] = r->messages_sent;
    mreceived[i] = r->messages_received;
  }

  assert_int_equal (vc_replica_submit (&s->node[1].r, 7, DOM_A, text, len), 0);
  run (s);
  assert_version (s, 0, DOM_A, 1, 2, "t-c1");
  assert_stores_identical (s);

  for (size_t i = 0; i < s->n; i++) {
    struct vc_replica *r = &s->node[i].r;
    bool sender = i == 1;
    CLEANUP_FREE char *line =
      vc_printf ("bytes-%s: %" PRIu64 "\n", sender ? "sent" : "received",
                 sender ? r->bytes_sent : r->bytes_received);

    assert_true (len > VC_FRAGMENT_SIZE);
    assert_int_equal (r->bytes_sent - sent[i], sender ? wire : 0);
    assert_int_equal (r->bytes_received - received[i], sender ? 0 : wire);
    assert_int_equal (r->messages_sent - msent[i], sender ? frags : 0);
    assert_int_equal (r->messages_received - mreceived[i], sender ? 0 : frags);
    assert_true (status_has (s, i, line));
  }
}

int
main (void)
{
#define T(fn) cmocka_unit_test_setup_teardown (fn, setup, teardown)
  const struct CMUnitTest tests[] = {
    T (test_join_and_update),
    T (test_late_joiner),
    T (test_updates_during_sync),
    T (test_interrupted_fragments),
    T (test_leader_leaves_during_sync),
    T (test_partition_conflict),
    T (test_partition_conflict_after_resync),
    T (test_conflict_copy_of_odd_names),
    T (test_partition_tombstone),
    T (test_write_while_daemon_down),
    T (test_damaged_document_repaired),
    T (test_malformed_input),
    T (test_submit_rejected_document),
    T (test_submit_before_sync_and_offline),
    T (test_stale_sync_start),
    T (test_stale_sync_start_same_view),
    T (test_wire_header_layout),
    T (test_plan_winner),
    T (test_plan_without_candidate),
    T (test_forgotten_then_captured_while_down),
    T (test_crafted_summaries),
    T (test_conflicts_bounded),
    T (test_status_escapes_values),
    T (test_kv_lines),
    T (test_traffic_counters),
  };
#undef T
  int r;

  vc_test_log_init ("test-replica");
  r = cmocka_run_group_tests_name ("replica", tests, NULL, NULL);
  vc_log_fini ();
  return r;
}
