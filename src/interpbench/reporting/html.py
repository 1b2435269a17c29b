"""The studies' Markdown reports as one static HTML page, readable offline (no Kedro here).

:func:`markdown_to_html` renders the Markdown subset the reports use (no third-party renderer is
a dependency): ATX headings, paragraphs, GitHub pipe tables, bullet and numbered lists (nested by
indentation), fenced code blocks, horizontal rules, and inline code, images, links, ``**bold**``,
``*italic*`` / ``_italic_``. Everything else is text, HTML-escaped.

:func:`index_page` puts the scorecard and every study's report on one page; each image a report
names is read through a ``read(path) -> bytes | None`` callable and embedded as a base64
``data:`` URI, so the page needs nothing beside it. An image that cannot be read (absent, outside
the reports folder, remote) is replaced by a visible note, never left as a broken ``<img>``.
"""

from __future__ import annotations

import base64
import html
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

ImageResolver = Callable[[str, str], str]
"""``resolve(src, alt) -> HTML`` of one image."""

MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
        ".svg": "image/svg+xml", ".webp": "image/webp"}

# --------------------------------------------------------------------------- inline

_INLINE = re.compile(
    r"(?P<code>`+)(?P<code_text>.+?)(?P=code)"
    r"|!\[(?P<alt>[^\]]*)\]\((?P<src>[^)\s]+)(?:\s+\"[^\"]*\")?\)"
    r"|\[(?P<text>[^\]]+)\]\((?P<href>[^)\s]+)\)"
)
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|(?<!\w)__(?=\S)(.+?)(?<=\S)__(?!\w)")
_ITALIC = re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])|(?<![\w_])_(?=[^\s_])(.+?)(?<=[^\s_])_(?![\w_])")


def _emphasis(text: str) -> str:
    text = _BOLD.sub(lambda m: f"<strong>{m.group(1) or m.group(2)}</strong>", text)
    return _ITALIC.sub(lambda m: f"<em>{m.group(1) or m.group(2)}</em>", text)


def inline(text: str, image: ImageResolver | None = None) -> str:
    """One line of Markdown as HTML: code spans, images and links are set aside first (their text is
    not parsed for emphasis), the rest is escaped, then bold and italic are applied."""
    image = image or _plain_image
    held: list[str] = []

    def hold(m: re.Match) -> str:
        if m.group("code"):
            held.append(f"<code>{html.escape(m.group('code_text').strip())}</code>")
        elif m.group("src") is not None:
            held.append(image(m.group("src"), m.group("alt")))
        else:
            held.append(f'<a href="{html.escape(m.group("href"), quote=True)}">{_emphasis(html.escape(m.group("text")))}</a>')
        return f"\x00{len(held) - 1}\x00"

    text = _INLINE.sub(hold, text)
    text = _emphasis(html.escape(text, quote=False))
    return re.sub(r"\x00(\d+)\x00", lambda m: held[int(m.group(1))], text)


def _plain_image(src: str, alt: str) -> str:
    return f'<img src="{html.escape(src, quote=True)}" alt="{html.escape(alt, quote=True)}">'


# --------------------------------------------------------------------------- blocks

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_ITEM = re.compile(r"^(\s*)([-*+]|\d+[.)])\s+(.*)$")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def _cells(line: str) -> list[str]:
    """A pipe-table row's cells (a ``|`` inside a code span or escaped as ``\\|`` stays in the cell)."""
    line = line.strip()
    line = line[1:] if line.startswith("|") else line
    line = line[:-1] if line.endswith("|") and not line.endswith("\\|") else line
    cells, cur, code = [], [], False
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line) and line[i + 1] == "|":
            cur.append("|")
            i += 2
            continue
        if ch == "`":
            code = not code
        if ch == "|" and not code:
            cells.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
        i += 1
    cells.append("".join(cur).strip())
    return cells


def _align(sep: str) -> list[str]:
    out = []
    for cell in _cells(sep):
        left, right = cell.startswith(":"), cell.endswith(":")
        out.append("center" if left and right else "right" if right else "left" if left else "")
    return out


