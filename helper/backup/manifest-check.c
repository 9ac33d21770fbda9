/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The grammar of a manifest (backup/manifest.h): only the names virtckpt
 * writes, and parents that are earlier backups of the same chain.
 */
#include <config.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup/manifest.h"
#include "common/cleanup.h"
#include "common/vc-strings.h"

#define STAMP_LEN 16                    /* 20261127T070000Z */
#define MAX_DISK_NAME 64
#define MAX_DOMAIN_NAME 1024

static bool
digits (const char *s, size_t n)
{
  return strspn (s, "0123456789") >= n;
}

static bool
hex4 (const char *s)
{
  return strspn (s, "0123456789abcdef") == 4 && s[4] == '\0';
}

/* STAMP, then the rest of s in *rest. */
static bool
stamp (const char *s, const char **rest)
{
  if (strlen (s) < STAMP_LEN || !digits (s, 8) || s[8] != 'T' ||
      !digits (s + 9, 6) || s[15] != 'Z')
    return false;
  *rest = s + STAMP_LEN;
  return true;
}

static bool
valid_chain (const char *s)
{
  const char *rest;
  return s && stamp (s, &rest) && rest[0] == '-' && hex4 (rest + 1);
}

static bool
valid_checkpoint (const char *s, const char *chain, unsigned id)
{
  CLEANUP_FREE char *prefix = vc_printf ("virtckpt.%s.%u.", chain, id);
  size_t n = prefix ? strlen (prefix) : 0;
  return s && prefix && strncmp (s, prefix, n) == 0 && hex4 (s + n);
}

static bool
valid_dir (const char *s, unsigned id, const char *level)
{
  CLEANUP_FREE char *prefix = vc_printf ("%04u-%s-", id, level);
  size_t n = prefix ? strlen (prefix) : 0;
  const char *rest;
  return s && prefix && strncmp (s, prefix, n) == 0 && stamp (s + n, &rest) &&
    *rest == '\0';
}

static bool
valid_disk_name (const char *s)
{
  const char *ok = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
  size_t n = s ? strlen (s) : 0;
  return n > 0 && n <= MAX_DISK_NAME && strspn (s, ok) == n && s[0] != '.' &&
    s[0] != '_' && s[0] != '-';
}

static bool
valid_domain (const char *s)
{
  size_t n = s ? strlen (s) : 0;
  if (n == 0 || n > MAX_DOMAIN_NAME || strchr (s, '/'))
    return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
      return false;
  return true;
}

static bool
level_is (const struct vc_backup *b, const char *level)
{
  return strcmp (b->level, level) == 0;
}

