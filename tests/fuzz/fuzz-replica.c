/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the replication state machine, driven through a
 * simulated CPG by what a confused or hostile peer could send.
 *
 * Three members, each with its own store in a scratch directory, run the
 * real replica code.  The input is a script of steps (fuzz-replica.h):
 * membership changes and partitions, deliveries of what the members
 * queued, messages injected under a member's identity or a stranger's
 * (with a well-formed header or raw), submits, restarts, quorum changes.
 * Delivery follows CPG: one total order, each message to every member of
 * the sender's partition.
 *
 * After every step: no crash, and each member's state is one it can be
 * in, its member list sorted, every message it queued has a header it
 * would itself accept, and no update is reported applied twice.  At the
 * end the partitions heal and no more hostile input arrives: the members
 * must stop sending, all be synced in one epoch, and hold the same
 * versions of the same documents.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/cleanup.h"
#include "fuzz-common.h"
#include "replica/replica.h"
#include "store/document.h"
#include "store/store.h"
#include "../unit/unit-common.h"

#define MEMBERS 3
/* Partitions: a member is in one of these, or offline. */
#define PARTS 3
#define MAX_COOKIES 256
/* Bounds that keep one input fast. */
#define MAX_STEPS 64
#define MAX_PAYLOAD 4096
/* Deliveries allowed for the healed group to go quiet. */
#define MAX_QUIET 20000

struct input {
  const uint8_t *p;
  size_t len;
};

struct member {
  uint32_t nodeid, pid;
  char *dir;
  struct vc_store store;
  struct vc_replica r;
  int part;
  bool up;
  bool applied[MAX_COOKIES];
};

struct sim {
  char *top;
  struct member m[MEMBERS];
  size_t delivered;
  uint64_t next_cookie;
};

static struct sim sim;
static void sim_cleanup (void);

/* Epochs are random in the daemon; here a counter, so that a saved input
 * replays the same way.
 */
static uint64_t next_random = 1;

ssize_t
getrandom (void *buf, size_t len, unsigned int flags)
{
  for (size_t i = 0; i < len; i++)
    ((unsigned char *) buf)[i] = (unsigned char) (next_random >> (8 * (i % 8)));
  next_random = next_random * 6364136223846793005u + 1442695040888963407u;
  return len;
}

/* --- the input -------------------------------------------------------------- */

static unsigned
get_u8 (struct input *in)
{
  if (in->len == 0)
    return 0;
  in->len--;
  return *in->p++;
}

static unsigned
get_u16 (struct input *in)
{
  unsigned v = get_u8 (in);
  return v | get_u8 (in) << 8;
}

static uint64_t
get_u64 (struct input *in)
{
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v |= (uint64_t) get_u8 (in) << (8 * i);
  return v;
}

/* Up to max bytes of the input, as they are. */
static const char *
get_bytes (struct input *in, size_t max, size_t *len)
{
  const char *p = (const char *) in->p;

  *len = max < in->len ? max : in->len;
  in->p += *len;
  in->len -= *len;
  return p;
}

/* --- the members ---------------------------------------------------------------- */

static void
applied_cb (void *opaque, uint64_t cookie, int status, const char *message)
{
  struct member *m = opaque;

  if (cookie >= MAX_COOKIES)
    fuzz_fail ("member %u: applied called for unknown cookie %" PRIu64,
               m->nodeid, cookie);
  if (m->applied[cookie])
    fuzz_fail ("member %u: update %" PRIu64 " reported applied twice",
               m->nodeid, cookie);
  m->applied[cookie] = true;
}

static void
member_start (struct member *m)
{
  if (vc_store_open (&m->store, m->dir, true) == -1)
    fuzz_fail ("cannot open the store %s", m->dir);
  m->pid++;
  memset (m->applied, 0, sizeof m->applied);
  vc_replica_init (&m->r, &m->store, m->nodeid, m->pid, applied_cb, m);
  vc_replica_set_quorate (&m->r, true);
  m->up = true;
}

static void
member_stop (struct member *m)
{
  vc_replica_free (&m->r);
  vc_store_close (&m->store);
  m->up = false;
}

