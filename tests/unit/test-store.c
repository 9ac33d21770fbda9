/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of helper/store/store.c and helper/common/atomic-file.c, each in a fresh
 * store under a mkdtemp directory.
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
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "common/atomic-file.h"
#include "store/checkpoint-xml.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "store/name-map.h"
#include "store/store.h"
#include "store/store-scan.h"
#include "store/document.h"
#include "common/vc-strings.h"
#include "common/xml-safe.h"
#include "unit-common.h"

#define UUID "4dea22b3-1d52-d8f3-2516-782e98ab3fa0"

struct fixture {
  char *top;                    /* the mkdtemp directory */
  char *dir;                    /* the store, two levels below */
  struct vc_store store;
  bool mounted;                 /* dir is a read-only bind mount */
};

static int
setup (void **state)
{
  struct fixture *f = calloc (1, sizeof *f);

  if (f == NULL)
    return -1;
  f->top = vc_test_mkdtemp ("test-store");
  if (f->top == NULL)
    return -1;
  /* Two missing levels: open must make them all. */
  f->dir = vc_printf ("%s/lib/store", f->top);
  if (f->dir == NULL || vc_store_open (&f->store, f->dir, true) == -1)
    return -1;
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  struct fixture *f = *state;

  vc_store_close (&f->store);
  if (f->mounted)
    umount2 (f->dir, MNT_DETACH);
  chmod (f->dir, 0700);
  vc_test_rmtree (f->top);
  free (f->dir);
  free (f->top);
  free (f);
  return 0;
}

static char *
path_in (struct fixture *f, const char *file)
{
  char *p = vc_printf ("%s/%s", f->dir, file);
  assert_non_null (p);
  return p;
}

/* A chain of n checkpoints c1 <- c2 <- ... as capture would build it. */
static void
make_chain (struct vc_chain *chain, const char *domain, size_t n,
            uint64_t generation)
{
  memset (chain, 0, sizeof *chain);
  chain->domain = strdup (domain);
  chain->uuid = strdup (UUID);
  chain->version.generation = generation;
  chain->updated = 1764228000;
  for (size_t i = 1; i <= n; i++) {
    CLEANUP_FREE char *parent = i > 1
      ? vc_printf ("<parent><name>c%zu</name></parent>", i - 1) : strdup ("");
    CLEANUP_FREE char *xml =
      vc_printf ("<domaincheckpoint><name>c%zu</name>%s"
                 "<creationTime>%zu</creationTime><disks>"
                 "<disk name='vda' checkpoint='bitmap' bitmap='c%zu'/>"
                 "</disks></domaincheckpoint>", i, parent, 1764227000 + i, i);
    struct vc_checkpoint c;
    char *err = NULL;

    if (vc_checkpoint_parse (xml, &c, &err) == -1)
      fail_msg ("test checkpoint does not parse: %s", err);
    assert_int_equal (vc_checkpoint_vector_append (&chain->checkpoints, c), 0);
  }
}

static void
save (struct fixture *f, const char *domain, size_t n, uint64_t generation)
{
  struct vc_chain chain;

  make_chain (&chain, domain, n, generation);
  assert_int_equal (vc_store_save (&f->store, &chain), 0);
  vc_chain_clear (&chain);
}

static void
write_file (struct fixture *f, const char *file, const char *content, size_t len)
{
  int fd = openat (f->store.dirfd, file, O_WRONLY | O_CREAT | O_TRUNC, 0600);

  assert_true (fd >= 0);
  assert_int_equal (write (fd, content, len), len);
  close (fd);
}

static char *
read_whole (struct fixture *f, const char *file, size_t *len)
{
  char *buf = NULL;

  if (vc_read_file (f->store.dirfd, file, VC_XML_MAX_SIZE, &buf, len) == -1)
    fail_msg ("cannot read %s: %m", file);
  return buf;
}

