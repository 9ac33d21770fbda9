/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Logging through libqb: messages go to stderr, and to syslog when stderr
 * is not a terminal (so that runs from Pacemaker or cron leave a trace).
 * When stderr is the journal ($JOURNAL_STREAM, a systemd service) they go
 * there only, each once, with its priority.  Each error is reported once,
 * where it happens.
 */
#ifndef VIRTCKPT_LOG_H
#define VIRTCKPT_LOG_H

#include <stdbool.h>
#include <syslog.h>
#include <qb/qblog.h>

/* verbosity: -1 quiet (errors only), 0 normal, 1 verbose, 2 debug */
extern void vc_log_init (const char *progname, int verbosity);
/* The daemon: syslog always, and stderr in the foreground. */
extern void vc_log_init_daemon (const char *progname, int verbose,
                                bool foreground);
extern bool vc_log_stderr_is_journal (void);
extern void vc_log_fini (void);

#define vc_error(fmt, ...) qb_log (LOG_ERR, fmt, ##__VA_ARGS__)
#define vc_warn(fmt, ...) qb_log (LOG_WARNING, fmt, ##__VA_ARGS__)
#define vc_notice(fmt, ...) qb_log (LOG_NOTICE, fmt, ##__VA_ARGS__)
#define vc_info(fmt, ...) qb_log (LOG_INFO, fmt, ##__VA_ARGS__)
#define vc_debug(fmt, ...) qb_log (LOG_DEBUG, fmt, ##__VA_ARGS__)

#endif