def _table(lines: list[str], image: ImageResolver) -> str:
    head, align = _cells(lines[0]), _align(lines[1])

    def row(cells: list[str], tag: str) -> str:
        cells = (cells + [""] * len(head))[: len(head)]
        out = []
        for i, c in enumerate(cells):
            style = f' style="text-align:{align[i]}"' if i < len(align) and align[i] else ""
            out.append(f"<{tag}{style}>{inline(c, image)}</{tag}>")
        return "<tr>" + "".join(out) + "</tr>"

    body = "\n".join(row(_cells(line), "td") for line in lines[2:])
    return f"<table>\n<thead>{row(head, 'th')}</thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _list(lines: list[str], image: ImageResolver) -> str:
    """Consecutive list lines (and their indented continuations) as nested <ul>/<ol>."""
    first = _ITEM.match(lines[0])
    indent, ordered = len(first.group(1)), first.group(2)[0].isdigit()
    items: list[list[str]] = []
    for line in lines:
        m = _ITEM.match(line)
        if m and len(m.group(1)) <= indent:
            items.append([m.group(3)])
        elif items:
            items[-1].append(line)
    out = []
    for item in items:
        text, rest = [item[0]], []
        for line in item[1:]:
            if rest or _ITEM.match(line):
                rest.append(line)
            else:
                text.append(line.strip())
        sub = _list(rest, image) if rest else ""
        out.append(f"<li>{inline(' '.join(text), image)}{sub}</li>")
    tag = "ol" if ordered else "ul"
    return f"<{tag}>\n" + "\n".join(out) + f"\n</{tag}>"


def markdown_to_html(text: str, image: ImageResolver | None = None, heading_offset: int = 0,
                     id_prefix: str = "") -> str:
    """``text`` (the reports' Markdown subset) as an HTML fragment. Headings move down by
    ``heading_offset`` levels (at most h6) and get ids ``<id_prefix><slug>``."""
    image = image or _plain_image
    lines = text.replace("\r\n", "\n").split("\n")
    out, para, used = [], [], set()

    def flush():
        if para:
            out.append(f"<p>{inline(' '.join(s.strip() for s in para), image)}</p>")
            para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            flush()
            i += 1
        elif line.lstrip().startswith("```"):
            flush()
            j = i + 1
            while j < len(lines) and not lines[j].lstrip().startswith("```"):
                j += 1
            out.append("<pre><code>" + html.escape("\n".join(lines[i + 1 : j])) + "</code></pre>")
            i = j + 1
        elif m := _HEADING.match(line):
            flush()
            level = min(6, len(m.group(1)) + heading_offset)
            slug = id_prefix + (re.sub(r"[^a-z0-9]+", "-", m.group(2).lower()).strip("-") or "section")
            base, k = slug, 2
            while slug in used:
                slug, k = f"{base}-{k}", k + 1
            used.add(slug)
            out.append(f'<h{level} id="{slug}">{inline(m.group(2), image)}</h{level}>')
            i += 1
        elif line.lstrip().startswith("|") and i + 1 < len(lines) and _TABLE_SEP.match(lines[i + 1]):
            flush()
            j = i + 2
            while j < len(lines) and lines[j].lstrip().startswith("|"):
                j += 1
            out.append(_table(lines[i:j], image))
            i = j
        elif _RULE.match(line):
            flush()
            out.append("<hr>")
            i += 1
        elif (first := _ITEM.match(line)) and not para:
            j = i + 1
            while j < len(lines) and lines[j].strip() and (_ITEM.match(lines[j]) or lines[j].startswith((" ", "\t"))):
                m = _ITEM.match(lines[j])
                if m and len(m.group(1)) <= len(first.group(1)) and m.group(2)[0].isdigit() != first.group(2)[0].isdigit():
                    break  # a bullet list right after a numbered one (or the reverse) starts a new list
                j += 1
            out.append(_list(lines[i:j], image))
            i = j
        else:
            para.append(line)
            i += 1
    flush()
    return "\n".join(out)