/* Binary search among the first n backups, whose ids are increasing. */
static const struct vc_backup *
find_in (const struct vc_backup *v, size_t n, unsigned id)
{
  size_t lo = 0, hi = n;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (v[mid].id == id)
      return &v[mid];
    if (v[mid].id < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

/* The names of b itself: level, chain, checkpoint, dir. */
static char *
check_names (const struct vc_backup *b)
{
  bool copy;

  if (b->level == NULL || !(level_is (b, "full") || level_is (b, "inc") ||
                            level_is (b, "diff") || level_is (b, "copy")))
    return vc_printf ("backup %u: unknown level", b->id);
  copy = level_is (b, "copy");
  if (copy ? (b->chain || b->checkpoint) : !valid_chain (b->chain))
    return vc_printf ("backup %u: bad chain", b->id);
  if (!copy && !valid_checkpoint (b->checkpoint, b->chain, b->id))
    return vc_printf ("backup %u: bad checkpoint name", b->id);
  if (b->synthetic && !level_is (b, "full"))
    return vc_printf ("backup %u: only a full can be synthetic", b->id);
  /* A synthetic full keeps the directory it was taken in as an inc or a
   * diff: its successors' images name it as their backing file.
   */
  if (!valid_dir (b->dir, b->id, b->level) &&
      !(b->synthetic && (valid_dir (b->dir, b->id, "inc") ||
                         valid_dir (b->dir, b->id, "diff"))))
    return vc_printf ("backup %u: bad directory name", b->id);
  return NULL;
}

/* An inc or diff builds on an earlier backup of its chain. */
static char *
check_parent (const struct vc_backup *b, const struct vc_backup *p)
{
  bool linked = level_is (b, "inc") || level_is (b, "diff");

  if (!linked)
    return b->parent || b->since ? vc_printf ("backup %u: a %s has no parent",
                                              b->id, b->level) : NULL;
  if (b->parent == 0 || b->parent >= b->id)
    return vc_printf ("backup %u: its parent must be an earlier backup", b->id);
  if (p == NULL)
    return vc_printf ("backup %u builds on backup %u, which is not in the manifest",
                      b->id, b->parent);
  if (level_is (p, "copy") || !vc_streq (p->chain, b->chain) ||
      (level_is (b, "diff") && !level_is (p, "full")))
    return vc_printf ("backup %u: backup %u is not a parent it can have", b->id, p->id);
  if (!vc_streq (b->since, p->checkpoint))
    return vc_printf ("backup %u: 'since' is not its parent's checkpoint", b->id);
  return NULL;
}

static char *
check_disks (const struct vc_backup *b, const struct vc_backup *p)
{
  if (b->disks.len == 0 || b->disks.len > VC_BACKUP_MAX_DISKS)
    return vc_printf ("backup %u: no disk, or more than %d", b->id, VC_BACKUP_MAX_DISKS);
  for (size_t i = 0; i < b->disks.len; i++) {
    const struct vc_backup_disk *d = &b->disks.ptr[i];
    CLEANUP_FREE char *file = NULL, *backing = NULL;
    if (!valid_disk_name (d->name))
      return vc_printf ("backup %u: bad disk name", b->id);
    for (size_t j = 0; j < i; j++)
      if (strcmp (b->disks.ptr[j].name, d->name) == 0)
        return vc_printf ("backup %u: disk %s is listed twice", b->id, d->name);
    file = vc_printf ("%s.qcow2", d->name);
    if (file == NULL || !vc_streq (d->file, file))
      return vc_printf ("backup %u: disk %s: bad file name", b->id, d->name);
    if (p) {
      const struct vc_backup_disk *pd = vc_backup_disk (p, d->name);
      backing = pd ? vc_printf ("../%s/%s", p->dir, pd->file) : NULL;
    }
    if (!vc_streq (d->backing, backing))
      return vc_printf ("backup %u: disk %s does not build on %s", b->id, d->name,
                        p ? "its parent's image" : "nothing");
  }
  return NULL;
}

static char *
check_files (const struct vc_backup *b)
{
  for (size_t i = 0; i < b->files.len; i++) {
    const char *name = b->files.ptr[i].name;
    if (!vc_streq (name, "domain.xml") && !vc_streq (name, "checkpoint.xml"))
      return vc_printf ("backup %u: unexpected file name", b->id);
    for (size_t j = 0; j < i; j++)
      if (strcmp (b->files.ptr[j].name, name) == 0)
        return vc_printf ("backup %u: file %s is listed twice", b->id, name);
  }
  return NULL;
}

int
vc_manifest_check (const struct vc_manifest *m, char **err)
{
  const struct vc_backup *v = m->backups.ptr;

  *err = NULL;
  if (!valid_domain (m->domain)) {
    *err = vc_printf ("missing or bad <domain>");
    return -1;
  }
  for (size_t i = 0; i < m->backups.len; i++) {
    const struct vc_backup *b = &v[i], *p;
    if (b->id == 0 || b->id > VC_BACKUP_ID_MAX || (i > 0 && v[i - 1].id >= b->id)) {
      *err = vc_printf ("backup ids are not increasing from 1 to %u", VC_BACKUP_ID_MAX);
      return -1;
    }
    if ((*err = check_names (b)) != NULL)
      return -1;
    p = b->parent && b->parent < b->id ? find_in (v, i, b->parent) : NULL;
    if ((*err = check_parent (b, p)) != NULL || (*err = check_disks (b, p)) != NULL ||
        (*err = check_files (b)) != NULL)
      return -1;
  }
  return 0;
}

/* The same names in other records of a backup directory (resume-record.h). */
bool
vc_manifest_valid_chain (const char *s)
{
  return valid_chain (s);
}

bool
vc_manifest_valid_checkpoint (const char *s, const char *chain, unsigned id)
{
  return valid_chain (chain) && valid_checkpoint (s, chain, id);
}

bool
vc_manifest_valid_disk_name (const char *s)
{
  return valid_disk_name (s);
}
