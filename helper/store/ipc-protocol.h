/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The local protocol between virtckpt and virtckptd (libqb IPC).
 *
 * Requests: struct qb_ipc_request_header, then a payload.
 *   HELLO   -> the daemon's store directory
 *   PUT     payload: u32 name length, name, document text
 *           -> reply once the update is applied on this node, in agreed order
 *   FORGET  payload: the domain name -> reply once the tombstone is applied
 *   STATUS  -> "key: value" lines (see vc_replica_status)
 * Replies: struct qb_ipc_response_header (error: 0 or -errno), then text.
 */
#ifndef VIRTCKPT_IPC_PROTOCOL_H
#define VIRTCKPT_IPC_PROTOCOL_H

#define VC_IPC_NAME "virtckptd"
/* Largest request or reply: documents bigger than this cannot be
 * replicated (the CLI says so); a chain of hundreds of checkpoints fits.
 * Every client connection costs the daemon three buffers of this size,
 * zeroed at connect (about 2.5 ms per MiB here).
 */
#define VC_IPC_MAX_MSG (2 * 1024 * 1024)

enum vc_ipc_request {
  VC_IPC_HELLO = 1,
  VC_IPC_PUT = 2,
  VC_IPC_FORGET = 3,
  VC_IPC_STATUS = 4,
};

#endif
