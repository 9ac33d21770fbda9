/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The store on a Pacemaker Remote node.  Such a node runs no corosync,
 * so no virtckptd and no replica of its own: the CLI reaches the
 * replica of a full node through that node's relay (remote/), and reads
 * documents through a private snapshot directory that it fills as it
 * reads and removes when it is done.  Every reading command therefore
 * sees what a synced, quorate full node holds now (the relay refuses to
 * answer otherwise), never what this node saw the last time; writes go
 * to the cluster as they do from a full node.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/atomic-file.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/run-capture.h"
#include "common/trusted-dir.h"
#include "common/vc-strings.h"
#include "remote/remote-protocol.h"
#include "store/daemon-client.h"
#include "store/name-map.h"
#include "store/remote-node.h"
#include "store/store.h"
#include "store/store-scan.h"

static bool
fetched (const struct vc_store *store, const char *file)
{
  if (store->remote_all)
    return true;
  for (size_t i = 0; i < store->remote_fetched.len; i++)
    if (strcmp (store->remote_fetched.ptr[i], file) == 0)
      return true;
  return false;
}

static void
forget_fetched (struct vc_store *store, const char *file)
{
  store->remote_all = false;
  for (size_t i = 0; i < store->remote_fetched.len; i++)
    if (strcmp (store->remote_fetched.ptr[i], file) == 0) {
      free (store->remote_fetched.ptr[i]);
      string_vector_remove (&store->remote_fetched, i);
      return;
    }
}

/* The snapshot's copy of file becomes the serving node's. */
static int
fetch (struct vc_store *store, const char *file)
{
  CLEANUP_FREE char *text = NULL;
  size_t len = 0;
  char *copy;
  int r;

  r = vc_daemon_get_file (store->daemon, file, &text, &len);
  if (r == -1)
    return -1;
  vc_store_scan_invalidate (store->scan, file);
  if (r == 1) {
    if (unlinkat (store->dirfd, file, 0) == -1 && errno != ENOENT) {
      vc_error ("cannot remove %s/%s: %m", store->dir, file);
      return -1;
    }
  }
  else if (vc_atomic_write (store->dirfd, file, text, len) == -1) {
    vc_error ("cannot write %s/%s: %m", store->dir, file);
    return -1;
  }
  if ((copy = strdup (file)) == NULL ||
      string_vector_append (&store->remote_fetched, copy) == -1) {
    free (copy);
    vc_error ("out of memory");
    return -1;
  }
  return 0;
}

int
vc_store_remote_fetch (struct vc_store *store, const char *file)
{
  if (!store->remote || fetched (store, file))
    return 0;
  return fetch (store, file);
}

int
vc_store_remote_fetch_all (struct vc_store *store)
{
  char **names = NULL;
  size_t n = 0;
  int ret = -1;

  if (!store->remote || store->remote_all)
    return 0;
  if (vc_daemon_list_files (store->daemon, &names, &n) == -1)
    return -1;
  /* What the snapshot holds and the server no longer does goes. */
  {
    DIR *d = vc_opendir_at (store->dirfd);
    struct dirent *e;
    if (d == NULL) {
      vc_error ("cannot list %s: %m", store->dir);
      goto out;
    }
    while ((e = readdir (d)) != NULL) {
      bool listed = false;
      if (vc_file_kind (e->d_name) == VC_FILE_OTHER)
        continue;
      for (size_t i = 0; i < n && !listed; i++)
        listed = strcmp (names[i], e->d_name) == 0;
      if (!listed) {
        vc_store_scan_invalidate (store->scan, e->d_name);
        unlinkat (store->dirfd, e->d_name, 0);
      }
    }
    closedir (d);
  }
  for (size_t i = 0; i < n; i++) {
    /* A name the server sends is only ever a file in the snapshot. */
    if (vc_file_kind (names[i]) == VC_FILE_OTHER) {
      vc_warn ("%s sent '%s', which is no store document: ignored",
               vc_daemon_server (store->daemon), names[i]);
      continue;
    }
    if (!fetched (store, names[i]) && fetch (store, names[i]) == -1)
      goto out;
  }
  store->remote_all = true;
  ret = 0;
 out:
  for (size_t i = 0; i < n; i++)
    free (names[i]);
  free (names);
  return ret;
}

void
vc_store_remote_wrote (struct vc_store *store, const char *file)
{
  if (store->remote)
    forget_fetched (store, file);
}

int
vc_store_open_remote (struct vc_store *store, struct vc_daemon *d)
{
  const char *tmp = getenv ("TMPDIR");
  CLEANUP_FREE char *dir = NULL;

  if (tmp == NULL || tmp[0] != '/')
    tmp = "/tmp";
  if (asprintf (&dir, "%s/virtckpt-remote.XXXXXX", tmp) == -1) {
    vc_error ("out of memory");
    return -1;
  }
  if (mkdtemp (dir) == NULL) {
    vc_error ("cannot make a directory in %s for the documents read from %s: %m",
              tmp, vc_daemon_server (d));
    return -1;
  }
  if (vc_store_open (store, dir, false) == -1) {
    rmdir (dir);
    return -1;
  }
  store->daemon = d;
  store->remote = true;
  return 0;
}

void
vc_store_remote_close (struct vc_store *store)
{
  DIR *d;
  struct dirent *e;

  if (!store->remote)
    return;
  if (store->dirfd >= 0 && (d = vc_opendir_at (store->dirfd)) != NULL) {
    while ((e = readdir (d)) != NULL)
      if (strcmp (e->d_name, ".") != 0 && strcmp (e->d_name, "..") != 0)
        unlinkat (store->dirfd, e->d_name, 0);
    closedir (d);
  }
  if (store->dir && rmdir (store->dir) == -1 && errno != ENOENT)
    vc_warn ("cannot remove %s: %m", store->dir);
  vc_string_vector_free (&store->remote_fetched);
  store->remote = store->remote_all = false;
}
