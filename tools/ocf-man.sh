#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# tools/ocf-man.sh - a man page (section 7) from any OCF resource agent's
# meta-data, such as ocf_virtckpt_virtckptd(7) or
# ocf_heartbeat_VirtualDomain(7).
#
# Usage:
#   tools/ocf-man.sh [-p PROVIDER] [-e EXTRA] [-s SOURCE] [-m MANUAL]
#                    [-d YYYY-MM-DD] [-o OUTPUT] AGENT
#   tools/ocf-man.sh -M METADATA.xml -p PROVIDER [...]
#
#   AGENT        the agent; "AGENT meta-data" is run with OCF_ROOT set
#                (default /usr/lib/ocf)
#   -M FILE      read the meta-data from FILE ("-": standard input) instead
#   -p PROVIDER  the OCF provider (default: taken from a path
#                .../resource.d/PROVIDER/AGENT); the page is
#                ocf_PROVIDER_NAME(7), NAME being the meta-data's agent name
#   -e EXTRA     sections appended after the generated ones (see below)
#   -s SOURCE    the footer's source, e.g. "virtckpt 0.1.0"
#   -m MANUAL    the header's manual (default "OCF resource agents")
#   -d DATE      the page's date (default: $SOURCE_DATE_EPOCH, else the
#                agent's or the meta-data file's modification time)
#   -o OUTPUT    write there (atomically) instead of standard output
#
# The page has NAME, SYNOPSIS, DESCRIPTION, SUPPORTED PARAMETERS (type,
# default, required, unique, and OCF 1.1's reloadable, deprecated and select
# options), SUPPORTED ACTIONS (suggested timeouts and intervals), then the
# EXTRA file's sections.  The meta-data is parsed by xsltproc (Debian
# package xsltproc), never fetching its DTD.
#
# EXTRA is plain text: a line "= TITLE" starts a section .SH TITLE (before
# any, the section is EXAMPLES); lines starting with white space are shown
# as they are (commands); other lines are filled text; blank lines separate
# paragraphs; lines starting with "#" are comments.  Nothing in it is roff:
# backslashes and leading dots are escaped.

set -eu -o pipefail

prog=${0##*/}
die() {
	echo "$prog: $*" >&2
	exit 1
}
usage() {
	sed -n '/^# Usage:/,/^# The page has/{/^# The page has/d;s/^# \{0,1\}//;p}' "$0"
	exit "${1:-0}"
}

provider="" extra="" source="" manual="OCF resource agents" date="" output=""
metadata=""
while getopts "p:e:s:m:d:o:M:h" opt; do
	case $opt in
	p) provider=$OPTARG ;;
	e) extra=$OPTARG ;;
	s) source=$OPTARG ;;
	m) manual=$OPTARG ;;
	d) date=$OPTARG ;;
	o) output=$OPTARG ;;
	M) metadata=$OPTARG ;;
	h) usage 0 ;;
	*) usage 2 >&2 ;;
	esac
