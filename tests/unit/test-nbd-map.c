/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of vc_nbd_map (helper/backup/nbd-source.c) against a real
 * NBD server, nbdkit with a shell plugin (nbd-map-server.sh) that serves a
 * sparse disk of known data ranges: the map of a disk of many windows,
 * more than the requests in flight, is exactly those ranges, also when
 * the server answers each request for less than was asked (each window
 * then asked again from where the answer stopped), and under a storm of
 * signals; a refused request fails the map and leaves the handle idle.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backup/nbd-source.h"
#include "unit-common.h"

#define MIB (UINT64_C (1) << 20)
#define WINDOW UINT64_C (0xffff0000)  /* nbd-source.c's request size */

struct server {
  char *dir, *socket, *ranges;
  pid_t pid;
};

/* Writes ranges to a file and starts nbdkit serving them; false when
 * nbdkit is not installed (the test is skipped).
 */
static bool
server_start (struct server *srv, uint64_t size, uint64_t answer,
              uint64_t fail_at, const vc_range_vector *ranges)
{
  const char *srcdir = getenv ("abs_top_srcdir");
  char *script = vc_printf ("%s/tests/unit/nbd-map-server.sh", srcdir ? srcdir : ".");
  FILE *fp;

  if (access ("/usr/bin/nbdkit", X_OK) == -1 && access ("/usr/sbin/nbdkit", X_OK) == -1) {
    free (script);
    return false;
  }
  srv->dir = vc_test_mkdtemp ("test-nbd-map");
  assert_non_null (srv->dir);
  srv->socket = vc_printf ("%s/nbd.sock", srv->dir);
  srv->ranges = vc_printf ("%s/ranges", srv->dir);
  fp = fopen (srv->ranges, "w");
  assert_non_null (fp);
  for (size_t i = 0; i < ranges->len; i++)
    fprintf (fp, "%" PRIu64 " %" PRIu64 "\n", ranges->ptr[i].offset, ranges->ptr[i].length);
  assert_int_equal (fclose (fp), 0);

  srv->pid = fork ();
  assert_true (srv->pid >= 0);
  if (srv->pid == 0) {
    char buf[3][32];
    snprintf (buf[0], sizeof buf[0], "%" PRIu64, size);
    snprintf (buf[1], sizeof buf[1], "%" PRIu64, answer);
    snprintf (buf[2], sizeof buf[2], "%" PRIu64, fail_at);
    setenv ("SIZE", buf[0], 1);
    setenv ("ANSWER", buf[1], 1);
    if (fail_at)
      setenv ("FAIL_AT", buf[2], 1);
    setenv ("RANGES", srv->ranges, 1);
    execlp ("nbdkit", "nbdkit", "-f", "--exit-with-parent", "-U", srv->socket,
            "sh", script, (char *) NULL);
    _exit (127);
  }
  free (script);
  for (int i = 0; i < 1000; i++) {
    struct stat st;
    if (stat (srv->socket, &st) == 0)
      return true;
    assert_int_equal (waitpid (srv->pid, NULL, WNOHANG), 0);
    usleep (10000);
  }
  fail_msg ("nbdkit did not create %s in 10 s", srv->socket);
  return false;
}

static void
server_stop (struct server *srv)
{
  kill (srv->pid, SIGTERM);
  waitpid (srv->pid, NULL, 0);
  vc_test_rmtree (srv->dir);
  free (srv->socket);
  free (srv->ranges);
  free (srv->dir);
}

static void
add (vc_range_vector *v, uint64_t offset, uint64_t length)
{
  assert_int_equal (vc_ranges_add (v, offset, length), 0);
}

/* What the server holds, sorted and merged: data straddling the edges of
 * the windows and of the server's short answers, at both ends of the
 * disk, and random ranges in between.
 */
static void
make_ranges (vc_range_vector *v, uint64_t size, uint64_t answer, uint64_t seed)
{
  vc_range_vector windows = empty_vector, answers = empty_vector;
  vc_range_vector random = empty_vector, edges = empty_vector;

  add (&windows, 0, 4096);
  for (uint64_t k = 1; k * WINDOW < size; k++)
    add (&windows, k * WINDOW - 32768, 65536);
  for (uint64_t k = 1; k * answer < size && k < 64; k++)
    add (&answers, k * answer - 512, 1024);
  for (uint64_t pos = 0;;) {
    pos += (vc_test_rng (&seed) % (256 * MIB)) & ~UINT64_C (511);
    uint64_t len = 512 + ((vc_test_rng (&seed) % (2 * MIB)) & ~UINT64_C (511));
    if (pos + len > size - 8192)
      break;
    add (&random, pos, len);
    pos += len + 512;
  }
  add (&random, size - 4096, 4096);
  assert_int_equal (vc_ranges_union (&windows, &answers, &edges), 0);
  assert_int_equal (vc_ranges_union (&edges, &random, v), 0);
  vc_range_vector_reset (&windows);
  vc_range_vector_reset (&answers);
  vc_range_vector_reset (&random);
  vc_range_vector_reset (&edges);
}

