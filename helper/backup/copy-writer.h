/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The write side of a copy: a thread of its own that writes the pieces
 * it is handed one after the other into the image file, so that the NBD
 * reads go on while the disk writes.  Direct I/O where the file system takes it: the data goes to
 * the disk without being copied into the page cache first.
 */
#ifndef VIRTCKPT_COPY_WRITER_H
#define VIRTCKPT_COPY_WRITER_H

#include <stdint.h>

struct vc_copy_writer;

/* Starts the thread: pieces go to fd from offset on.  At most cap pieces
 * are outstanding at once (handed, not yet written).  NULL after logging.
 */
extern struct vc_copy_writer *vc_copy_writer_start (int fd, uint64_t offset,
                                                    uint32_t cap);

/* Hands over len bytes at buf: written right after the previous piece.
 * buf must stay untouched until vc_copy_writer_written counts the piece.
 * Buffers aligned to 4096 bytes and lengths in multiples of 4096 let the
 * writes bypass the page cache.
 */
extern void vc_copy_writer_push (struct vc_copy_writer *w, const void *buf,
                                 uint32_t len);

/* How many pieces are written (in the order handed over); 0 or a count. */
extern uint64_t vc_copy_writer_written (struct vc_copy_writer *w);

/* Readable when the count of written pieces has grown, or the writer
 * failed; vc_copy_writer_written reads it empty.
 */
extern int vc_copy_writer_fd (const struct vc_copy_writer *w);

/* 0, or the errno of a failed write, whose file offset goes to *at. */
extern int vc_copy_writer_error (struct vc_copy_writer *w, uint64_t *at);

/* Writes what was handed over (but after an error), stops the thread and
 * frees it; fd is as it was given.  *written = the pieces written.  The
 * errno of a failed write (its file offset in *at), or 0.
 */
extern int vc_copy_writer_finish (struct vc_copy_writer *w, uint64_t *written,
                                  uint64_t *at);

#endif