static void
sim_setup (void)
{
  const char *shm = "/dev/shm";
  const char *tmp = getenv ("TMPDIR");

  fuzz_quiet_logs ();
  /* Stores are written many times a second: in memory if possible. */
  if (tmp == NULL || *tmp == '\0')
    setenv ("TMPDIR", access (shm, W_OK) == 0 ? shm : "/tmp", 1);
  sim.top = vc_test_mkdtemp ("fuzz-replica");
  if (sim.top == NULL)
    fuzz_fail ("cannot make a scratch directory");
  atexit (sim_cleanup);
  for (unsigned i = 0; i < MEMBERS; i++) {
    sim.m[i].nodeid = i + 1;
    sim.m[i].pid = 1000 * (i + 1);
    sim.m[i].dir = vc_printf ("%s/n%u", sim.top, i + 1);
  }
}

static void
sim_cleanup (void)
{
  for (unsigned i = 0; i < MEMBERS; i++)
    if (sim.m[i].up)
      member_stop (&sim.m[i]);
  vc_test_rmtree (sim.top);
}

/* --- the simulated CPG ------------------------------------------------------------- */

/* Delivers msg from (nodeid, pid) to every member of partition part. */
static void
broadcast (int part, uint32_t nodeid, uint32_t pid, const void *msg, size_t len)
{
  for (unsigned j = 0; j < MEMBERS; j++)
    if (sim.m[j].up && sim.m[j].part == part)
      vc_replica_deliver (&sim.m[j].r, nodeid, pid, msg, len);
  sim.delivered++;
}

static bool
step (unsigned i)
{
  struct member *src = &sim.m[i];
  struct vc_outmsg msg;

  if (!src->up || src->r.out.len == 0)
    return false;
  msg = src->r.out.ptr[0];
  vc_outmsg_vector_remove (&src->r.out, 0);
  broadcast (src->part, src->nodeid, src->pid, msg.buf, msg.len);
  free (msg.buf);
  return true;
}

/* Up to n deliveries, round robin; the number made. */
static size_t
deliver (size_t n)
{
  size_t done = 0;
  bool progress = true;

  while (progress && done < n) {
    progress = false;
    for (unsigned i = 0; i < MEMBERS && done < n; i++)
      if (step (i)) {
        progress = true;
        done++;
      }
  }
  return done;
}

/* A membership change of every partition, to its members. */
static void
confchg_all (void)
{
  for (int part = 0; part < PARTS; part++) {
    struct vc_member members[MEMBERS];
    size_t k = 0;
    for (unsigned i = 0; i < MEMBERS; i++)
      if (sim.m[i].up && sim.m[i].part == part)
        members[k++] = (struct vc_member) { sim.m[i].nodeid, sim.m[i].pid };
    for (unsigned i = 0; i < MEMBERS; i++)
      if (sim.m[i].up && sim.m[i].part == part)
        vc_replica_confchg (&sim.m[i].r, members, k);
  }
}


/* --- what the steps send ------------------------------------------------------------ */

static const char *const domains[] = { "web 1", "db", "caf\xc3\xa9%" };
#define NDOMAINS (sizeof domains / sizeof domains[0])

/* A valid document of domain with ncp checkpoints named TAG-cN. */
static char *
make_doc (const char *domain, unsigned tag, unsigned ncp, size_t *len)
{
  struct vc_chain chain = { .updated = 1764228000 };
  char *text;

  chain.domain = strdup (domain);
  for (unsigned i = 1; i <= ncp; i++) {
    struct vc_checkpoint c = {
      .name = vc_printf ("t%u-c%u", tag, i),
      .parent = i > 1 ? vc_printf ("t%u-c%u", tag, i - 1) : NULL,
      .created = 1764227000 + i,
    };
    c.xml = vc_printf ("<domaincheckpoint><name>%s</name>%s%s%s"
                       "<creationTime>%" PRId64 "</creationTime><disks>"
                       "<disk name='vda' checkpoint='bitmap' bitmap='%s'/>"
                       "</disks></domaincheckpoint>", c.name,
                       c.parent ? "<parent><name>" : "", c.parent ? c.parent : "",
                       c.parent ? "</name></parent>" : "", c.created, c.name);
    vc_checkpoint_vector_append (&chain.checkpoints, c);
  }
  text = vc_document_format (&chain, len);
  vc_chain_clear (&chain);
  return text;
}

/* The epoch a message into partition part would need to be heard. */
static uint64_t
epoch_of (int part)
{
  for (unsigned i = 0; i < MEMBERS; i++)
    if (sim.m[i].up && sim.m[i].part == part && sim.m[i].r.epoch)
      return sim.m[i].r.epoch;
  return 0;
}

