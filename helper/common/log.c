/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <stdbool.h>
#include <unistd.h>

#include "common/log.h"

void
vc_log_init (const char *progname, int verbosity)
{
  int stderr_level = verbosity < 0 ? LOG_ERR
    : verbosity == 0 ? LOG_NOTICE
    : verbosity == 1 ? LOG_INFO : LOG_DEBUG;
  bool interactive = isatty (STDERR_FILENO);

  qb_log_init (progname, LOG_DAEMON, LOG_INFO);
  qb_log_tags_stringify_fn_set (NULL);

  qb_log_ctl (QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, interactive ? QB_FALSE : QB_TRUE);
  qb_log_filter_ctl (QB_LOG_SYSLOG, QB_LOG_FILTER_CLEAR_ALL,
                     QB_LOG_FILTER_FILE, "*", LOG_DEBUG);
  qb_log_filter_ctl (QB_LOG_SYSLOG, QB_LOG_FILTER_ADD,
                     QB_LOG_FILTER_FILE, "*",
                     verbosity >= 2 ? LOG_DEBUG : LOG_INFO);

  qb_log_ctl (QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_TRUE);
  qb_log_filter_ctl (QB_LOG_STDERR, QB_LOG_FILTER_ADD,
                     QB_LOG_FILTER_FILE, "*", stderr_level);
  qb_log_format_set (QB_LOG_STDERR,
                     verbosity >= 2 ? "%N: %p: %b (%f:%l)" : "%N: %p: %b");
}

void
vc_log_fini (void)
{
  qb_log_fini ();
}
