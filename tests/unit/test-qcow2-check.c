/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of helper/backup/qcow2-check.c: every header virtckpt's
 * writer makes passes; each hostile change of one thing is refused.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "backup/qcow2-check.h"
#include "backup/qcow2-plan.h"
#include "unit-common.h"

#define BACKING "../0001-full-20261127T070000Z/vda.qcow2"
#define N VC_QCOW2_CHECK_BYTES

struct sink {
  unsigned char *buf;
  size_t len;
};

static int
sink_emit (void *opaque, const void *buf, size_t len)
{
  struct sink *s = opaque;
  size_t n = len < N - s->len ? len : N - s->len;

  memcpy (s->buf + s->len, buf, n);
  s->len += n;
  return 0;
}

/* The first N bytes of an image virtckpt writes, with or without backing. */
static unsigned char *
written_header (const char *backing)
{
  vc_range_vector none = empty_vector;
  struct vc_qcow2_plan p = {
    .virtual_size = UINT64_C (1) << 30, .data = &none, .zero = &none,
    .backing = backing, .backing_fmt = backing ? "qcow2" : NULL,
  };
  struct sink s = { .buf = calloc (1, N) };

  assert_non_null (s.buf);
  assert_int_equal (vc_qcow2_plan_layout (&p), 0);
  assert_int_equal (vc_qcow2_plan_emit_metadata (&p, sink_emit, &s), 0);
  assert_int_equal (s.len, N);
  return s.buf;
}

static void
put32 (unsigned char *h, size_t off, uint32_t v)
{
  v = htobe32 (v);
  memcpy (h + off, &v, 4);
}

static void
put64 (unsigned char *h, size_t off, uint64_t v)
{
  v = htobe64 (v);
  memcpy (h + off, &v, 8);
}

static uint64_t
get64 (const unsigned char *h, size_t off)
{
  uint64_t v;
  memcpy (&v, h + off, 8);
  return be64toh (v);
}

static void
test_written_headers_pass (void **state)
{
  unsigned char *full = written_header (NULL), *inc = written_header (BACKING);

  assert_null (vc_qcow2_check_header (full, N, NULL));
  assert_null (vc_qcow2_check_header (inc, N, BACKING));
  /* Each only with what it is. */
  assert_non_null (vc_qcow2_check_header (full, N, BACKING));
  assert_non_null (vc_qcow2_check_header (inc, N, NULL));
  assert_non_null (vc_qcow2_check_header (inc, N, "../0001-full-20261127T070000Z/vdb.qcow2"));
  assert_non_null (vc_qcow2_check_header (inc, N, "../0001-full-20261127T070000Z/vda.qcow"));
  free (full);
  free (inc);
}

/* One hostile change each; inc: applied to an overlay (else to a full). */
struct hostile {
  const char *what;
  bool inc;
  void (*change) (unsigned char *h);
  size_t len;                   /* bytes handed over; 0: N */
  const char *want_why;         /* part of the reason given */
};

static void bad_magic (unsigned char *h) { h[3] = 0xfa; }
static void version_1 (unsigned char *h) { put32 (h, 4, 1); }
static void version_4 (unsigned char *h) { put32 (h, 4, 4); }
static void cluster_bits_8 (unsigned char *h) { put32 (h, 20, 8); }
static void cluster_bits_22 (unsigned char *h) { put32 (h, 20, 22); }
static void encrypted (unsigned char *h) { put32 (h, 32, 1); }
static void dirty (unsigned char *h) { put64 (h, 72, 1); }
static void corrupt (unsigned char *h) { put64 (h, 72, 2); }
static void data_file_bit (unsigned char *h) { put64 (h, 72, 4); }
static void compression_bit (unsigned char *h) { put64 (h, 72, 8); }
static void extended_l2_bit (unsigned char *h) { put64 (h, 72, 16); }
static void high_bit (unsigned char *h) { put64 (h, 72, UINT64_C (1) << 63); }
static void header_length_short (unsigned char *h) { put32 (h, 100, 96); }
static void header_length_odd (unsigned char *h) { put32 (h, 100, 105); }
static void header_length_huge (unsigned char *h) { put32 (h, 100, 0xfffffff8u); }

/* Extensions of a full start at 104. */
static void
ext_data_file (unsigned char *h)
{
  put32 (h, 104, 0x44415441u);
  put32 (h, 108, 10);
  memcpy (h + 112, "/etc/shado", 10);
}

static void
ext_crypto (unsigned char *h)
{
  put32 (h, 104, 0x0537be77u);
  put32 (h, 108, 16);
}

static void
ext_unknown (unsigned char *h)
{
  put32 (h, 104, 0x12345678u);
  put32 (h, 108, 0);
}

static void
ext_too_long (unsigned char *h)
{
  put32 (h, 104, 0x6803f857u);          /* feature names */
  put32 (h, 108, 0xfffffff0u);
}

static void
ext_no_end (unsigned char *h)
{
  for (size_t off = 104; off + 8 <= N; off += 8) {
    put32 (h, off, 0x6803f857u);
    put32 (h, off + 4, 0);
  }
}

static void
backing_on_full (unsigned char *h)
{
  put64 (h, 8, 512);
  put32 (h, 16, 10);
  memcpy (h + 512, "/etc/passw", 10);
}

