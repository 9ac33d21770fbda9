/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtckptd: keeps every domain's checkpoint chain replicated on every
 * cluster node over corosync CPG, and serves virtckpt on this node.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <qb/qbdefs.h>
#include <qb/qbipcs.h>
#include <qb/qbloop.h>
#include <qb/qbipc_common.h>
#include <corosync/cpg.h>
#include <corosync/votequorum.h>

#include "common/cleanup.h"
#include "store/document.h"
#include "store/ipc-protocol.h"
#include "common/log.h"
#include "replica/ipc-pieces.h"
#include "replica/jobs.h"
#include "replica/remote-relay.h"
#include "remote/remote-protocol.h"
#include "replica/scheduler.h"
#include "replica/replica.h"
#include "store/store.h"
#include "store/store-scan.h"
#include "common/vc-strings.h"
#include "common/xml-safe.h"

#define RECONNECT_MS 1000
#define RETRY_SEND_MS 10

struct waiter {
  uint64_t cookie;
  qb_ipcs_connection_t *c;      /* NULL once the client went away */
};
DEFINE_VECTOR_TYPE (waiter_vector, struct waiter);

static struct {
  qb_loop_t *loop;
  struct vc_store store;
  struct vc_replica replica;
  qb_ipcs_service_t *ipcs;
  cpg_handle_t cpg;
  bool cpg_up;
  int cpg_fd;
  votequorum_handle_t vq;
  bool vq_up;
  int vq_fd;
  qb_loop_timer_handle reconnect_timer, send_timer;
  bool send_timer_armed, reconnect_armed;
  waiter_vector waiters;
  uint64_t next_cookie;
  gid_t haclient;
  bool have_haclient;
} d;

/* --- sending what the replica queued ----------------------------------------- */

static void flush (void);

static void
send_timer_fired (void *data)
{
  d.send_timer_armed = false;
  flush ();
}

/* Multicasts queued messages in order.  On flow control (TRY_AGAIN) the
 * rest waits for a short timer: the main loop never blocks on corosync.
 */
static void
flush (void)
{
  struct vc_replica *r = &d.replica;

  while (d.cpg_up && r->out.len > 0) {
    struct iovec iov = { r->out.ptr[0].buf, r->out.ptr[0].len };
    cs_error_t e = cpg_mcast_joined (d.cpg, CPG_TYPE_AGREED, &iov, 1);
    if (e == CS_ERR_TRY_AGAIN) {
      if (!d.send_timer_armed &&
          qb_loop_timer_add (d.loop, QB_LOOP_MED, RETRY_SEND_MS * QB_TIME_NS_IN_MSEC,
                             NULL, send_timer_fired, &d.send_timer) == 0)
        d.send_timer_armed = true;
      return;
    }
    if (e != CS_OK) {
      vc_error ("cannot send to the cluster (error %d)", e);
      return;                   /* the dispatch error path reconnects */
    }
    free (r->out.ptr[0].buf);
    vc_outmsg_vector_remove (&r->out, 0);
  }
}

/* --- IPC ------------------------------------------------------------------------- */


static void
reply (qb_ipcs_connection_t *c, int32_t id, int error, const char *text)
{
  size_t len = text ? strlen (text) : 0;
  struct qb_ipc_response_header h = { .id = id, .size = sizeof h + len, .error = error };
  struct iovec iov[2] = { { &h, sizeof h }, { (void *) text, len } };

  if (qb_ipcs_response_sendv (c, iov, 2) < 0)
    vc_debug ("could not answer a client");
}

static void
applied (void *opaque, uint64_t cookie, int status, const char *message)
{
  for (size_t i = 0; i < d.waiters.len; i++) {
    struct waiter *w = &d.waiters.ptr[i];
    if (w->cookie != cookie)
      continue;
    if (w->c) {
      reply (w->c, VC_IPC_PUT, status == 0 ? 0 : -EIO, message);
      qb_ipcs_connection_unref (w->c);
    }
    waiter_vector_remove (&d.waiters, i);
    return;
  }
}

