/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Instant restore: a qcow2 overlay on the backup's own chain, written in
 * milliseconds whatever the disk size.  The overlay's backing is a json:
 * string that names every link by its absolute path and format, down to
 * a null backing, so that QEMU never interprets a file name stored inside
 * a backup image.  DISK.xml beside it is the libvirt <disk> with the same
 * chain as <backingStore> elements, for libvirt, which does not parse
 * json: qcow2 backing strings itself.
 *
 * The chain is checked as for a full restore (headers, every L1 and L2
 * entry a read of the disk can reach) except for the checksums, which
 * would read all the data: `virtckpt verify DIR` does that, before or
 * while the VM runs.
 */
#include <config.h>

#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libxml/tree.h>

#include "backup/qcow2-plan.h"
#include "backup/restore.h"
#include "backup/restore-chain.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/xml-safe.h"
#include "common/vc-strings.h"

#define MAX_BACKING_NAME 1023           /* QEMU's limit in a qcow2 header */

/* JSON string contents; -1 for a control character (refused in a path). */
static int
json_string (FILE *f, const char *s)
{
  for (; *s; s++) {
    if ((unsigned char) *s < 0x20)
      return -1;
    if (*s == '"' || *s == '\\')
      fputc ('\\', f);
    fputc (*s, f);
  }
  return 0;
}

static char *
link_path (const char *base, const struct vc_link *l)
{
  return vc_printf ("%s/%s/%s", base, l->backup->dir, l->disk->file);
}

/* Closes f and returns what it wrote, or NULL. */
static char *
close_memstream (FILE *f, char **s, int bad)
{
  if (fclose (f) != 0 || bad) {
    free (*s);
    return NULL;
  }
  return *s;
}

static char *
chain_json (const vc_link_vector *v, const char *base)
{
  char *s = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&s, &len);
  int bad = 0;

  if (f == NULL)
    return NULL;
  fputs ("json:", f);
  for (size_t i = 0; i < v->len; i++) {
    CLEANUP_FREE char *p = link_path (base, &v->ptr[i]);
    /* No "driver":"file": a plain absolute path opens as a file, and
     * every byte counts against the 1023 of a qcow2 header.
     */
    fputs ("{\"driver\":\"qcow2\",\"file\":{\"filename\":\"", f);
    bad |= p == NULL || json_string (f, p) == -1;
    fputs ("\"},\"backing\":", f);
  }
  fputs ("null", f);
  for (size_t i = 0; i < v->len; i++)
    fputc ('}', f);
  return close_memstream (f, &s, bad);
}

/* The element, or NULL when out of memory. */
static xmlNodePtr
child (xmlNodePtr parent, const char *name, const char *attr, const char *value)
{
  xmlNodePtr n = xmlNewChild (parent, NULL, BAD_CAST name, NULL);

  if (n && attr && !vc_xml_set_prop (n, attr, value))
    return NULL;
  return n;
}

/* <source file='PATH'/> under n, or false when out of memory. */
static bool
file_source (xmlNodePtr n, const char *path)
{
  return path && child (n, "source", "file", path) != NULL;
}

/* The libvirt <disk> of the overlay on its chain: built with libxml2, as
 * every XML virtckpt writes, since names come from the manifest.
 */
static char *
disk_xml (const vc_link_vector *v, const char *base, const char *name,
          const char *overlay)
{
  CLEANUP_XMLFREEDOC xmlDocPtr doc = xmlNewDoc (BAD_CAST "1.0");
  xmlBufferPtr buf = xmlBufferCreate ();
  xmlNodePtr disk = xmlNewNode (NULL, BAD_CAST "disk"), n;
  char *out = NULL;
  bool ok;

  if (doc == NULL || disk == NULL) {
    if (disk)
      xmlFreeNode (disk);
    goto done;
  }
  xmlDocSetRootElement (doc, disk);
  if (buf == NULL)
    goto done;
  ok = vc_xml_set_prop (disk, "type", "file") &&
    vc_xml_set_prop (disk, "device", "disk") &&
    (n = child (disk, "driver", "name", "qemu")) && vc_xml_set_prop (n, "type", "qcow2") &&
    file_source (disk, overlay);
  n = disk;
  for (size_t i = 0; ok && i < v->len; i++) {
    CLEANUP_FREE char *path = link_path (base, &v->ptr[i]);
    n = child (n, "backingStore", "type", "file");
    ok = n && child (n, "format", "type", "qcow2") && file_source (n, path);
  }
  ok = ok && child (n, "backingStore", NULL, NULL) &&
    child (disk, "target", "dev", name);
  if (ok && xmlNodeDump (buf, doc, disk, 0, 1) > 0)
    out = vc_printf ("%s\n", (const char *) xmlBufferContent (buf));
 done:
  if (buf)
    xmlBufferFree (buf);
  return out;
}

