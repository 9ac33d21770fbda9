/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/tree.h>

#include "backup/qcow2-plan.h"
#include "backup/resume-record.h"
#include "common/atomic-file.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/vc-strings.h"
#include "common/xml-safe.h"

/* Larger disks than this are not ones qcow2 images of ours describe. */
#define MAX_VIRTUAL_SIZE (UINT64_C (1) << 56)

void
vc_resume_clear (struct vc_resume *r)
{
  free (r->level);
  free (r->chain);
  free (r->checkpoint);
  free (r->since);
  for (size_t i = 0; i < r->disks.len; i++) {
    struct vc_resume_disk *d = &r->disks.ptr[i];
    free (d->name);
    vc_range_vector_reset (&d->data);
    vc_range_vector_reset (&d->zero);
    vc_range_vector_reset (&d->copied);
  }
  vc_resume_disk_vector_reset (&r->disks);
  memset (r, 0, sizeof *r);
}

const struct vc_resume_disk *
vc_resume_disk (const struct vc_resume *r, const char *name)
{
  for (size_t i = 0; i < r->disks.len; i++)
    if (strcmp (r->disks.ptr[i].name, name) == 0)
      return &r->disks.ptr[i];
  return NULL;
}

/* --- writing ----------------------------------------------------------- */

static bool
format_ranges (xmlNodePtr n, const char *name, const vc_range_vector *v)
{
  for (size_t i = 0; i < v->len; i++) {
    xmlNodePtr c = xmlNewChild (n, NULL, BAD_CAST name, NULL);
    if (c == NULL || !vc_xml_set_prop_u64 (c, "offset", v->ptr[i].offset) ||
        !vc_xml_set_prop_u64 (c, "length", v->ptr[i].length))
      return false;
  }
  return true;
}

static bool
format_disk (xmlNodePtr root, const struct vc_resume_disk *d)
{
  xmlNodePtr n = xmlNewChild (root, NULL, BAD_CAST "disk", NULL);

  return n && vc_xml_set_prop (n, "name", d->name) &&
    vc_xml_set_prop_u64 (n, "virtual-size", d->virtual_size) &&
    vc_xml_set_prop (n, "image", d->image ? "yes" : "no") &&
    vc_xml_set_prop_u64 (n, "read", d->bytes_read) &&
    format_ranges (n, "data", &d->data) && format_ranges (n, "zero", &d->zero) &&
    format_ranges (n, "copied", &d->copied);
}

int
vc_resume_save (int partfd, const char *dir, const struct vc_resume *r)
{
  CLEANUP_XMLFREEDOC xmlDocPtr doc = xmlNewDoc (BAD_CAST "1.0");
  CLEANUP_FREE char *text = NULL;
  xmlNodePtr root;
  size_t len;

  if (doc == NULL || (root = xmlNewNode (NULL, BAD_CAST "virtckpt-progress")) == NULL)
    goto oom;
  xmlDocSetRootElement (doc, root);
  if (!vc_xml_set_prop (root, "format", "1") ||
      !vc_xml_set_prop_u64 (root, "id", r->id) ||
      !vc_xml_set_prop (root, "level", r->level) ||
      !vc_xml_set_prop (root, "chain", r->chain) ||
      !vc_xml_set_prop (root, "checkpoint", r->checkpoint) ||
      (r->parent && !vc_xml_set_prop_u64 (root, "parent", r->parent)) ||
      !vc_xml_set_prop (root, "since", r->since) ||
      !vc_xml_set_prop_u64 (root, "started", r->started) ||
      !vc_xml_set_prop_u64 (root, "runs", r->runs))
    goto oom;
  for (size_t i = 0; i < r->disks.len; i++)
    if (!format_disk (root, &r->disks.ptr[i]))
      goto oom;
  text = vc_xml_dump (doc, &len);
  if (text == NULL)
    goto oom;
  if (vc_atomic_write (partfd, VC_RESUME_FILE, text, len) == -1) {
    vc_error ("cannot write %s/%s: %m", dir, VC_RESUME_FILE);
    return -1;
  }
  return 0;

 oom:
  vc_error ("out of memory");
  return -1;
}

/* --- reading ----------------------------------------------------------- */

/* Cluster aligned, sorted, disjoint, not touching (as vc_ranges_add
 * merges), within [0, limit).
 */