static int32_t
ipc_accept (qb_ipcs_connection_t *c, uid_t uid, gid_t gid)
{
  if (uid == 0 || (d.have_haclient && gid == d.haclient))
    return 0;
  vc_warn ("refused a client with uid %u gid %u: root or haclient only",
           (unsigned) uid, (unsigned) gid);
  return -EACCES;
}

/* The client went away: what the daemon holds for it (leases, jobs)
 * holds a reference, so this comes before the destruction.
 */
static int32_t
ipc_closed (qb_ipcs_connection_t *c)
{
  vc_jobs_ipc_closed (c);
  return 0;
}

static void
ipc_destroyed (qb_ipcs_connection_t *c)
{
  vc_ipc_drop_pieces (c);
  for (size_t i = 0; i < d.waiters.len; i++)
    if (d.waiters.ptr[i].c == c) {
      qb_ipcs_connection_unref (c);
      d.waiters.ptr[i].c = NULL;
    }
}

/* parsed: text parsed already (taken), or NULL. */
static int
submit (qb_ipcs_connection_t *c, int32_t id, const char *domain,
        const char *text, size_t len, struct vc_chain *parsed)
{
  uint64_t cookie = ++d.next_cookie;

  if (vc_replica_submit_parsed (&d.replica, cookie, domain, text, len, parsed) == -1) {
    reply (c, id, -errno, errno == ENOTCONN
           ? "virtckptd is not connected to the cluster"
           : errno == EFBIG ? "document too large" : strerror (errno));
    return 0;
  }
  qb_ipcs_connection_ref (c);
  if (waiter_vector_append (&d.waiters, (struct waiter) { cookie, c }) == -1) {
    qb_ipcs_connection_unref (c);
    reply (c, id, -ENOMEM, "out of memory");
    return 0;
  }
  flush ();
  return 0;
}

static int32_t
put_part (qb_ipcs_connection_t *c, const char *data, size_t len)
{
  int e = vc_ipc_add_piece (c, data, len);

  reply (c, VC_IPC_PUT_PART, e, e == 0 ? NULL : e == -EFBIG
         ? "document too large" : "out of memory");
  return 0;
}

/* payload: u32 name length, name, document text. */
static int32_t
process_put (qb_ipcs_connection_t *c, int32_t id, const char *payload, size_t len)
{
  uint32_t n;
  struct vc_chain chain;
  CLEANUP_FREE char *err = NULL, *domain = NULL;

  if (len < sizeof n || (memcpy (&n, payload, sizeof n), n == 0) ||
      n > len - sizeof n) {
    reply (c, id, -EINVAL, "malformed request");
    return 0;
  }
  domain = strndup (payload + sizeof n, n);
  const char *text = payload + sizeof n + n;
  size_t tlen = len - sizeof n - n;
  if (domain == NULL || strlen (domain) != n) {
    reply (c, id, -EINVAL, "malformed domain name");
    return 0;
  }
  if (vc_document_parse (text, tlen, &chain, &err) == -1) {
    CLEANUP_FREE char *msg = vc_printf ("malformed document: %s", err);
    reply (c, id, -EINVAL, msg);
    return 0;
  }
  if (strcmp (chain.domain, domain) != 0) {
    vc_chain_clear (&chain);
    reply (c, id, -EINVAL, "the document names another domain");
    return 0;
  }
  return submit (c, id, domain, text, tlen, &chain);
}

/* A whole PUT payload, or the last piece of one. */
static int32_t
put (qb_ipcs_connection_t *c, int32_t id, const char *payload, size_t len)
{
  struct vc_ipc_pieces *p;
  int32_t r;
  int e;

  if (qb_ipcs_context_get (c) == NULL)
    return process_put (c, id, payload, len);
  if ((e = vc_ipc_add_piece (c, payload, len)) != 0) {
    reply (c, id, e, e == -EFBIG ? "document too large" : "out of memory");
    return 0;
  }
  p = vc_ipc_take_pieces (c);
  r = process_put (c, id, p->buf, p->len);
  free (p->buf);
  free (p);
  return r;
}

