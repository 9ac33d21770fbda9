/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Summaries of every stored document, parsed only when changed: see
 * store-scan.h.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "common/atomic-file.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "store/name-map.h"
#include "store/remote-node.h"
#include "store/schedule.h"
#include "store/store-scan.h"
#include "common/vector.h"

struct entry {
  char *file;
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
  bool ok;                      /* parsed, and the document file maps to */
  struct vc_doc_summary s;      /* s.domain is owned */
};
DEFINE_VECTOR_TYPE (entry_vector, struct entry);

struct vc_store_scan {
  entry_vector entries;         /* sorted by file */
};

static void
summarize (struct vc_doc_summary *s, const char *domain, const struct vc_chain *c)
{
  *s = (struct vc_doc_summary) {
    .domain = domain,
    .version = c->version,
    .checkpoints = c->checkpoints.len,
    .updated = c->updated,
    .schedule_every = c->schedule ? c->schedule->every : 0,
    .schedule_set = c->schedule ? c->schedule->set : 0,
  };
}

static void
entry_clear (struct entry *e)
{
  free (e->file);
  free ((char *) e->s.domain);
  memset (e, 0, sizeof *e);
}

static void
entries_free (entry_vector *v)
{
  for (size_t i = 0; i < v->len; i++)
    entry_clear (&v->ptr[i]);
  entry_vector_reset (v);
}

void
vc_store_scan_free (struct vc_store_scan *scan)
{
  if (scan == NULL)
    return;
  entries_free (&scan->entries);
  free (scan);
}

static int
entry_cmp (const void *a, const void *b)
{
  return strcmp (((const struct entry *) a)->file, ((const struct entry *) b)->file);
}