done
shift $((OPTIND - 1))
agent=${1:-}
if [[ -n "$metadata" ]]; then
	(($# == 0)) || die "no AGENT with -M"
else
	(($# == 1)) || usage 2 >&2
fi
command -v xsltproc >/dev/null || die "xsltproc not found (Debian package xsltproc)"
[[ -z "$extra" || -r "$extra" ]] || die "cannot read $extra"
[[ "$provider" =~ ^[A-Za-z0-9_.-]*$ ]] || die "bad provider: $provider"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ocf-man.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# --- the meta-data -----------------------------------------------------------
if [[ -n "$metadata" ]]; then
	if [[ "$metadata" == - ]]; then
		cat >"$tmp/meta.xml"
	else
		cp -- "$metadata" "$tmp/meta.xml" || die "cannot read $metadata"
	fi
	srcfile=$metadata
else
	[[ -f "$agent" && -x "$agent" ]] || die "$agent: not an executable file"
	OCF_ROOT=${OCF_ROOT:-/usr/lib/ocf} "$agent" meta-data >"$tmp/meta.xml" 2>"$tmp/meta.err" ||
		die "$agent meta-data failed: $(head -c 500 "$tmp/meta.err")"
	srcfile=$agent
	if [[ -z "$provider" ]]; then
		parent=$(dirname -- "$(readlink -f -- "$agent")")
		[[ "$(basename -- "$(dirname -- "$parent")")" == resource.d ]] &&
			provider=$(basename -- "$parent")
	fi
fi
[[ -n "$provider" ]] || die "no provider: give -p PROVIDER"
[[ -s "$tmp/meta.xml" ]] || die "empty meta-data"

if [[ -z "$date" ]]; then
	if [[ -n "${SOURCE_DATE_EPOCH:-}" ]]; then
		date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)
	elif [[ "$srcfile" != - ]]; then
		date=$(date -u -r "$srcfile" +%Y-%m-%d)
	else
		date=$(date -u +%Y-%m-%d)
	fi
fi

# --- the stylesheet: meta-data to roff (man macros) --------------------------
cat >"$tmp/ocf-man.xsl" <<'XSL'
<?xml version="1.0"?>
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
<xsl:output method="text" encoding="UTF-8"/>
<xsl:param name="provider"/>
<xsl:param name="date"/>
<xsl:param name="source"/>
<xsl:param name="manual"/>

<xsl:variable name="nl" select="'&#10;'"/>
<xsl:variable name="lower" select="'abcdefghijklmnopqrstuvwxyz'"/>
<xsl:variable name="upper" select="'ABCDEFGHIJKLMNOPQRSTUVWXYZ'"/>

<!-- replace: every $from in $s by $to -->
<xsl:template name="replace">
  <xsl:param name="s"/><xsl:param name="from"/><xsl:param name="to"/>
  <xsl:choose>
    <xsl:when test="contains($s, $from)">
      <xsl:value-of select="concat(substring-before($s, $from), $to)"/>
      <xsl:call-template name="replace">
        <xsl:with-param name="s" select="substring-after($s, $from)"/>
        <xsl:with-param name="from" select="$from"/><xsl:with-param name="to" select="$to"/>
      </xsl:call-template>
    </xsl:when>
    <xsl:otherwise><xsl:value-of select="$s"/></xsl:otherwise>
  </xsl:choose>
</xsl:template>

<!-- esc: $s (one line) safe for roff: backslashes, and a leading . or ' -->
<xsl:template name="esc">
  <xsl:param name="s"/>
  <xsl:if test="starts-with($s, '.') or starts-with($s, &quot;'&quot;)">\&amp;</xsl:if>
  <xsl:call-template name="replace">
    <xsl:with-param name="s" select="$s"/>
    <xsl:with-param name="from" select="'\'"/><xsl:with-param name="to" select="'\e'"/>
  </xsl:call-template>
</xsl:template>

<!-- text: free text as filled roff lines; blank lines become $break;
     lines starting with "- " or "* " start a new line (lists).
     $state: 0 nothing written yet, 1 text written, 2 blank line after text -->
<xsl:template name="text">
  <xsl:param name="s"/><xsl:param name="break" select="'.PP'"/>
  <xsl:param name="state" select="0"/>
  <xsl:variable name="line">
    <xsl:choose>
      <xsl:when test="contains($s, $nl)"><xsl:value-of select="normalize-space(substring-before($s, $nl))"/></xsl:when>
      <xsl:otherwise><xsl:value-of select="normalize-space($s)"/></xsl:otherwise>
    </xsl:choose>
  </xsl:variable>
  <xsl:variable name="next">
    <xsl:choose>
      <xsl:when test="$line = '' and $state = 1">2</xsl:when>
      <xsl:when test="$line = ''"><xsl:value-of select="$state"/></xsl:when>
      <xsl:otherwise>1</xsl:otherwise>
    </xsl:choose>
  </xsl:variable>
  <xsl:if test="$line != ''">
    <xsl:choose>
      <xsl:when test="$state = 2"><xsl:value-of select="concat($break, $nl)"/></xsl:when>
      <xsl:when test="$state = 1 and (starts-with($line, '- ') or starts-with($line, '* '))">
        <xsl:value-of select="concat('.br', $nl)"/>
      </xsl:when>
    </xsl:choose>
    <xsl:call-template name="esc"><xsl:with-param name="s" select="$line"/></xsl:call-template>
    <xsl:value-of select="$nl"/>
  </xsl:if>
  <xsl:if test="contains($s, $nl)">
    <xsl:call-template name="text">
      <xsl:with-param name="s" select="substring-after($s, $nl)"/>
      <xsl:with-param name="break" select="$break"/>
      <xsl:with-param name="state" select="$next"/>
    </xsl:call-template>
  </xsl:if>
</xsl:template>

<!-- line: $s on one line (white space collapsed), escaped -->
<xsl:template name="line">
  <xsl:param name="s"/>
  <xsl:call-template name="esc"><xsl:with-param name="s" select="normalize-space($s)"/></xsl:call-template>
</xsl:template>

<!-- the English (or unmarked, or first) shortdesc / longdesc of a node -->
<xsl:template name="desc">
  <xsl:param name="of"/><xsl:param name="what"/>
  <xsl:variable name="all" select="$of/*[local-name() = $what]"/>
  <xsl:choose>
    <xsl:when test="$all[@lang = 'en']"><xsl:value-of select="$all[@lang = 'en'][1]"/></xsl:when>
    <xsl:when test="$all[not(@lang)]"><xsl:value-of select="$all[not(@lang)][1]"/></xsl:when>
    <xsl:otherwise><xsl:value-of select="$all[1]"/></xsl:otherwise>
  </xsl:choose>
</xsl:template>

<xsl:template match="/">
  <xsl:if test="not(resource-agent)">
    <xsl:message terminate="yes">ocf-man: not OCF meta-data (no resource-agent element)</xsl:message>
  </xsl:if>
  <xsl:apply-templates select="resource-agent"/>
</xsl:template>

<xsl:template match="resource-agent">
  <xsl:variable name="page" select="concat('ocf_', $provider, '_', @name)"/>
  <xsl:variable name="short">
    <xsl:call-template name="desc"><xsl:with-param name="of" select="."/><xsl:with-param name="what" select="'shortdesc'"/></xsl:call-template>
  </xsl:variable>
  <xsl:variable name="long">
    <xsl:call-template name="desc"><xsl:with-param name="of" select="."/><xsl:with-param name="what" select="'longdesc'"/></xsl:call-template>
  </xsl:variable>
  <xsl:value-of select="concat('.\&quot; Generated by ocf-man.sh from the meta-data of ocf:', $provider, ':', @name, '. Do not edit.', $nl)"/>
  <xsl:value-of select="concat('.TH &quot;', translate($page, $lower, $upper), '&quot; &quot;7&quot; &quot;', $date, '&quot; &quot;', $source, '&quot; &quot;', $manual, '&quot;', $nl)"/>
  <xsl:value-of select="concat('.nh', $nl, '.ad l', $nl)"/>

  <xsl:value-of select="concat('.SH NAME', $nl, $page, ' \- ')"/>
  <xsl:call-template name="line"><xsl:with-param name="s" select="$short"/></xsl:call-template>
  <xsl:value-of select="$nl"/>

  <xsl:value-of select="concat('.SH SYNOPSIS', $nl)"/>
  <xsl:for-each select="parameters/parameter">
    <xsl:if test="not(@required = '1')">[</xsl:if>
    <xsl:value-of select="concat('\fBOCF_RESKEY_', @name, '\fR=\fI')"/>
    <xsl:call-template name="line"><xsl:with-param name="s" select="content/@type"/></xsl:call-template>
    <xsl:text>\fR</xsl:text>
    <xsl:if test="not(@required = '1')">]</xsl:if>
    <xsl:value-of select="$nl"/>
  </xsl:for-each>
  <xsl:value-of select="concat('\fB', @name, '\fR [')"/>
  <xsl:for-each select="actions/action[not(@name = preceding-sibling::action/@name)]">
    <xsl:if test="position() != 1"> | </xsl:if>
    <xsl:call-template name="line"><xsl:with-param name="s" select="@name"/></xsl:call-template>
  </xsl:for-each>
  <xsl:value-of select="concat(']', $nl)"/>

  <xsl:value-of select="concat('.SH DESCRIPTION', $nl)"/>
  <xsl:value-of select="concat('This is the OCF resource agent ocf:', $provider, ':', @name)"/>
  <xsl:if test="normalize-space(version) != ''">
    <xsl:text> (OCF API </xsl:text>
    <xsl:call-template name="line"><xsl:with-param name="s" select="version"/></xsl:call-template>
    <xsl:if test="@version"><xsl:value-of select="concat(', agent version ', normalize-space(@version))"/></xsl:if>
    <xsl:text>)</xsl:text>
  </xsl:if>
  <xsl:value-of select="concat('.', $nl, '.PP', $nl)"/>
  <xsl:call-template name="text"><xsl:with-param name="s" select="$long"/></xsl:call-template>

  <xsl:if test="parameters/parameter">
    <xsl:value-of select="concat('.SH SUPPORTED PARAMETERS', $nl)"/>
    <xsl:apply-templates select="parameters/parameter"/>
  </xsl:if>

  <xsl:if test="actions/action">
    <xsl:value-of select="concat('.SH SUPPORTED ACTIONS', $nl)"/>
    <xsl:text>This resource agent supports the following actions (operations):&#10;</xsl:text>
    <xsl:apply-templates select="actions/action"/>
  </xsl:if>
</xsl:template>

<xsl:template match="parameter">
  <xsl:variable name="short">
    <xsl:call-template name="desc"><xsl:with-param name="of" select="."/><xsl:with-param name="what" select="'shortdesc'"/></xsl:call-template>
  </xsl:variable>
  <xsl:variable name="long">
    <xsl:call-template name="desc"><xsl:with-param name="of" select="."/><xsl:with-param name="what" select="'longdesc'"/></xsl:call-template>
  </xsl:variable>
  <xsl:value-of select="concat('.PP', $nl, '.B ')"/>
  <xsl:call-template name="line"><xsl:with-param name="s" select="@name"/></xsl:call-template>
  <xsl:value-of select="concat($nl, '.RS 4', $nl)"/>
  <xsl:if test="normalize-space($short) != ''">
    <xsl:call-template name="line"><xsl:with-param name="s" select="$short"/></xsl:call-template>
    <xsl:if test="not(contains('.!?:', substring(normalize-space($short), string-length(normalize-space($short)))))">.</xsl:if>
    <xsl:value-of select="$nl"/>
  </xsl:if>
  <xsl:if test="normalize-space($long) != '' and normalize-space($long) != normalize-space($short)">
    <xsl:if test="normalize-space($short) != ''"><xsl:value-of select="concat('.sp', $nl)"/></xsl:if>
    <xsl:call-template name="text">
      <xsl:with-param name="s" select="$long"/><xsl:with-param name="break" select="'.sp'"/>
    </xsl:call-template>
  </xsl:if>
  <xsl:if test="content/option">
    <xsl:value-of select="concat('.sp', $nl, 'One of: ')"/>
    <xsl:for-each select="content/option">
      <xsl:if test="position() != 1">, </xsl:if>
      <xsl:text>\fB</xsl:text>
      <xsl:call-template name="line"><xsl:with-param name="s" select="@value"/></xsl:call-template>
      <xsl:text>\fR</xsl:text>
    </xsl:for-each>
    <xsl:value-of select="concat('.', $nl)"/>
  </xsl:if>
  <xsl:if test="deprecated">
    <xsl:value-of select="concat('.sp', $nl, 'Deprecated')"/>
    <xsl:if test="deprecated/replaced-with">
      <xsl:text>: use </xsl:text>
      <xsl:for-each select="deprecated/replaced-with">
        <xsl:if test="position() != 1"> or </xsl:if>
        <xsl:text>\fB</xsl:text>
        <xsl:call-template name="line"><xsl:with-param name="s" select="@name"/></xsl:call-template>
        <xsl:text>\fR</xsl:text>
      </xsl:for-each>
      <xsl:text> instead</xsl:text>
    </xsl:if>
    <xsl:value-of select="concat('.', $nl)"/>
    <xsl:variable name="why">
      <xsl:call-template name="desc"><xsl:with-param name="of" select="deprecated"/><xsl:with-param name="what" select="'desc'"/></xsl:call-template>
    </xsl:variable>
    <xsl:if test="normalize-space($why) != ''">
      <xsl:call-template name="text"><xsl:with-param name="s" select="$why"/><xsl:with-param name="break" select="'.sp'"/></xsl:call-template>
    </xsl:if>
  </xsl:if>
  <xsl:value-of select="concat('.sp', $nl, '(')"/>
  <xsl:if test="@required = '1' or @required = 'true'">required, </xsl:if>
  <xsl:if test="@unique = '1' or @unique = 'true'">unique, </xsl:if>
  <xsl:if test="@unique-group">
    <xsl:text>unique with the group </xsl:text>
    <xsl:call-template name="line"><xsl:with-param name="s" select="@unique-group"/></xsl:call-template>
    <xsl:text>, </xsl:text>
  </xsl:if>
  <xsl:if test="@reloadable = '1' or @reloadable = 'true'">reloadable, </xsl:if>
  <xsl:if test="@advanced = '1' or @advanced = 'true'">advanced, </xsl:if>
  <xsl:choose>
    <xsl:when test="normalize-space(content/@type) != ''">
      <xsl:call-template name="line"><xsl:with-param name="s" select="content/@type"/></xsl:call-template>
    </xsl:when>
    <xsl:otherwise>string</xsl:otherwise>
  </xsl:choose>
  <xsl:choose>
    <xsl:when test="content/@default and content/@default != ''">
      <xsl:text>, default "</xsl:text>
      <xsl:call-template name="esc">
        <xsl:with-param name="s" select="translate(content/@default, '&#10;&#13;&#9;', '   ')"/>
      </xsl:call-template>
      <xsl:text>"</xsl:text>
    </xsl:when>
    <xsl:otherwise>, no default</xsl:otherwise>
  </xsl:choose>
  <xsl:value-of select="concat(')', $nl, '.RE', $nl)"/>
</xsl:template>

<xsl:template match="action">
  <xsl:value-of select="concat('.PP', $nl, '.B ')"/>
  <xsl:call-template name="line"><xsl:with-param name="s" select="@name"/></xsl:call-template>
  <xsl:if test="@role">
    <xsl:text> (role </xsl:text>
    <xsl:call-template name="line"><xsl:with-param name="s" select="@role"/></xsl:call-template>
    <xsl:text>)</xsl:text>
  </xsl:if>
  <xsl:if test="@depth and @depth != '0'">
    <xsl:text> (depth </xsl:text>
    <xsl:call-template name="line"><xsl:with-param name="s" select="@depth"/></xsl:call-template>
    <xsl:text>)</xsl:text>
  </xsl:if>
  <xsl:value-of select="concat($nl, '.RS 4', $nl)"/>
  <xsl:choose>
    <xsl:when test="@timeout">
      <xsl:text>Suggested minimum timeout: </xsl:text>
      <xsl:call-template name="line"><xsl:with-param name="s" select="@timeout"/></xsl:call-template>
      <xsl:text>.</xsl:text>
    </xsl:when>
    <xsl:otherwise>No suggested timeout.</xsl:otherwise>
  </xsl:choose>
  <xsl:if test="@interval and @interval != '0' and @interval != '0s'">
    <xsl:text> Suggested interval: </xsl:text>
    <xsl:call-template name="line"><xsl:with-param name="s" select="@interval"/></xsl:call-template>
    <xsl:text>.</xsl:text>
  </xsl:if>
  <xsl:if test="@start-delay and @start-delay != '0' and @start-delay != '0s'">
    <xsl:text> Suggested start delay: </xsl:text>
    <xsl:call-template name="line"><xsl:with-param name="s" select="@start-delay"/></xsl:call-template>
    <xsl:text>.</xsl:text>
  </xsl:if>
  <xsl:value-of select="concat($nl, '.RE', $nl)"/>
</xsl:template>
</xsl:stylesheet>
XSL

xsltproc --nonet --novalid \
	--stringparam provider "$provider" --stringparam date "$date" \
	--stringparam source "$source" --stringparam manual "$manual" \
	"$tmp/ocf-man.xsl" "$tmp/meta.xml" >"$tmp/page.7" 2>"$tmp/xslt.err" ||
	die "cannot convert the meta-data: $(head -c 500 "$tmp/xslt.err")"

# --- the EXTRA sections ------------------------------------------------------
if [[ -n "$extra" ]]; then
	# shellcheck disable=SC2016  # awk's $ fields
	awk '
		function esc(s) {
			gsub(/\\/, "\\e", s)
			if (s ~ /^[.\047]/) s = "\\&" s
			return s
		}
		function heading(t) {
			if (mode == "verb") print ".fi\n.RE"
			print ".SH " esc(t)
			mode = "start"; started = 1
		}
		/^#/ { next }
		/^= / {
			t = substr($0, 3); gsub(/^[ \t]+|[ \t]+$/, "", t)
			heading(t); next
		}
		!started { heading("EXAMPLES") }
		/^[ \t]*$/ {
			if (mode == "verb") { print ".fi\n.RE"; mode = "gap" }
			else if (mode == "text") mode = "gap"
			next
		}
		/^[ \t]/ {
			if (mode != "verb") {
				if (mode == "text" || mode == "gap") print ".sp"
				print ".RS 4\n.nf"
				mode = "verb"
				match($0, /^[ \t]+/); ind = RLENGTH
			}
			# the first line of the block sets the indentation removed
			line = $0
			if (substr(line, 1, ind) ~ /^[ \t]+$/) line = substr(line, ind + 1)
			else sub(/^[ \t]+/, "", line)
			print esc(line); next
		}
		{
			if (mode == "verb") { print ".fi\n.RE"; print ".PP" }
			else if (mode == "gap") print ".PP"
			line = $0; gsub(/^[ \t]+|[ \t]+$/, "", line)
			print esc(line); mode = "text"
		}
		END { if (mode == "verb") print ".fi\n.RE" }
	' "$extra" >>"$tmp/page.7"
fi

if [[ -n "$output" ]]; then
	cp -- "$tmp/page.7" "$output.tmp" && mv -- "$output.tmp" "$output"
else
	cat -- "$tmp/page.7"
fi