static int32_t
ipc_process (qb_ipcs_connection_t *c, void *data, size_t size)
{
  struct qb_ipc_request_header *h = data;
  const char *payload = (const char *) data + sizeof *h;
  size_t len;

  if (size < sizeof *h || (size_t) h->size != size) {
    vc_warn ("dropped a malformed request from a client");
    qb_ipcs_disconnect (c);
    return 0;
  }
  len = size - sizeof *h;
  switch (h->id) {
  case VC_IPC_HELLO:
    reply (c, h->id, 0, d.store.dir);
    return 0;

  case VC_IPC_STATUS: {
    CLEANUP_FREE char *text = vc_replica_status (&d.replica);
    CLEANUP_FREE char *jobs = vc_jobs_status ();
    CLEANUP_FREE char *sched = vc_scheduler_status ();
    CLEANUP_FREE char *all = text && jobs && sched
      ? vc_printf ("%s%s%s", text, jobs, sched) : NULL;
    reply (c, h->id, all ? 0 : -ENOMEM, all);
    return 0;
  }

  case VC_IPC_STATE: {
    CLEANUP_FREE char *text = vc_replica_state (&d.replica);
    reply (c, h->id, text ? 0 : -ENOMEM, text);
    return 0;
  }

  case VC_IPC_PUT_PART:
    return put_part (c, payload, len);

  case VC_IPC_PUT:
    return put (c, h->id, payload, len);

  case VC_IPC_FORGET: {
    CLEANUP_FREE char *domain = strndup (payload, len);
    if (domain == NULL || len == 0 || strlen (domain) != len) {
      reply (c, h->id, -EINVAL, "malformed domain name");
      return 0;
    }
    return submit (c, h->id, domain, NULL, 0, NULL);
  }

  case VC_IPC_SCHEDULE_NOW: {
    CLEANUP_FREE char *domain = strndup (payload, len);
    if (domain == NULL || len == 0 || strlen (domain) != len) {
      reply (c, h->id, -EINVAL, "malformed domain name");
      return 0;
    }
    vc_scheduler_look_now (domain);
    reply (c, h->id, 0, "");
    return 0;
  }

  default:
    if (vc_jobs_ipc (c, h->id, payload, len))
      return 0;
    vc_warn ("dropped a request of unknown type %d", (int) h->id);
    reply (c, h->id, -EOPNOTSUPP, "unknown request");
    return 0;
  }
}

static int32_t
loop_job_add (enum qb_loop_priority p, void *data, qb_loop_job_dispatch_fn fn)
{
  return qb_loop_job_add (d.loop, p, data, fn);
}

static int32_t
loop_poll_add (enum qb_loop_priority p, int32_t fd, int32_t events, void *data,
               qb_ipcs_dispatch_fn_t fn)
{
  return qb_loop_poll_add (d.loop, p, fd, events, data, fn);
}

static int32_t
loop_poll_mod (enum qb_loop_priority p, int32_t fd, int32_t events, void *data,
               qb_ipcs_dispatch_fn_t fn)
{
  return qb_loop_poll_mod (d.loop, p, fd, events, data, fn);
}

static int32_t
loop_poll_del (int32_t fd)
{
  return qb_loop_poll_del (d.loop, fd);
}

static int
start_ipc (void)
{
  static struct qb_ipcs_service_handlers handlers = {
    .connection_accept = ipc_accept,
    .msg_process = ipc_process,
    .connection_closed = ipc_closed,
    .connection_destroyed = ipc_destroyed,
  };
  static struct qb_ipcs_poll_handlers poll = {
    .job_add = loop_job_add,
    .dispatch_add = loop_poll_add,
    .dispatch_mod = loop_poll_mod,
    .dispatch_del = loop_poll_del,
  };

  /* Shared memory: libqb's socket transport is bounded by
   * net.core.wmem_max (208 KiB on a stock system).  Each connection costs
   * three VC_IPC_MAX_MSG rings, zeroed at connect: small, long documents
   * come in pieces.
   */
  d.ipcs = qb_ipcs_create (VC_IPC_NAME, 0, QB_IPC_SHM, &handlers);
  if (d.ipcs == NULL) {
    vc_error ("cannot create the IPC service: %m");
    return -1;
  }
  qb_ipcs_enforce_buffer_size (d.ipcs, VC_IPC_MAX_MSG);
  qb_ipcs_poll_handlers_set (d.ipcs, &poll);
  if (qb_ipcs_run (d.ipcs) != 0) {
    vc_error ("cannot start the IPC service (another virtckptd running?)");
    return -1;
  }
  return 0;
}