# --------------------------------------------------------------------------- the index page


@dataclass(frozen=True)
class Section:
    """One report on the page: ``key`` (its folder under the reports root, e.g. ``sanity_checks``),
    ``title``, and its Markdown (None: no report saved yet, said so on the page)."""

    key: str
    title: str
    markdown: str | None


def embedded_image(read: Callable[[str], bytes | None], folder: str) -> ImageResolver:
    """An image resolver for a report in ``folder``: the file's bytes as a ``data:`` URI, or a note
    when it cannot be read (a remote or absolute source, a path outside the root, an absent file)."""

    def resolve(src: str, alt: str) -> str:
        if re.match(r"^[a-z][a-z0-9+.-]*:", src, re.I) or src.startswith("/"):
            return _missing(src, "not a file beside the report")
        path = posixpath.normpath(posixpath.join(folder, src))
        ext = posixpath.splitext(path)[1].lower()
        raw = read(path) if ext in MIME and not path.startswith("..") else None
        if raw is None:
            return _missing(path, "figure not found")
        data = base64.b64encode(raw).decode("ascii")
        return (f'<img src="data:{MIME[ext]};base64,{data}" alt="{html.escape(alt, quote=True)}" '
                f'title="{html.escape(path, quote=True)}">')

    return resolve


def _missing(path: str, why: str) -> str:
    return f'<span class="missing">[{html.escape(why)}: {html.escape(path)}]</span>'


_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0; color: #222; line-height: 1.45; }
nav { position: sticky; top: 0; background: #f6f8fa; border-bottom: 1px solid #ddd; padding: .5em 1.5em; z-index: 1; }
nav a { margin-right: 1.2em; }
nav .absent { color: #999; margin-right: 1.2em; }
main { max-width: 1400px; padding: 0 1.5em 3em; }
section { border-bottom: 2px solid #eee; padding-bottom: 1.5em; }
table { border-collapse: collapse; margin: .8em 0; font-size: 0.85em; display: block; overflow-x: auto; }
th, td { border: 1px solid #ccc; padding: .25em .5em; vertical-align: top; }
th { background: #f3f3f3; }
img { max-width: 100%; height: auto; display: block; margin: .6em 0; }
code { background: #f3f3f3; padding: 0 .2em; border-radius: 3px; font-size: 0.92em; }
pre code { display: block; padding: .6em; overflow-x: auto; }
.missing { color: #a33; font-style: italic; }
.absent-report { color: #a33; }
"""


def index_page(sections: list[Section], read: Callable[[str], bytes | None],
               title: str = "interpbench reports") -> str:
    """One self-contained HTML page: a navigation bar, then each section's report (headings moved
    one level down under the section's own heading, images embedded from ``read``)."""
    nav, body = [], []
    for s in sections:
        anchor = f"report-{s.key}"
        if s.markdown is None:
            nav.append(f'<span class="absent" title="no report saved yet">{html.escape(s.title)}</span>')
            content = (f'<p class="absent-report">No report saved yet: run <code>kedro run --pipelines '
                       f'{html.escape(s.key)}</code>.</p>')
        else:
            nav.append(f'<a href="#{anchor}">{html.escape(s.title)}</a>')
            content = markdown_to_html(s.markdown, embedded_image(read, s.key), heading_offset=1,
                                       id_prefix=f"{s.key}-")
        body.append(f'<section id="{anchor}">\n<h1 class="section-title">{html.escape(s.title)}</h1>\n{content}\n</section>')
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{html.escape(title)}</title>\n"
            f"<style>{_STYLE}</style>\n</head>\n<body>\n<nav>{' '.join(nav)}</nav>\n<main>\n"
            + "\n".join(body) + "\n</main>\n</body>\n</html>\n")


def report_sections(reports: Mapping[str, str | None], titles: Mapping[str, str] | None = None) -> list[Section]:
    """``{folder: markdown or None}`` as sections, in the mapping's order."""
    titles = titles or {}
    return [Section(k, titles.get(k, k), md) for k, md in reports.items()]
