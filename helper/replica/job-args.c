/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a handed-over job may ask for (job-args.h). */
#include <config.h>

#include <limits.h>
#include <string.h>

#include "replica/job-args.h"

const char *const vc_job_kinds[] = { "backup", "cancel", "locate", NULL };

/* 'v': takes a value; 'p': an absolute path; 'f': a flag. */
struct option_rule {
  const char *name;
  char kind;
};

static const struct option_rule backup_options[] = {
  { "--output", 'p' }, { "--level", 'v' }, { "--disk", 'v' }, { "--exclude", 'v' },
  { "--checksum", 'v' }, { "--connections", 'v' }, { "--request-size", 'v' },
  { "--in-flight", 'v' }, { "--max-rate", 'v' }, { "--rundir", 'p' },
  { "--json", 'f' }, { "--no-progress", 'f' }, { NULL, 0 },
};
static const struct option_rule cancel_options[] = {
  { "--grace", 'v' }, { "--wait", 'v' }, { "--hold", 'v' }, { "--release", 'f' },
  { "--rundir", 'p' }, { NULL, 0 },
};

int
vc_job_kind (const char *name)
{
  for (int k = 0; vc_job_kinds[k]; k++)
    if (strcmp (vc_job_kinds[k], name) == 0)
      return k;
  return -1;
}

bool
vc_job_text_ok (const char *s, size_t max)
{
  size_t n = strlen (s);

  if (n == 0 || n > max)
    return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char) s[i] < ' ' || s[i] == 0x7f)
      return false;
  return true;
}

static bool
absolute_path_ok (const char *p)
{
  size_t n = strlen (p);

  return p[0] == '/' && strstr (p, "/../") == NULL &&
    (n < 3 || strcmp (p + n - 3, "/..") != 0);
}

bool
vc_job_args_allowed (enum vc_job_kind kind, char *const *args, size_t n)
{
  const struct option_rule *t = kind == VC_JOB_BACKUP ? backup_options : cancel_options;
  bool output = false;

  if (kind == VC_JOB_LOCATE)
    return n == 0;
  if (kind != VC_JOB_BACKUP && kind != VC_JOB_CANCEL)
    return false;
  for (size_t i = 0; i < n; i++) {
    size_t k;
    for (k = 0; t[k].name && strcmp (t[k].name, args[i]) != 0; k++)
      ;
    if (t[k].name == NULL)
      return false;
    if (t[k].kind == 'f')
      continue;
    if (++i == n)
      return false;
    if (!vc_job_text_ok (args[i], PATH_MAX - 1) || args[i][0] == '-' ||
        (t[k].kind == 'p' && !absolute_path_ok (args[i])))
      return false;
    output |= strcmp (t[k].name, "--output") == 0;
  }
  return kind != VC_JOB_BACKUP || output;
}