/* --- corosync ---------------------------------------------------------------------- */

static void connect_cluster (void);

static void
reconnect_fired (void *data)
{
  d.reconnect_armed = false;
  connect_cluster ();
}

static void
schedule_reconnect (void)
{
  if (!d.reconnect_armed &&
      qb_loop_timer_add (d.loop, QB_LOOP_LOW, RECONNECT_MS * QB_TIME_NS_IN_MSEC,
                         NULL, reconnect_fired, &d.reconnect_timer) == 0)
    d.reconnect_armed = true;
}

static void
disconnect_cluster (const char *why)
{
  if (d.cpg_up) {
    qb_loop_poll_del (d.loop, d.cpg_fd);
    cpg_finalize (d.cpg);
    d.cpg_up = false;
  }
  if (d.vq_up) {
    qb_loop_poll_del (d.loop, d.vq_fd);
    votequorum_finalize (d.vq);
    d.vq_up = false;
  }
  vc_replica_set_quorate (&d.replica, false);
  vc_replica_offline (&d.replica, why);
  vc_jobs_confchg ();
  vc_warn ("%s: serving reads from the local replica, reconnecting", why);
  schedule_reconnect ();
}

static void
cpg_deliver (cpg_handle_t h, const struct cpg_name *group, uint32_t nodeid,
             uint32_t pid, void *msg, size_t len)
{
  vc_replica_deliver (&d.replica, nodeid, pid, msg, len);
}

static void
cpg_confchg (cpg_handle_t h, const struct cpg_name *group,
             const struct cpg_address *members, size_t n,
             const struct cpg_address *left, size_t nleft,
             const struct cpg_address *joined, size_t njoined)
{
  struct vc_member m[CPG_MEMBERS_MAX];

  for (size_t i = 0; i < n && i < CPG_MEMBERS_MAX; i++)
    m[i] = (struct vc_member) { members[i].nodeid, members[i].pid };
  vc_replica_confchg (&d.replica, m, n < CPG_MEMBERS_MAX ? n : CPG_MEMBERS_MAX);
  vc_jobs_confchg ();
}

static int32_t
cpg_ready (int32_t fd, int32_t revents, void *data)
{
  if (cpg_dispatch (d.cpg, CS_DISPATCH_ALL) != CS_OK) {
    disconnect_cluster ("lost the connection to corosync");
    return 0;
  }
  flush ();
  return 0;
}

static void
quorum_notify (votequorum_handle_t h, uint64_t context, uint32_t quorate,
               uint32_t n, votequorum_node_t nodes[])
{
  vc_replica_set_quorate (&d.replica, quorate != 0);
}

static int32_t
vq_ready (int32_t fd, int32_t revents, void *data)
{
  if (votequorum_dispatch (d.vq, CS_DISPATCH_ALL) != CS_OK)
    disconnect_cluster ("lost the connection to corosync (votequorum)");
  return 0;
}

