/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "backup/restore-chain.h"
#include "backup/verify.h"
#include "common/full-io.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/vc-strings.h"

static int
fd_pread (void *opaque, void *buf, size_t len, uint64_t off)
{
  return vc_pread_full (*(int *) opaque, buf, len, off);
}

static int
open_link (int dirfd, const char *dir, const struct vc_backup *b,
           const struct vc_backup_disk *d, struct vc_link *l)
{
  const char *why;

  l->fd = vc_backup_open_file (dirfd, dir, b, d->file, &l->st);
  if (l->fd == -1 || vc_verify_image (l->fd, l->label, d, false) != 0)
    return -1;
  l->img.pread = fd_pread;
  l->img.opaque = &l->fd;
  l->img.file_size = l->st.st_size;
  if ((why = vc_qcow2_read_open (&l->img)) != NULL) {
    vc_error ("%s: FAILED: refused as an image: %s%s", l->label, why,
              why == vc_qcow2_read_error ? ": %m" : "");
    return -1;
  }
  return 0;
}

int
vc_chain_open (int dirfd, const char *dir, const struct vc_manifest *m,
               const struct vc_backup *b, const char *name, vc_link_vector *out)
{
  for (; b; b = b->parent ? vc_manifest_find (m, b->parent) : NULL) {
    const struct vc_backup_disk *d = vc_backup_disk (b, name);
    struct vc_link l = { .fd = -1, .backup = b, .disk = d };
    if (d == NULL) {
      vc_error ("backup %u has no disk '%s'", b->id, name);
      return -1;
    }
    l.label = vc_printf ("%s/%s/%s", dir, b->dir, d->file);
    if (l.label == NULL || vc_link_vector_append (out, l) == -1) {
      free (l.label);
      vc_error ("out of memory");
      return -1;
    }
    struct vc_link *p = &out->ptr[out->len - 1];
    /* The vector may move: the pread callback's opaque follows. */
    for (size_t i = 0; i < out->len; i++)
      out->ptr[i].img.opaque = &out->ptr[i].fd;
    if (open_link (dirfd, dir, b, d, p) == -1)
      return -1;
  }
  return 0;
}

void
vc_chain_close (vc_link_vector *v)
{
  for (size_t i = 0; i < v->len; i++) {
    if (v->ptr[i].fd >= 0)
      close (v->ptr[i].fd);
    vc_qcow2_read_close (&v->ptr[i].img);
    free (v->ptr[i].label);
  }
  vc_link_vector_reset (v);
}

int
vc_chain_map (vc_link_vector *v, struct vc_chain_map *map)
{
  CLEANUP_FREE struct vc_qcow2_image *imgs = calloc (v->len ? v->len : 1, sizeof *imgs);
  const char *why;
  size_t bad;

  if (imgs == NULL) {
    vc_error ("out of memory");
    return -1;
  }
  for (size_t i = 0; i < v->len; i++)
    imgs[i] = v->ptr[i].img;
  why = vc_chain_map_build (imgs, v->len, map, &bad);
  /* Give back what the walk counted; the L1 tables are the same. */
  for (size_t i = 0; i < v->len; i++)
    v->ptr[i].img.bytes_read = imgs[i].bytes_read;
  if (why) {
    vc_chain_map_clear (map, v->len);
    vc_error ("%s: FAILED: refused as an image: %s%s", v->ptr[bad].label, why,
              why == vc_qcow2_read_error ? ": %m" : "");
    return -1;
  }
  return 0;
}

uint64_t
vc_chain_bytes_read (const vc_link_vector *v)
{
  uint64_t total = 0;

  for (size_t i = 0; i < v->len; i++)
    total += v->ptr[i].img.bytes_read;
  return total;
}

bool
vc_chain_unchanged (const vc_link_vector *v)
{
  for (size_t i = 0; i < v->len; i++) {
    const struct vc_link *l = &v->ptr[i];
    struct stat now;
    if (fstat (l->fd, &now) != 0 || now.st_ino != l->st.st_ino ||
        now.st_size != l->st.st_size ||
        now.st_ctim.tv_sec != l->st.st_ctim.tv_sec ||
        now.st_ctim.tv_nsec != l->st.st_ctim.tv_nsec) {
      vc_error ("%s changed while it was read: not restoring", l->label);
      return false;
    }
  }
  return true;
}