static bool
good_ranges (const vc_range_vector *v, uint64_t limit)
{
  uint64_t end = 0;

  for (size_t i = 0; i < v->len; i++) {
    const struct vc_range *r = &v->ptr[i];
    if (r->length == 0 || r->offset % VC_QCOW2_CLUSTER_SIZE ||
        r->length % VC_QCOW2_CLUSTER_SIZE || (i > 0 && r->offset <= end) ||
        r->length > limit || r->offset > limit - r->length)
      return false;
    end = r->offset + r->length;
  }
  return true;
}

static int
parse_range (xmlNodePtr c, vc_range_vector *v)
{
  uint64_t off, len;

  if (vc_xml_prop_u64 (c, "offset", &off, true) == -1 ||
      vc_xml_prop_u64 (c, "length", &len, true) == -1)
    return -1;
  return vc_range_vector_append (v, (struct vc_range) { off, len });
}

/* Why the disk is not one virtckpt wrote, or NULL. */
static char *
check_disk (const struct vc_resume *r, const struct vc_resume_disk *d)
{
  uint64_t limit = (d->virtual_size + VC_QCOW2_CLUSTER_SIZE - 1) &
    ~(VC_QCOW2_CLUSTER_SIZE - 1);
  vc_range_vector both = empty_vector, extra = empty_vector;
  char *why = NULL;

  if (!vc_manifest_valid_disk_name (d->name))
    return vc_printf ("a bad disk name");
  if (d->virtual_size == 0 || d->virtual_size > MAX_VIRTUAL_SIZE)
    return vc_printf ("disk %s: a bad virtual size", d->name);
  if (!good_ranges (&d->data, limit) || !good_ranges (&d->zero, limit) ||
      !good_ranges (&d->copied, limit))
    return vc_printf ("disk %s: ranges not aligned, not in order or beyond the disk",
                      d->name);
  if (strcmp (r->level, "full") == 0 && d->zero.len)
    return vc_printf ("disk %s: zero ranges in a full backup", d->name);
  if (!d->image && d->copied.len)
    return vc_printf ("disk %s: copied ranges but no image", d->name);
  if (vc_ranges_intersect (&d->data, &d->zero, &both) == -1 ||
      vc_ranges_subtract (&d->copied, &d->data, &extra) == -1)
    why = vc_printf ("out of memory");
  else if (both.len)
    why = vc_printf ("disk %s: ranges both data and zero", d->name);
  else if (extra.len)
    why = vc_printf ("disk %s: copied ranges outside its data", d->name);
  vc_range_vector_reset (&both);
  vc_range_vector_reset (&extra);
  return why;
}

static char *
parse_disk (xmlNodePtr n, struct vc_resume *r)
{
  struct vc_resume_disk d = { 0 };
  CLEANUP_FREE char *image = vc_xml_prop (n, "image");

  d.name = vc_xml_prop (n, "name");
  if (vc_resume_disk_vector_append (&r->disks, d) == -1) {
    free (d.name);
    return vc_printf ("out of memory");
  }
  struct vc_resume_disk *p = &r->disks.ptr[r->disks.len - 1];
  if (p->name == NULL ||
      vc_xml_prop_u64 (n, "virtual-size", &p->virtual_size, true) == -1 ||
      vc_xml_prop_u64 (n, "read", &p->bytes_read, true) == -1 ||
      !(vc_streq (image, "yes") || vc_streq (image, "no")))
    return vc_printf ("a <disk> is incomplete");
  p->image = vc_streq (image, "yes");
  for (xmlNodePtr c = n->children; c; c = c->next) {
    vc_range_vector *v = NULL;
    if (c->type != XML_ELEMENT_NODE)
      continue;
    if (xmlStrEqual (c->name, BAD_CAST "data"))
      v = &p->data;
    else if (xmlStrEqual (c->name, BAD_CAST "zero"))
      v = &p->zero;
    else if (xmlStrEqual (c->name, BAD_CAST "copied"))
      v = &p->copied;
    else
      return vc_printf ("disk %s: an unknown element", p->name);
    if (parse_range (c, v) == -1)
      return vc_printf ("disk %s: a bad range", p->name);
  }
  return check_disk (r, p);
}

