/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtckptd: a PUT longer than one IPC message comes as PUT_PART pieces
 * and a last PUT (see store/ipc-protocol.h); they are joined here, per
 * client connection.
 */
#ifndef VIRTCKPT_IPC_PIECES_H
#define VIRTCKPT_IPC_PIECES_H

#include <stddef.h>
#include <qb/qbipcs.h>

struct vc_ipc_pieces {
  char *buf;
  size_t len;
};

/* Appends len bytes to c's pieces: 0, or -EFBIG past VC_IPC_MAX_DOC,
 * -ENOMEM; on error the pieces are dropped.
 */
extern int vc_ipc_add_piece (qb_ipcs_connection_t *c, const char *data, size_t len);

/* c's pieces so far, NULL if none; the caller takes them (free buf and
 * the struct).
 */
extern struct vc_ipc_pieces *vc_ipc_take_pieces (qb_ipcs_connection_t *c);

extern void vc_ipc_drop_pieces (qb_ipcs_connection_t *c);

#endif
