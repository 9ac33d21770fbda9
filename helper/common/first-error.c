/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "common/first-error.h"
#include "common/log.h"

static int32_t target = -1;
static char *first;

static void
remember (int32_t t, struct qb_log_callsite *cs, struct timespec *timestamp,
          const char *msg)
{
  if (first == NULL && cs->priority <= LOG_ERR)
    first = strdup (msg);
}

void
vc_first_error_begin (void)
{
  free (first);
  first = NULL;
  if (target >= 0)
    return;
  target = qb_log_custom_open (remember, NULL, NULL, NULL);
  if (target < 0)
    return;
  qb_log_ctl (target, QB_LOG_CONF_ENABLED, QB_TRUE);
  qb_log_filter_ctl (target, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", LOG_ERR);
}

char *
vc_first_error_end (void)
{
  char *msg = first;

  first = NULL;
  if (target >= 0) {
    qb_log_ctl (target, QB_LOG_CONF_ENABLED, QB_FALSE);
    qb_log_custom_close (target);
    target = -1;
  }
  return msg;
}
