/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A replica's document files read as bytes, for a Pacemaker Remote node
 * (the relay's GET and LIST, remote-protocol.h) and for the same calls
 * made locally.  The file name comes from a peer: it is checked.
 */
#ifndef VIRTCKPT_DOC_FILES_H
#define VIRTCKPT_DOC_FILES_H

#include <stdbool.h>
#include <stddef.h>

/* A document's file name (name-map.h): no '/', no leading '.', not too
 * long, the suffix and encoding of a document.
 */
extern bool vc_doc_file_name_ok (const char *file);

/* FILE's bytes in the directory dirfd, a regular file of at most max
 * bytes: 0 (*text malloc'd, NUL terminated, *len bytes), 1 when there is
 * none, -1 with errno (EINVAL a bad name or not a regular file, EFBIG).
 */
extern int vc_doc_file_read (int dirfd, const char *file, size_t max,
                             char **text, size_t *len);

/* The names of the documents in dirfd, each followed by '\n', at most
 * max bytes in all (-1, EFBIG past it).
 */
extern int vc_doc_file_list (int dirfd, size_t max, char **text, size_t *len);

/* Splits such a list, len bytes that may come from a peer, into names
 * (a malloc'd array of n malloc'd strings, NULL terminated).  0, or -1
 * with errno: EPROTO when it is no such list (a NUL byte, a last name
 * without its '\n', a name that is no document's: *bad then points into
 * text at it, or is NULL), ENOMEM.
 */
extern int vc_doc_file_names_parse (const char *text, size_t len, char ***names,
                                    size_t *n, const char **bad);

/* Frees what vc_doc_file_names_parse made. */
extern void vc_doc_file_names_free (char **names, size_t n);

#endif
