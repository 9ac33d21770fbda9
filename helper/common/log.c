/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

/* systemd sets $JOURNAL_STREAM to "DEV:INODE" of the stream it connects a
 * service's stdout/stderr to.  Only when stderr is still that stream does
 * it reach the journal: a shell started from a unit may have redirected it.
 */
bool
vc_log_stderr_is_journal (void)
{
  const char *js = getenv ("JOURNAL_STREAM");
  unsigned long long dev, ino;
  struct stat st;
  int end = 0;

  if (js == NULL ||
      sscanf (js, "%llu:%llu%n", &dev, &ino, &end) != 2 || js[end] != '\0' ||
      fstat (STDERR_FILENO, &st) == -1)
    return false;
  return st.st_dev == dev && st.st_ino == ino;
}

/* The journal reads a "<N>" prefix as the line's syslog priority. */
static void
journal_logger (int32_t t, struct qb_log_callsite *cs,
                struct timespec *timestamp, const char *msg)
{
  char line[QB_LOG_MAX_LEN];

  qb_log_target_format (t, cs, timestamp, msg, line);
  dprintf (STDERR_FILENO, "<%d>%s\n", cs->priority, line);
}

static void
target_on (int32_t t, int level)
{
  qb_log_ctl (t, QB_LOG_CONF_ENABLED, QB_TRUE);
  qb_log_filter_ctl (t, QB_LOG_FILTER_CLEAR_ALL,
                     QB_LOG_FILTER_FILE, "*", LOG_DEBUG);
  qb_log_filter_ctl (t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", level);
}

/* Where stderr is the journal, everything goes there once, with its
 * priority: neither syslog (the journal has it twice) nor plain stderr.
 * It gets what syslog would have, which is at least what stderr would.
 */
static bool
log_to_journal (int verbosity)
{
  int level = verbosity >= 2 ? LOG_DEBUG : LOG_INFO;
  int32_t t;

  if (!vc_log_stderr_is_journal ())
    return false;
  t = qb_log_custom_open (journal_logger, NULL, NULL, NULL);
  if (t < 0)
    return false;
  qb_log_ctl (QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE);
  qb_log_ctl (QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_FALSE);
  target_on (t, level);
  qb_log_format_set (t, verbosity >= 2 ? "%b (%f:%l)" : "%b");
  return true;
}

static int
level_of (int verbosity)
{
  return verbosity < 0 ? LOG_ERR
    : verbosity == 0 ? LOG_NOTICE
    : verbosity == 1 ? LOG_INFO : LOG_DEBUG;
}

void
vc_log_init (const char *progname, int verbosity)
{
  qb_log_init (progname, LOG_DAEMON, LOG_INFO);
  qb_log_tags_stringify_fn_set (NULL);
  if (log_to_journal (verbosity))
    return;

  if (isatty (STDERR_FILENO))
    qb_log_ctl (QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE);
  else
    target_on (QB_LOG_SYSLOG, verbosity >= 2 ? LOG_DEBUG : LOG_INFO);
  target_on (QB_LOG_STDERR, level_of (verbosity));
  qb_log_format_set (QB_LOG_STDERR,
                     verbosity >= 2 ? "%N: %p: %b (%f:%l)" : "%N: %p: %b");
}

void
vc_log_init_daemon (const char *progname, int verbose, bool foreground)
{
  int level = verbose >= 2 ? LOG_DEBUG : verbose ? LOG_INFO : LOG_NOTICE;

  qb_log_init (progname, LOG_DAEMON, LOG_INFO);
  if (foreground && log_to_journal (verbose))
    return;

  target_on (QB_LOG_SYSLOG, verbose >= 2 ? LOG_DEBUG : LOG_INFO);
  if (foreground) {
    target_on (QB_LOG_STDERR, level);
    qb_log_format_set (QB_LOG_STDERR, "%t %N[%P]: %p: %b");
  }
  else
    qb_log_ctl (QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_FALSE);
}

void
vc_log_fini (void)
{
  qb_log_fini ();
}
