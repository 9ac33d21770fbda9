/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Whole reads and writes at an offset, and big-endian fields: a short
 * read or write is not an answer, and image headers are big-endian.
 */
#ifndef VIRTCKPT_FULL_IO_H
#define VIRTCKPT_FULL_IO_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

/* Reads exactly len bytes at off, retrying after EINTR and short reads.
 * -1 and errno on failure; a read past the end of the file is EIO.
 */
extern int vc_pread_full (int fd, void *buf, size_t len, uint64_t off);

/* Writes exactly len bytes at off, retrying after EINTR and short
 * writes.  -1 and errno on failure.
 */
extern int vc_pwrite_full (int fd, const void *buf, size_t len, uint64_t off);

/* The same for the n buffers of iov, one after the other; iov is used up
 * (its entries change).  -1 and errno on failure (EIO: nothing written).
 */
extern int vc_pwritev_full (int fd, struct iovec *iov, int n, uint64_t off);

static inline uint32_t
vc_be32 (const unsigned char *p)
{
  uint32_t v;
  memcpy (&v, p, 4);
  return be32toh (v);
}

static inline uint64_t
vc_be64 (const unsigned char *p)
{
  uint64_t v;
  memcpy (&v, p, 8);
  return be64toh (v);
}

#endif
