/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of helper/qcow2-plan.c: images are laid out, written for real
 * (metadata through the emit callback, data clusters copied from a raw
 * reference file of known random content) and then judged by stock
 * qemu-img: check, compare against the reference, map and info.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "backup/extent.h"
#include "common/log.h"
#include "backup/qcow2-plan.h"
#include "common/vc-strings.h"
#include "unit-common.h"

#define CS VC_QCOW2_CLUSTER_SIZE
#define KiB UINT64_C (1024)
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)
#define TiB (1024 * GiB)
#define L2_COVERS (512 * MiB)           /* guest bytes one L2 table maps */
#define OFLAG_COPIED (UINT64_C (1) << 63)

static bool have_qemu_img;

struct fixture {
  char *top;                            /* the mkdtemp directory */
};

static int
setup (void **state)
{
  struct fixture *f = calloc (1, sizeof *f);

  if (f == NULL)
    return -1;
  f->top = vc_test_mkdtemp ("test-qcow2-plan");
  if (f->top == NULL || strchr (f->top, '\''))
    return -1;
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  struct fixture *f = *state;

  vc_test_rmtree (f->top);
  free (f->top);
  free (f);
  return 0;
}

/* --- running qemu-img -------------------------------------------------- */

/* Runs a shell command; returns its exit status and, in *out, what it
 * printed on stdout and stderr (malloc'd).
 */
static int
run (char **out, const char *fmt, ...)
{
  va_list ap;
  char *cmd, *full, *buf = NULL;
  size_t len = 0, cap = 0;
  char chunk[4096];
  size_t n;
  FILE *fp;
  int status;

  va_start (ap, fmt);
  assert_int_not_equal (vasprintf (&cmd, fmt, ap), -1);
  va_end (ap);
  full = vc_printf ("%s 2>&1", cmd);
  assert_non_null (full);
  fp = popen (full, "r");
  assert_non_null (fp);
  while ((n = fread (chunk, 1, sizeof chunk, fp)) > 0) {
    if (len + n + 1 > cap) {
      cap = (len + n + 1) * 2;
      buf = realloc (buf, cap);
      assert_non_null (buf);
    }
    memcpy (buf + len, chunk, n);
    len += n;
  }
  status = pclose (fp);
  if (buf == NULL)
    buf = strdup ("");
  else
    buf[len] = '\0';
  assert_true (WIFEXITED (status));
  if (WEXITSTATUS (status) == 127)
    fail_msg ("cannot run: %s\n%s", cmd, buf);
  free (full);
  free (cmd);
  *out = buf;
  return WEXITSTATUS (status);
}

/* The number after "key": in a JSON text. */
static bool
json_u64 (const char *json, const char *key, uint64_t *v)
{
  char pat[64];
  const char *p;

  snprintf (pat, sizeof pat, "\"%s\":", key);
  p = strstr (json, pat);
  return p && sscanf (p + strlen (pat), " %" SCNu64, v) == 1;
}

/* 1 true, 0 false, -1 absent. */
static int
json_bool (const char *json, const char *key)
{
  char pat[64];
  const char *p;

  snprintf (pat, sizeof pat, "\"%s\":", key);
  p = strstr (json, pat);
  if (p == NULL)
    return -1;
  p += strlen (pat);
  while (*p == ' ')
    p++;
  return strncmp (p, "true", 4) == 0;
}

/* The string after "key": (no escapes expected), malloc'd, or NULL. */
static char *
json_str (const char *json, const char *key)
{
  char pat[64];
  const char *p, *end;

  snprintf (pat, sizeof pat, "\"%s\":", key);
  p = strstr (json, pat);
  if (p == NULL)
    return NULL;
  p = strchr (p + strlen (pat), '"');
  if (p == NULL || (end = strchr (p + 1, '"')) == NULL)
    return NULL;
  return strndup (p + 1, end - p - 1);
}

/* --- images ------------------------------------------------------------ */

struct image {
  uint64_t size;
  vc_range_vector data, zero;
  const char *backing, *backing_fmt;
  struct vc_qcow2_plan plan;
  char *path;                   /* the qcow2 file */
  char *ref;                    /* raw file with the content it must show */
  uint64_t metadata_bytes;      /* what emit produced */
};

static void
image_init (struct image *im, uint64_t size)
{
  memset (im, 0, sizeof *im);
  im->size = size;
}

static void
image_free (struct image *im)
{
  vc_range_vector_reset (&im->data);
  vc_range_vector_reset (&im->zero);
  free (im->path);
  free (im->ref);
}

static void
add_range (vc_range_vector *v, uint64_t offset, uint64_t length)
{
  assert_int_equal (vc_range_vector_append (v, (struct vc_range) { offset, length }), 0);
}

/* Lays out the plan and checks what must hold for any layout. */
static void
image_layout (struct image *im)
{
  struct vc_qcow2_plan *p = &im->plan;

  memset (p, 0, sizeof *p);
  p->virtual_size = im->size;
  p->data = &im->data;
  p->zero = &im->zero;
  p->backing = im->backing;
  p->backing_fmt = im->backing_fmt;
  assert_int_equal (vc_qcow2_plan_layout (p), 0);

  assert_true (p->l1_offset == CS);
  assert_true (p->l1_entries == (im->size + L2_COVERS - 1) / L2_COVERS);
  assert_true (p->refcount_table_offset ==
               p->l1_offset + (p->l1_entries * 8 + CS - 1) / CS * CS);
  assert_true (p->refcount_blocks_offset ==
               p->refcount_table_offset + p->refcount_table_clusters * CS);
  assert_true (p->l2_offset == p->refcount_blocks_offset + p->refcount_blocks * CS);
  assert_true (p->data_offset == p->l2_offset + p->l2_tables * CS);
  assert_true (p->data_clusters == vc_ranges_total (&im->data) / CS);
  assert_true (p->file_size == p->data_offset + p->data_clusters * CS);
  /* Every cluster of the file has a refcount, the table covers the blocks. */
  assert_true (p->refcount_blocks * (CS / 2) >= p->file_size / CS);
  assert_true (p->refcount_table_clusters * (CS / 8) >= p->refcount_blocks);
}

