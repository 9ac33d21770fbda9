/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The qcow2 header of an image in a backup directory, checked before any
 * tool opens the image.  A backup directory may have been altered by
 * whoever can write to the backup storage: a header must not make QEMU
 * read anything but the image itself and the chain the manifest names.
 *
 * Accepted: magic "QFI\xfb", version 2 or 3, cluster bits 9..21, no
 * encryption, no incompatible feature bit at all (dirty, corrupt,
 * external data file, compression type, extended L2: none of them is
 * ever written by virtckpt), header extensions of known types only
 * (backing format "qcow2", feature names, bitmaps) that fit before the
 * backing file name and inside the bytes given, and a backing file name
 * exactly equal to the one expected (none when none is expected).
 * Pure: no I/O, so that it can be fuzzed.
 */
#ifndef VIRTCKPT_QCOW2_CHECK_H
#define VIRTCKPT_QCOW2_CHECK_H

#include <stddef.h>

/* How many bytes of the image to hand to vc_qcow2_check_header: the
 * header, its extensions and the backing name must all lie in them.
 */
#define VC_QCOW2_CHECK_BYTES 65536

/* Returns NULL when the header h (len bytes from offset 0 of the image)
 * is acceptable with backing file name want_backing (NULL: no backing),
 * else a static description of the first problem found.
 */
extern const char *vc_qcow2_check_header (const unsigned char *h, size_t len,
                                          const char *want_backing);

#endif