static bool
exists (struct fixture *f, const char *file)
{
  return faccessat (f->store.dirfd, file, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Number of directory entries whose name starts with prefix. */
static size_t
count_entries (const char *dir, const char *prefix)
{
  DIR *d = opendir (dir);
  struct dirent *e;
  size_t n = 0;

  assert_non_null (d);
  while ((e = readdir (d)) != NULL)
    if (strncmp (e->d_name, prefix, strlen (prefix)) == 0)
      n++;
  closedir (d);
  return n;
}

static void
test_open_creates_private_dir (void **state)
{
  struct fixture *f = *state;
  struct vc_store again;
  struct stat st;

  assert_int_equal (stat (f->dir, &st), 0);
  assert_true (S_ISDIR (st.st_mode));
  assert_int_equal (st.st_mode & 07777, 0700);
  assert_string_equal (f->store.dir, f->dir);

  /* An existing store opens without create, and keeps its mode. */
  assert_int_equal (vc_store_open (&again, f->dir, false), 0);
  vc_store_close (&again);
  assert_int_equal (stat (f->dir, &st), 0);
  assert_int_equal (st.st_mode & 07777, 0700);
}

/* A store nobody wrote to yet reads as empty and refuses writes, without
 * being created by a reader.
 */
static void
test_open_missing_without_create_reads_empty (void **state)
{
  struct fixture *f = *state;
  CLEANUP_FREE char *missing = vc_printf ("%s/nothere", f->top);
  string_vector names = empty_vector;
  struct vc_store s;
  struct vc_chain chain;

  assert_int_equal (vc_store_open (&s, missing, false), 0);
  assert_int_equal (s.dirfd, -1);
  assert_int_equal (vc_store_load (&s, "web", &chain), 1);
  assert_int_equal (vc_store_list (&s, &names), 0);
  assert_int_equal (names.len, 0);
  vc_string_vector_free (&names);

  assert_int_equal (vc_store_lock (&s), -1);
  make_chain (&chain, "web", 1, 1);
  assert_int_equal (vc_store_save (&s, &chain), -1);
  vc_chain_clear (&chain);
  assert_int_equal (vc_store_remove (&s, "web"), 1);   /* nothing stored */
  vc_store_close (&s);
  assert_int_equal (access (missing, F_OK), -1);
}

static void
test_save_load_round_trip (void **state)
{
  struct fixture *f = *state;
  struct vc_chain chain, back;
  struct stat st;

  make_chain (&chain, "web 1", 3, 42);
  chain.broken = true;
  chain.broken_reason = strdup ("bitmap c3 missing in vda");
  chain.broken_since = 1764228100;
  assert_int_equal (vc_store_save (&f->store, &chain), 0);

  assert_int_equal (fstatat (f->store.dirfd, "web%201.xml", &st, 0), 0);
  assert_true (S_ISREG (st.st_mode));
  assert_int_equal (st.st_mode & 0777, 0600);

  assert_int_equal (vc_store_load (&f->store, "web 1", &back), 0);
  assert_string_equal (back.domain, "web 1");
  assert_string_equal (back.uuid, UUID);
  assert_true (back.version.generation == 42);
  assert_int_equal (back.updated, 1764228000);
  assert_true (back.broken);
  assert_string_equal (back.broken_reason, "bitmap c3 missing in vda");
  assert_int_equal (back.broken_since, 1764228100);
  assert_true (vc_chain_same_checkpoints (&chain, &back));
  assert_int_equal (back.checkpoints.ptr[2].created, 1764227003);
  assert_string_equal (back.checkpoints.ptr[2].disks.ptr[0].bitmap, "c3");
  vc_chain_clear (&back);
  vc_chain_clear (&chain);
}

static void
test_load_missing_domain_returns_1 (void **state)
{
  struct fixture *f = *state;
  struct vc_chain chain;

  assert_int_equal (vc_store_load (&f->store, "nobody", &chain), 1);
  save (f, "somebody", 1, 1);
  assert_int_equal (vc_store_load (&f->store, "nobody", &chain), 1);
}

static void
test_load_empty_name_fails (void **state)
{
  struct fixture *f = *state;
  struct vc_chain chain;

  assert_int_equal (vc_store_load (&f->store, "", &chain), -1);
  assert_int_equal (vc_store_remove (&f->store, ""), -1);
}

/* Every printable ASCII byte, twice: too long to stay readable. */
static char *
long_name (char first)
{
  char *name = malloc (2 * 95 + 2);

  assert_non_null (name);
  name[0] = first;
  for (int i = 0; i < 2 * 95; i++)
    name[i + 1] = ' ' + i % 95;
  name[2 * 95 + 1] = '\0';
  return name;
}

static int
compare_strings (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static void
test_list_returns_sorted_names (void **state)
{
  struct fixture *f = *state;
  CLEANUP_FREE char *long1 = long_name ('L');
  CLEANUP_FREE char *long2 = long_name ('M');
  CLEANUP_FREE char *hashed = vc_name_to_file (long1);
  const char *expected[] = {
    "web", "a/b c", "..", ".hidden", "Zeta", "caf\xc3\xa9", "%41", long1, long2,
  };
  const size_t n = sizeof expected / sizeof expected[0];
  string_vector names = empty_vector;

  assert_int_equal (vc_file_kind (hashed), VC_FILE_HASHED);
  for (size_t i = 0; i < n; i++)
    save (f, expected[i], i % 3, i + 1);
  assert_true (exists (f, hashed));

  /* What else lives in a store directory, and must not be listed. */
  assert_int_equal (vc_store_lock (&f->store), 0);
  write_file (f, ".tmp-0123456789abcdef", "<virtckpt-domain", 16);
  write_file (f, "foo.txt", "x", 1);
  write_file (f, "README", "x", 1);
  write_file (f, "%41.xml", "x", 1);        /* "A", non-canonical */
  write_file (f, "web.xml~", "x", 1);
  write_file (f, "~0123.xml", "x", 1);
  assert_int_equal (mkdirat (f->store.dirfd, "sub", 0700), 0);

  assert_int_equal (vc_store_list (&f->store, &names), 0);
  assert_int_equal (names.len, n);
  qsort ((void *) expected, n, sizeof expected[0], compare_strings);
  for (size_t i = 0; i < n; i++)
    assert_string_equal (names.ptr[i], expected[i]);
  vc_string_vector_free (&names);
  assert_null (names.ptr);

  /* Listing only reads. */
  assert_true (exists (f, ".tmp-0123456789abcdef"));

  /* Listing twice gives the same (the directory offset is shared). */
  assert_int_equal (vc_store_list (&f->store, &names), 0);
  assert_int_equal (names.len, n);
  vc_string_vector_free (&names);
}

static void
test_list_empty_store (void **state)
{
  struct fixture *f = *state;
  string_vector names = empty_vector;

  assert_int_equal (vc_store_list (&f->store, &names), 0);
  assert_int_equal (names.len, 0);
  vc_string_vector_free (&names);
}

/* A hashed name is read from its document: an unreadable one is left
 * out, the others still listed.
 */
static void
test_list_skips_damaged_hashed_document (void **state)
{
  struct fixture *f = *state;
  CLEANUP_FREE char *name = long_name ('D');
  CLEANUP_FREE char *file = vc_name_to_file (name);
  string_vector names = empty_vector;

  save (f, "web", 1, 1);
  save (f, name, 1, 1);
  write_file (f, file, "<virtckpt-domain format=\"1\"><na", 31);
  assert_int_equal (vc_store_list (&f->store, &names), 0);
  assert_int_equal (names.len, 1);
  assert_string_equal (names.ptr[0], "web");
  vc_string_vector_free (&names);
}

/* A damaged document is reported, never "repaired": it is evidence. */
static void
test_load_damaged_document_leaves_it_alone (void **state)
{
  struct fixture *f = *state;
  struct vc_chain chain;
  struct stat before, after;
  size_t len, len2;
  char *good, *damaged;

  save (f, "web", 3, 7);
  good = read_whole (f, "web.xml", &len);
  write_file (f, "web.xml", good, len / 2);
  assert_int_equal (fstatat (f->store.dirfd, "web.xml", &before, 0), 0);

  assert_int_equal (vc_store_load (&f->store, "web", &chain), -1);
  assert_null (chain.domain);
  assert_int_equal (chain.checkpoints.len, 0);

  damaged = read_whole (f, "web.xml", &len2);
  assert_int_equal (len2, len / 2);
  assert_memory_equal (damaged, good, len2);
  assert_int_equal (fstatat (f->store.dirfd, "web.xml", &after, 0), 0);
  assert_int_equal (after.st_ino, before.st_ino);
  assert_int_equal (after.st_mtim.tv_sec, before.st_mtim.tv_sec);
  assert_int_equal (after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
  free (damaged);
  free (good);
}

static void
test_load_oversized_document_fails_quickly (void **state)
{
  struct fixture *f = *state;
  struct vc_chain chain;
  int fd = openat (f->store.dirfd, "web.xml", O_WRONLY | O_CREAT, 0600);
  double start;

  /* Sparse: costs no disk, and only its size should be looked at. */
  assert_true (fd >= 0);
  assert_int_equal (ftruncate (fd, 33 * 1024 * 1024), 0);
  close (fd);

  start = vc_test_now ();
  assert_int_equal (vc_store_load (&f->store, "web", &chain), -1);
  assert_true (vc_test_now () - start < 1.0);
}

/* A document copied or renamed to another domain's file is refused,
 * readable and hashed names alike.
 */
static void
test_load_rejects_document_of_other_domain (void **state)
{
  struct fixture *f = *state;
  CLEANUP_FREE char *long_a = long_name ('A');
  CLEANUP_FREE char *long_b = long_name ('B');
  CLEANUP_FREE char *file_a = vc_name_to_file (long_a);
  CLEANUP_FREE char *file_b = vc_name_to_file (long_b);
  struct vc_chain chain;

  save (f, "web", 1, 1);
  assert_int_equal (renameat (f->store.dirfd, "web.xml", f->store.dirfd, "db.xml"), 0);
  assert_int_equal (vc_store_load (&f->store, "db", &chain), -1);
  assert_null (chain.domain);
  assert_int_equal (vc_store_load (&f->store, "web", &chain), 1);

  save (f, long_a, 2, 1);
  assert_int_equal (linkat (f->store.dirfd, file_a, f->store.dirfd, file_b, 0), 0);
  assert_int_equal (vc_store_load (&f->store, long_b, &chain), -1);
  assert_int_equal (vc_store_load (&f->store, long_a, &chain), 0);
  assert_string_equal (chain.domain, long_a);
  vc_chain_clear (&chain);
}

static void
test_load_refuses_symlinked_document (void **state)
{
  struct fixture *f = *state;
  struct vc_chain chain;

  save (f, "real", 1, 1);
  assert_int_equal (symlinkat ("real.xml", f->store.dirfd, "link.xml"), 0);
  assert_int_equal (vc_store_load (&f->store, "link", &chain), -1);
}

static void
test_remove_then_remove_again (void **state)
{
  struct fixture *f = *state;
  struct vc_chain chain;

  save (f, "web", 2, 1);
  save (f, "db", 2, 1);
  assert_int_equal (vc_store_remove (&f->store, "web"), 0);
  assert_false (exists (f, "web.xml"));
  assert_int_equal (vc_store_load (&f->store, "web", &chain), 1);
  assert_int_equal (vc_store_remove (&f->store, "web"), 1);
  /* The other domain is untouched. */
  assert_int_equal (vc_store_load (&f->store, "db", &chain), 0);
  vc_chain_clear (&chain);
}

/* A second save replaces the document by rename: a reader holding the
 * old file still reads it whole, a new reader gets the new one, and no
 * temp file is left over.
 */
static void
test_save_again_replaces_atomically (void **state)
{
  struct fixture *f = *state;
  struct vc_chain chain;
  struct stat st;
  size_t len;
  char *old = NULL, buf[64 * 1024];
  int fd;

  save (f, "web", 2, 1);
  old = read_whole (f, "web.xml", &len);
  fd = openat (f->store.dirfd, "web.xml", O_RDONLY);
  assert_true (fd >= 0);

  save (f, "web", 5, 2);

  assert_true (len < sizeof buf);
  assert_int_equal (pread (fd, buf, sizeof buf, 0), len);
  assert_memory_equal (buf, old, len);
  assert_int_equal (fstat (fd, &st), 0);
  assert_int_equal (st.st_nlink, 0);      /* replaced, not rewritten */
  close (fd);

  assert_int_equal (vc_store_load (&f->store, "web", &chain), 0);
  assert_true (chain.version.generation == 2);
  assert_int_equal (chain.checkpoints.len, 5);
  vc_chain_clear (&chain);
  assert_int_equal (count_entries (f->dir, ".tmp-"), 0);
  free (old);
}

/* --- scans ------------------------------------------------------------- */

struct seen {
  size_t n, parsed_before;
  char names[8][64];
  uint64_t gen[8];
  size_t checkpoints[8];
  bool deleted[8];
};

static int
record (const struct vc_doc_summary *d, void *opaque)
{
  struct seen *s = opaque;

  assert_true (s->n < 8);
  snprintf (s->names[s->n], sizeof s->names[s->n], "%s", d->domain);
  s->gen[s->n] = d->version.generation;
  s->checkpoints[s->n] = d->checkpoints;
  s->deleted[s->n] = d->version.deleted;
  s->n++;
  return 0;
}

static struct seen
scan (struct fixture *f)
{
  struct seen s = { 0 };
  assert_int_equal (vc_store_scan (&f->store, record, &s), 0);
  return s;
}

static void
test_scan_sees_every_change (void **state)
{
  struct fixture *f = *state;
  struct seen s;
  CLEANUP_FREE char *longname = malloc (301);
  struct vc_chain chain;

  assert_non_null (longname);
  memset (longname, 'x', 300);
  longname[300] = '\0';
  s = scan (f);
  assert_int_equal (s.n, 0);
  save (f, "web", 2, 1);
  save (f, "db", 1, 1);
  save (f, longname, 3, 4);     /* a hashed file name */
  s = scan (f);
  assert_int_equal (s.n, 3);
  assert_string_equal (s.names[0], "db");
  assert_string_equal (s.names[1], "web");
  assert_int_equal (s.checkpoints[2], 3);
  assert_int_equal (s.gen[2], 4);

  /* Rewritten through the store, the same size: seen at once. */
  save (f, "web", 2, 7);
  s = scan (f);
  assert_int_equal (s.gen[1], 7);

  /* Rewritten behind the store's back (another process): seen too. */
  make_chain (&chain, "db", 4, 9);
  {
    size_t len;
    CLEANUP_FREE char *doc = vc_document_format (&chain, &len);
    assert_non_null (doc);
    assert_int_equal (vc_atomic_write (f->store.dirfd, "db.xml", doc, len), 0);
  }
  vc_chain_clear (&chain);
  s = scan (f);
  assert_int_equal (s.gen[0], 9);
  assert_int_equal (s.checkpoints[0], 4);

  /* Damaged: skipped, and back when repaired; removed: gone. */
  write_file (f, "db.xml", "<virtckpt-domain", 16);
  s = scan (f);
  assert_int_equal (s.n, 2);
  assert_string_equal (s.names[0], "web");
  save (f, "db", 1, 10);
  assert_int_equal (vc_store_remove (&f->store, "web"), 0);
  s = scan (f);
  assert_int_equal (s.n, 2);
  assert_string_equal (s.names[0], "db");
  assert_int_equal (s.gen[0], 10);

  /* A document in a file that another name maps to is not counted. */
  make_chain (&chain, "other", 1, 1);
  {
    size_t len;
    CLEANUP_FREE char *doc = vc_document_format (&chain, &len);
    assert_non_null (doc);
    write_file (f, "web.xml", doc, len);
  }
  vc_chain_clear (&chain);
  s = scan (f);
  assert_int_equal (s.n, 2);
}

/* The version an update builds on: from the cache, and never stale. */
static void
test_summary_follows_every_write (void **state)
{
  struct fixture *f = *state;
  struct vc_doc_summary d;
  struct vc_chain chain;

  assert_int_equal (vc_store_summary (&f->store, "web", &d), 1);
  save (f, "web", 2, 3);
  scan (f);                     /* cached from here on */
  assert_int_equal (vc_store_summary (&f->store, "web", &d), 0);
  assert_int_equal (d.version.generation, 3);
  assert_int_equal (d.checkpoints, 2);
  assert_int_equal (d.updated, 1764228000);

  /* Written through the store: the new version at once, unparsed. */
  make_chain (&chain, "web", 5, 8);
  chain.version.base_generation = 6;
  chain.version.base_node = 2;
  assert_int_equal (vc_store_save (&f->store, &chain), 0);
  vc_chain_clear (&chain);
  assert_int_equal (vc_store_summary (&f->store, "web", &d), 0);
  assert_int_equal (d.version.generation, 8);
  assert_int_equal (d.version.base_generation, 6);
  assert_int_equal (d.version.base_node, 2);
  assert_int_equal (d.checkpoints, 5);

  /* Rewritten by another process, the same size: the file is another
   * one, so it is read again.
   */
  make_chain (&chain, "web", 5, 9);
  chain.version.base_generation = 6;
  chain.version.base_node = 2;
  {
    size_t len;
    CLEANUP_FREE char *doc = vc_document_format (&chain, &len);
    assert_non_null (doc);
    assert_int_equal (vc_atomic_write (f->store.dirfd, "web.xml", doc, len), 0);
  }
  vc_chain_clear (&chain);
  assert_int_equal (vc_store_summary (&f->store, "web", &d), 0);
  assert_int_equal (d.version.generation, 9);

  /* A tombstone is a document; a damaged one is an error, as for
   * vc_store_load_any; a removed one is gone.
   */
  make_chain (&chain, "db", 0, 4);
  chain.version.deleted = true;
  assert_int_equal (vc_store_save (&f->store, &chain), 0);
  vc_chain_clear (&chain);
  assert_int_equal (vc_store_summary (&f->store, "db", &d), 0);
  assert_true (d.version.deleted);
  assert_int_equal (d.version.generation, 4);
  write_file (f, "web.xml", "<virtckpt-domain", 16);
  assert_int_equal (vc_store_summary (&f->store, "web", &d), -1);
  assert_int_equal (vc_store_remove (&f->store, "db"), 0);
  assert_int_equal (vc_store_summary (&f->store, "db", &d), 1);
}

static void
test_lock_removes_stale_temps (void **state)
{
  struct fixture *f = *state;
  struct stat st;

  save (f, "web", 1, 1);
  write_file (f, ".tmp-0123456789abcdef", "<virtckpt-dom", 13);
  write_file (f, ".tmp-", "", 0);
  write_file (f, "foo.txt", "keep", 4);
  assert_int_equal (count_entries (f->dir, ".tmp-"), 2);

  assert_int_equal (vc_store_lock (&f->store), 0);
  assert_int_equal (count_entries (f->dir, ".tmp-"), 0);
  assert_true (exists (f, "web.xml"));
  assert_true (exists (f, "foo.txt"));
  assert_int_equal (fstatat (f->store.dirfd, ".lock", &st, 0), 0);
  assert_int_equal (st.st_mode & 0777, 0600);

  /* Taking it again is a no-op that succeeds. */
  int fd = f->store.lockfd;
  assert_int_equal (vc_store_lock (&f->store), 0);
  assert_int_equal (f->store.lockfd, fd);
}

/* Mounts the store read-only (root) or takes its write permission (other
 * users: root ignores it), then reopens it.  Returns false when neither
 * is possible here.
 */
static bool
make_store_read_only (struct fixture *f)
{
  vc_store_close (&f->store);
  if (geteuid () != 0) {
    if (chmod (f->dir, 0500) == -1)
      return false;
  }
  else {
    /* A private mount namespace, so nothing leaks to the host.  The
     * file system type is ignored for these calls; "none" rather than
     * NULL keeps valgrind quiet.
     */
    if (unshare (CLONE_NEWNS) == -1 ||
        mount ("none", "/", "none", MS_REC | MS_PRIVATE, NULL) == -1 ||
        mount (f->dir, f->dir, "none", MS_BIND, NULL) == -1)
      return false;
    f->mounted = true;
    if (mount ("none", f->dir, "none", MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) == -1)
      return false;
  }
  assert_int_equal (vc_store_open (&f->store, f->dir, false), 0);
  return true;
}

static void
test_read_only_store (void **state)
{
  struct fixture *f = *state;
  struct vc_chain chain;
  string_vector names = empty_vector;

  save (f, "web", 2, 1);
  if (!make_store_read_only (f)) {
    /* vc_store_close leaves the fixture safe to tear down. */
    skip ();
  }

  /* Readers still work... */
  assert_int_equal (vc_store_load (&f->store, "web", &chain), 0);
  vc_chain_clear (&chain);
  assert_int_equal (vc_store_list (&f->store, &names), 0);
  assert_int_equal (names.len, 1);
  vc_string_vector_free (&names);

  /* ...writers fail cleanly, and nothing changes. */
  assert_int_equal (vc_store_lock (&f->store), -1);
  assert_int_equal (f->store.lockfd, -1);
  make_chain (&chain, "web", 4, 2);
  assert_int_equal (vc_store_save (&f->store, &chain), -1);
  vc_chain_clear (&chain);
  assert_int_equal (vc_store_remove (&f->store, "web"), -1);
  assert_int_equal (vc_store_load (&f->store, "web", &chain), 0);
  assert_true (chain.version.generation == 1);
  assert_int_equal (chain.checkpoints.len, 2);
  vc_chain_clear (&chain);
  assert_int_equal (count_entries (f->dir, ".tmp-"), 0);
}

static void
test_atomic_write_into_vanished_dir_fails (void **state)
{
  struct fixture *f = *state;
  CLEANUP_FREE char *sub = path_in (f, "gone");
  int fd;

  assert_int_equal (mkdir (sub, 0700), 0);
  fd = open (sub, O_RDONLY | O_DIRECTORY);
  assert_true (fd >= 0);
  assert_int_equal (rmdir (sub), 0);

  errno = 0;
  assert_int_equal (vc_atomic_write (fd, "web.xml", "x", 1), -1);
  assert_int_equal (errno, ENOENT);
  close (fd);
  assert_int_equal (count_entries (f->dir, ".tmp-"), 0);
  assert_int_equal (access (sub, F_OK), -1);
}

/* The rename fails (a directory holds the name): the written temp file
 * must go, and errno must be the rename's.
 */
static void
test_atomic_write_failed_rename_leaves_no_temp (void **state)
{
  struct fixture *f = *state;
  CLEANUP_FREE char *inner = path_in (f, "web.xml/inner");

  assert_int_equal (mkdirat (f->store.dirfd, "web.xml", 0700), 0);
  assert_int_equal (mkdir (inner, 0700), 0);

  errno = 0;
  assert_int_equal (vc_atomic_write (f->store.dirfd, "web.xml", "data", 4), -1);
  assert_true (errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST);
  assert_int_equal (count_entries (f->dir, ".tmp-"), 0);
  assert_int_equal (access (inner, F_OK), 0);
}

static void
test_atomic_write_replaces_content (void **state)
{
  struct fixture *f = *state;
  static const char data[] = "new\0content\n";      /* with a NUL inside */
  struct stat st;
  size_t len;
  char *buf;

  write_file (f, "file", "old content that is longer", 26);
  assert_int_equal (vc_atomic_write (f->store.dirfd, "file", data, sizeof data - 1), 0);
  buf = read_whole (f, "file", &len);
  assert_int_equal (len, sizeof data - 1);
  assert_memory_equal (buf, data, len);
  assert_int_equal (buf[len], '\0');
  free (buf);
  assert_int_equal (fstatat (f->store.dirfd, "file", &st, 0), 0);
  assert_int_equal (st.st_mode & 0777, 0600);
  assert_int_equal (count_entries (f->dir, ".tmp-"), 0);

  /* Empty content is a valid file, not an error. */
  assert_int_equal (vc_atomic_write (f->store.dirfd, "file", "", 0), 0);
  buf = read_whole (f, "file", &len);
  assert_int_equal (len, 0);
  assert_string_equal (buf, "");
  free (buf);
}

static void
test_read_file_refuses_directory_and_symlink (void **state)
{
  struct fixture *f = *state;
  char *buf = NULL;
  size_t len;

  write_file (f, "target", "hello", 5);
  assert_int_equal (mkdirat (f->store.dirfd, "dir.xml", 0700), 0);
  assert_int_equal (symlinkat ("target", f->store.dirfd, "link"), 0);

  errno = 0;
  assert_int_equal (vc_read_file (f->store.dirfd, "dir.xml", 100, &buf, &len), -1);
  assert_int_equal (errno, EINVAL);
  errno = 0;
  assert_int_equal (vc_read_file (f->store.dirfd, "link", 100, &buf, &len), -1);
  assert_int_equal (errno, ELOOP);
  errno = 0;
  assert_int_equal (vc_read_file (f->store.dirfd, "missing", 100, &buf, &len), -1);
  assert_int_equal (errno, ENOENT);
  errno = 0;
  assert_int_equal (vc_read_file (f->store.dirfd, "target", 4, &buf, &len), -1);
  assert_int_equal (errno, EFBIG);
  assert_null (buf);

  assert_int_equal (vc_read_file (f->store.dirfd, "target", 5, &buf, &len), 0);
  assert_int_equal (len, 5);
  assert_string_equal (buf, "hello");
  free (buf);
}

/* A store or conflicts directory that others can write, or a symbolic
 * link in its place, is refused; the private one is used.
 */
static void
test_refuses_untrusted_dirs (void **state)
{
  struct fixture *f = *state;
  struct vc_store other;
  struct vc_chain chain;
  CLEANUP_FREE char *link = vc_printf ("%s/link", f->top);
  CLEANUP_FREE char *conflicts = vc_printf ("%s/%s", f->dir, VC_CONFLICTS_DIR);

  make_chain (&chain, "web", 1, 3);
  assert_int_equal (vc_store_save_conflict (&f->store, &chain), 0);
  assert_int_equal (chmod (conflicts, 0777), 0);
  assert_int_equal (vc_store_save_conflict (&f->store, &chain), -1);
  assert_int_equal (chmod (conflicts, 0700), 0);
  assert_int_equal (vc_store_save_conflict (&f->store, &chain), 0);
  vc_chain_clear (&chain);

  assert_int_equal (chmod (f->dir, 0770), 0);
  assert_int_equal (vc_store_open (&other, f->dir, false), -1);
  assert_int_equal (chmod (f->dir, 0700), 0);
  assert_int_equal (symlink (f->dir, link), 0);
  assert_int_equal (vc_store_open (&other, link, false), -1);
  assert_int_equal (vc_store_open (&other, f->dir, false), 0);
  vc_store_close (&other);
}

int
main (void)
{
#define T(fn) cmocka_unit_test_setup_teardown (fn, setup, teardown)
  const struct CMUnitTest tests[] = {
    T (test_open_creates_private_dir),
    T (test_open_missing_without_create_reads_empty),
    T (test_save_load_round_trip),
    T (test_load_missing_domain_returns_1),
    T (test_load_empty_name_fails),
    T (test_list_returns_sorted_names),
    T (test_list_empty_store),
    T (test_list_skips_damaged_hashed_document),
    T (test_load_damaged_document_leaves_it_alone),
    T (test_load_oversized_document_fails_quickly),
    T (test_load_rejects_document_of_other_domain),
    T (test_load_refuses_symlinked_document),
    T (test_remove_then_remove_again),
    T (test_save_again_replaces_atomically),
    T (test_scan_sees_every_change),
    T (test_summary_follows_every_write),
    T (test_lock_removes_stale_temps),
    T (test_read_only_store),
    T (test_atomic_write_into_vanished_dir_fails),
    T (test_atomic_write_failed_rename_leaves_no_temp),
    T (test_atomic_write_replaces_content),
    T (test_read_file_refuses_directory_and_symlink),
    T (test_refuses_untrusted_dirs),
  };
#undef T
  int r;

  vc_test_log_init ("test-store");
  r = cmocka_run_group_tests_name ("store", tests, NULL, NULL);
  vc_log_fini ();
  return r;
}