static int
write_overlay (int fd, uint64_t virtual_size, const char *backing)
{
  vc_range_vector none = empty_vector;
  struct vc_qcow2_plan plan = {
    .virtual_size = virtual_size, .data = &none, .zero = &none,
    .backing = backing,
  };

  if (vc_qcow2_plan_layout (&plan) == -1 || ftruncate (fd, plan.file_size) == -1 ||
      vc_qcow2_plan_write_metadata (&plan, fd) == -1)
    return -1;
  return fdatasync (fd);
}

static int
write_file (int tmpfd, const char *file, const char *label, const char *text,
            uint64_t virtual_size)
{
  CLEANUP_CLOSE int fd =
    openat (tmpfd, file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  size_t len = strlen (text);

  if (fd == -1 ||
      (virtual_size ? write_overlay (fd, virtual_size, text)
       : (write (fd, text, len) != (ssize_t) len ? -1 : fdatasync (fd))) == -1) {
    vc_error ("cannot write %s: %m", label);
    return -1;
  }
  return 0;
}

/* The absolute name OUTDIR will have once renamed. */
static char *
final_outdir (const char *outdir)
{
  CLEANUP_FREE char *a = strdup (outdir), *b = strdup (outdir);
  CLEANUP_FREE char *parent = a ? realpath (dirname (a), NULL) : NULL;

  return parent && b ? vc_printf ("%s/%s", parent, basename (b)) : NULL;
}

static int
make_files (const vc_link_vector *chain, const char *dir, const char *name,
            const struct vc_restore_options *o, int tmpfd)
{
  CLEANUP_FREE char *base = realpath (dir, NULL);
  CLEANUP_FREE char *out = final_outdir (o->outdir);
  CLEANUP_FREE char *qcow2 = vc_printf ("%s.qcow2", name);
  CLEANUP_FREE char *xml = vc_printf ("%s.xml", name);
  CLEANUP_FREE char *overlay = out ? vc_printf ("%s/%s", out, qcow2 ? qcow2 : "") : NULL;
  CLEANUP_FREE char *json = NULL, *snippet = NULL;

  if (base == NULL || out == NULL) {
    vc_error ("cannot resolve %s or %s: %m", dir, o->outdir);
    return -1;
  }
  if (qcow2 == NULL || xml == NULL || overlay == NULL) {
    vc_error ("out of memory");
    return -1;
  }
  json = chain_json (chain, base);
  snippet = disk_xml (chain, base, name, overlay);
  if (json == NULL || snippet == NULL) {
    vc_error ("%s: a file name holds a control character, or out of memory", base);
    return -1;
  }
  if (strlen (json) > MAX_BACKING_NAME) {
    vc_error ("the chain of %s (%zu links) takes %zu bytes to name, more than a "
              "qcow2 image can hold (%d): restore it fully, or move the backups to "
              "a shorter path than %s", name, chain->len, strlen (json),
              MAX_BACKING_NAME, base);
    return -1;
  }
  if (write_file (tmpfd, qcow2, overlay, json, chain->ptr[0].img.virtual_size) == -1)
    return -1;
  return write_file (tmpfd, xml, xml, snippet, 0);
}

int
vc_restore_instant_disk (int dirfd, const char *dir, const struct vc_manifest *m,
                         const struct vc_backup *b, const char *name,
                         const struct vc_restore_options *o, int tmpfd)
{
  CLEANUP_CHAIN vc_link_vector chain = empty_vector;
  struct vc_chain_map map;

  if (vc_chain_open (dirfd, dir, m, b, name, &chain) == -1 ||
      vc_chain_map (&chain, &map) == -1) {
    vc_error ("backup %u or a backup it builds on is damaged: not restoring", b->id);
    return -1;
  }
  vc_chain_map_clear (&map, chain.len);
  vc_info ("%s: checked %zu link%s, %" PRIu64 " bytes of metadata read, "
           "no data (checksums not verified: run virtckpt verify)", name,
           chain.len, chain.len == 1 ? "" : "s", vc_chain_bytes_read (&chain));
  if (!vc_chain_unchanged (&chain))
    return -1;
  return make_files (&chain, dir, name, o, tmpfd) == -1 ? -1 : 0;
}
