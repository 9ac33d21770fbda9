/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of helper/store/remote-node.c: when virtckpt takes this host
 * for a Pacemaker Remote node, and which full nodes it tries, in which
 * order.
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
#include <unistd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "store/remote-node.h"
#include "store/store.h"
#include "unit-common.h"

static char *scratch;

static char *
path (const char *name)
{
  return vc_printf ("%s/%s", scratch, name);
}

static void
touch (const char *name)
{
  char *p = path (name);
  FILE *f = fopen (p, "w");

  assert_non_null (f);
  fclose (f);
  free (p);
}

static int
setup (void **state)
{
  (void) state;
  scratch = vc_test_mkdtemp ("remote-node");
  assert_non_null (scratch);
  char *store = path ("store");
  assert_int_equal (mkdir (store, 0700), 0);
  free (store);
  /* The host's own authkey does not count. */
  char *key = path ("authkey");
  setenv ("VIRTCKPT_AUTHKEY", key, 1);
  unsetenv ("VIRTCKPT_SERVERS");
  free (key);
  return 0;
}

static int
teardown (void **state)
{
  (void) state;
  vc_test_rmtree (scratch);
  free (scratch);
  return 0;
}

/* A process named pacemaker-remoted, as long as the returned pid lives. */
static pid_t
fake_remoted (void)
{
  int ready[2];
  char c;
  pid_t pid;

  assert_int_equal (pipe (ready), 0);
  pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0) {
    prctl (PR_SET_NAME, "pacemaker-remoted");
    if (write (ready[1], "x", 1) != 1)
      _exit (1);
    pause ();
    _exit (0);
  }
  assert_int_equal (read (ready[0], &c, 1), 1);
  close (ready[0]);
  close (ready[1]);
  return pid;
}

static void
test_which_host (void **state)
{
  char *store = path ("store"), *marker = path ("store/" VC_REPLICA_MARKER);
  /* This host's own packages: pacemaker-remote installed without
   * pacemaker makes it a remote node.  (A lab test running
   * pacemaker-remoted meanwhile would too: the host's /proc shows every
   * namespace's processes.)
   */
  bool host;
  pid_t pid;

  (void) state;
  /* No authkey: the embedded default, whatever runs. */
  pid = fake_remoted ();
  assert_false (vc_remote_node (store));
  kill (pid, SIGKILL);
  waitpid (pid, NULL, 0);
  /* Pacemaker's key alone says nothing: pacemaker-common makes one on
   * every node, and on a host alone.
   */
  touch ("authkey");
  host = vc_remote_node (store);
  /* pacemaker-remoted running here: a remote node, sample corosync.conf
   * or not...
   */
  touch ("corosync.conf");
  pid = fake_remoted ();
  assert_true (vc_remote_node (store));
  /* ...unless the store is a virtckptd replica (a full node whose
   * daemon is down).
   */
  touch ("store/" VC_REPLICA_MARKER);
  assert_false (vc_remote_node (store));
  unlink (marker);
  kill (pid, SIGKILL);
  waitpid (pid, NULL, 0);
  assert_int_equal (vc_remote_node (store), host);
  /* VIRTCKPT_SERVERS says so whatever else. */
  setenv ("VIRTCKPT_SERVERS", "n1", 1);
  assert_true (vc_remote_node (store));
  unsetenv ("VIRTCKPT_SERVERS");
  char *p = path ("corosync.conf");
  unlink (p);
  free (p);
  p = path ("authkey");
  unlink (p);
  free (p);
  free (store);
  free (marker);
}

/* servers as one sorted, space-separated string. */
static char *
sorted (string_vector *v)
{
  size_t len = 0;
  char *s;

  for (size_t i = 0; i < v->len; i++)
    for (size_t j = i + 1; j < v->len; j++)
      if (strcmp (v->ptr[j], v->ptr[i]) < 0) {
        char *t = v->ptr[i];
        v->ptr[i] = v->ptr[j];
        v->ptr[j] = t;
      }
  for (size_t i = 0; i < v->len; i++)
    len += strlen (v->ptr[i]) + 1;
  s = calloc (1, len + 1);
  for (size_t i = 0; i < v->len; i++) {
    strcat (s, v->ptr[i]);
    if (i + 1 < v->len)
      strcat (s, " ");
  }
  return s;
}

static void
test_servers_from_environment (void **state)
{
  string_vector v = empty_vector;
  char *s;

  (void) state;
  setenv ("VIRTCKPT_SERVERS", " n2:4000,n1\tn3 ,", 1);
  assert_int_equal (vc_remote_servers (&v), 0);
  assert_int_equal (v.len, 3);
  s = sorted (&v);
  assert_string_equal (s, "n1 n2:4000 n3");
  free (s);
  vc_string_vector_free (&v);
  setenv ("VIRTCKPT_SERVERS", " , ", 1);
  assert_int_equal (vc_remote_servers (&v), -1);
  assert_int_equal (v.len, 0);
  unsetenv ("VIRTCKPT_SERVERS");
}

/* A crm_node in PATH that prints what Pacemaker 2.1 prints. */
static void
fake_crm_node (const char *output, int status)
{
  char *bin = path ("bin"), *prog = path ("bin/crm_node");
  FILE *f;

  mkdir (bin, 0700);
  f = fopen (prog, "w");
  assert_non_null (f);
  fprintf (f, "#!/bin/sh\n[ \"$1\" = -l ] || exit 64\nprintf '%s'\nexit %d\n",
           output, status);
  fclose (f);
  assert_int_equal (chmod (prog, 0700), 0);
  setenv ("PATH", bin, 1);
  free (bin);
  free (prog);
}

static void
test_servers_from_crm_node (void **state)
{
  const char *old = getenv ("PATH");
  char *saved = old ? strdup (old) : NULL;
  string_vector v = empty_vector;
  char *s;

  (void) state;
  fake_crm_node ("1 n1 member\\n2 n2 lost\\n3 n3 member\\nno number here\\n"
                 "4 n4\\n5 n5 member extra\\n", 0);
  assert_int_equal (vc_remote_servers (&v), 0);
  s = sorted (&v);
  assert_string_equal (s, "n1 n3 n5");
  free (s);
  vc_string_vector_free (&v);

  /* The same order on every call: it depends on this host's name only. */
  string_vector a = empty_vector, b = empty_vector;
  assert_int_equal (vc_remote_servers (&a), 0);
  assert_int_equal (vc_remote_servers (&b), 0);
  for (size_t i = 0; i < a.len; i++)
    assert_string_equal (a.ptr[i], b.ptr[i]);
  vc_string_vector_free (&a);
  vc_string_vector_free (&b);

  fake_crm_node ("1 n1 lost\\n", 0);
  assert_int_equal (vc_remote_servers (&v), -1);
  fake_crm_node ("", 1);
  assert_int_equal (vc_remote_servers (&v), -1);
  assert_int_equal (v.len, 0);
  if (saved)
    setenv ("PATH", saved, 1);
  free (saved);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_which_host),
    cmocka_unit_test (test_servers_from_environment),
    cmocka_unit_test (test_servers_from_crm_node),
  };

  vc_test_log_init ("test-remote-node");
  return cmocka_run_group_tests (tests, setup, teardown);
}