static void
connect_cluster (void)
{
  static cpg_model_v1_data_t model = {
    .model = CPG_MODEL_V1,
    .cpg_deliver_fn = cpg_deliver,
    .cpg_confchg_fn = cpg_confchg,
  };
  static votequorum_callbacks_t vq_callbacks = {
    .votequorum_quorum_notify_fn = quorum_notify,
  };
  struct cpg_name group;
  unsigned int nodeid;
  cs_error_t e;

  strcpy (group.value, VC_CPG_GROUP);
  group.length = strlen (VC_CPG_GROUP);

  e = cpg_model_initialize (&d.cpg, CPG_MODEL_V1, (cpg_model_data_t *) &model, NULL);
  if (e != CS_OK) {
    vc_debug ("corosync not reachable yet (error %d)", e);
    schedule_reconnect ();
    return;
  }
  if (cpg_local_get (d.cpg, &nodeid) != CS_OK ||
      cpg_fd_get (d.cpg, &d.cpg_fd) != CS_OK ||
      cpg_join (d.cpg, &group) != CS_OK) {
    cpg_finalize (d.cpg);
    schedule_reconnect ();
    return;
  }
  d.replica.self.nodeid = nodeid;
  d.cpg_up = true;
  /* Tells a CLI that finds no daemon here whose replica this is. */
  vc_store_mark_replica (&d.store, nodeid);
  qb_loop_poll_add (d.loop, QB_LOOP_HIGH, d.cpg_fd, POLLIN, NULL, cpg_ready);

  if (votequorum_initialize (&d.vq, &vq_callbacks) == CS_OK) {
    votequorum_fd_get (d.vq, &d.vq_fd);
    votequorum_trackstart (d.vq, 0, CS_TRACK_CHANGES | CS_TRACK_CURRENT);
    qb_loop_poll_add (d.loop, QB_LOOP_HIGH, d.vq_fd, POLLIN, NULL, vq_ready);
    d.vq_up = true;
  }
  else
    vc_warn ("votequorum not available: treating the partition as inquorate");
  vc_notice ("joined CPG group %s as node %u", VC_CPG_GROUP, nodeid);
}

/* --- main ------------------------------------------------------------------------------ */

static int
count_doc (const struct vc_doc_summary *s, void *opaque)
{
  (*(size_t *) opaque)++;
  return 0;
}

/* Parses every document of the replica once, before joining the group:
 * the summary of the first sync then comes from the scan cache.  Joined
 * first, every member would sit in SYNCING, its writes waiting, while
 * this node parsed its whole store (about 1 ms a document: 10 s at
 * 10 000 domains, see doc/scale.md).
 */
