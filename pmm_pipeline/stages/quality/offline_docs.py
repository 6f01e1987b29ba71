"""The Great Expectations Data Docs of a run, made to render offline: nothing is loaded from another host.

GX 1.x builds Data Docs from Jinja templates in the package that load Bootstrap, jQuery, Font Awesome and
Vega from public CDNs, and its logo from S3; it ships only its own small stylesheet (inlined in every page),
fonts and images. Offline (an auditor's laptop, a locked-down server) the pages render bare. Rather than
override GX's templates (copies of them would drift from the next GX release), the written site is
rewritten after GX built it, whatever its templates hold:
- every tag that loads a resource from another host (stylesheet, script, image) is dropped;
- a link to another host keeps its text and loses its address;
- any other address to another host left in a text file (inline CSS `url(...)`, a script string) is cut;
- the static files GX copies in but no page uses (fonts, SVG logos carrying namespace and licence URLs) are
  removed, so every file of the site is the site's own;
- one small stylesheet of ours, inlined in each page, lays out the tables, cards and navigation that
  Bootstrap styled; the validation pages are server-rendered HTML and read in full with it (sections that
  Bootstrap would have collapsed are shown open);
- one small script of ours, inlined too, stands in for the few jQuery calls the pages make: the index
  page's tables are drawn in the browser by bootstrap-table from data in the page (drawn here as plain
  tables, a row opening its page), and the "Failed Only" filter shows and hides rows.
"""

import re
from pathlib import Path

LOCAL_HOSTS = ("127.0.0.1",)
TEXT_SUFFIXES = {".html", ".htm", ".css", ".js", ".json", ".svg", ".txt", ".md", ".xml"}
MARKER = "pmm-offline-styles"

_HOST = r"https?://(?!(?:" + "|".join(re.escape(h) for h in LOCAL_HOSTS) + r")[:/])"
_EXTERNAL_URL = re.compile(_HOST + r"[^\s\"'<>)]*", re.IGNORECASE)
_ATTR = r"""\b(?:href|src)\s*=\s*["']?""" + _HOST
_LINK_TAG = re.compile(r"<link\b[^>]*" + _ATTR + r"[^>]*>", re.IGNORECASE)
_SCRIPT_TAG = re.compile(r"<script\b[^>]*" + _ATTR + r"[^>]*>.*?</script\s*>", re.IGNORECASE | re.DOTALL)
_IMG_TAG = re.compile(r"<(?:img|source|iframe|embed)\b[^>]*" + _ATTR + r"[^>]*>", re.IGNORECASE)
_ANCHOR = re.compile(r"<a\b[^>]*" + _ATTR + r"[^>]*>(.*?)</a\s*>", re.IGNORECASE | re.DOTALL)
_CSS_URL = re.compile(r"url\(\s*['\"]?" + _HOST + r"[^)]*\)", re.IGNORECASE)
_LOCAL_REF = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"'#?]+)""", re.IGNORECASE)
_HEAD_END = re.compile(r"</head\s*>", re.IGNORECASE)
_LOCAL_LINK_TAG = re.compile(r"""<link\b[^>]*\bhref\s*=\s*["']([^"'#?:]+)["'][^>]*>""", re.IGNORECASE)

# Bootstrap's layout, the part the Data Docs pages use, in a few lines: readable tables, cards and navigation.
OFFLINE_STYLESHEET = f"""<style id="{MARKER}">
body {{ font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 0;
       color: #212529; background: #fff; line-height: 1.5; }}
.container, .container-fluid {{ padding: 0 1.5rem; max-width: 1400px; margin: 0 auto; }}
.row, .d-flex {{ display: flex; flex-wrap: wrap; }}
.col, [class*="col-"] {{ box-sizing: border-box; flex: 1 1 0; min-width: 0; padding: 0 .5rem; }}
.col-12 {{ flex: 0 0 100%; }}
.col-6 {{ flex: 0 0 50%; }}
.col-md-2, .col-lg-2 {{ flex: 0 0 16.66%; }}
.col-md-10, .col-lg-10 {{ flex: 0 0 83.33%; }}
nav, .navbar {{ display: flex; flex-wrap: wrap; align-items: center; gap: 1rem; padding: .5rem 1.5rem;
               background: #f1f3f5; border-bottom: 1px solid #dee2e6; }}
.card {{ border: 1px solid #dee2e6; border-radius: .375rem; margin: .75rem 0; background: #fff; }}
.card-header {{ padding: .5rem 1rem; background: #f8f9fa; border-bottom: 1px solid #dee2e6; }}
.card-body {{ padding: .75rem 1rem; }}
table, .table {{ border-collapse: collapse; width: 100%; margin: .5rem 0; }}
th, td {{ border: 1px solid #dee2e6; padding: .35rem .6rem; text-align: left; vertical-align: top; }}
thead th {{ background: #f1f3f5; }}
.badge {{ display: inline-block; padding: .1rem .45rem; border-radius: .25rem; background: #e9ecef; }}
.text-success, .badge-success {{ color: #146c43; }}
.text-danger, .badge-danger {{ color: #b02a37; }}
.list-group {{ list-style: none; padding-left: 0; }}
.list-group-item {{ padding: .35rem .6rem; border-bottom: 1px solid #eee; }}
.d-none, .sr-only, .modal, [data-toggle="tooltip"] .tooltip {{ display: none; }}
code, pre {{ font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #f8f9fa; }}
a {{ color: #0b5ed7; }}
/* Font Awesome's status icons, as characters: the pass/fail column reads without the icon font. */
.fa-check-circle::before {{ content: "\\2714"; color: #146c43; }}
.fa-times::before {{ content: "\\2716"; color: #b02a37; }}
.fa-exclamation-triangle::before {{ content: "\\26A0"; color: #997404; }}
.fa-question-circle::before {{ content: "?"; }}
.fa-comment::before {{ content: "\\1F4AC"; }}
</style>
"""


