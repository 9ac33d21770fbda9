/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of helper/backup/copy-writer.c: what is handed over lands in
 * the file in order, byte for byte, through direct I/O or through the page
 * cache (a piece direct I/O cannot take); a failed write is reported once
 * with its offset and stops the writer; the file descriptor is given back
 * as it came.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "backup/copy-writer.h"
#include "common/full-io.h"
#include "unit-common.h"

#define PIECE (256 * 1024)

struct fixture {
  char *dir, *file;
  int fd;
};

static int
setup (void **state)
{
  struct fixture *f = calloc (1, sizeof *f);

  assert_non_null (f);
  f->dir = vc_test_mkdtemp ("test-copy-writer");
  assert_non_null (f->dir);
  f->file = vc_printf ("%s/image", f->dir);
  f->fd = open (f->file, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  assert_true (f->fd >= 0);
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  struct fixture *f = *state;

  close (f->fd);
  vc_test_rmtree (f->dir);
  free (f->file);
  free (f->dir);
  free (f);
  return 0;
}

static unsigned char *
aligned_buf (size_t len, int byte)
{
  void *p = NULL;

  assert_int_equal (posix_memalign (&p, 4096, len), 0);
  memset (p, byte, len);
  return p;
}

/* Waits until the writer has written n pieces. */
static void
wait_written (struct vc_copy_writer *w, uint64_t n)
{
  while (vc_copy_writer_written (w) < n) {
    struct pollfd p = { .fd = vc_copy_writer_fd (w), .events = POLLIN };
    assert_true (poll (&p, 1, 10000) == 1);
  }
}

/* Checks len bytes of the file at off are all byte. */
static void
assert_bytes (int fd, uint64_t off, size_t len, int byte)
{
  unsigned char *got = malloc (len);

  assert_non_null (got);
  assert_int_equal (vc_pread_full (fd, got, len, off), 0);
  for (size_t i = 0; i < len; i++)
    if (got[i] != byte)
      fail_msg ("offset %zu: %#x, expected %#x", (size_t) off + i, got[i], byte);
  free (got);
}

/* 64 pieces through a ring of 8 buffers, each piece reused once written,
 * from an offset: the file holds them in order.
 */
static void
test_in_order (void **state)
{
  struct fixture *f = *state;
  const uint32_t cap = 8, pieces = 64;
  const uint64_t start = 3 * 65536;
  unsigned char *bufs[8];
  int flags = fcntl (f->fd, F_GETFL);
  struct vc_copy_writer *w = vc_copy_writer_start (f->fd, start, cap);
  uint64_t written, at;

  assert_non_null (w);
  for (uint32_t i = 0; i < cap; i++)
    bufs[i] = aligned_buf (PIECE, 0);
  for (uint32_t i = 0; i < pieces; i++) {
    if (i >= cap)
      wait_written (w, i - cap + 1);
    memset (bufs[i % cap], 1 + i, PIECE);
    vc_copy_writer_push (w, bufs[i % cap], PIECE);
  }
  assert_int_equal (vc_copy_writer_finish (w, &written, &at), 0);
  assert_int_equal (written, pieces);
  assert_int_equal (fcntl (f->fd, F_GETFL), flags);
  assert_int_equal (lseek (f->fd, 0, SEEK_END), start + (uint64_t) pieces * PIECE);
  assert_bytes (f->fd, 0, start, 0);
  for (uint32_t i = 0; i < pieces; i++)
    assert_bytes (f->fd, start + (uint64_t) i * PIECE, PIECE, 1 + i);
  for (uint32_t i = 0; i < cap; i++)
    free (bufs[i]);
}

/* A piece direct I/O cannot take (its length, then its address) sends it
 * and the rest through the page cache: same bytes.
 */
static void
test_unaligned (void **state)
{
  struct fixture *f = *state;
  unsigned char *a = aligned_buf (PIECE, 0xa1);
  unsigned char *b = aligned_buf (PIECE + 4096, 0xb2);
  unsigned char *c = aligned_buf (PIECE, 0xc3);
  struct vc_copy_writer *w = vc_copy_writer_start (f->fd, 0, 4);
  uint64_t written, at;

  assert_non_null (w);
  vc_copy_writer_push (w, a, PIECE);
  vc_copy_writer_push (w, b, 1000);
  vc_copy_writer_push (w, b + 1, 5000);
  vc_copy_writer_push (w, c, PIECE);
  assert_int_equal (vc_copy_writer_finish (w, &written, &at), 0);
  assert_int_equal (written, 4);
  assert_int_equal (lseek (f->fd, 0, SEEK_END), 2 * PIECE + 6000);
  assert_bytes (f->fd, 0, PIECE, 0xa1);
  assert_bytes (f->fd, PIECE, 6000, 0xb2);
  assert_bytes (f->fd, PIECE + 6000, PIECE, 0xc3);
  free (a);
  free (b);
  free (c);
}

/* A descriptor that cannot write: the first write fails, at its offset,
 * and nothing after it is tried.
 */
static void
test_write_error (void **state)
{
  struct fixture *f = *state;
  unsigned char *a = aligned_buf (PIECE, 0x55);
  int ro = open (f->file, O_RDONLY | O_CLOEXEC);
  struct vc_copy_writer *w;
  uint64_t written, at = 0;

  assert_true (ro >= 0);
  w = vc_copy_writer_start (ro, 65536, 4);
  assert_non_null (w);
  vc_copy_writer_push (w, a, PIECE);
  vc_copy_writer_push (w, a, PIECE);
  /* The failure wakes the caller up and is there to read before the end. */
  struct pollfd p = { .fd = vc_copy_writer_fd (w), .events = POLLIN };
  assert_int_equal (poll (&p, 1, 10000), 1);
  assert_int_equal (vc_copy_writer_error (w, &at), EBADF);
  assert_int_equal (at, 65536);
  assert_int_equal (vc_copy_writer_finish (w, &written, &at), EBADF);
  assert_int_equal (written, 0);
  assert_int_equal (at, 65536);
  close (ro);
  free (a);
}

/* The file may not grow past 1 MiB (a full disk, as far as the writer can
 * tell): what fits is counted, the failure is at the first piece that
 * did not.
 */
static void
test_file_too_big (void **state)
{
  struct fixture *f = *state;
  unsigned char *a = aligned_buf (PIECE, 0x77);
  struct rlimit old, small = { 1024 * 1024, 0 };
  struct vc_copy_writer *w;
  uint64_t written, at = 0;
  int err;

  signal (SIGXFSZ, SIG_IGN);
  assert_int_equal (getrlimit (RLIMIT_FSIZE, &old), 0);
  small.rlim_max = old.rlim_max;
  assert_int_equal (setrlimit (RLIMIT_FSIZE, &small), 0);
  w = vc_copy_writer_start (f->fd, 0, 8);
  assert_non_null (w);
  /* One at a time, so that each piece is a write of its own. */
  for (int i = 0; i < 4; i++) {
    vc_copy_writer_push (w, a, PIECE);
    wait_written (w, i + 1);
  }
  vc_copy_writer_push (w, a, PIECE);
  vc_copy_writer_push (w, a, PIECE);
  err = vc_copy_writer_finish (w, &written, &at);
  assert_int_equal (setrlimit (RLIMIT_FSIZE, &old), 0);
  assert_int_equal (err, EFBIG);
  assert_int_equal (written, 4);
  assert_int_equal (at, 4 * PIECE);
  assert_bytes (f->fd, 0, 4 * PIECE, 0x77);
  free (a);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_in_order, setup, teardown),
    cmocka_unit_test_setup_teardown (test_unaligned, setup, teardown),
    cmocka_unit_test_setup_teardown (test_write_error, setup, teardown),
    cmocka_unit_test_setup_teardown (test_file_too_big, setup, teardown),
  };

  vc_test_log_init ("test-copy-writer");
  return cmocka_run_group_tests (tests, NULL, NULL);
}