/* The backup's names, and its parent in m. */
static char *
check_names (const struct vc_resume *r, unsigned id, const struct vc_manifest *m)
{
  bool full = vc_streq (r->level, "full");
  const struct vc_backup *p;

  if (r->id != id)
    return vc_printf ("it is the record of backup %u, not %u", r->id, id);
  if (!(full || vc_streq (r->level, "inc") || vc_streq (r->level, "diff")))
    return vc_printf ("an unknown level");
  if (!vc_manifest_valid_checkpoint (r->checkpoint, r->chain, r->id))
    return vc_printf ("a bad chain or checkpoint name");
  if (full)
    return r->parent || r->since ? vc_printf ("a full backup with a parent") : NULL;
  p = r->parent ? vc_manifest_find (m, r->parent) : NULL;
  if (p == NULL || p->chain == NULL || !vc_streq (p->chain, r->chain) ||
      !vc_streq (p->checkpoint, r->since) ||
      (vc_streq (r->level, "diff") && !vc_streq (p->level, "full")))
    return vc_printf ("its parent is not a backup of its chain in the manifest");
  return NULL;
}

static char *
parse_root (xmlNodePtr root, unsigned id, const struct vc_manifest *m,
            struct vc_resume *r)
{
  CLEANUP_FREE char *format = vc_xml_prop (root, "format");
  uint64_t rid, parent, started, runs;
  char *why;

  if (!xmlStrEqual (root->name, BAD_CAST "virtckpt-progress") ||
      !vc_streq (format, "1"))
    return vc_printf ("not a progress record of a known format");
  r->level = vc_xml_prop (root, "level");
  r->chain = vc_xml_prop (root, "chain");
  r->checkpoint = vc_xml_prop (root, "checkpoint");
  r->since = vc_xml_prop (root, "since");
  if (vc_xml_prop_u64 (root, "id", &rid, true) == -1 || rid > VC_BACKUP_ID_MAX ||
      vc_xml_prop_u64 (root, "parent", &parent, false) == -1 ||
      parent > VC_BACKUP_ID_MAX ||
      vc_xml_prop_u64 (root, "started", &started, true) == -1 ||
      started > INT64_MAX ||
      vc_xml_prop_u64 (root, "runs", &runs, true) == -1 || runs == 0 ||
      runs > 1000000)
    return vc_printf ("a missing or bad id, parent, time or count of runs");
  r->id = rid;
  r->parent = parent;
  r->started = started;
  r->runs = runs;
  if ((why = check_names (r, id, m)) != NULL)
    return why;
  for (xmlNodePtr c = root->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE)
      continue;
    if (!xmlStrEqual (c->name, BAD_CAST "disk"))
      return vc_printf ("an unknown element");
    if (r->disks.len >= VC_BACKUP_MAX_DISKS)
      return vc_printf ("more than %d disks", VC_BACKUP_MAX_DISKS);
    if ((why = parse_disk (c, r)) != NULL)
      return why;
    for (size_t i = 0; i + 1 < r->disks.len; i++)
      if (strcmp (r->disks.ptr[i].name, r->disks.ptr[r->disks.len - 1].name) == 0)
        return vc_printf ("disk %s is listed twice", r->disks.ptr[i].name);
  }
  return r->disks.len ? NULL : vc_printf ("no disk");
}

int
vc_resume_load (int partfd, unsigned id, const struct vc_manifest *m,
                struct vc_resume *r, char **why)
{
  CLEANUP_FREE char *buf = NULL, *err = NULL;
  CLEANUP_XMLFREEDOC xmlDocPtr doc = NULL;
  size_t len;

  memset (r, 0, sizeof *r);
  *why = NULL;
  if (vc_read_file (partfd, VC_RESUME_FILE, VC_XML_MAX_SIZE, &buf, &len) == -1) {
    if (errno == ENOENT)
      return 1;
    *why = vc_printf ("cannot read it: %s", strerror (errno));
    return -1;
  }
  doc = vc_xml_parse (buf, len, &err);
  if (doc == NULL) {
    *why = vc_printf ("%s", err ? err : "malformed");
    return -1;
  }
  *why = parse_root (xmlDocGetRootElement (doc), id, m, r);
  if (*why) {
    vc_resume_clear (r);
    return -1;
  }
  return 0;
}
