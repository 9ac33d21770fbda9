/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "common/atomic-file.h"
#include "store/daemon-client.h"
#include "common/cleanup.h"
#include "common/trusted-dir.h"
#include "store/document.h"
#include "common/log.h"
#include "store/name-map.h"
#include "store/remote-node.h"
#include "store/store.h"
#include "store/store-internal.h"
#include "store/store-scan.h"
#include "common/vc-strings.h"
#include "common/xml-safe.h"

#define LOCK_FILE ".lock"

int
vc_store_open (struct vc_store *store, const char *dir, bool create)
{
  store->daemon = NULL;
  store->dir = NULL;
  store->lockfd = -1;
  store->unreplicated = store->warned_unreplicated = false;
  store->replica_node = 0;
  store->remote = store->remote_all = false;
  store->remote_fetched = (string_vector) empty_vector;
  store->scan = NULL;
  store->dirfd = vc_open_trusted_dir (dir, "checkpoint store");
  if (store->dirfd == -1 && errno == ENOENT && create) {
    if (vc_mkdir_parents (dir, 0700) == -1) {
      vc_error ("cannot create checkpoint store %s: %m", dir);
      return -1;
    }
    store->dirfd = vc_open_trusted_dir (dir, "checkpoint store");
  }
  if (store->dirfd == -1 && errno == ENOENT && !create) {
    /* A store nobody wrote to yet reads as empty. */
    store->dir = strdup (dir);
    if (store->dir == NULL) {
      vc_error ("out of memory");
      return -1;
    }
    vc_debug ("checkpoint store %s does not exist yet", dir);
    return 0;
  }
  if (store->dirfd == -1) {
    if (errno == ENOENT)
      vc_error ("checkpoint store %s does not exist", dir);
    return -1;                  /* the rest was reported */
  }
  store->dir = strdup (dir);
  if (store->dir == NULL) {
    vc_error ("out of memory");
    close (store->dirfd);
    return -1;
  }
  return 0;
}

void
vc_store_close (struct vc_store *store)
{
  vc_store_remote_close (store);
  vc_daemon_close (store->daemon);
  store->daemon = NULL;
  if (store->lockfd >= 0)
    close (store->lockfd);
  if (store->dirfd >= 0)
    close (store->dirfd);
  free (store->dir);
  store->dir = NULL;
  store->lockfd = store->dirfd = -1;
  vc_store_scan_free (store->scan);
  store->scan = NULL;
}

/* Temp files left by a writer that crashed: only ever removed under the
 * lock, when no writer can own them.
 */
static void
remove_stale_temps (struct vc_store *store)
{
  DIR *d = vc_opendir_at (store->dirfd);
  struct dirent *e;

  if (d == NULL)
    return;
  while ((e = readdir (d)) != NULL) {
    if (strncmp (e->d_name, ".tmp-", 5) == 0) {
      vc_debug ("removing stale temp file %s/%s", store->dir, e->d_name);
      unlinkat (store->dirfd, e->d_name, 0);
    }
  }
  closedir (d);
}

static int lock_store (struct vc_store *store, int max_tries);

int
vc_store_lock (struct vc_store *store)
{
  return lock_store (store, 600);
}

int
vc_store_lock_now (struct vc_store *store)
{
  return lock_store (store, 0);
}