static void
assert_same_ranges (const vc_range_vector *want, const vc_range_vector *got)
{
  size_t n = want->len < got->len ? want->len : got->len;

  for (size_t i = 0; i < n; i++)
    if (want->ptr[i].offset != got->ptr[i].offset || want->ptr[i].length != got->ptr[i].length)
      fail_msg ("range %zu: [%" PRIu64 ", +%" PRIu64 ") mapped, [%" PRIu64 ", +%" PRIu64 ") served",
                i, got->ptr[i].offset, got->ptr[i].length,
                want->ptr[i].offset, want->ptr[i].length);
  assert_int_equal (got->len, want->len);
}

static volatile sig_atomic_t ticks;

static void
on_tick (int sig)
{
  ticks++;
}

/* Maps a disk of size served with answers of at most answer bytes; with
 * interrupted, under a signal every millisecond (no SA_RESTART: each
 * interrupts the wait for the server).
 */
static void
map_case_signals (uint64_t size, uint64_t answer, uint64_t seed, bool interrupted)
{
  vc_range_vector want = empty_vector, got = empty_vector;
  struct server srv;
  struct vc_nbd_source src;

  make_ranges (&want, size, answer, seed);
  if (!server_start (&srv, size, answer, 0, &want)) {
    vc_range_vector_reset (&want);
    skip ();
  }
  assert_int_equal (vc_nbd_open (&src, srv.socket, "", NULL, 1), 0);
  assert_int_equal (src.size, size);
  if (interrupted) {
    struct sigaction sa = { .sa_handler = on_tick };
    struct itimerval every_ms = { { 0, 1000 }, { 0, 1000 } }, off = { { 0, 0 }, { 0, 0 } };
    sigaction (SIGALRM, &sa, NULL);
    ticks = 0;
    setitimer (ITIMER_REAL, &every_ms, NULL);
    assert_int_equal (vc_nbd_map (&src, &got, NULL), 0);
    setitimer (ITIMER_REAL, &off, NULL);
    signal (SIGALRM, SIG_DFL);
    assert_true (ticks > 5);
  }
  else
    assert_int_equal (vc_nbd_map (&src, &got, NULL), 0);
  assert_int_equal (nbd_aio_in_flight (src.h[0]), 0);
  assert_same_ranges (&want, &got);
  vc_nbd_close (&src);
  server_stop (&srv);
  vc_range_vector_reset (&want);
  vc_range_vector_reset (&got);
}

static void
map_case (uint64_t size, uint64_t answer, uint64_t seed)
{
  map_case_signals (size, answer, seed, false);
}

/* Eleven windows and an odd tail: more windows than requests in flight. */
static void
test_many_windows (void **state)
{
  map_case (11 * WINDOW + 3 * MIB + 512, UINT64_C (1) << 50, 1);
}

/* Every answer stops short, at an odd place: each window is asked again
 * from there, several times.
 */
static void
test_short_answers (void **state)
{
  map_case (11 * WINDOW + 3 * MIB + 512, 1536 * MIB + 4096, 2);
}

/* Less than one window. */
static void
test_small_disk (void **state)
{
  map_case (64 * MIB, 5 * MIB + 512, 3);
}

/* Signals while the map waits for the server (a backup's SIGINT handler
 * has no SA_RESTART): the map is whole.  (libnbd 1.14's nbd_poll takes an
 * interrupted wait up again itself; nbd-source.c does for one that does
 * not.)
 */
static void
test_signals (void **state)
{
  map_case_signals (11 * WINDOW + 3 * MIB + 512, 1536 * MIB + 4096, 5, true);
}

/* A request refused in the middle of the disk: the map fails, and what
 * was in flight is collected, so the handle is left idle.
 */
static void
test_refused (void **state)
{
  vc_range_vector want = empty_vector, got = empty_vector;
  struct server srv;
  struct vc_nbd_source src;
  uint64_t size = 11 * WINDOW;

  make_ranges (&want, size, WINDOW, 4);
  if (!server_start (&srv, size, UINT64_C (1) << 50, 5 * WINDOW, &want)) {
    vc_range_vector_reset (&want);
    skip ();
  }
  assert_int_equal (vc_nbd_open (&src, srv.socket, "", NULL, 1), 0);
  assert_int_equal (vc_nbd_map (&src, &got, NULL), -1);
  assert_int_equal (got.len, 0);
  assert_int_equal (nbd_aio_in_flight (src.h[0]), 0);
  vc_nbd_close (&src);
  server_stop (&srv);
  vc_range_vector_reset (&want);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_many_windows),
    cmocka_unit_test (test_short_answers),
    cmocka_unit_test (test_small_disk),
    cmocka_unit_test (test_signals),
    cmocka_unit_test (test_refused),
  };

  vc_test_log_init ("test-nbd-map");
  return cmocka_run_group_tests (tests, NULL, NULL);
}
