/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The local protocol between virtckpt and virtckptd (libqb IPC).
 *
 * Requests: struct qb_ipc_request_header, then a payload.
 *   HELLO   -> the daemon's store directory
 *   PUT     payload: u32 name length, name, document text
 *           -> reply once the update is applied on this node, in agreed order
 *   PUT_PART  the first pieces of a PUT payload longer than a message; the
 *           PUT that follows on the same connection carries the last piece
 *           -> empty reply (-EFBIG past VC_IPC_MAX_DOC: the pieces are dropped)
 *   FORGET  payload: the domain name -> reply once the tombstone is applied
 *   STATUS  -> "key: value" lines (see vc_replica_status)
 *   STATE   -> the node, state, members and quorate lines of STATUS
 *   JOB_SUBMIT  payload: KIND DOMAIN ARG... (tab-separated, %-escaped)
 *           -> the id of a job handed to the member where DOMAIN runs
 *   JOB_POLL    payload: the id -> its state line, then its output
 *   LEASE   payload: DOMAIN JOB -> once this member holds DOMAIN's lease
 *           for JOB (-EBUSY: held elsewhere); held until the connection ends
 * Replies: struct qb_ipc_response_header (error: 0 or -errno), then text.
 */
#ifndef VIRTCKPT_IPC_PROTOCOL_H
#define VIRTCKPT_IPC_PROTOCOL_H

#define VC_IPC_NAME "virtckptd"
/* Largest message either way.  Every client connection costs the daemon
 * three shared-memory rings of this size, created and zeroed at connect
 * (about 2.5 ms per MiB here, on the path of every CLI call): small, so
 * that a connection costs well under a millisecond.
 */
#define VC_IPC_MAX_MSG (64 * 1024)
/* Largest PUT payload, sent in pieces of VC_IPC_PIECE: documents bigger
 * than this cannot be replicated (the CLI says so); a chain of hundreds
 * of checkpoints fits.
 */
#define VC_IPC_MAX_DOC (2 * 1024 * 1024)
/* Half a ring: the previous request may still hold the other half (see
 * daemon-client.c).
 */
#define VC_IPC_PIECE (VC_IPC_MAX_MSG / 2 - 1024)

enum vc_ipc_request {
  VC_IPC_HELLO = 1,
  VC_IPC_PUT = 2,
  VC_IPC_FORGET = 3,
  VC_IPC_STATUS = 4,
  VC_IPC_PUT_PART = 5,
  /* Leases and jobs (replica/jobs.h). */
  VC_IPC_JOB_SUBMIT = 6,
  VC_IPC_JOB_POLL = 7,
  VC_IPC_LEASE = 8,
  /* The scheduler looks at a domain now (replica/scheduler.h). */
  VC_IPC_SCHEDULE_NOW = 9,
  /* The first lines of STATUS only (node, state, members, quorate):
   * what a freshness check needs, without STATUS's scan of the replica
   * (19 ms at 10 000 domains).
   */
  VC_IPC_STATE = 10,
};

#endif
