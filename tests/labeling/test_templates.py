"""Liquid templates as Ground Truth renders them: autoescape, its filters, the crowd script rewrite, errors."""

from __future__ import annotations

import json

import pytest

from openmaker.labeling import LabelingError, TemplateRenderer
from openmaker.labeling.templates import default_template

GRANT = TemplateRenderer(lambda uri: f"/image?uri={uri}&sig=1")


def test_the_documented_escaping_examples_render_byte_for_byte():
    """The outputs shown in Ground Truth's "Variable filters" documentation."""
    source = (
        "auto-escape: {{ task.input.text }}\n"
        "explicit escape: {{ task.input.text | escape }}\n"
        "explicit escape_once: {{ task.input.text | escape_once }}\n"
        "skip_autoescape: {{ task.input.text | skip_autoescape }}\n"
        "to_json: {{ task.input.point | to_json }}"
    )
    out = GRANT.render(source, {"text": "Have you read 'James & the Giant Peach'?", "point": {"point_number": 8, "coords": [59, 76]}})
    assert out.splitlines() == [
        "auto-escape: Have you read &#39;James &amp; the Giant Peach&#39;?",
        "explicit escape: Have you read &#39;James &amp; the Giant Peach&#39;?",
        "explicit escape_once: Have you read &#39;James &amp; the Giant Peach&#39;?",
        "skip_autoescape: Have you read 'James & the Giant Peach'?",
        'to_json: {"point_number": 8, "coords": [59, 76]}',
    ]


def test_task_data_cannot_inject_markup_and_to_json_cannot_close_a_script():
    out = GRANT.render(
        '<p title="{{ task.input.t }}">{{ task.input.t }}</p><script>var x = {{ task.input.o | to_json }};</script>',
        {"t": '"><script>alert(1)</script>', "o": {"s": "</script><script>alert(2)</script>"}},
    )
    assert "<script>alert(1)" not in out and "&#34;&gt;&lt;script&gt;" in out
    assert "</script><script>alert(2)" not in out and json.loads(out.split("var x = ")[1].split(";</script>")[0]) == {
        "s": "</script><script>alert(2)</script>"
    }


def test_the_published_template_renders_unchanged_with_our_crowd_script():
    batch = [{"s3_image_url": f"s3://bucket/crayfish/image_{i:04d}.jpg", "label": "Crawdad", "confidence": "99.1"} for i in range(25)]
    out = GRANT.render(default_template(), {"sourceRef": batch})
    assert '<script src="/static/crowd-html-elements.js"></script>' in out and "assets.crowd.aws" not in out
    assert 'Confirm that each image is correctly labelled as "Crawdad"' in out
    assert out.count("<crowd-card ") == 25 and 'name="Crawdad-24"' in out and 'name="Crawdad-25"' not in out
    assert 'image="/image?uri=s3://bucket/crayfish/image_0007.jpg&amp;sig=1"' in out
    # Liquid's string→number coercion: a confidence stored as a string still does arithmetic.
    assert GRANT.render("{{ task.input.sourceRef[0].confidence | minus: 80 }}", {"sourceRef": batch}).strip() == "19.1"
    assert GRANT.render("{% for i in (0..-1) %}x{% endfor %}", {}) == ""


def test_liquid_errors_name_the_line_and_column():
    with pytest.raises(LabelingError, match=r"bad\.html: Liquid error at line 3, column 1: expected '}}'"):
        GRANT.check("<crowd-form>\n<p>ok</p>\n{{ task.input.x }\n</crowd-form>", "bad.html")
    with pytest.raises(LabelingError, match="unknown filter 'no_such_filter'"):
        GRANT.render("{{ task.input.x | no_such_filter }}", {"x": 1}, "t.html")
    with pytest.raises(LabelingError, match="bad.html: Liquid error"):
        GRANT.check("{% for i in %}{% endfor %}", "bad.html")
