/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Both ends of the remote protocol (remote-protocol.h): the key derived
 * from Pacemaker's authkey, TCP with keepalive, TLS with that key only,
 * and frames.  Whatever comes from the peer is untrusted: every length
 * is checked before it is used.
 */
#ifndef VIRTCKPT_REMOTE_H
#define VIRTCKPT_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define VC_REMOTE_PSK_LEN 32
/* An authkey larger than this is no authkey (Pacemaker's is 4 KiB at
 * most; dd if=/dev/urandom bs=4096 count=1 is the usual recipe).
 */
#define VC_REMOTE_MAX_KEY_FILE 4096
/* Both ends: a TLS handshake that takes longer has failed. */
#define VC_REMOTE_HANDSHAKE_MS (10 * 1000)
/* The rest of a frame once its first byte came. */
#define VC_REMOTE_FRAME_MS (30 * 1000)
#define VC_REMOTE_HEADER_LEN 8

/* The authkey's path: $VIRTCKPT_AUTHKEY, else $PCMK_authkey_location,
 * else VC_REMOTE_DEFAULT_AUTHKEY.
 */
extern const char *vc_remote_authkey_path (void);

/* Whether st (of path) may be a key: a regular file owned by root, not
 * writable by group or others, not readable by others, 1 to
 * VC_REMOTE_MAX_KEY_FILE bytes.  false with why saying it (naming path).
 */
extern bool vc_remote_key_stat_ok (const struct stat *st, const char *path,
                                   char *why, size_t whylen);

/* Reads the authkey at path and derives the PSK from it:
 *   HMAC-SHA256 (file bytes, VC_REMOTE_KEY_LABEL).
 * -1 with errno (ENOENT, EACCES, EPERM: refused by vc_remote_key_stat_ok)
 * and why (naming path) on failure.
 */
extern int vc_remote_load_psk (const char *path,
                               unsigned char psk[VC_REMOTE_PSK_LEN],
                               char *why, size_t whylen);

/* "HOST", "HOST:PORT", "[V6ADDR]" or "[V6ADDR]:PORT": host and port
 * (malloc'd; port "3122" when not given).  -1 (EINVAL) when malformed.
 */
extern int vc_remote_parse_server (const char *server, char **host,
                                   char **port);

/* TCP keepalive: a peer that vanished is noticed within about 25 s. */
extern void vc_remote_keepalive (int fd);

/* A TCP connection to host:port within timeout_ms (each address in
 * turn), keepalive on.  -1 with why on failure (errno set).
 */
extern int vc_remote_tcp_connect (const char *host, const char *port,
                                  int timeout_ms, char *why, size_t whylen);

/* A TLS session over a connected socket (owned from then: closed by
 * vc_tls_close).  The handshake is done (within VC_REMOTE_HANDSHAKE_MS)
 * when these return; NULL with why on failure, errno EKEYREJECTED when
 * the peer's key differs (as far as TLS can tell it), ETIMEDOUT, or EIO.
 */
struct vc_tls;
extern struct vc_tls *vc_tls_client (int fd,
                                     const unsigned char psk[VC_REMOTE_PSK_LEN],
                                     char *why, size_t whylen);
extern struct vc_tls *vc_tls_server (int fd,
                                     const unsigned char psk[VC_REMOTE_PSK_LEN],
                                     char *why, size_t whylen);
/* The protocol version and cipher agreed, for the logs. */
extern const char *vc_tls_description (struct vc_tls *t, char *buf, size_t len);
extern void vc_tls_close (struct vc_tls *t);

/* Sends a frame: the header (len of a + b, then word: a request id, or a
 * reply's error), then a and b.  0, or -1 with errno (the connection is
 * then unusable).
 */
extern int vc_remote_send (struct vc_tls *t, uint32_t word, const void *a,
                           size_t alen, const void *b, size_t blen,
                           int timeout_ms);

/* Receives a frame: waits up to first_ms for its first byte (-1: for
 * ever), then VC_REMOTE_FRAME_MS for the rest.  *payload (malloc'd, NUL
 * terminated) of *len bytes, at most max.  0; 1 at a clean end of the
 * connection before a frame; -1 with errno (EPROTO: a length over max;
 * ETIMEDOUT; ECONNRESET: the peer went away mid-frame).
 */
extern int vc_remote_recv (struct vc_tls *t, uint32_t *word, char **payload,
                           size_t *len, size_t max, int first_ms);

/* A frame's header: -1 (EPROTO) when its length is over max. */
extern int vc_remote_parse_header (const unsigned char h[VC_REMOTE_HEADER_LEN],
                                   size_t max, uint32_t *len, uint32_t *word);
extern void vc_remote_put_header (unsigned char h[VC_REMOTE_HEADER_LEN],
                                  uint32_t len, uint32_t word);

/* A reply's error word: 0 or -errno (1 to 4095); anything else is no
 * error a peer may send.
 */
static inline bool
vc_remote_error_ok (int32_t e)
{
  return e <= 0 && e > -4096;
}

#endif
