/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Domain names map to store file names and back.
 *
 * libvirt accepts almost any name (spaces, UTF-8, '/', leading dots, very
 * long names), so a name is never used as a path directly.  Bytes outside
 * [A-Za-z0-9_-] (and a leading '.') are written as %XX, which makes every
 * mapped name a single path component that cannot be "." or "..".  A name
 * whose encoding is too long for a file name maps to "~" + SHA-256 of the
 * name; the document itself holds the real name, so the mapping stays
 * reversible.
 */
#ifndef VIRTCKPT_NAME_MAP_H
#define VIRTCKPT_NAME_MAP_H

#include <stdbool.h>

#define VC_DOC_SUFFIX ".xml"
/* Longest encoded name kept readable, well under NAME_MAX (255). */
#define VC_MAX_ENCODED_NAME 200

enum vc_file_kind {
  VC_FILE_OTHER,        /* not a store document (temp file, lock, ...) */
  VC_FILE_ENCODED,      /* name can be decoded from the file name */
  VC_FILE_HASHED,       /* name must be read from the document */
};

/* Returns a malloc'd file name, or NULL (errno EINVAL for an empty name). */
extern char *vc_name_to_file (const char *name);

extern enum vc_file_kind vc_file_kind (const char *file);

/* Decodes a VC_FILE_ENCODED file name; NULL with errno EINVAL otherwise. */
extern char *vc_file_to_name (const char *file);

#endif