# The jQuery and bootstrap-table calls of GX's pages, done with the DOM: `$(sel).bootstrapTable({columns, data})`
# draws a plain table; fadeIn/fadeOut/parent/each serve the validation filter; modal/on are accepted and ignored.
OFFLINE_SCRIPT = f"""<script id="{MARKER}-script">
(function () {{
  function Q(items) {{ this.items = items; }}
  function select(target) {{
    if (typeof target !== "string") return target && target.nodeType ? [target] : [];
    try {{ return Array.prototype.slice.call(document.querySelectorAll(target)); }} catch (e) {{ return []; }}
  }}
  Q.prototype.each = function (fn) {{ this.items.forEach(function (el, i) {{ fn(i, el); }}); return this; }};
  Q.prototype.parent = function () {{
    return new Q(this.items.map(function (el) {{ return el.parentElement; }}).filter(Boolean));
  }};
  Q.prototype.fadeIn = function () {{ return this.each(function (i, el) {{ el.style.display = ""; }}); }};
  Q.prototype.fadeOut = function () {{ return this.each(function (i, el) {{ el.style.display = "none"; }}); }};
  Q.prototype.modal = function () {{ return this; }};
  Q.prototype.on = function () {{ return this; }};
  Q.prototype.ready = function (fn) {{
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
    return this;
  }};
  Q.prototype.bootstrapTable = function (options) {{
    if (!options || !options.columns) return this;
    var columns = options.columns.filter(function (c) {{ return c.visible !== false && c.visible !== "false"; }});
    return this.each(function (i, table) {{
      var head = "<thead><tr>" + columns.map(function (c) {{
        return "<th>" + (c.title || c.field) + "</th>";
      }}).join("");
      var rows = (options.data || []).map(function (row) {{
        var link = row._table_row_link_path ? " data-href=\\"" + row._table_row_link_path + "\\"" : "";
        return "<tr" + link + ">" + columns.map(function (c) {{
          return "<td>" + (row[c.field] == null ? "" : row[c.field]) + "</td>";
        }}).join("") + "</tr>";
      }});
      table.innerHTML = head + "</tr></thead><tbody>" + rows.join("") + "</tbody>";
      table.classList.add("table");
      table.querySelectorAll("tr[data-href]").forEach(function (tr) {{
        tr.style.cursor = "pointer";
        tr.addEventListener("click", function () {{ window.location = tr.getAttribute("data-href"); }});
      }});
    }});
  }};
  window.$ = window.jQuery = function (target) {{
    if (typeof target === "function") return new Q([document]).ready(target);
    return new Q(select(target));
  }};
}})();
</script>
"""


def _offline_html(html: str) -> str:
    html = _SCRIPT_TAG.sub("", html)
    html = _LINK_TAG.sub("", html)
    html = _IMG_TAG.sub("", html)
    html = _ANCHOR.sub(lambda m: f"<span>{m.group(1)}</span>", html)
    if MARKER not in html:
        # A function, not a template: the stylesheet holds backslashes (CSS escapes).
        html, found = _HEAD_END.subn(lambda _m: OFFLINE_STYLESHEET + OFFLINE_SCRIPT + "</head>", html, count=1)
        if not found:
            html = OFFLINE_STYLESHEET + OFFLINE_SCRIPT + html
    return html


def _offline_text(text: str) -> str:
    text = _CSS_URL.sub("none", text)
    return _EXTERNAL_URL.sub("", text)


def external_urls(site: Path) -> dict[str, list[str]]:
    """Every address to another host in any file of `site` (text or binary), by file relative to `site`."""
    found: dict[str, list[str]] = {}
    pattern = re.compile(_EXTERNAL_URL.pattern.encode(), re.IGNORECASE)
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        urls = [m.group(0).decode(errors="replace") for m in pattern.finditer(path.read_bytes())]
        if urls:
            found[str(path.relative_to(site))] = urls
    return found


def make_self_contained(site: Path) -> None:
    """Rewrite the Data Docs site under `site` so that it renders offline and refers to no other host."""
    pages = [p for p in site.rglob("*") if p.is_file() and p.suffix.lower() in (".html", ".htm")]
    used: set[Path] = set()
    for page in pages:
        html = _offline_text(_offline_html(page.read_text(encoding="utf-8")))
        # GX points the favicon of deeper pages one folder short: a stylesheet or icon that is not there goes.
        html = _LOCAL_LINK_TAG.sub(lambda m, at=page.parent: m.group(0) if (at / m.group(1)).is_file() else "", html)
        page.write_text(html, encoding="utf-8")
        used |= {(page.parent / ref).resolve() for ref in _LOCAL_REF.findall(html)}
    for path in sorted(p for p in site.rglob("*") if p.is_file() and p not in pages):
        if path.resolve() not in used:
            # GX's static assets no page refers to (fonts, logos, the inlined stylesheet's source).
            path.unlink()
        elif path.suffix.lower() in TEXT_SUFFIXES:
            path.write_text(_offline_text(path.read_text(encoding="utf-8", errors="replace")), encoding="utf-8")
    for folder in sorted((p for p in site.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