/* Who a crafted message claims to come from: a member, or a stranger. */
static void
pick_sender (struct input *in, uint32_t *nodeid, uint32_t *pid, int *part)
{
  unsigned who = get_u8 (in) % (MEMBERS + 1);

  if (who == MEMBERS) {
    *nodeid = 99, *pid = 4242, *part = get_u8 (in) % PARTS;
    return;
  }
  *nodeid = sim.m[who].nodeid, *pid = sim.m[who].pid, *part = sim.m[who].part;
}

/* A message with a header the members accept (mostly), the payload from
 * the input: this gets past the header checks to the payload parsers.
 */
static void
inject (struct input *in)
{
  uint32_t nodeid, pid;
  int part;
  unsigned char *msg;
  struct vc_wire_header h = { .magic = VC_MSG_MAGIC, .version = VC_PROTO_VERSION };
  unsigned flags;
  size_t len;
  const char *payload;

  pick_sender (in, &nodeid, &pid, &part);
  h.type = get_u8 (in) % 6;
  flags = get_u8 (in);
  h.epoch = flags & 1 ? get_u64 (in) : epoch_of (part);
  h.msgid = flags & 2 ? get_u64 (in) : get_u16 (in);
  h.frags = flags & 4 ? get_u8 (in) % 4 : 1;
  h.frag = flags & 8 ? get_u8 (in) % 4 : 0;
  payload = get_bytes (in, get_u16 (in) % MAX_PAYLOAD, &len);
  h.len = flags & 16 ? get_u16 (in) : len;
  msg = malloc (VC_WIRE_HEADER_SIZE + len);
  if (msg == NULL)
    return;
  vc_wire_put_header (msg, &h);
  memcpy (msg + VC_WIRE_HEADER_SIZE, payload, len);
  broadcast (part, nodeid, pid, msg, VC_WIRE_HEADER_SIZE + len);
  free (msg);
}

/* Bytes as they are, header included. */
static void
inject_raw (struct input *in)
{
  uint32_t nodeid, pid;
  int part;
  size_t len;
  const char *bytes;

  pick_sender (in, &nodeid, &pid, &part);
  bytes = get_bytes (in, get_u16 (in) % MAX_PAYLOAD, &len);
  broadcast (part, nodeid, pid, bytes, len);
}

static void
submit (struct input *in)
{
  struct member *m = &sim.m[get_u8 (in) % MEMBERS];
  unsigned what = get_u8 (in);
  const char *domain = domains[what % NDOMAINS];
  uint64_t cookie = sim.next_cookie++ % MAX_COOKIES;
  CLEANUP_FREE char *text = NULL;
  size_t len = 0;

  if (!m->up)
    return;
  m->applied[cookie] = false;
  switch ((what >> 4) % 3) {
  case 0:                       /* a valid document */
    text = make_doc (domain, get_u8 (in), 1 + (what >> 6), &len);
    break;
  case 1: {                     /* whatever the input holds */
    const char *bytes = get_bytes (in, get_u16 (in) % MAX_PAYLOAD, &len);
    text = strndup (bytes, len);
    break;
  }
  case 2:                       /* a tombstone */
    break;
  }
  vc_replica_submit (&m->r, cookie, domain, text, text ? len : 0);
}

/* Partitions from two bits per member; then every partition changes. */
static void
repartition (struct input *in)
{
  unsigned bits = get_u8 (in);

  for (unsigned i = 0; i < MEMBERS; i++)
    sim.m[i].part = (bits >> (2 * i)) % PARTS;
  confchg_all ();
}

/* A daemon dies and comes back with a new pid: its partition sees both. */
static void
restart (struct input *in)
{
  struct member *m = &sim.m[get_u8 (in) % MEMBERS];

  if (m->up)
    member_stop (m);
  confchg_all ();
  member_start (m);
  confchg_all ();
}

static void
run_step (struct input *in)
{
  struct member *m;

  switch (get_u8 (in) % 8) {
  case 0: repartition (in); break;
  case 1: deliver (1 + get_u8 (in) % 32); break;
  case 2: inject (in); break;
  case 3: inject_raw (in); break;
  case 4: submit (in); break;
  case 5: restart (in); break;
  case 6:
    m = &sim.m[get_u8 (in) % MEMBERS];
    vc_replica_set_quorate (&m->r, !m->r.quorate);
    break;
  case 7:                       /* corosync goes away under a member */
    m = &sim.m[get_u8 (in) % MEMBERS];
    vc_replica_offline (&m->r, "connection lost");
    m->part = PARTS;            /* hears nothing until the next change */
    break;
  }
}

/* --- the properties ------------------------------------------------------------------ */

