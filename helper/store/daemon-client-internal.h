/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Inside the daemon client (daemon-client.h): the connection, to this
 * node's virtckptd over the local IPC (daemon-client.c) or, from a
 * Pacemaker Remote node, to a full node's relay over TLS
 * (daemon-remote.c).
 */
#ifndef VIRTCKPT_DAEMON_CLIENT_INTERNAL_H
#define VIRTCKPT_DAEMON_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <qb/qbipcc.h>

#include "remote/remote.h"

/* Replies wait for the cluster: a sync after a membership change can take
 * a while.  VIRTCKPT_DAEMON_TIMEOUT (seconds) overrides.
 */
#define DEFAULT_TIMEOUT_MS (120 * 1000)

struct vc_daemon {
  qb_ipcc_connection_t *c;
  char *store_dir;
  char *reply;
  int timeout_ms;
  /* From a Pacemaker Remote node (vc_daemon_connect_remote). */
  bool remote;
  struct vc_tls *tls;           /* NULL between a break and a reconnect */
  char **servers;
  size_t nservers;
  size_t cur;                   /* the server serving, or the last one */
  char *server;                 /* "HOST:PORT" serving, NULL when none */
  bool lease_held;              /* a LEASE was taken on this connection */
  bool lease_lost;              /* ... and the connection broke since */
  bool broke;                   /* the last call lost its connection */
};

/* A request over the relay: as call_len in daemon-client.c (text: the
 * reply's text, also with an error), failing over to the next full node
 * where the request allows it.
 */
extern int vc_daemon_remote_call (struct vc_daemon *d, int id, const void *a,
                                  size_t alen, const void *b, size_t blen,
                                  char **text, size_t *tlen);

/* Why the last vc_daemon_connect_remote found no full node, when it
 * failed with err; else NULL.  Forgotten at the next connect.
 */
extern const char *vc_daemon_remote_why (int err);
extern void vc_daemon_remote_forget_why (void);

#endif