static void
scan_before_joining (void)
{
  struct timespec t0, t1;
  size_t n = 0;

  clock_gettime (CLOCK_MONOTONIC, &t0);
  if (vc_store_scan (&d.store, count_doc, &n) == -1)
    return;                     /* logged; the sync will say it again */
  clock_gettime (CLOCK_MONOTONIC, &t1);
  vc_notice ("read the %zu documents of the replica in %.1f s", n,
             (double) (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
}

static int32_t
on_signal (int32_t sig, void *data)
{
  vc_notice ("signal %d: stopping", sig);
  qb_loop_stop (d.loop);
  return 0;
}

enum { OPT_REMOTE_PORT = 256, OPT_REMOTE_ADDRESS, OPT_AUTHKEY };

static void
usage (FILE *fp)
{
  fprintf (fp,
"Usage: virtckptd [OPTION]...\n"
"Replicate virtckpt's checkpoint store on every corosync node.\n"
"\n"
"  -f, --foreground     stay in the foreground, log to stderr\n"
"  -s, --store=DIR      the local replica (default %s)\n"
"  -p, --pidfile=FILE   write the daemon's pid to FILE\n"
"      --remote-port=PORT  serve Pacemaker Remote nodes on PORT (default %d;\n"
"                       0: not at all)\n"
"      --remote-address=ADDR  only on ADDR (default every address)\n"
"      --authkey=FILE   the key's file (default $VIRTCKPT_AUTHKEY,\n"
"                       $PCMK_authkey_location, %s)\n"
"  -v, --verbose        more logging (twice: debug)\n"
"  -h, --help           this help\n"
"  -V, --version        the version\n"
"See virtckptd(8).\n", STORE_DIR, VC_REMOTE_PORT, VC_REMOTE_DEFAULT_AUTHKEY);
  fprintf (fp, "Report bugs to: %s\n", PACKAGE_BUGREPORT);
}

static int
write_pidfile (const char *path)
{
  char buf[32];
  int n = snprintf (buf, sizeof buf, "%ld\n", (long) getpid ());
  CLEANUP_CLOSE int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

  if (fd == -1 || write (fd, buf, n) != n) {
    vc_error ("cannot write pid file %s: %m", path);
    return -1;
  }
  return 0;
}

int
main (int argc, char **argv)
{
  static const struct option options[] = {
    { "foreground", no_argument, NULL, 'f' },
    { "store", required_argument, NULL, 's' },
    { "pidfile", required_argument, NULL, 'p' },
    { "verbose", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { "remote-port", required_argument, NULL, OPT_REMOTE_PORT },
    { "remote-address", required_argument, NULL, OPT_REMOTE_ADDRESS },
    { "authkey", required_argument, NULL, OPT_AUTHKEY },
    { NULL, 0, NULL, 0 },
  };
  const char *store_dir = STORE_DIR, *pidfile = NULL;
  const char *remote_address = NULL, *authkey = NULL;
  int remote_port = VC_REMOTE_PORT;
  char *end;
  bool foreground = false;
  int verbose = 0, c;
  struct group *g;

  while ((c = getopt_long (argc, argv, "fs:p:vhV", options, NULL)) != -1) {
    switch (c) {
    case 'f': foreground = true; break;
    case 's': store_dir = optarg; break;
    case 'p': pidfile = optarg; break;
    case 'v': verbose++; break;
    case 'h': usage (stdout); return 0;
    case 'V': printf ("virtckptd %s\n", PACKAGE_VERSION); return 0;
    case OPT_REMOTE_PORT:
      errno = 0;
      remote_port = strtol (optarg, &end, 10);
      if (errno || *end || end == optarg || remote_port < 0 || remote_port > 65535) {
        fprintf (stderr, "virtckptd: --remote-port: not a port: %s\n", optarg);
        return 2;
      }
      break;
    case OPT_REMOTE_ADDRESS: remote_address = optarg; break;
    case OPT_AUTHKEY: authkey = optarg; break;
    default: usage (stderr); return 2;
    }
  }
  if (optind != argc) {
    usage (stderr);
    return 2;
  }

  if (!foreground && daemon (0, 0) == -1) {
    perror ("virtckptd: daemon");
    return 1;
  }
  vc_log_init_daemon ("virtckptd", verbose, foreground);

  g = getgrnam ("haclient");
  if (g) {
    d.haclient = g->gr_gid;
    d.have_haclient = true;
  }
  signal (SIGPIPE, SIG_IGN);
  /* First: the relay's listener is forked before anything is open. */
  vc_relay_start (remote_port, remote_address, authkey);
  d.loop = qb_loop_create ();
  if (d.loop == NULL || vc_store_open (&d.store, store_dir, true) == -1)
    return 1;
  vc_relay_attach (d.loop);
  /* The daemon is its replica's only writer: it holds the store lock for
   * its whole life (which also removes temp files a killed daemon left).
   */
  if (vc_store_lock_now (&d.store) == -1)
    return 1;
  vc_replica_init (&d.replica, &d.store, 0, getpid (), applied, NULL);
  vc_jobs_init (d.loop, &d.replica, d.store.dir, argv[0], flush);
  vc_scheduler_init (d.loop, &d.replica);
  qb_loop_signal_add (d.loop, QB_LOOP_HIGH, SIGTERM, NULL, on_signal, NULL);
  qb_loop_signal_add (d.loop, QB_LOOP_HIGH, SIGINT, NULL, on_signal, NULL);
  if (start_ipc () == -1)
    return 1;
  if (pidfile && write_pidfile (pidfile) == -1)
    return 1;
  vc_notice ("virtckptd %s starting, store %s", PACKAGE_VERSION, d.store.dir);
  scan_before_joining ();
  connect_cluster ();
  qb_loop_run (d.loop);

  if (d.cpg_up)
    cpg_finalize (d.cpg);
  if (d.vq_up)
    votequorum_finalize (d.vq);
  qb_ipcs_destroy (d.ipcs);
  vc_jobs_shutdown ();
  vc_scheduler_shutdown ();
  vc_replica_offline (&d.replica, "virtckptd is stopping");
  vc_replica_free (&d.replica);
  waiter_vector_reset (&d.waiters);
  vc_store_close (&d.store);
  if (pidfile)
    unlink (pidfile);
  vc_relay_stop ();
  qb_loop_destroy (d.loop);
  qb_log_fini ();
  return 0;
}