static uint64_t rng_state;

static void
pwrite_all (int fd, const void *buf, size_t len, uint64_t offset)
{
  const char *p = buf;

  while (len > 0) {
    ssize_t n = pwrite (fd, p, len, offset);
    assert_true (n > 0);
    p += n;
    len -= n;
    offset += n;
  }
}

/* Fills [offset, offset+len) of fd with random bytes, or zeroes. */
static void
fill (int fd, uint64_t offset, uint64_t len, bool zero)
{
  static uint64_t buf[CS / 8];

  while (len > 0) {
    size_t n = len < CS ? len : CS;
    for (size_t i = 0; i < CS / 8; i++)
      buf[i] = zero ? 0 : vc_test_rng (&rng_state);
    pwrite_all (fd, buf, n, offset);
    offset += n;
    len -= n;
  }
}

static uint64_t
min_u64 (uint64_t a, uint64_t b)
{
  return a < b ? a : b;
}

/* The raw file the image must read as: a copy of base (or zeroes), with
 * random content in the data ranges and zeroes in the zero ranges.  Sparse
 * where nothing is written, so terabyte sizes cost nothing.
 */
static void
make_reference (struct fixture *f, struct image *im, const char *name,
                const struct image *base, uint64_t seed)
{
  int fd;

  rng_state = seed;
  im->ref = vc_printf ("%s/%s", f->top, name);
  assert_non_null (im->ref);
  fd = open (im->ref, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  assert_true (fd >= 0);
  if (base) {
    int bfd = open (base->ref, O_RDONLY | O_CLOEXEC);
    static char buf[CS];
    uint64_t pos = 0;
    ssize_t n;
    assert_true (bfd >= 0);
    assert_true (base->size == im->size);
    while ((n = pread (bfd, buf, sizeof buf, pos)) > 0) {
      pwrite_all (fd, buf, n, pos);
      pos += n;
    }
    assert_int_equal (n, 0);
    close (bfd);
  }
  assert_int_equal (ftruncate (fd, im->size), 0);
  for (size_t i = 0; i < im->data.len; i++) {
    uint64_t o = im->data.ptr[i].offset;
    uint64_t end = min_u64 (o + im->data.ptr[i].length, im->size);
    fill (fd, o, end - o, false);
  }
  for (size_t i = 0; i < im->zero.len; i++) {
    uint64_t o = im->zero.ptr[i].offset;
    uint64_t end = min_u64 (o + im->zero.ptr[i].length, im->size);
    fill (fd, o, end - o, true);
  }
  assert_int_equal (close (fd), 0);
}

struct sink {
  int fd;
  uint64_t pos;
};

static int
sink_emit (void *opaque, const void *buf, size_t len)
{
  struct sink *s = opaque;
  pwrite_all (s->fd, buf, len, s->pos);
  s->pos += len;
  return 0;
}

/* Writes the image as a backup does: metadata streamed from offset 0, then
 * each data cluster, read from the reference, at data_offset + k * 64 KiB
 * in guest order.  dir is relative to the fixture ("" for the top).
 */
static void
write_image (struct fixture *f, struct image *im, const char *dir, const char *name)
{
  const struct vc_qcow2_plan *p = &im->plan;
  static char buf[CS];
  struct stat st;
  uint64_t k = 0;
  int fd, rfd;

  if (*dir) {
    char *d = vc_printf ("%s/%s", f->top, dir);
    assert_int_equal (mkdir (d, 0700), 0);
    free (d);
  }
  im->path = vc_printf ("%s/%s%s%s", f->top, dir, *dir ? "/" : "", name);
  assert_non_null (im->path);
  fd = open (im->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  assert_true (fd >= 0);

  struct sink s = { fd, 0 };
  assert_int_equal (vc_qcow2_plan_emit_metadata (p, sink_emit, &s), 0);
  im->metadata_bytes = s.pos;
  assert_true (s.pos == p->data_offset);

  rfd = open (im->ref, O_RDONLY | O_CLOEXEC);
  assert_true (rfd >= 0);
  for (size_t i = 0; i < im->data.len; i++) {
    const struct vc_range *r = &im->data.ptr[i];
    for (uint64_t g = r->offset; g < r->offset + r->length; g += CS, k++) {
      ssize_t n = pread (rfd, buf, CS, g);
      assert_true (n >= 0);
      /* The last cluster of an odd-sized disk is short in the reference. */
      memset (buf + n, 0, CS - n);
      pwrite_all (fd, buf, CS, p->data_offset + k * CS);
    }
  }
  close (rfd);
  assert_true (k == p->data_clusters);
  assert_int_equal (fstat (fd, &st), 0);
  assert_true ((uint64_t) st.st_size == p->file_size);
  assert_int_equal (close (fd), 0);
}

static uint64_t
be64_at (const unsigned char *p)
{
  uint64_t v;
  memcpy (&v, p, 8);
  return be64toh (v);
}

static uint32_t
be32_at (const unsigned char *p)
{
  uint32_t v;
  memcpy (&v, p, 4);
  return be32toh (v);
}

/* The header cluster, byte by byte: qemu-img does not notice everything
 * (it stops reading extensions at the backing name, for one).
 */
static void
check_header (const struct image *im)
{
  const struct vc_qcow2_plan *p = &im->plan;
  unsigned char *h = malloc (CS);
  size_t pos = 104, name_len = im->backing ? strlen (im->backing) : 0;
  int fd;

  assert_non_null (h);
  fd = open (im->path, O_RDONLY | O_CLOEXEC);
  assert_true (fd >= 0);
  assert_int_equal (pread (fd, h, CS, 0), CS);
  close (fd);

  assert_memory_equal (h, "QFI\xfb", 4);
  assert_int_equal (be32_at (h + 4), 3);                /* version */
  assert_int_equal (be32_at (h + 16), name_len);
  assert_int_equal (be32_at (h + 20), 16);              /* cluster bits */
  assert_true (be64_at (h + 24) == im->size);
  assert_int_equal (be32_at (h + 32), 0);               /* no encryption */
  assert_int_equal (be32_at (h + 36), p->l1_entries);
  assert_true (be64_at (h + 40) == p->l1_offset);
  assert_true (be64_at (h + 48) == p->refcount_table_offset);
  assert_int_equal (be32_at (h + 56), p->refcount_table_clusters);
  assert_int_equal (be32_at (h + 60), 0);               /* no snapshots */
  assert_true (be64_at (h + 64) == 0);
  assert_true (be64_at (h + 72) == 0);                  /* incompatible, */
  assert_true (be64_at (h + 80) == 0);                  /* compatible, */
  assert_true (be64_at (h + 88) == 0);                  /* autoclear features */
  assert_int_equal (be32_at (h + 96), 4);               /* 16-bit refcounts */
  assert_int_equal (be32_at (h + 100), 104);            /* header length */

  if (im->backing_fmt) {
    size_t n = strlen (im->backing_fmt);
    assert_int_equal (be32_at (h + pos), 0xE2792ACA);
    assert_int_equal (be32_at (h + pos + 4), n);
    assert_memory_equal (h + pos + 8, im->backing_fmt, n);
    pos += 8 + n;
    for (; pos % 8; pos++)
      assert_int_equal (h[pos], 0);                     /* padding */
  }
  assert_true (be64_at (h + pos) == 0);                 /* end of extensions */
  pos += 8;
  if (im->backing) {
    assert_true (be64_at (h + 8) == pos);
    assert_memory_equal (h + pos, im->backing, name_len);
    pos += name_len;
  }
  else
    assert_true (be64_at (h + 8) == 0);
  for (; pos < CS; pos++)
    if (h[pos])
      fail_msg ("header byte %zu is not zero", pos);
  free (h);
}

/* --- what qemu-img must see -------------------------------------------- */

enum kind { UNALLOC, ZERO, DATA };
static const char *const kind_name[] = { "unallocated", "zero", "data" };

struct seg {
  uint64_t start, length;
  enum kind kind;
  uint64_t host;                /* DATA only */
};
DEFINE_VECTOR_TYPE (seg_vector, struct seg);

/* Appends, merging with the last segment when qemu-img would. */
static void
seg_add (seg_vector *v, uint64_t start, uint64_t length, enum kind kind, uint64_t host)
{
  if (length == 0)
    return;
  if (v->len > 0) {
    struct seg *l = &v->ptr[v->len - 1];
    if (l->start + l->length == start && l->kind == kind &&
        (kind != DATA || l->host + l->length == host)) {
      l->length += length;
      return;
    }
  }
  assert_int_equal (seg_vector_append (v, (struct seg) { start, length, kind, host }), 0);
}

/* The map the plan means: data at its host offsets in guest order, zero
 * where zero was planned, unallocated elsewhere; cut at the virtual size.
 */
static void
expected_map (const struct image *im, seg_vector *out, bool present_known)
{
  size_t i = 0, j = 0;
  uint64_t pos = 0, host = im->plan.data_offset;

  while (pos < im->size) {
    const struct vc_range *d = i < im->data.len ? &im->data.ptr[i] : NULL;
    const struct vc_range *z = j < im->zero.len ? &im->zero.ptr[j] : NULL;
    const struct vc_range *r = d && (!z || d->offset < z->offset) ? d : z;
    if (r == NULL) {
      seg_add (out, pos, im->size - pos, UNALLOC, 0);
      break;
    }
    seg_add (out, pos, r->offset - pos, UNALLOC, 0);
    uint64_t len = min_u64 (r->length, im->size - r->offset);
    if (r == d) {
      seg_add (out, r->offset, len, DATA, host);
      host += r->length;
      i++;
    }
    else {
      seg_add (out, r->offset, len, present_known ? ZERO : UNALLOC, 0);
      j++;
    }
    pos = r->offset + r->length;
  }
}

static void
actual_map (const char *json, seg_vector *out, bool *present_known)
{
  const char *p = json;

  *present_known = true;
  while ((p = strchr (p, '{')) != NULL) {
    const char *end = strchr (p, '}');
    uint64_t start, length, depth, offset = 0;
    assert_non_null (end);
    char *e = strndup (p, end - p + 1);
    assert_non_null (e);
    assert_true (json_u64 (e, "start", &start));
    assert_true (json_u64 (e, "length", &length));
    assert_true (json_u64 (e, "depth", &depth));
    int present = json_bool (e, "present");
    int data = json_bool (e, "data");
    int zero = json_bool (e, "zero");
    assert_true (data >= 0 && zero >= 0);
    if (present == -1)
      *present_known = false;   /* old qemu-img: zero and unallocated alike */
    enum kind k = UNALLOC;
    if (depth == 0 && data == 1) {
      k = DATA;
      assert_true (json_u64 (e, "offset", &offset));
    }
    else if (depth == 0 && present == 1)
      k = ZERO;
    seg_add (out, start, length, k, offset);
    free (e);
    p = end + 1;
  }
}

static void
print_map (const char *title, const seg_vector *v)
{
  print_message ("%s:\n", title);
  for (size_t i = 0; i < v->len; i++)
    print_message ("  %" PRIu64 "+%" PRIu64 " %s %" PRIu64 "\n", v->ptr[i].start,
                   v->ptr[i].length, kind_name[v->ptr[i].kind], v->ptr[i].host);
}

static void
check_map (const struct image *im)
{
  seg_vector want = empty_vector, got = empty_vector;
  bool present_known, same;
  char *out;

  if (run (&out, "qemu-img map -f qcow2 --output=json '%s'", im->path) != 0)
    fail_msg ("qemu-img map failed:\n%s", out);
  actual_map (out, &got, &present_known);
  expected_map (im, &want, present_known);
  same = want.len == got.len;
  for (size_t i = 0; same && i < want.len; i++)
    same = want.ptr[i].start == got.ptr[i].start &&
      want.ptr[i].length == got.ptr[i].length &&
      want.ptr[i].kind == got.ptr[i].kind &&
      want.ptr[i].host == got.ptr[i].host;
  if (!same) {
    print_map ("planned", &want);
    print_map ("qemu-img map", &got);
    fail_msg ("qemu-img map of %s differs from the plan", im->path);
  }
  seg_vector_reset (&want);
  seg_vector_reset (&got);
  free (out);
}

static void
check_info (const struct image *im)
{
  char *out, *s;
  uint64_t v;

  if (run (&out, "qemu-img info -f qcow2 --output=json '%s'", im->path) != 0)
    fail_msg ("qemu-img info failed:\n%s", out);
  assert_true (json_u64 (out, "virtual-size", &v));
  assert_true (v == im->size);
  assert_true (json_u64 (out, "cluster-size", &v));
  assert_true (v == CS);
  assert_true (json_u64 (out, "refcount-bits", &v));
  assert_int_equal (v, 16);
  s = json_str (out, "compat");
  assert_string_equal (s, "1.1");
  free (s);
  s = json_str (out, "backing-filename");
  if (im->backing)
    assert_string_equal (s, im->backing);
  else
    assert_null (s);
  free (s);
  s = json_str (out, "backing-filename-format");
  if (im->backing_fmt)
    assert_string_equal (s, im->backing_fmt);
  else
    assert_null (s);
  free (s);
  assert_int_equal (json_bool (out, "corrupt"), 0);
  free (out);
}

/* Everything qemu-img can say about a written image. */
static void
verify_image (const struct image *im)
{
  char *out;
  uint64_t v;

  if (run (&out, "qemu-img check -f qcow2 --output=json '%s'", im->path) != 0)
    fail_msg ("qemu-img check of %s is not clean:\n%s", im->path, out);
  assert_true (json_u64 (out, "check-errors", &v));
  assert_int_equal (v, 0);
  assert_true (json_u64 (out, "image-end-offset", &v));
  assert_true (v == im->plan.file_size);
  if (!json_u64 (out, "allocated-clusters", &v))
    v = 0;                      /* left out when there are none */
  assert_true (v == im->plan.data_clusters);
  assert_null (strstr (out, "\"leaks\""));
  assert_null (strstr (out, "\"corruptions\""));
  free (out);

  if (run (&out, "qemu-img compare -f qcow2 -F raw '%s' '%s'", im->path, im->ref) != 0)
    fail_msg ("%s does not read as %s:\n%s", im->path, im->ref, out);
  free (out);

  check_map (im);
  check_info (im);
  check_header (im);
}

static void
skip_without_qemu_img (void)
{
  if (!have_qemu_img) {
    print_message ("qemu-img not found: skipped\n");
    skip ();
  }
}

/* --- images judged by qemu-img ----------------------------------------- */

static void
test_full_image_all_data (void **state)
{
  struct fixture *f = *state;
  struct image im;

  skip_without_qemu_img ();
  image_init (&im, 4 * MiB);
  add_range (&im.data, 0, 4 * MiB);
  image_layout (&im);
  /* header, L1, refcount table, one block, one L2 table, 64 clusters */
  assert_true (im.plan.refcount_table_clusters == 1);
  assert_true (im.plan.refcount_blocks == 1);
  assert_true (im.plan.l2_tables == 1);
  assert_true (im.plan.data_offset == 5 * CS);
  assert_true (im.plan.file_size == 69 * CS);
  make_reference (f, &im, "full.raw", NULL, 1);
  write_image (f, &im, "", "full.qcow2");
  verify_image (&im);
  image_free (&im);
}

static void
test_sparse_image_across_l2_boundaries (void **state)
{
  struct fixture *f = *state;
  struct image im;

  skip_without_qemu_img ();
  image_init (&im, 2 * GiB);
  add_range (&im.data, 0, CS);
  add_range (&im.data, 512 * MiB - CS, 2 * CS);          /* straddles table 0|1 */
  add_range (&im.data, 512 * MiB + 10 * CS, CS);
  /* Table 2 untouched. */
  add_range (&im.data, 1536 * MiB + 7 * CS, CS);
  add_range (&im.data, 2 * GiB - CS, CS);                /* the last cluster */
  image_layout (&im);
  assert_true (im.plan.l1_entries == 4);
  assert_true (im.plan.l2_tables == 3);
  assert_true (im.plan.data_clusters == 6);
  make_reference (f, &im, "sparse.raw", NULL, 2);
  write_image (f, &im, "", "sparse.qcow2");
  verify_image (&im);
  image_free (&im);
}

static void
test_overlay_with_backing_data_and_zero (void **state)
{
  struct fixture *f = *state;
  struct image base, top;

  skip_without_qemu_img ();
  /* The base: a full backup with data up to 6 MiB of 8 MiB. */
  image_init (&base, 8 * MiB);
  add_range (&base.data, 0, 6 * MiB);
  image_layout (&base);
  make_reference (f, &base, "base.raw", NULL, 3);
  write_image (f, &base, "0001-full-X", "vda.qcow2");
  verify_image (&base);

  /* The overlay, in a sibling directory, as an incremental backup. */
  image_init (&top, 8 * MiB);
  top.backing = "../0001-full-X/vda.qcow2";
  top.backing_fmt = "qcow2";
  add_range (&top.zero, 0, CS);                 /* zero over base data */
  add_range (&top.data, CS, CS);                /* data over base data */
  add_range (&top.zero, 1 * MiB, 2 * CS);
  add_range (&top.data, 2 * MiB, 3 * CS);
  add_range (&top.data, 2 * MiB + 5 * CS, CS);
  add_range (&top.zero, 6 * MiB + CS, CS);      /* zero over nothing */
  add_range (&top.data, 7 * MiB, CS);           /* data over nothing */
  image_layout (&top);
  assert_true (top.plan.l2_tables == 1);
  assert_true (top.plan.data_clusters == 6);
  make_reference (f, &top, "top.raw", &base, 4);
  write_image (f, &top, "0002-inc-Y", "vda.qcow2");
  verify_image (&top);

  image_free (&base);
  image_free (&top);
}

static void
test_size_not_cluster_multiple (void **state)
{
  struct fixture *f = *state;
  struct image im;

  skip_without_qemu_img ();
  image_init (&im, 3 * MiB + 3 * 512);
  add_range (&im.data, 0, CS);
  add_range (&im.zero, 1 * MiB, CS);
  add_range (&im.data, 3 * MiB, CS);            /* ends at the size rounded up */
  image_layout (&im);
  assert_true (im.plan.data_clusters == 2);
  make_reference (f, &im, "odd.raw", NULL, 5);
  write_image (f, &im, "", "odd.qcow2");
  verify_image (&im);
  image_free (&im);
}

static void
test_overlay_zero_at_odd_end (void **state)
{
  struct fixture *f = *state;
  struct image base, top;

  skip_without_qemu_img ();
  image_init (&base, 1 * MiB + 512);
  add_range (&base.data, 0, 1 * MiB + CS);
  image_layout (&base);
  make_reference (f, &base, "base.raw", NULL, 6);
  write_image (f, &base, "0001-full-X", "vda.qcow2");
  verify_image (&base);

  image_init (&top, 1 * MiB + 512);
  top.backing = "../0001-full-X/vda.qcow2";
  top.backing_fmt = "qcow2";
  add_range (&top.data, 0, CS);
  add_range (&top.zero, 1 * MiB, CS);           /* the short last cluster */
  image_layout (&top);
  make_reference (f, &top, "top.raw", &base, 7);
  write_image (f, &top, "0002-inc-Y", "vda.qcow2");
  verify_image (&top);
  image_free (&base);
  image_free (&top);
}

static void
test_empty_image (void **state)
{
  struct fixture *f = *state;
  struct image im;

  skip_without_qemu_img ();
  image_init (&im, 1 * MiB);
  image_layout (&im);
  assert_true (im.plan.l2_tables == 0);
  assert_true (im.plan.data_clusters == 0);
  assert_true (im.plan.file_size == im.plan.data_offset);
  make_reference (f, &im, "empty.raw", NULL, 8);
  write_image (f, &im, "", "empty.qcow2");
  verify_image (&im);
  image_free (&im);
}

static void
test_zero_size_image (void **state)
{
  struct fixture *f = *state;
  struct image im;

  skip_without_qemu_img ();
  image_init (&im, 0);
  image_layout (&im);
  assert_true (im.plan.l1_entries == 0);
  make_reference (f, &im, "nothing.raw", NULL, 9);
  write_image (f, &im, "", "nothing.qcow2");
  verify_image (&im);
  image_free (&im);
}

static void
test_1tib_with_three_data_clusters (void **state)
{
  struct fixture *f = *state;
  struct image im;

  skip_without_qemu_img ();
  image_init (&im, 1 * TiB);
  add_range (&im.data, 0, CS);
  add_range (&im.zero, 3 * CS, 2 * CS);         /* shares table 0 with data */
  add_range (&im.data, 300 * GiB + CS, CS);
  add_range (&im.zero, 512 * GiB, 1 * MiB);     /* a table of zeroes only */
  add_range (&im.data, 1 * TiB - CS, CS);
  image_layout (&im);
  assert_true (im.plan.l1_entries == 2048);
  assert_true (im.plan.l2_tables == 4);
  assert_true (im.plan.data_clusters == 3);
  make_reference (f, &im, "1t.raw", NULL, 10);
  write_image (f, &im, "", "1t.qcow2");
  verify_image (&im);
  image_free (&im);
}

static void
test_4tib_fills_one_l1_cluster (void **state)
{
  struct fixture *f = *state;
  struct image im;

  skip_without_qemu_img ();
  image_init (&im, 4 * TiB);
  add_range (&im.data, 0, CS);
  add_range (&im.zero, 2 * TiB, 3 * CS);
  add_range (&im.data, 4 * TiB - CS, CS);       /* the last L1 entry */
  image_layout (&im);
  assert_true (im.plan.l1_entries == 8192);
  assert_true (im.plan.refcount_table_offset == 2 * CS);     /* one L1 cluster */
  assert_true (im.plan.refcount_table_clusters == 1);
  assert_true (im.plan.refcount_blocks == 1);
  make_reference (f, &im, "4t.raw", NULL, 11);
  write_image (f, &im, "", "4t.qcow2");
  verify_image (&im);
  image_free (&im);
}

static void
test_8tib_l1_spans_three_clusters (void **state)
{
  struct fixture *f = *state;
  struct image im;

  skip_without_qemu_img ();
  /* 16385 L1 entries: two full L1 clusters and one entry in a third. */
  image_init (&im, 8 * TiB + 512);
  add_range (&im.data, 4 * TiB - CS, 2 * CS);   /* L1 entries 8191 and 8192 */
  add_range (&im.zero, 6 * TiB, CS);
  add_range (&im.data, 8 * TiB, CS);            /* the short last cluster */
  image_layout (&im);
  assert_true (im.plan.l1_entries == 16385);
  assert_true (im.plan.refcount_table_offset == 4 * CS);
  assert_true (im.plan.l2_tables == 4);
  make_reference (f, &im, "8t.raw", NULL, 12);
  write_image (f, &im, "", "8t.qcow2");
  verify_image (&im);
  image_free (&im);
}

static void
test_longest_backing_name_is_stored_whole (void **state)
{
  struct fixture *f = *state;
  struct image im;
  char name[1024];
  char *out, *s;

  skip_without_qemu_img ();
  memset (name, 'b', sizeof name);
  memcpy (name, "../", 3);
  name[1023] = '\0';                            /* 1023 bytes: the most */
  image_init (&im, 1 * MiB);
  im.backing = name;
  im.backing_fmt = "qcow2";
  add_range (&im.data, 0, CS);
  image_layout (&im);
  make_reference (f, &im, "long.raw", NULL, 13);
  write_image (f, &im, "", "long.qcow2");
  /* The backing file does not exist: info only, which does not open it. */
  if (run (&out, "qemu-img info -f qcow2 --output=json '%s'", im.path) != 0)
    fail_msg ("qemu-img info failed:\n%s", out);
  s = json_str (out, "backing-filename");
  assert_string_equal (s, name);
  free (s);
  s = json_str (out, "backing-filename-format");
  assert_string_equal (s, "qcow2");
  free (s);
  free (out);
  check_header (&im);
  image_free (&im);
}

/* --- layout without qemu-img ------------------------------------------- */

/* The least refcount blocks and table clusters that count every cluster
 * of the file, themselves included: found by search, not by iteration.
 */
static void
least_refcounts (uint64_t fixed, uint64_t *blocks, uint64_t *table)
{
  for (uint64_t b = 1; ; b++) {
    uint64_t t = (b * 8 + CS - 1) / CS;
    if (b * (CS / 2) >= fixed + b + t) {
      *blocks = b;
      *table = t;
      return;
    }
  }
}

static void
check_refcounts (uint64_t size, uint64_t data_clusters)
{
  vc_range_vector data = empty_vector, zero = empty_vector;
  struct vc_qcow2_plan p = { .virtual_size = size, .data = &data, .zero = &zero };
  uint64_t blocks, table;

  if (data_clusters)
    add_range (&data, 0, data_clusters * CS);
  assert_int_equal (vc_qcow2_plan_layout (&p), 0);
  uint64_t l1 = (p.l1_entries * 8 + CS - 1) / CS;
  uint64_t l2 = data_clusters ? (data_clusters * CS - 1) / L2_COVERS + 1 : 0;
  assert_true (p.l2_tables == l2);
  least_refcounts (1 + l1 + l2 + data_clusters, &blocks, &table);
  if (p.refcount_blocks != blocks || p.refcount_table_clusters != table)
    fail_msg ("%" PRIu64 " data clusters: %" PRIu64 " blocks, %" PRIu64
              " table clusters; want %" PRIu64 ", %" PRIu64, data_clusters,
              p.refcount_blocks, p.refcount_table_clusters, blocks, table);
  assert_true (p.file_size ==
               (1 + l1 + table + blocks + l2 + data_clusters) * CS);
  vc_range_vector_reset (&data);
}

static void
test_layout_refcount_fixpoint_at_block_boundaries (void **state)
{
  /* 32768 refcounts a block: sizes around where the structures that are
   * counted push the total over into one more block.
   */
  const uint64_t per_block = CS / 2;

  for (uint64_t k = 1; k <= 3; k++)
    for (int64_t d = -8; d <= 8; d++) {
      uint64_t n = k * per_block + d;
      check_refcounts (4 * TiB, n);
    }
  check_refcounts (4 * TiB, 0);
  check_refcounts (4 * TiB, 1);
}

static void
test_layout_refcount_table_grows_past_one_cluster (void **state)
{
  /* 8192 blocks fill one table cluster; 8192 * 32768 clusters is 16 TiB. */
  const uint64_t limit = (CS / 8) * (CS / 2);

  for (int64_t d = -20000; d <= 20000; d += 1000)
    check_refcounts (17 * TiB, limit + d);
  check_refcounts (17 * TiB, 17 * TiB / CS);
}

/* Checks the bytes emitted up to the refcount blocks of a huge plan, then
 * stops the emission (the rest would be gigabytes).
 */
struct prefix {
  const struct vc_qcow2_plan *p;
  unsigned char *buf;
  uint64_t pos;
};

static int
prefix_emit (void *opaque, const void *buf, size_t len)
{
  struct prefix *s = opaque;

  if (s->pos >= s->p->refcount_blocks_offset)
    return -1;
  memcpy (s->buf + s->pos, buf, len);
  s->pos += len;
  return 0;
}

static void
test_emit_header_l1_and_refcount_table_of_huge_image (void **state)
{
  vc_range_vector data = empty_vector, zero = empty_vector;
  struct vc_qcow2_plan p = { .virtual_size = 17 * TiB, .data = &data, .zero = &zero };

  add_range (&data, 0, 17 * TiB);
  assert_int_equal (vc_qcow2_plan_layout (&p), 0);
  assert_true (p.refcount_table_clusters == 2);
  assert_true (p.refcount_blocks > CS / 8);
  assert_true (p.l1_entries == 34816);

  struct prefix s = { &p, malloc (p.refcount_blocks_offset), 0 };
  assert_non_null (s.buf);
  /* The sink stops it at the refcount blocks. */
  assert_int_equal (vc_qcow2_plan_emit_metadata (&p, prefix_emit, &s), -1);
  assert_true (s.pos == p.refcount_blocks_offset);

  const unsigned char *h = s.buf;
  assert_memory_equal (h, "QFI\xfb", 4);
  assert_int_equal (be32_at (h + 4), 3);
  assert_true (be64_at (h + 8) == 0);                   /* no backing */
  assert_int_equal (be32_at (h + 20), 16);
  assert_true (be64_at (h + 24) == 17 * TiB);
  assert_int_equal (be32_at (h + 32), 0);               /* no encryption */
  assert_int_equal (be32_at (h + 36), p.l1_entries);
  assert_true (be64_at (h + 40) == p.l1_offset);
  assert_true (be64_at (h + 48) == p.refcount_table_offset);
  assert_int_equal (be32_at (h + 56), p.refcount_table_clusters);
  assert_int_equal (be32_at (h + 60), 0);               /* no snapshots */
  assert_true (be64_at (h + 72) == 0);                  /* incompatible features */
  assert_int_equal (be32_at (h + 96), 4);               /* 16-bit refcounts */
  assert_int_equal (be32_at (h + 100), 104);

  /* Every L1 entry points at its L2 table, in order. */
  for (uint64_t k = 0; k < p.l1_entries; k++)
    if (be64_at (s.buf + p.l1_offset + k * 8) != ((p.l2_offset + k * CS) | OFLAG_COPIED))
      fail_msg ("L1 entry %" PRIu64 " is wrong", k);
  for (uint64_t k = p.l1_entries; p.l1_offset + k * 8 < p.refcount_table_offset; k++)
    assert_true (be64_at (s.buf + p.l1_offset + k * 8) == 0);

  /* The table, over two clusters, lists every block, then zeroes. */
  for (uint64_t k = 0; k < p.refcount_table_clusters * CS / 8; k++) {
    uint64_t e = be64_at (s.buf + p.refcount_table_offset + k * 8);
    uint64_t want = k < p.refcount_blocks ? p.refcount_blocks_offset + k * CS : 0;
    if (e != want)
      fail_msg ("refcount table entry %" PRIu64 " is %" PRIx64, k, e);
  }
  free (s.buf);
  vc_range_vector_reset (&data);
}

static int
failing_emit (void *opaque, const void *buf, size_t len)
{
  int *calls = opaque;
  (*calls)++;
  return -1;
}

static void
test_emit_stops_when_sink_fails (void **state)
{
  vc_range_vector data = empty_vector, zero = empty_vector;
  struct vc_qcow2_plan p = { .virtual_size = 1 * MiB, .data = &data, .zero = &zero };
  int calls = 0;

  add_range (&data, 0, CS);
  assert_int_equal (vc_qcow2_plan_layout (&p), 0);
  assert_int_equal (vc_qcow2_plan_emit_metadata (&p, failing_emit, &calls), -1);
  assert_int_equal (calls, 1);
  vc_range_vector_reset (&data);
}

/* Lays out a plan from lists of offset, length pairs (in bytes); returns
 * what layout returned, with its errno.
 */
static int
try_layout (uint64_t size, const uint64_t *data, size_t nd,
            const uint64_t *zero, size_t nz, const char *backing,
            const char *backing_fmt)
{
  vc_range_vector d = empty_vector, z = empty_vector;
  struct vc_qcow2_plan p = {
    .virtual_size = size, .data = &d, .zero = &z,
    .backing = backing, .backing_fmt = backing_fmt,
  };
  int r, saved;

  for (size_t i = 0; i < nd; i += 2)
    add_range (&d, data[i], data[i + 1]);
  for (size_t i = 0; i < nz; i += 2)
    add_range (&z, zero[i], zero[i + 1]);
  errno = 0;
  r = vc_qcow2_plan_layout (&p);
  saved = errno;
  vc_range_vector_reset (&d);
  vc_range_vector_reset (&z);
  errno = saved;
  return r;
}

#define R(...) (const uint64_t[]) { __VA_ARGS__ }, \
    sizeof ((const uint64_t[]) { __VA_ARGS__ }) / sizeof (uint64_t)
#define NONE NULL, 0

/* A macro, so that a failure names the line of the case. */
#define assert_refused(call)                    \
  do {                                          \
    int r_ = (call), errno_ = errno;            \
    assert_int_equal (r_, -1);                  \
    assert_int_equal (errno_, EINVAL);          \
  } while (0)

static void
test_layout_refuses_misaligned_ranges (void **state)
{
  assert_refused (try_layout (1 * MiB, R (4096, CS), NONE, NULL, NULL));
  assert_refused (try_layout (1 * MiB, R (0, 4096), NONE, NULL, NULL));
  assert_refused (try_layout (1 * MiB, R (0, CS + 512), NONE, NULL, NULL));
  assert_refused (try_layout (1 * MiB, NONE, R (CS, 512), NULL, NULL));
  assert_refused (try_layout (1 * MiB, NONE, R (512, CS), NULL, NULL));
  /* An empty range is no range. */
  assert_refused (try_layout (1 * MiB, R (0, 0), NONE, NULL, NULL));
  /* The same, aligned, is fine. */
  assert_int_equal (try_layout (1 * MiB, R (0, CS), R (CS, CS), NULL, NULL), 0);
}

static void
test_layout_refuses_overlapping_ranges (void **state)
{
  assert_refused (try_layout (1 * MiB, R (0, 2 * CS, CS, CS), NONE, NULL, NULL));
  assert_refused (try_layout (1 * MiB, NONE, R (0, 2 * CS, CS, 2 * CS), NULL, NULL));
  /* Out of order. */
  assert_refused (try_layout (1 * MiB, R (2 * CS, CS, 0, CS), NONE, NULL, NULL));
  /* Touching is fine. */
  assert_int_equal (try_layout (1 * MiB, R (0, CS, CS, CS), NONE, NULL, NULL), 0);
}

static void
test_layout_refuses_data_overlapping_zero (void **state)
{
  /* The header says zero is disjoint from data, but layout does not check
   * it: the plan then counts an L2 table twice and emit fails afterwards
   * ("the plan contradicts itself").  With both in one L2 table the
   * zero range is silently ignored.  Reported.
   */
  assert_refused (try_layout (1 * GiB, R (0, 512 * MiB + CS),
                              R (CS, CS), NULL, NULL));
  assert_refused (try_layout (1 * MiB, R (0, 2 * CS), R (CS, CS), NULL, NULL));
}

static void
test_layout_refuses_ranges_past_size (void **state)
{
  assert_refused (try_layout (1 * MiB, R (1 * MiB, CS), NONE, NULL, NULL));
  assert_refused (try_layout (1 * MiB, R (15 * CS, 2 * CS), NONE, NULL, NULL));
  assert_refused (try_layout (1 * MiB, NONE, R (1 * MiB, CS), NULL, NULL));
  /* Up to the size rounded up to a cluster, no further. */
  assert_int_equal (try_layout (1 * MiB + 512, R (1 * MiB, CS), NONE, NULL, NULL), 0);
  assert_refused (try_layout (1 * MiB + 512, R (1 * MiB, 2 * CS), NONE, NULL, NULL));
  assert_refused (try_layout (0, R (0, CS), NONE, NULL, NULL));
}

static void
test_layout_refuses_range_wrapping_past_2_64 (void **state)
{
  /* check_ranges tests offset + length > limit, which wraps to 0 for a
   * range ending at 2^64: such a range is accepted.  Reported.
   */
  assert_refused (try_layout (1 * MiB, R (UINT64_C (0) - CS, CS), NONE, NULL, NULL));
  assert_refused (try_layout (1 * MiB, NONE, R (0, CS, UINT64_C (0) - CS, CS),
                              NULL, NULL));
}

static void
test_layout_refuses_long_backing_name (void **state)
{
  char name[1100];

  memset (name, 'x', sizeof name);
  name[1024] = '\0';
  assert_refused (try_layout (1 * MiB, NONE, NONE, name, "qcow2"));
  assert_refused (try_layout (1 * MiB, NONE, NONE, name, NULL));
  name[1023] = '\0';
  assert_int_equal (try_layout (1 * MiB, NONE, NONE, name, "qcow2"), 0);

  /* A format name that cannot fit in the header cluster either. */
  char *fmt = malloc (CS);
  assert_non_null (fmt);
  memset (fmt, 'f', CS - 1);
  fmt[CS - 1] = '\0';
  assert_refused (try_layout (1 * MiB, NONE, NONE, "b.qcow2", fmt));
  free (fmt);
}

int
main (void)
{
#define T(fn) cmocka_unit_test_setup_teardown (fn, setup, teardown)
  const struct CMUnitTest tests[] = {
    T (test_full_image_all_data),
    T (test_sparse_image_across_l2_boundaries),
    T (test_overlay_with_backing_data_and_zero),
    T (test_size_not_cluster_multiple),
    T (test_overlay_zero_at_odd_end),
    T (test_empty_image),
    T (test_zero_size_image),
    T (test_1tib_with_three_data_clusters),
    T (test_4tib_fills_one_l1_cluster),
    T (test_8tib_l1_spans_three_clusters),
    T (test_longest_backing_name_is_stored_whole),
    cmocka_unit_test (test_layout_refcount_fixpoint_at_block_boundaries),
    cmocka_unit_test (test_layout_refcount_table_grows_past_one_cluster),
    cmocka_unit_test (test_emit_header_l1_and_refcount_table_of_huge_image),
    cmocka_unit_test (test_emit_stops_when_sink_fails),
    cmocka_unit_test (test_layout_refuses_misaligned_ranges),
    cmocka_unit_test (test_layout_refuses_overlapping_ranges),
    cmocka_unit_test (test_layout_refuses_data_overlapping_zero),
    cmocka_unit_test (test_layout_refuses_ranges_past_size),
    cmocka_unit_test (test_layout_refuses_range_wrapping_past_2_64),
    cmocka_unit_test (test_layout_refuses_long_backing_name),
  };
#undef T
  int r;


  vc_test_log_init ("test-qcow2-plan");
  have_qemu_img = system ("qemu-img --version >/dev/null 2>&1") == 0;
  r = cmocka_run_group_tests_name ("qcow2-plan", tests, NULL, NULL);
  vc_log_fini ();
  return r;
}
