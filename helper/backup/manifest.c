/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/tree.h>

#include "common/atomic-file.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "backup/manifest.h"
#include "common/vc-strings.h"
#include "common/xml-safe.h"

void
vc_backup_clear (struct vc_backup *b)
{
  free (b->level);
  free (b->chain);
  free (b->checkpoint);
  free (b->since);
  free (b->dir);
  free (b->consistency);
  for (size_t i = 0; i < b->disks.len; i++) {
    free (b->disks.ptr[i].name);
    free (b->disks.ptr[i].file);
    free (b->disks.ptr[i].backing);
  }
  vc_backup_disk_vector_reset (&b->disks);
  for (size_t i = 0; i < b->files.len; i++)
    free (b->files.ptr[i].name);
  vc_backup_file_vector_reset (&b->files);
  memset (b, 0, sizeof *b);
}

void
vc_manifest_clear (struct vc_manifest *m)
{
  free (m->domain);
  for (size_t i = 0; i < m->backups.len; i++)
    vc_backup_clear (&m->backups.ptr[i]);
  vc_backup_vector_reset (&m->backups);
  memset (m, 0, sizeof *m);
}

struct vc_backup *
vc_manifest_find (const struct vc_manifest *m, unsigned id)
{
  size_t lo = 0, hi = m->backups.len;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (m->backups.ptr[mid].id == id)
      return &m->backups.ptr[mid];
    if (m->backups.ptr[mid].id < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

struct vc_backup *
vc_manifest_lookup (const struct vc_manifest *m, const char *what)
{
  char *end;
  unsigned long id = strtoul (what, &end, 10);

  if (*what && *end == '\0' && id > 0 && id <= UINT32_MAX)
    return vc_manifest_find (m, id);
  for (size_t i = 0; i < m->backups.len; i++)
    if (vc_streq (m->backups.ptr[i].checkpoint, what) ||
        vc_streq (m->backups.ptr[i].dir, what))
      return &m->backups.ptr[i];
  return NULL;
}

struct vc_backup *
vc_manifest_tip (const struct vc_manifest *m)
{
  for (size_t i = m->backups.len; i-- > 0; )
    if (m->backups.ptr[i].chain)
      return &m->backups.ptr[i];
  return NULL;
}

const struct vc_backup_disk *
vc_backup_disk (const struct vc_backup *b, const char *name)
{
  for (size_t i = 0; i < b->disks.len; i++)
    if (strcmp (b->disks.ptr[i].name, name) == 0)
      return &b->disks.ptr[i];
  return NULL;
}

/* --- writing ----------------------------------------------------------- */

static bool
format_backup (xmlNodePtr root, const struct vc_backup *b)
{
  xmlNodePtr n = xmlNewChild (root, NULL, BAD_CAST "backup", NULL);
  char secs[32];

  snprintf (secs, sizeof secs, "%.3f", b->seconds);
  if (n == NULL || !vc_xml_set_prop_u64 (n, "id", b->id) ||
      !vc_xml_set_prop (n, "level", b->level) ||
      !vc_xml_set_prop (n, "chain", b->chain) ||
      !vc_xml_set_prop (n, "checkpoint", b->checkpoint) ||
      !vc_xml_set_prop (n, "since", b->since) ||
      (b->parent && !vc_xml_set_prop_u64 (n, "parent", b->parent)) ||
      !vc_xml_set_prop (n, "dir", b->dir) ||
      !vc_xml_set_prop_i64 (n, "started", b->started) ||
      !vc_xml_set_prop_i64 (n, "finished", b->finished) ||
      !vc_xml_set_prop (n, "seconds", secs) ||
      !vc_xml_set_prop (n, "consistency", b->consistency) ||
      (b->resumed && !vc_xml_set_prop_u64 (n, "resumed", b->resumed)) ||
      (b->synthetic && !vc_xml_set_prop (n, "synthetic", "yes")))
    return false;
  for (size_t i = 0; i < b->disks.len; i++) {
    const struct vc_backup_disk *d = &b->disks.ptr[i];
    xmlNodePtr dn = xmlNewChild (n, NULL, BAD_CAST "disk", NULL);
    if (dn == NULL || !vc_xml_set_prop (dn, "name", d->name) ||
        !vc_xml_set_prop (dn, "file", d->file) ||
        !vc_xml_set_prop (dn, "backing", d->backing) ||
        !vc_xml_set_prop_u64 (dn, "virtual-size", d->virtual_size) ||
        !vc_xml_set_prop_u64 (dn, "read", d->bytes_read) ||
        !vc_xml_set_prop_u64 (dn, "zeroed", d->bytes_zeroed) ||
        !vc_xml_set_prop_u64 (dn, "file-size", d->file_size) ||
        (b->resumed && !vc_xml_set_prop_u64 (dn, "reused", d->bytes_reused)) ||
        !vc_xml_set_prop (dn, vc_checksum_name (d->sum.algo), d->sum.hex))
      return false;
  }
  for (size_t i = 0; i < b->files.len; i++) {
    xmlNodePtr fn = xmlNewChild (n, NULL, BAD_CAST "file", NULL);
    if (fn == NULL || !vc_xml_set_prop (fn, "name", b->files.ptr[i].name) ||
        !vc_xml_set_prop (fn, vc_checksum_name (b->files.ptr[i].sum.algo),
                 b->files.ptr[i].sum.hex))
      return false;
  }
  return true;
}

int
vc_manifest_save (int dirfd, const char *dir, const struct vc_manifest *m)
{
  CLEANUP_XMLFREEDOC xmlDocPtr doc = xmlNewDoc (BAD_CAST "1.0");
  CLEANUP_FREE char *text = NULL;
  xmlNodePtr root;
  size_t len;

  if (doc == NULL || (root = xmlNewNode (NULL, BAD_CAST "virtckpt-backups")) == NULL)
    goto oom;
  xmlDocSetRootElement (doc, root);
  if (!vc_xml_set_prop (root, "format", "1") ||
      xmlNewTextChild (root, NULL, BAD_CAST "domain", BAD_CAST m->domain) == NULL)
    goto oom;
  for (size_t i = 0; i < m->backups.len; i++)
    if (!format_backup (root, &m->backups.ptr[i]))
      goto oom;
  text = vc_xml_dump (doc, &len);
  if (text == NULL)
    goto oom;
  if (vc_atomic_write (dirfd, VC_MANIFEST_FILE, text, len) == -1) {
    vc_error ("cannot write %s/%s: %m", dir, VC_MANIFEST_FILE);
    return -1;
  }
  return 0;

 oom:
  vc_error ("out of memory");
  return -1;
}

/* --- reading ----------------------------------------------------------- */

/* Exactly one checksum attribute, of a known algorithm and length. */
static int
get_hex (xmlNodePtr n, struct vc_digest *out)
{
  static const enum vc_checksum_algo algos[] = { VC_CHECKSUM_XXH128, VC_CHECKSUM_SHA256 };
  int found = 0;

  for (size_t i = 0; i < sizeof algos / sizeof algos[0]; i++) {
    CLEANUP_FREE char *s = vc_xml_prop (n, vc_checksum_name (algos[i]));
    size_t want = vc_checksum_hex_len (algos[i]);
    if (s == NULL)
      continue;
    if (strlen (s) != want || strspn (s, "0123456789abcdef") != want)
      return -1;
    out->algo = algos[i];
    memcpy (out->hex, s, want + 1);
    found++;
  }
  return found == 1 ? 0 : -1;
}

/* A name from the manifest used as a path component. */
static bool
safe_component (const char *s)
{
  return s && *s && strcmp (s, ".") && strcmp (s, "..") && !strchr (s, '/');
}

static int
parse_backup (xmlNodePtr n, struct vc_backup *b, char **err)
{
  uint64_t id, parent, started, finished;   /* times: seconds since 1970 */
  uint64_t resumed;
  CLEANUP_FREE char *secs = NULL, *synthetic = NULL;

  memset (b, 0, sizeof *b);
  synthetic = vc_xml_prop (n, "synthetic");
  b->level = vc_xml_prop (n, "level");
  b->chain = vc_xml_prop (n, "chain");
  b->checkpoint = vc_xml_prop (n, "checkpoint");
  b->since = vc_xml_prop (n, "since");
  b->dir = vc_xml_prop (n, "dir");
  b->consistency = vc_xml_prop (n, "consistency");
  secs = vc_xml_prop (n, "seconds");
  if (vc_xml_prop_u64 (n, "id", &id, true) == -1 || id == 0 || id > UINT32_MAX ||
      vc_xml_prop_u64 (n, "parent", &parent, false) == -1 || parent > UINT32_MAX ||
      vc_xml_prop_u64 (n, "started", &started, true) == -1 || started > INT64_MAX ||
      vc_xml_prop_u64 (n, "finished", &finished, true) == -1 ||
      finished > INT64_MAX ||
      vc_xml_prop_u64 (n, "resumed", &resumed, false) == -1 || resumed > UINT32_MAX ||
      b->level == NULL || !safe_component (b->dir)) {
    *err = vc_printf ("a <backup> has a missing or bad id, level, dir or time");
    return -1;
  }
  if (b->consistency && strcmp (b->consistency, VC_APPLICATION_CONSISTENT) != 0 &&
      strcmp (b->consistency, VC_CRASH_CONSISTENT) != 0) {
    *err = vc_printf ("backup %" PRIu64 " has an unknown consistency", id);
    return -1;
  }
  if (synthetic && strcmp (synthetic, "yes") != 0) {
    *err = vc_printf ("backup %" PRIu64 ": synthetic is not \"yes\"", id);
    return -1;
  }
  b->synthetic = synthetic != NULL;
  b->id = id;
  b->parent = parent;
  b->resumed = resumed;
  b->started = started;
  b->finished = finished;
  b->seconds = secs ? strtod (secs, NULL) : 0;

  for (xmlNodePtr c = n->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE)
      continue;
    if (xmlStrEqual (c->name, BAD_CAST "disk")) {
      struct vc_backup_disk d = { 0 };
      d.name = vc_xml_prop (c, "name");
      d.file = vc_xml_prop (c, "file");
      d.backing = vc_xml_prop (c, "backing");
      if (vc_backup_disk_vector_append (&b->disks, d) == -1) {
        free (d.name); free (d.file); free (d.backing);
        return *err = vc_printf ("out of memory"), -1;
      }
      struct vc_backup_disk *p = &b->disks.ptr[b->disks.len - 1];
      if (!safe_component (p->name) || !safe_component (p->file) ||
          vc_xml_prop_u64 (c, "virtual-size", &p->virtual_size, true) == -1 ||
          vc_xml_prop_u64 (c, "read", &p->bytes_read, false) == -1 ||
          vc_xml_prop_u64 (c, "zeroed", &p->bytes_zeroed, false) == -1 ||
          vc_xml_prop_u64 (c, "reused", &p->bytes_reused, false) == -1 ||
          vc_xml_prop_u64 (c, "file-size", &p->file_size, true) == -1 ||
          get_hex (c, &p->sum) == -1)
        return *err = vc_printf ("backup %u: a <disk> is incomplete", b->id), -1;
    }
    else if (xmlStrEqual (c->name, BAD_CAST "file")) {
      struct vc_backup_file f = { .name = vc_xml_prop (c, "name") };
      if (vc_backup_file_vector_append (&b->files, f) == -1) {
        free (f.name);
        return *err = vc_printf ("out of memory"), -1;
      }
      struct vc_backup_file *p = &b->files.ptr[b->files.len - 1];
      if (!safe_component (p->name) || get_hex (c, &p->sum) == -1)
        return *err = vc_printf ("backup %u: a <file> is incomplete", b->id), -1;
    }
  }
  return 0;
}

int
vc_manifest_load (int dirfd, const char *dir, struct vc_manifest *m)
{
  CLEANUP_FREE char *buf = NULL, *err = NULL;
  CLEANUP_XMLFREEDOC xmlDocPtr doc = NULL;
  CLEANUP_FREE char *format = NULL;
  xmlNodePtr root;
  size_t len;

  memset (m, 0, sizeof *m);
  if (vc_read_file (dirfd, VC_MANIFEST_FILE, VC_XML_MAX_SIZE, &buf, &len) == -1) {
    if (errno == ENOENT)
      return 1;
    vc_error ("cannot read %s/%s: %m", dir, VC_MANIFEST_FILE);
    return -1;
  }
  doc = vc_xml_parse (buf, len, &err);
  if (doc == NULL)
    goto bad;
  root = xmlDocGetRootElement (doc);
  format = vc_xml_prop (root, "format");
  if (!xmlStrEqual (root->name, BAD_CAST "virtckpt-backups") ||
      !vc_streq (format, "1")) {
    err = vc_printf ("not a virtckpt manifest of a known format");
    goto bad;
  }
  for (xmlNodePtr c = root->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE)
      continue;
    if (xmlStrEqual (c->name, BAD_CAST "domain")) {
      xmlChar *v = xmlNodeGetContent (c);
      free (m->domain);
      m->domain = v ? strdup ((char *) v) : NULL;
      xmlFree (v);
    }
    else if (xmlStrEqual (c->name, BAD_CAST "backup")) {
      struct vc_backup b;
      int r = parse_backup (c, &b, &err);
      if (r == -1 || vc_backup_vector_append (&m->backups, b) == -1) {
        vc_backup_clear (&b);
        if (err == NULL)
          err = vc_printf ("out of memory");
        goto bad;
      }
    }
  }
  if (vc_manifest_check (m, &err) == -1)
    goto bad;
  return 0;

 bad:
  vc_error ("manifest %s/%s is damaged: %s", dir, VC_MANIFEST_FILE,
            err ? err : "malformed");
  vc_manifest_clear (m);
  return -1;
}
