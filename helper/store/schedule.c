/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/vc-strings.h"
#include "common/xml-safe.h"
#include "store/schedule.h"

void
vc_schedule_free (struct vc_schedule *s)
{
  if (s == NULL)
    return;
  free (s->dir);
  free (s);
}

struct vc_schedule *
vc_schedule_copy (const struct vc_schedule *s)
{
  struct vc_schedule *c = malloc (sizeof *c);

  if (c == NULL)
    return NULL;
  *c = *s;
  c->dir = strdup (s->dir);
  if (c->dir == NULL) {
    free (c);
    return NULL;
  }
  return c;
}

bool
vc_schedule_valid_dir (const char *dir)
{
  size_t n = dir ? strlen (dir) : 0;

  if (n == 0 || n > VC_SCHEDULE_MAX_DIR || dir[0] != '/')
    return false;
  for (const unsigned char *p = (const unsigned char *) dir; *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      return false;
  return true;
}

static bool
valid_keep (uint32_t k)
{
  return k <= VC_SCHEDULE_MAX_KEEP;
}

const char *
vc_schedule_invalid (const struct vc_schedule *s)
{
  if (!vc_schedule_valid_dir (s->dir))
    return "the backup directory is not an absolute path without control "
      "characters";
  if (s->every < 1 || s->every > VC_SCHEDULE_MAX_PERIOD)
    return "every is out of range";
  if (s->full_every &&
      (s->full_every < s->every || s->full_every > VC_SCHEDULE_MAX_PERIOD))
    return "full-every is shorter than every or out of range";
  if (!valid_keep (s->keep_last) || !valid_keep (s->keep_daily) ||
      !valid_keep (s->keep_weekly) || !valid_keep (s->keep_monthly))
    return "a keep count is out of range";
  if (s->set < 0)
    return "set is negative";
  return NULL;
}

static bool
set_keep (xmlNodePtr node, const char *name, uint32_t k)
{
  return k == 0 || vc_xml_set_prop_u64 (node, name, k);
}

int
vc_schedule_format (xmlNodePtr parent, const struct vc_schedule *s)
{
  xmlNodePtr node;

  if (vc_schedule_invalid (s))
    return -1;
  node = xmlNewChild (parent, NULL, BAD_CAST "schedule", NULL);
  if (node == NULL ||
      !vc_xml_set_prop_u64 (node, "every", s->every) ||
      (s->full_every && !vc_xml_set_prop_u64 (node, "full-every", s->full_every)) ||
      !set_keep (node, "keep-last", s->keep_last) ||
      !set_keep (node, "keep-daily", s->keep_daily) ||
      !set_keep (node, "keep-weekly", s->keep_weekly) ||
      !set_keep (node, "keep-monthly", s->keep_monthly) ||
      !vc_xml_set_prop_i64 (node, "set", s->set) ||
      xmlNewTextChild (node, NULL, BAD_CAST "dir", BAD_CAST s->dir) == NULL)
    return -1;
  return 0;
}

/* An optional keep-* attribute: absent is 0, present must be 1 or more. */
static int
parse_keep (xmlNodePtr node, const char *name, uint32_t *out)
{
  CLEANUP_FREE char *present = vc_xml_prop (node, name);
  uint64_t v;

  if (vc_xml_prop_u64 (node, name, &v, false) == -1 ||
      (present && (v == 0 || v > VC_SCHEDULE_MAX_KEEP)))
    return -1;
  *out = v;
  return 0;
}

int
vc_schedule_parse (xmlNodePtr root, struct vc_schedule **out, char **err)
{
  xmlNodePtr node = NULL, dir = NULL;
  CLEANUP_FREE char *full = NULL;
  struct vc_schedule *s;
  xmlChar *text;
  uint64_t set;
  const char *why;

  *out = NULL;
  for (xmlNodePtr n = root->children; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE && xmlStrEqual (n->name, BAD_CAST "schedule")) {
      if (node)
        return *err = vc_printf ("more than one <schedule>"), -1;
      node = n;
    }
  if (node == NULL)
    return 0;
  for (xmlNodePtr n = node->children; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE) {
      if (!xmlStrEqual (n->name, BAD_CAST "dir") || dir)
        return *err = vc_printf ("<schedule> holds something other than one <dir>"), -1;
      dir = n;
    }
  if (dir == NULL)
    return *err = vc_printf ("<schedule> has no <dir>"), -1;
  s = calloc (1, sizeof *s);
  if (s == NULL)
    return *err = vc_printf ("out of memory"), -1;
  full = vc_xml_prop (node, "full-every");
  text = xmlNodeGetContent (dir);
  s->dir = text ? strdup ((char *) text) : NULL;
  xmlFree (text);
  if (vc_xml_prop_u64 (node, "every", &s->every, true) == -1 ||
      vc_xml_prop_u64 (node, "full-every", &s->full_every, false) == -1 ||
      (full && s->full_every == 0) ||
      parse_keep (node, "keep-last", &s->keep_last) == -1 ||
      parse_keep (node, "keep-daily", &s->keep_daily) == -1 ||
      parse_keep (node, "keep-weekly", &s->keep_weekly) == -1 ||
      parse_keep (node, "keep-monthly", &s->keep_monthly) == -1 ||
      vc_xml_prop_u64 (node, "set", &set, true) == -1 || set > INT64_MAX) {
    vc_schedule_free (s);
    return *err = vc_printf ("<schedule> has a missing or malformed attribute"), -1;
  }
  s->set = set;
  why = vc_schedule_invalid (s);
  if (why) {
    vc_schedule_free (s);
    return *err = vc_printf ("<schedule>: %s", why), -1;
  }
  *out = s;
  return 0;
}