static void
check_member (const struct member *m)
{
  const struct vc_replica *r = &m->r;

  if (r->state != VC_REPLICA_OFFLINE && r->state != VC_REPLICA_SYNCING &&
      r->state != VC_REPLICA_SYNCED)
    fuzz_fail ("member %u: state %d", m->nodeid, (int) r->state);
  if (r->state == VC_REPLICA_SYNCED && r->epoch == 0)
    fuzz_fail ("member %u: synced outside any epoch", m->nodeid);
  for (size_t i = 1; i < r->members.len; i++) {
    struct vc_member a = r->members.ptr[i - 1], b = r->members.ptr[i];
    if (a.nodeid > b.nodeid || (a.nodeid == b.nodeid && a.pid >= b.pid))
      fuzz_fail ("member %u: member list not sorted or not unique", m->nodeid);
  }
  for (size_t i = 0; i < r->out.len; i++) {
    struct vc_wire_header h;
    if (r->out.ptr[i].len < VC_WIRE_HEADER_SIZE)
      fuzz_fail ("member %u queued a message shorter than a header", m->nodeid);
    vc_wire_get_header (r->out.ptr[i].buf, &h);
    if (!vc_wire_header_ok (&h, r->out.ptr[i].len))
      fuzz_fail ("member %u queued a message with a bad header", m->nodeid);
  }
}

/* One line per document: NAME GEN NODE DELETED. */
static char *
holdings (struct member *m)
{
  string_vector names = empty_vector;
  char *text = NULL;
  size_t size = 0;
  FILE *fp = open_memstream (&text, &size);

  if (fp == NULL || vc_store_list_any (&m->store, &names, true) == -1)
    fuzz_fail ("member %u: cannot list its store", m->nodeid);
  for (size_t i = 0; i < names.len; i++) {
    struct vc_chain c;
    if (vc_store_load_any (&m->store, names.ptr[i], &c) != 0) {
      fprintf (fp, "%s unreadable\n", names.ptr[i]);
      continue;
    }
    fprintf (fp, "%s %" PRIu64 " %" PRIu32 " %d\n", names.ptr[i],
             c.version.generation, c.version.node, c.version.deleted);
    vc_chain_clear (&c);
  }
  vc_string_vector_free (&names);
  fclose (fp);
  return text;
}

/* No more hostile input, one partition, quorum: the members converge. */
static void
heal (void)
{
  CLEANUP_FREE char *first = NULL;

  for (unsigned i = 0; i < MEMBERS; i++) {
    if (!sim.m[i].up)
      member_start (&sim.m[i]);
    sim.m[i].part = 0;
    vc_replica_set_quorate (&sim.m[i].r, true);
  }
  confchg_all ();
  if (deliver (MAX_QUIET) == MAX_QUIET)
    fuzz_fail ("the healed group never stops sending");
  for (unsigned i = 0; i < MEMBERS; i++) {
    check_member (&sim.m[i]);
    if (sim.m[i].r.state != VC_REPLICA_SYNCED ||
        sim.m[i].r.epoch != sim.m[0].r.epoch)
      fuzz_fail ("member %u is not synced in the healed group's epoch",
                 sim.m[i].nodeid);
    CLEANUP_FREE char *status = vc_replica_status (&sim.m[i].r);
    if (status == NULL || strncmp (status, "node: ", 6) != 0)
      fuzz_fail ("member %u: no status report", sim.m[i].nodeid);
    CLEANUP_FREE char *h = holdings (&sim.m[i]);
    if (first == NULL)
      first = strdup (h);
    else if (strcmp (first, h) != 0)
      fuzz_fail ("after a full sync member 1 holds\n%smember %u holds\n%s",
                 first, sim.m[i].nodeid, h);
  }
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct input in = { data, size };

  if (sim.top == NULL)
    sim_setup ();
  next_random = 1;
  sim.next_cookie = 0;
  for (unsigned i = 0; i < MEMBERS; i++) {
    vc_test_rmtree (sim.m[i].dir);
    sim.m[i].part = 0;
    member_start (&sim.m[i]);
  }
  confchg_all ();
  for (unsigned n = 0; n < MAX_STEPS && in.len > 0; n++) {
    run_step (&in);
    for (unsigned i = 0; i < MEMBERS; i++)
      if (sim.m[i].up)
        check_member (&sim.m[i]);
  }
  heal ();
  for (unsigned i = 0; i < MEMBERS; i++)
    member_stop (&sim.m[i]);
  return 0;
}