static int
lock_store (struct vc_store *store, int max_tries)
{
  if (store->lockfd >= 0 || store->daemon)
    return 0;                   /* the daemon orders all writes */
  if (store->dirfd == -1) {
    vc_error ("checkpoint store %s does not exist", store->dir);
    return -1;
  }
  store->lockfd = openat (store->dirfd, LOCK_FILE,
                          O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (store->lockfd == -1) {
    if (errno == EROFS || errno == EACCES || errno == EPERM)
      vc_error ("checkpoint store %s is not writable: %m", store->dir);
    else
      vc_error ("cannot create %s/%s: %m", store->dir, LOCK_FILE);
    return -1;
  }
  /* Bounded: a virtckptd that holds its replica's lock must not hang a
   * CLI that could not reach it.
   */
  for (int tries = 0; flock (store->lockfd, LOCK_EX | LOCK_NB) == -1; tries++) {
    if (errno != EWOULDBLOCK || tries >= max_tries) {
      if (errno == EWOULDBLOCK)
        vc_error ("checkpoint store %s is locked by another process "
                  "(a virtckptd this command cannot reach?)", store->dir);
      else
        vc_error ("cannot lock checkpoint store %s: %m", store->dir);
      close (store->lockfd);
      store->lockfd = -1;
      return -1;
    }
    usleep (50 * 1000);
  }
  remove_stale_temps (store);
  return 0;
}

static int load_file_quietly (struct vc_store *store, const char *file,
                              struct vc_chain *chain, bool quiet);

static int
load_file (struct vc_store *store, const char *file, struct vc_chain *chain)
{
  return load_file_quietly (store, file, chain, false);
}

int
vc_store_load_file (struct vc_store *store, const char *file, struct vc_chain *chain)
{
  return load_file (store, file, chain);
}

static int
load_file_quietly (struct vc_store *store, const char *file,
                   struct vc_chain *chain, bool quiet)
{
  CLEANUP_FREE char *buf = NULL, *err = NULL;
  size_t len;

  if (store->dirfd == -1)
    return 1;
  if (vc_store_remote_fetch (store, file) == -1)
    return -1;
  if (vc_read_file (store->dirfd, file, VC_XML_MAX_SIZE, &buf, &len) == -1) {
    if (errno == ENOENT)
      return 1;
    if (quiet)
      return -1;
    if (errno == EFBIG)
      vc_error ("store document %s/%s is larger than %d MiB: refusing to read it",
                store->dir, file, VC_XML_MAX_SIZE / 1024 / 1024);
    else
      vc_error ("cannot read store document %s/%s: %m", store->dir, file);
    return -1;
  }
  if (vc_document_parse (buf, len, chain, &err) == -1) {
    if (quiet)
      return -1;
    vc_error ("store document %s/%s is damaged: %s", store->dir, file,
              err ? err : "out of memory");
    return -1;
  }
  return 0;
}

int
vc_store_load (struct vc_store *store, const char *domain,
               struct vc_chain *chain)
{
  int r = vc_store_load_any (store, domain, chain);
  if (r == 0 && chain->version.deleted) {
    vc_chain_clear (chain);
    return 1;
  }
  return r;
}

int
vc_store_load_quiet (struct vc_store *store, const char *domain,
                     struct vc_chain *chain)
{
  CLEANUP_FREE char *file = vc_name_to_file (domain);
  int r;

  if (file == NULL)
    return -1;
  r = load_file_quietly (store, file, chain, true);
  if (r == 0 && (strcmp (chain->domain, domain) != 0 || chain->version.deleted)) {
    bool deleted = chain->version.deleted;
    vc_chain_clear (chain);
    return deleted ? 1 : -1;
  }
  return r;
}

int
vc_store_load_any (struct vc_store *store, const char *domain,
                   struct vc_chain *chain)
{
  CLEANUP_FREE char *file = vc_name_to_file (domain);
  int r;

  if (file == NULL) {
    vc_error ("invalid domain name '%s'", domain);
    return -1;
  }
  r = load_file (store, file, chain);
  if (r != 0)
    return r;
  if (strcmp (chain->domain, domain) != 0) {
    vc_error ("store document %s/%s names domain '%s', not '%s'",
              store->dir, file, chain->domain, domain);
    vc_chain_clear (chain);
    return -1;
  }
  return 0;
}

int
vc_store_save (struct vc_store *store, const struct vc_chain *chain)
{
  CLEANUP_FREE char *file = vc_name_to_file (chain->domain);
  CLEANUP_FREE char *doc = NULL;
  size_t len;

  if (store->daemon) {
    if (file == NULL || (doc = vc_document_format (chain, &len)) == NULL) {
      vc_error ("cannot format the store document of %s", chain->domain);
      return -1;
    }
    vc_store_remote_wrote (store, file);
    return vc_daemon_put (store->daemon, chain->domain, doc, len);
  }
  if (store->dirfd == -1) {
    vc_error ("checkpoint store %s does not exist", store->dir);
    return -1;
  }
  struct vc_chain flagged = *chain;     /* shallow: only read below */
  if (store->unreplicated)
    vc_store_flag_unreplicated (store, &flagged);
  if (file)
    doc = vc_document_format (&flagged, &len);
  if (doc == NULL) {
    vc_error ("cannot format the store document of %s", chain->domain);
    return -1;
  }
  vc_store_scan_invalidate (store->scan, file);
  if (vc_atomic_write (store->dirfd, file, doc, len) == -1) {
    vc_error ("cannot write %s/%s: %m", store->dir, file);
    return -1;
  }
  vc_store_scan_wrote (store, file, &flagged);
  vc_debug ("wrote %s/%s (%zu bytes)", store->dir, file, len);
  return 0;
}

int
vc_store_save_text (struct vc_store *store, const char *domain,
                    const char *text, size_t len)
{
  CLEANUP_FREE char *file = vc_name_to_file (domain);

  if (store->dirfd == -1 || file == NULL) {
    vc_error ("cannot store the document of %s", domain);
    return -1;
  }
  vc_store_scan_invalidate (store->scan, file);
  if (vc_atomic_write (store->dirfd, file, text, len) == -1) {
    vc_error ("cannot write %s/%s: %m", store->dir, file);
    return -1;
  }
  return 0;
}

int
vc_store_save_conflict (struct vc_store *store, const struct vc_chain *chain)
{
  CLEANUP_FREE char *file = vc_name_to_file (chain->domain);
  CLEANUP_FREE char *copy = NULL, *doc = NULL, *where = NULL;
  size_t len;
  int fd, r;

  if (file == NULL || (doc = vc_document_format (chain, &len)) == NULL) {
    vc_error ("cannot format the conflicting document of %s", chain->domain);
    return -1;
  }
  file[strlen (file) - strlen (VC_DOC_SUFFIX)] = '\0';
  copy = vc_printf ("%s@%" PRIu64 "-%" PRIu32 ".xml", file,
                    chain->version.generation, chain->version.node);
  if (copy == NULL || store->dirfd == -1 ||
      (mkdirat (store->dirfd, VC_CONFLICTS_DIR, 0700) == -1 && errno != EEXIST)) {
    vc_error ("cannot make %s/%s: %m", store->dir, VC_CONFLICTS_DIR);
    return -1;
  }
  where = vc_printf ("%s/%s", store->dir, VC_CONFLICTS_DIR);
  fd = where ? vc_open_trusted_dir_at (store->dirfd, VC_CONFLICTS_DIR, where,
                                       "conflicts directory") : -1;
  if (fd == -1)
    return -1;
  r = vc_atomic_write (fd, copy, doc, len);
  if (r == -1)
    vc_error ("cannot write %s/%s/%s: %m", store->dir, VC_CONFLICTS_DIR, copy);
  close (fd);
  return r;
}

int
vc_store_remove (struct vc_store *store, const char *domain)
{
  CLEANUP_FREE char *file = vc_name_to_file (domain);

  if (file == NULL) {
    vc_error ("invalid domain name '%s'", domain);
    return -1;
  }
  if (store->daemon) {
    struct vc_chain chain;
    int r = vc_store_load (store, domain, &chain);
    if (r != 0)
      return r;
    vc_chain_clear (&chain);
    vc_store_remote_wrote (store, file);
    return vc_daemon_forget (store->daemon, domain);
  }
  if (store->dirfd == -1)
    return 1;
  if (store->unreplicated) {
    /* Unlinked, the document would come back from the other replicas. */
    struct vc_chain chain, tomb = { 0 };
    int r = vc_store_load (store, domain, &chain);
    if (r != 0)
      return r;
    tomb.domain = chain.domain;
    tomb.uuid = chain.uuid;
    tomb.version.generation = chain.version.generation + 1;
    tomb.version.base_generation = chain.version.base_generation;
    tomb.version.base_node = chain.version.base_node;
    tomb.version.deleted = true;
    tomb.updated = time (NULL);
    r = vc_store_save (store, &tomb);
    vc_chain_clear (&chain);
    return r;
  }
  vc_store_scan_invalidate (store->scan, file);
  if (vc_durable_unlink (store->dirfd, file) == -1) {
    if (errno == ENOENT)
      return 1;
    vc_error ("cannot remove %s/%s: %m", store->dir, file);
    return -1;
  }
  return 0;
}

static int
compare_strings (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

void
vc_string_vector_free (string_vector *v)
{
  for (size_t i = 0; i < v->len; i++)
    free (v->ptr[i]);
  string_vector_reset (v);
}

int
vc_store_list (struct vc_store *store, string_vector *names)
{
  return vc_store_list_any (store, names, false);
}

int
vc_store_list_any (struct vc_store *store, string_vector *names, bool tombstones)
{
  DIR *d;
  struct dirent *e;

  if (store->dirfd == -1)
    return 0;
  if (vc_store_remote_fetch_all (store) == -1)
    return -1;
  if ((d = vc_opendir_at (store->dirfd)) == NULL) {
    vc_error ("cannot list %s: %m", store->dir);
    return -1;
  }
  while ((e = readdir (d)) != NULL) {
    char *name = NULL;
    switch (vc_file_kind (e->d_name)) {
    case VC_FILE_OTHER:
      continue;
    case VC_FILE_ENCODED:
      name = vc_file_to_name (e->d_name);
      if (name && !tombstones) {
        struct vc_chain chain;
        if (load_file_quietly (store, e->d_name, &chain, true) == 0) {
          bool deleted = chain.version.deleted;
          vc_chain_clear (&chain);
          if (deleted) {
            free (name);
            continue;
          }
        }
      }
      break;
    case VC_FILE_HASHED: {
      struct vc_chain chain;
      if (load_file (store, e->d_name, &chain) != 0)
        continue;
      /* A hashed document must be the one its name maps to. */
      CLEANUP_FREE char *expected = vc_name_to_file (chain.domain);
      if (expected == NULL || strcmp (expected, e->d_name) != 0) {
        vc_warn ("store document %s/%s names domain '%s', which is stored "
                 "elsewhere: ignored", store->dir, e->d_name, chain.domain);
        vc_chain_clear (&chain);
        continue;
      }
      if (chain.version.deleted && !tombstones) {
        vc_chain_clear (&chain);
        continue;
      }
      name = chain.domain;
      chain.domain = NULL;
      vc_chain_clear (&chain);
      break;
    }
    }
    if (name == NULL || string_vector_append (names, name) == -1) {
      free (name);
      closedir (d);
      vc_error ("out of memory");
      return -1;
    }
  }
  closedir (d);
  qsort (names->ptr, names->len, sizeof (char *), compare_strings);
  return 0;
}

int
vc_store_set_broken (struct vc_store *store, const char *domain, bool broken,
                     const char *reason)
{
  struct vc_chain chain;
  int ret;

  if (vc_store_lock (store) == -1)
    return -1;
  ret = vc_store_load (store, domain, &chain);
  if (ret != 0)
    return ret == 1 ? 0 : -1;
  if (chain.broken == broken) {
    vc_chain_clear (&chain);
    return 0;
  }
  if (broken)
    vc_chain_mark_broken (&chain, reason, time (NULL));
  else {
    chain.broken = false;
    free (chain.broken_reason);
    chain.broken_reason = NULL;
    chain.broken_since = 0;
  }
  chain.version.generation++;
  chain.updated = time (NULL);
  ret = vc_store_save (store, &chain);
  vc_chain_clear (&chain);
  return ret;
}
