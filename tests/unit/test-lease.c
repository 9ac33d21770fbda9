/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of helper/replica/lease.c: the per-domain leases, on a
 * small simulated CPG.
 *
 * Every member is a struct vc_leases.  What a member sends goes into one
 * global queue; deliver() hands each message, in queue order (one total
 * order, each sender's messages in its order, as CPG), to every member of
 * the sender's partition.  A membership change is given to the members
 * of a partition, then the sync: each sends its claims, they are
 * delivered, and the sync ends (vc_lease_synced) on each, as the replica
 * does once every member said DONE.
 *
 * The assertions look at every member's table and at the events each
 * member saw, not just at return codes.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replica/lease.h"
#include "unit-common.h"

#define NODES 3
#define MAX_MSGS 1024
#define MAX_EVENTS 64

#define DOM "web 1"             /* %-escaped on the wire */

struct msg {
  int from;
  enum vc_msg_type type;
  char *payload;
  size_t len;
};

struct event {
  enum vc_lease_event ev;
  char domain[64], job[64], holder_job[64];
  uint32_t from, holder;        /* node ids; holder 0: none */
};

static struct member {
  struct vc_leases l;
  int id;
  int partition;                /* members with the same one see each other */
  bool quorate;
  struct event events[MAX_EVENTS];
  size_t nevents;
} m[NODES];

static struct msg queue[MAX_MSGS];
static size_t qhead, qtail;

static int
send_fn (void *opaque, enum vc_msg_type type, const char *payload, size_t len)
{
  struct member *me = opaque;

  assert_true (qtail < MAX_MSGS);
  queue[qtail++] = (struct msg) { me->id, type, strndup (payload, len), len };
  return 0;
}

static void
event_fn (void *opaque, enum vc_lease_event ev, const struct vc_lease *req,
          const struct vc_lease *holder)
{
  struct member *me = opaque;
  struct event *e;

  assert_true (me->nevents < MAX_EVENTS);
  e = &me->events[me->nevents++];
  *e = (struct event) { .ev = ev, .from = req->holder.nodeid,
                        .holder = holder ? holder->holder.nodeid : 0 };
  snprintf (e->domain, sizeof e->domain, "%s", req->domain);
  snprintf (e->job, sizeof e->job, "%s", req->job);
  snprintf (e->holder_job, sizeof e->holder_job, "%s", holder ? holder->job : "");
}

static struct vc_member
member_of (int i)
{
  return (struct vc_member) { i + 1, 1000 + i };
}

/* Delivers everything queued, each message to the sender's partition. */
static void
deliver (void)
{
  while (qhead < qtail) {
    struct msg *q = &queue[qhead++];
    for (int i = 0; i < NODES; i++) {
      if (m[i].partition != m[q->from].partition)
        continue;
      if (q->type == VC_MSG_LEASE)
        vc_lease_deliver (&m[i].l, member_of (q->from), q->payload, q->len);
      else if (q->type == VC_MSG_CLAIMS)
        vc_lease_claims (&m[i].l, member_of (q->from), q->payload, q->len);
      else
        fail_msg ("unexpected message type %d", q->type);
    }
    free (q->payload);
  }
  qhead = qtail = 0;
}

/* A membership change in partition p (its members as they are now),
 * with messages sent before it (queued) lost, then its sync.
 * synced: also end the sync.
 */
static void
view (int p, bool synced)
{
  struct vc_member list[NODES];
  size_t n = 0;

  /* Messages the change swallowed: sent in the old view, not delivered. */
  for (size_t i = qhead; i < qtail; i++)
    free (queue[i].payload);
  qhead = qtail = 0;
  for (int i = 0; i < NODES; i++)
    if (m[i].partition == p)
      list[n++] = member_of (i);
  for (int i = 0; i < NODES; i++)
    if (m[i].partition == p) {
      vc_lease_view (&m[i].l, list, n);
      vc_lease_sync_start (&m[i].l);
    }
  if (!synced)
    return;
  deliver ();
  for (int i = 0; i < NODES; i++)
    if (m[i].partition == p)
      vc_lease_synced (&m[i].l);
  deliver ();
}

static void
end_sync (int p)
{
  deliver ();
  for (int i = 0; i < NODES; i++)
    if (m[i].partition == p)
      vc_lease_synced (&m[i].l);
  deliver ();
}

static int
setup (void **state)
{
  memset (m, 0, sizeof m);
  for (int i = 0; i < NODES; i++) {
    m[i].id = i;
    vc_lease_init (&m[i].l, member_of (i), event_fn, send_fn, &m[i]);
    m[i].l.quorate = true;
  }
  view (0, true);
  return 0;
}

static int
teardown (void **state)
{
  for (size_t i = qhead; i < qtail; i++)
    free (queue[i].payload);
  qhead = qtail = 0;
  for (int i = 0; i < NODES; i++)
    vc_lease_free (&m[i].l);
  return 0;
}

/* Every member of partition p agrees: domain held by node (0: free) for job. */
static void
assert_holder (int p, const char *domain, uint32_t node, const char *job)
{
  for (int i = 0; i < NODES; i++) {
    const struct vc_lease *h;
    if (m[i].partition != p)
      continue;
    h = vc_lease_holder (&m[i].l, domain);
    if (node == 0) {
      assert_null (h);
      continue;
    }
    assert_non_null (h);
    assert_int_equal (h->holder.nodeid, node);
    assert_string_equal (h->job, job);
  }
}

static const struct event *
last_event (int i)
{
  assert_true (m[i].nevents > 0);
  return &m[i].events[m[i].nevents - 1];
}

static void
test_first_request_wins (void **state)
{
  vc_lease_acquire (&m[1].l, DOM, "job-b");
  vc_lease_acquire (&m[2].l, DOM, "job-c");
  deliver ();
  assert_holder (0, DOM, 2, "job-b");
  /* Every member saw the same decisions, in the same order. */
  for (int i = 0; i < NODES; i++) {
    assert_int_equal (m[i].nevents, 2);
    assert_int_equal (m[i].events[0].ev, VC_LEASE_GRANTED);
    assert_int_equal (m[i].events[0].from, 2);
    assert_int_equal (m[i].events[1].ev, VC_LEASE_DENIED);
    assert_int_equal (m[i].events[1].from, 3);
    assert_int_equal (m[i].events[1].holder, 2);
    assert_string_equal (m[i].events[1].holder_job, "job-b");
  }
  assert_int_equal (m[1].l.own.len, 1);
  assert_int_equal (m[2].l.own.len, 0);
  assert_int_equal (m[2].l.pending.len, 0);

  /* Released: the next request gets it. */
  vc_lease_release (&m[1].l, DOM, "job-b");
  deliver ();
  assert_holder (0, DOM, 0, NULL);
  assert_int_equal (last_event (0)->ev, VC_LEASE_RELEASED);
  vc_lease_acquire (&m[2].l, DOM, "job-c");
  deliver ();
  assert_holder (0, DOM, 3, "job-c");
  assert_int_equal (last_event (2)->ev, VC_LEASE_GRANTED);
}

static void
test_release_of_another_ignored (void **state)
{
  vc_lease_acquire (&m[0].l, DOM, "job-a");
  deliver ();
  /* Another member (or job) cannot release it. */
  vc_lease_release (&m[1].l, DOM, "job-a");
  vc_lease_release (&m[0].l, DOM, "job-x");
  deliver ();
  assert_holder (0, DOM, 1, "job-a");
  /* A request without quorum is denied, everywhere. */
  m[1].l.quorate = false;
  vc_lease_acquire (&m[1].l, "other", "job-b");
  deliver ();
  assert_holder (0, "other", 0, NULL);
  for (int i = 0; i < NODES; i++) {
    assert_int_equal (last_event (i)->ev, VC_LEASE_DENIED);
    assert_int_equal (last_event (i)->holder, 0);
  }
}

static void
test_holder_leaves (void **state)
{
  vc_lease_acquire (&m[0].l, DOM, "job-a");
  deliver ();
  assert_holder (0, DOM, 1, "job-a");
  /* Node 1 leaves: freed at the change, on both others, before the sync. */
  m[0].partition = 1;
  vc_lease_offline (&m[0].l);
  view (0, false);
  assert_holder (0, DOM, 0, NULL);
  /* A request during the sync waits for its end. */
  vc_lease_acquire (&m[2].l, DOM, "job-c");
  assert_int_equal (m[2].l.pending.len, 1);
  end_sync (0);
  assert_holder (0, DOM, 3, "job-c");
  assert_int_equal (last_event (1)->ev, VC_LEASE_GRANTED);
}

static void
test_joiner_gets_table (void **state)
{
  /* Node 3 is away while node 1 takes the lease. */
  m[2].partition = 1;
  vc_lease_offline (&m[2].l);
  view (0, true);
  vc_lease_acquire (&m[0].l, DOM, "job-a");
  deliver ();
  assert_null (vc_lease_holder (&m[2].l, DOM));
  /* It joins: the claims of the sync give it the table. */
  m[2].partition = 0;
  view (0, true);
  assert_holder (0, DOM, 1, "job-a");
  vc_lease_acquire (&m[2].l, DOM, "job-c");
  deliver ();
  assert_int_equal (last_event (2)->ev, VC_LEASE_DENIED);
  assert_int_equal (last_event (2)->holder, 1);
}

static void
test_deferred_in_order (void **state)
{
  vc_lease_acquire (&m[0].l, DOM, "job-a");
  deliver ();
  /* A change; during its sync node 1 releases and node 2 asks. */
  view (0, false);
  deliver ();
  vc_lease_release (&m[0].l, DOM, "job-a");
  m[1].l.syncing = false;       /* node 2 sends at once ... */
  vc_lease_acquire (&m[1].l, DOM, "job-b");
  m[1].l.syncing = true;        /* ... while its sync runs */
  deliver ();
  /* Still the old table (less who left: nobody) until the sync ends. */
  assert_int_equal (m[2].l.deferred.len, 2);
  end_sync (0);
  assert_holder (0, DOM, 2, "job-b");
}

static void
test_swallowed_request_resent (void **state)
{
  vc_lease_acquire (&m[1].l, DOM, "job-b");
  assert_int_equal (qtail - qhead, 1);
  /* A change before it was delivered: lost, sent again after the sync. */
  view (0, true);
  assert_holder (0, DOM, 2, "job-b");
  assert_int_equal (m[1].l.pending.len, 0);
}

static void
test_release_undoes_request_on_its_way (void **state)
{
  vc_lease_acquire (&m[1].l, DOM, "job-b");
  vc_lease_release (&m[1].l, DOM, "job-b");
  deliver ();
  assert_holder (0, DOM, 0, NULL);
  assert_int_equal (m[1].l.own.len, 0);
}

static void
test_partition_merge (void **state)
{
  /* Granted apart: node 1 alone, nodes 2 and 3 together. */
  m[0].partition = 1;
  view (1, true);
  view (0, true);
  vc_lease_acquire (&m[0].l, DOM, "job-a");
  vc_lease_acquire (&m[1].l, DOM, "job-b");
  vc_lease_acquire (&m[2].l, "db", "job-c");
  deliver ();
  assert_holder (1, DOM, 1, "job-a");
  assert_holder (0, DOM, 2, "job-b");
  /* Merged: the first claim delivered (node 1's, queued first) wins. */
  m[0].partition = 0;
  view (0, true);
  assert_holder (0, DOM, 1, "job-a");
  assert_holder (0, "db", 3, "job-c");
  assert_int_equal (m[1].l.own.len, 0);
  for (int i = 0; i < NODES; i++) {
    const struct event *e = last_event (i);
    assert_int_equal (e->ev, VC_LEASE_LOST);
    assert_int_equal (e->from, 2);
    assert_int_equal (e->holder, 1);
  }
}

static void
test_malformed_ignored (void **state)
{
  const char *bad[] = { "", "A", "A\tx", "A\t\tjob\tq", "A\tx%0\tjob\tq",
                        "A\tx\tjob\tq\textra", "X\tx\tjob\tq", "A\tx%00\tjob\tq" };

  for (size_t i = 0; i < VC_TEST_ROWS (bad); i++)
    for (int j = 0; j < NODES; j++)
      vc_lease_deliver (&m[j].l, member_of (0), bad[i], strlen (bad[i]));
  for (int j = 0; j < NODES; j++) {
    assert_int_equal (m[j].l.table.len, 0);
    assert_int_equal (m[j].nevents, 0);
  }
  assert_int_equal (vc_lease_acquire (&m[0].l, "", "job"), -1);
  assert_int_equal (vc_lease_acquire (&m[0].l, "x", ""), -1);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_first_request_wins, setup, teardown),
    cmocka_unit_test_setup_teardown (test_release_of_another_ignored, setup, teardown),
    cmocka_unit_test_setup_teardown (test_holder_leaves, setup, teardown),
    cmocka_unit_test_setup_teardown (test_joiner_gets_table, setup, teardown),
    cmocka_unit_test_setup_teardown (test_deferred_in_order, setup, teardown),
    cmocka_unit_test_setup_teardown (test_swallowed_request_resent, setup, teardown),
    cmocka_unit_test_setup_teardown (test_release_undoes_request_on_its_way, setup, teardown),
    cmocka_unit_test_setup_teardown (test_partition_merge, setup, teardown),
    cmocka_unit_test_setup_teardown (test_malformed_ignored, setup, teardown),
  };

  vc_test_log_init ("test-lease");
  return cmocka_run_group_tests (tests, NULL, NULL);
}