/* Overlays: the writer puts the backing format extension at 104. */
static void
backing_fmt_raw (unsigned char *h)
{
  memcpy (h + 112, "raw\0\0", 5);
  put32 (h, 108, 3);
}

static void
backing_name_host_file (unsigned char *h)
{
  uint64_t off = get64 (h, 8);
  put32 (h, 16, 11);
  memcpy (h + off, "/etc/passwd", 11);
}

static void
backing_name_json (unsigned char *h)
{
  static const char json[] = "json:{\"file.filename\":\"/etc/passwd\"}";
  uint64_t off = get64 (h, 8);
  put32 (h, 16, sizeof json - 1);
  memcpy (h + off, json, sizeof json - 1);
}

static void no_backing (unsigned char *h) { put64 (h, 8, 0); put32 (h, 16, 0); }
static void backing_offset_beyond (unsigned char *h) { put64 (h, 8, N - 4); }
static void backing_offset_huge (unsigned char *h) { put64 (h, 8, UINT64_MAX - 2); }
static void backing_size_huge (unsigned char *h) { put32 (h, 16, 0xffffffffu); }
static void backing_in_header (unsigned char *h) { put64 (h, 8, 64); }
static void nothing (unsigned char *h) { (void) h; }

static const struct hostile cases[] = {
  { "not qcow2", false, bad_magic, 0, "not a qcow2" },
  { "version 1", false, version_1, 0, "version" },
  { "version 4", false, version_4, 0, "version" },
  { "cluster bits 8", false, cluster_bits_8, 0, "cluster" },
  { "cluster bits 22", false, cluster_bits_22, 0, "cluster" },
  { "encrypted", false, encrypted, 0, "encrypted" },
  { "dirty", false, dirty, 0, "dirty" },
  { "corrupt", false, corrupt, 0, "corrupt" },
  { "external data file bit", false, data_file_bit, 0, "external data file" },
  { "compression type bit", false, compression_bit, 0, "incompatible" },
  { "extended L2 bit", false, extended_l2_bit, 0, "incompatible" },
  { "unknown incompatible bit", false, high_bit, 0, "incompatible" },
  { "header length < 104", false, header_length_short, 0, "header length" },
  { "header length odd", false, header_length_odd, 0, "header length" },
  { "header length huge", false, header_length_huge, 0, "header length" },
  { "data file extension", false, ext_data_file, 0, "external data file" },
  { "crypto extension", false, ext_crypto, 0, "encrypted" },
  { "unknown extension", false, ext_unknown, 0, "unknown type" },
  { "extension longer than the cluster", false, ext_too_long, 0, "do not fit" },
  { "extensions without end", false, ext_no_end, 0, "do not fit" },
  { "backing name on a full", false, backing_on_full, 0, "none is expected" },
  { "truncated v2 header", false, nothing, 40, "not a qcow2" },
  { "truncated v3 header", false, nothing, 100, "truncated" },
  { "backing format raw", true, backing_fmt_raw, 0, "backing format" },
  { "backing name of a host file", true, backing_name_host_file, 0, "not the one" },
  { "json: backing name", true, backing_name_json, 0, "not the one" },
  { "no backing on an overlay", true, no_backing, 0, "no backing" },
  { "backing name beyond the bytes", true, backing_offset_beyond, 0, "does not fit" },
  { "backing offset wraps", true, backing_offset_huge, 0, "does not fit" },
  { "backing size huge", true, backing_size_huge, 0, "does not fit" },
  { "backing name inside the header", true, backing_in_header, 0, "overlaps" },
  { "overlay cut inside its backing name", true, nothing, 150, "does not fit" },
};

static void
test_hostile_headers_refused (void **state)
{
  for (size_t i = 0; i < VC_TEST_ROWS (cases); i++) {
    const struct hostile *c = &cases[i];
    unsigned char *h = written_header (c->inc ? BACKING : NULL);
    const char *why;
    c->change (h);
    why = vc_qcow2_check_header (h, c->len ? c->len : N, c->inc ? BACKING : NULL);
    if (why == NULL)
      fail_msg ("accepted: %s", c->what);
    if (strstr (why, c->want_why) == NULL)
      fail_msg ("%s: refused for '%s', expected '%s'", c->what, why, c->want_why);
    free (h);
  }
}

/* Whatever the bytes, the check ends and reads nothing beyond them. */
static void
test_random_bytes_never_crash (void **state)
{
  unsigned char *h = written_header (BACKING);
  unsigned seed = 1;

  /* Exactly len bytes, so that memory checkers see any read beyond. */
  for (int round = 0; round < 20000; round++) {
    size_t len = 1 + rand_r (&seed) % N;
    unsigned char *copy = malloc (len);
    assert_non_null (copy);
    memcpy (copy, h, len);
    for (int k = 0; k < 4; k++) {
      size_t at = rand_r (&seed) % 160;
      if (at < len)
        copy[at] = rand_r (&seed);
    }
    vc_qcow2_check_header (copy, len, (round & 1) ? BACKING : NULL);
    free (copy);
  }
  free (h);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_written_headers_pass),
    cmocka_unit_test (test_hostile_headers_refused),
    cmocka_unit_test (test_random_bytes_never_crash),
  };
  int r;

  vc_test_log_init ("test-qcow2-check");
  r = cmocka_run_group_tests_name ("qcow2-check", tests, NULL, NULL);
  vc_log_fini ();
  return r;
}
