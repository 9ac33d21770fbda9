/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the fuzz targets share: quiet logs and a way to report a broken
 * property that libFuzzer records as a crash (with the input saved).
 */
#ifndef VIRTCKPT_FUZZ_COMMON_H
#define VIRTCKPT_FUZZ_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <qb/qblog.h>

#include "common/log.h"
#include "common/vc-strings.h"

/* The code under test logs every input it rejects: at libFuzzer's pace
 * that would flood stderr, so logging is off unless VC_FUZZ_VERBOSE is set.
 */
static inline void
fuzz_quiet_logs (void)
{
  static bool done;

  if (done)
    return;
  done = true;
  vc_log_init ("fuzz", getenv ("VC_FUZZ_VERBOSE") ? 0 : -1);
  qb_log_ctl (QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE);
  if (getenv ("VC_FUZZ_VERBOSE") == NULL)
    qb_log_ctl (QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_FALSE);
}

static inline void fuzz_fail (const char *fmt, ...)
  __attribute__ ((noreturn, format (printf, 1, 2)));

static inline void
fuzz_fail (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  fputs ("fuzz: property broken: ", stderr);
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
  va_end (ap);
  abort ();
}

#endif
