/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtckptd's relay for Pacemaker Remote nodes (remote/remote-protocol.h):
 * a listener process, forked before the daemon opens anything else, that
 * forks one process per connection.  Each does the TLS handshake with a
 * key read from the authkey at that moment (a replaced key takes effect
 * at once), then relays the client's requests to this daemon over the
 * local IPC, as a local client, and serves GET and LIST from the replica
 * itself.  A request that reads the store is refused (-ESTALE) while the
 * daemon is not synced with a quorate cluster.
 */
#ifndef VIRTCKPT_REMOTE_RELAY_H
#define VIRTCKPT_REMOTE_RELAY_H

#include <stdbool.h>
#include <sys/types.h>
#include <qb/qbloop.h>

/* Serves port (0: nothing) on address (NULL: every address, IPv6 and
 * IPv4) with the key from authkey (NULL: the default path, see
 * remote/remote.h).  Logs why it does not serve: no authkey, the port is
 * taken.  Call before the daemon opens anything.
 */
extern void vc_relay_start (int port, const char *address, const char *authkey);

/* The daemon's loop, once it has one: a listener that dies is started
 * again from it (after 1 s, doubled while it keeps dying, up to 60 s).
 */
extern void vc_relay_attach (qb_loop_t *loop);

/* The daemon reaped pid: true when it was the listener (logged, and
 * started again when a loop is attached).
 */
extern bool vc_relay_reaped (pid_t pid, int status);

/* In a child the daemon forked and does not exec: the listening
 * sockets closed, so that it cannot keep the port from a daemon started
 * again should it outlive this one.
 */
extern void vc_relay_close_in_child (void);

/* Stops the listener (and so every connection), reaps it, and closes
 * the listening sockets.
 */
extern void vc_relay_stop (void);

#endif