static bool
same_file (const struct entry *a, const struct entry *b)
{
  return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
    a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* Parses e->file into e->s. */
static void
parse_entry (struct vc_store *store, struct entry *e)
{
  struct vc_chain c;
  CLEANUP_FREE char *expected = NULL;

  e->ok = false;
  if (vc_store_load_file (store, e->file, &c) != 0)
    return;
  expected = vc_name_to_file (c.domain);
  if (expected == NULL || strcmp (expected, e->file) != 0)
    vc_warn ("store document %s/%s names domain '%s', which is stored "
             "elsewhere: ignored", store->dir, e->file, c.domain);
  else {
    e->ok = true;
    summarize (&e->s, c.domain, &c);
    c.domain = NULL;
  }
  vc_chain_clear (&c);
}

/* The directory as it is now: the documents' files and their identity. */
static int
list_files (struct vc_store *store, entry_vector *out)
{
  DIR *d = vc_opendir_at (store->dirfd);
  struct dirent *de;

  if (d == NULL) {
    vc_error ("cannot list %s: %m", store->dir);
    return -1;
  }
  while ((de = readdir (d)) != NULL) {
    struct stat st;
    struct entry e = { 0 };
    if (vc_file_kind (de->d_name) == VC_FILE_OTHER ||
        fstatat (store->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
        !S_ISREG (st.st_mode))
      continue;
    e.file = strdup (de->d_name);
    e.dev = st.st_dev;
    e.ino = st.st_ino;
    e.size = st.st_size;
    e.mtime = st.st_mtim;
    if (e.file == NULL || entry_vector_append (out, e) == -1) {
      free (e.file);
      closedir (d);
      vc_error ("out of memory");
      return -1;
    }
  }
  closedir (d);
  if (out->len)
    qsort (out->ptr, out->len, sizeof (struct entry), entry_cmp);
  return 0;
}

static struct entry *
find_entry (struct vc_store_scan *scan, const char *file)
{
  struct entry key = { .file = (char *) file };

  if (scan == NULL || scan->entries.len == 0)
    return NULL;
  return bsearch (&key, scan->entries.ptr, scan->entries.len,
                  sizeof (struct entry), entry_cmp);
}

void
vc_store_scan_invalidate (struct vc_store_scan *scan, const char *file)
{
  struct entry *e = find_entry (scan, file);

  if (e)
    e->ino = 0, e->dev = 0;     /* never the identity of a file */
}

/* The entry of file, made (in file order) if there is none. */
static struct entry *
get_entry (struct vc_store_scan *scan, const char *file)
{
  struct entry *e = find_entry (scan, file), n = { 0 };
  size_t at = 0;

  if (e)
    return e;
  while (at < scan->entries.len && strcmp (scan->entries.ptr[at].file, file) < 0)
    at++;
  if ((n.file = strdup (file)) == NULL || entry_vector_append (&scan->entries, n) == -1) {
    free (n.file);
    return NULL;
  }
  memmove (&scan->entries.ptr[at + 1], &scan->entries.ptr[at],
           (scan->entries.len - 1 - at) * sizeof (struct entry));
  scan->entries.ptr[at] = n;
  return &scan->entries.ptr[at];
}

/* e now describes st, holding chain. */
static void
set_entry (struct entry *e, const struct stat *st, const struct vc_chain *chain)
{
  char *domain = strdup (chain->domain);

  free ((char *) e->s.domain);
  e->dev = st->st_dev;
  e->ino = domain ? st->st_ino : 0;     /* no copy: parse it next time */
  e->size = st->st_size;
  e->mtime = st->st_mtim;
  e->ok = domain != NULL;
  summarize (&e->s, domain, chain);
}

void
vc_store_scan_wrote (struct vc_store *store, const char *file,
                     const struct vc_chain *chain)
{
  struct stat st;
  struct entry *e;

  if (store->scan == NULL ||
      fstatat (store->dirfd, file, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
      (e = get_entry (store->scan, file)) == NULL)
    return;
  set_entry (e, &st, chain);
}

int
vc_store_summary (struct vc_store *store, const char *domain,
                  struct vc_doc_summary *out)
{
  CLEANUP_FREE char *file = vc_name_to_file (domain);
  struct vc_chain c;
  struct entry now = { 0 }, *e;
  struct stat st;
  int r;

  if (file && vc_store_remote_fetch (store, file) == -1)
    return -1;
  if (file && store->dirfd != -1 && store->scan == NULL)
    store->scan = calloc (1, sizeof *store->scan);
  if (file && store->scan && store->dirfd != -1 &&
      fstatat (store->dirfd, file, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG (st.st_mode)) {
    now = (struct entry) { .dev = st.st_dev, .ino = st.st_ino, .size = st.st_size,
                           .mtime = st.st_mtim };
    e = find_entry (store->scan, file);
    if (e && e->ok && same_file (e, &now) && strcmp (e->s.domain, domain) == 0) {
      *out = e->s;
      return 0;
    }
  }
  r = vc_store_load_any (store, domain, &c);
  if (r != 0)
    return r;
  /* Cached with the identity seen before reading: a file replaced since
   * only misses the cache next time.
   */
  if (now.ino && (e = get_entry (store->scan, file)) != NULL) {
    set_entry (e, &st, &c);
    if (e->ok) {
      vc_chain_clear (&c);
      *out = e->s;
      return 0;
    }
  }
  summarize (out, domain, &c);
  vc_chain_clear (&c);
  return 0;
}

int
vc_store_scan (struct vc_store *store,
               int (*fn) (const struct vc_doc_summary *, void *), void *opaque)
{
  entry_vector now = empty_vector;
  struct vc_store_scan *scan;
  size_t k = 0;

  if (store->scan == NULL && (store->scan = calloc (1, sizeof *store->scan)) == NULL) {
    vc_error ("out of memory");
    return -1;
  }
  scan = store->scan;
  if (store->dirfd == -1) {
    entries_free (&scan->entries);
    return 0;
  }
  if (vc_store_remote_fetch_all (store) == -1 || list_files (store, &now) == -1) {
    entries_free (&now);
    return -1;
  }
  /* Both sorted by file: take over what did not change. */
  for (size_t i = 0; i < now.len; i++) {
    struct entry *e = &now.ptr[i];
    int c = 1;
    while (k < scan->entries.len &&
           (c = strcmp (scan->entries.ptr[k].file, e->file)) < 0)
      k++;
    if (k < scan->entries.len && c == 0 && same_file (&scan->entries.ptr[k], e)) {
      struct entry *old = &scan->entries.ptr[k];
      e->ok = old->ok;
      e->s = old->s;
      old->s.domain = NULL;
    }
    else
      parse_entry (store, e);
  }
  entries_free (&scan->entries);
  scan->entries = now;

  for (size_t i = 0; i < scan->entries.len; i++)
    if (scan->entries.ptr[i].ok && fn (&scan->entries.ptr[i].s, opaque) != 0)
      break;
  return 0;
}
