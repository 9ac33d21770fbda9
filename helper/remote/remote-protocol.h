/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The remote protocol: virtckpt on a Pacemaker Remote node (no corosync,
 * so no virtckptd of its own) talks to the relay of virtckptd on a full
 * node of the cluster.
 *
 * Transport: TCP to VC_REMOTE_PORT, then TLS with a pre-shared key only
 * (no certificates).  The key is derived from Pacemaker's own authkey
 * (the file pacemaker_remoted already needs on every node):
 *   PSK = HMAC-SHA256 (authkey file bytes, VC_REMOTE_KEY_LABEL)
 * with the identity VC_REMOTE_PSK_IDENTITY.  The label keeps our key
 * apart from the one pacemaker_remoted uses with the same file.  Both
 * ends prove they hold the key; whoever can read the authkey (root and
 * the haclient group) may use the store, as locally.
 *
 * Frames, after the handshake, all integers big-endian:
 *   request: u32 payload length, u32 request id, payload
 *   reply:   u32 payload length, i32 error (0 or -errno), payload
 * One reply per request, in order.  A request payload is at most
 * VC_IPC_MAX_MSG (the local IPC's limit, so the relay forwards it as
 * is); a reply at most VC_REMOTE_MAX_REPLY.
 *
 * Request ids: every VC_IPC_* of store/ipc-protocol.h, forwarded by the
 * relay to its local virtckptd over libqb IPC with the same payload and
 * answered with its reply (PUT_PART pieces belong to the connection, as
 * locally; a LEASE is held until the TCP connection ends), plus:
 *   VC_REMOTE_GET   payload: a file name of the replica (as
 *                   store/name-map.h names documents) -> its bytes;
 *                   -ENOENT when there is none
 *   VC_REMOTE_LIST  -> the names of the replica's documents, each
 *                   followed by '\n'
 * Before it answers HELLO, GET or LIST, the relay checks that its
 * virtckptd is synced with a quorate cluster; otherwise it answers
 * -ESTALE with the reason, and the client goes to another full node:
 * a remote node never reads a stale replica.
 */
#ifndef VIRTCKPT_REMOTE_PROTOCOL_H
#define VIRTCKPT_REMOTE_PROTOCOL_H

/* Next to pacemaker_remoted's 3121. */
#define VC_REMOTE_PORT 3122
#define VC_REMOTE_PSK_IDENTITY "virtckpt"
#define VC_REMOTE_KEY_LABEL "virtckpt remote protocol 1"
#define VC_REMOTE_DEFAULT_AUTHKEY "/etc/pacemaker/authkey"
/* A LIST of 50 000 domains fits. */
#define VC_REMOTE_MAX_REPLY (16 * 1024 * 1024)

enum vc_remote_request {
  VC_REMOTE_GET = 100,
  VC_REMOTE_LIST = 101,
};

#endif
