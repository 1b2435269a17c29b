"""The index page: every study's section, every <img> an embedded image that decodes, no broken
image where a figure is missing, and the Markdown subset the reports use."""

from __future__ import annotations

import base64
import re

from interpbench.reporting.html import Section, index_page, inline, markdown_to_html

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
STUDIES = ("zoo", "sanity_checks", "input_gradients", "trojans", "neuron_robustness")


def images(page: str) -> list[str]:
    return re.findall(r"<img\b[^>]*\bsrc=\"([^\"]*)\"", page)


def assert_every_image_resolves(page: str) -> int:
    """Every <img> is a data: URI whose bytes are a PNG (nothing outside the page is needed)."""
    srcs = images(page)
    for src in srcs:
        head, _, data = src.partition(",")
        assert head == "data:image/png;base64", src[:60]
        assert base64.b64decode(data, validate=True).startswith(b"\x89PNG\r\n\x1a\n")
    assert len(srcs) == page.count("<img")
    return len(srcs)


def _files(paths):
    return {p: PNG for p in paths}.get


def test_every_study_has_its_section_and_every_image_resolves():
    reports = {s: f"# Report of {s}\n\nText with **bold**.\n\n![figure]({s}_figure.png)\n" for s in STUDIES}
    reports["scorecard"] = "# Scorecard\n\n![heat-map](heatmap.png)\n"
    read = _files([f"{s}/{s}_figure.png" for s in STUDIES] + ["scorecard/heatmap.png"])
    page = index_page([Section(k, k, md) for k, md in reports.items()], read)
    assert assert_every_image_resolves(page) == len(STUDIES) + 1
    for key in ("scorecard", *STUDIES):
        assert f'<section id="report-{key}">' in page and f'href="#report-{key}"' in page
        assert f"Report of {key}" in page or key == "scorecard"
    assert "<h2 id=\"trojans-report-of-trojans\">" in page  # the report's h1 sits under the section's title


def test_missing_figures_and_reports_are_said_not_broken():
    sections = [Section("sanity_checks", "sanity_checks", "![a](there.png) ![b](absent.png) ![c](../trojans/t.png) "
                        "![d](../../outside.png) ![e](https://example.org/x.png)"),
                Section("neuron_robustness", "neuron_robustness", None)]
    page = index_page(sections, _files(["sanity_checks/there.png", "trojans/t.png", "../outside.png"]))
    assert assert_every_image_resolves(page) == 2  # its own figure and a sibling study's
    assert "[figure not found: sanity_checks/absent.png]" in page
    assert "[figure not found: ../outside.png]" in page  # never read outside the reports folder
    assert "[not a file beside the report: https://example.org/x.png]" in page
    assert page.count('class="missing"') == 3
    assert "No report saved yet: run <code>kedro run --pipelines neuron_robustness</code>" in page


def test_markdown_subset_of_the_reports():
    md = ("# Title\n\nLine one\nline two with `x < y` and _(no rows)_ and spearman_abs.\n\n"
          "| a | b |\n|---|---:|\n| `p|q` | **2** |\n\n"
          "- ✅ **claim with `code`**: evidence\n  - nested\n- second\n\n1. first\n2. second\n\n```\n<raw>\n```\n")
    out = markdown_to_html(md)
    assert '<h1 id="title">Title</h1>' in out
    assert "<p>Line one line two with <code>x &lt; y</code> and <em>(no rows)</em> and spearman_abs.</p>" in out
    assert '<td><code>p|q</code></td><td style="text-align:right"><strong>2</strong></td>' in out
    assert "<li>✅ <strong>claim with <code>code</code></strong>: evidence<ul>\n<li>nested</li>\n</ul></li>" in out
    assert "<ol>\n<li>first</li>\n<li>second</li>\n</ol>" in out
    assert "<pre><code>&lt;raw&gt;</code></pre>" in out
    assert inline("a <b> & [link](x.html)") == 'a &lt;b&gt; &amp; <a href="x.html">link</a>'


def test_the_real_reports_render(tmp_path):
    """The reports the studies write (built from their report modules' Markdown helpers) keep their
    tables and bullets: a report with findings and a results table."""
    from interpbench.reporting.findings import checked, missing, render_findings
    from interpbench.reporting.markdown import table
    import pandas as pd

    md = "\n".join(["# Study", "", "## Findings", "",
                    *render_findings([checked("claim `x`", True, "0.1 [0.0, 0.2]", "p < 0.05"),
                                      missing("other", "no rows")]),
                    "", table(pd.DataFrame({"method": ["saliency"], "value [95% CI]": ["0.1 [0.0, 0.2]"]}))])
    out = markdown_to_html(md)
    assert out.count("<li>") == 2 and "⚠ not evaluated: <strong>other</strong>" in out
    assert "<th>value [95% CI]</th>" in out and "<td>saliency</td>" in out
