"""Bulk label QA report: hand-computed numbers, the threshold rule, verdict policies, buckets, renderers."""

from __future__ import annotations

import csv
import io
import json

import pytest

from openmaker.labeling.report import (
    VERDICTS,
    BucketStats,
    ReportError,
    bucket_index,
    build_report,
    parse_buckets,
    threshold,
    verdict,
)
from openmaker.labeling.report_render import CSV_FIELDS, chart_png, md_escape, render

EDGES = (80.0, 85.0, 90.0, 95.0, 100.0)


def _cells(label: str, per_bucket: dict[int, tuple[int, int, int]]) -> list[tuple[str, int, str, int]]:
    """(confirmed, disconfirmed, split) per bucket index -> cells."""
    out = []
    for index, counts in per_bucket.items():
        out += [(label, index, v, n) for v, n in zip(VERDICTS, counts) if n]
    return out


def _buckets(*counts: tuple[int, int, int]) -> list[BucketStats]:
    return [BucketStats(lo, hi, *c) for lo, hi, c in zip(EDGES, EDGES[1:], counts)]


# The issue's example: 95–100 (4 items, 0 incorrect), 90–95 (5, 0), 85–90 empty, 80–85 one wrong item.
CAT = _cells("cat", {3: (4, 0, 0), 2: (5, 0, 0), 0: (0, 1, 0)})
# 10 dogs: 80–85 (1 ok, 1 split), 85–90 (2 ok, 1 disconfirmed), 95–100 (5 ok); 90–95 empty.
DOG = _cells("Dog", {0: (1, 0, 1), 1: (2, 1, 0), 3: (5, 0, 0)})


# ---------------------------------------------------------------------------------------------
# Arithmetic


def test_per_class_numbers_with_splits():
    report = build_report(DOG, EDGES)
    (dog,) = report.classes
    assert (dog.label, dog.total, dog.confirmed, dog.disconfirmed, dog.split) == ("Dog", 10, 8, 1, 1)
    assert dog.percent_correct == pytest.approx(80.0)  # the split counts as incorrect
    assert [(b.total, b.incorrect) for b in dog.buckets] == [(2, 1), (3, 1), (0, 0), (5, 0)]
    assert [round(b.percent_correct, 2) for b in dog.buckets] == [50.0, 66.67, 0.0, 100.0]
    d = report.to_dict()["classes"][0]
    assert d["buckets"][1] == {"low": 85.0, "high": 90.0, "total": 3, "incorrect": 1, "percent_correct": 66.67}
    assert d["percent_correct"] == 80.0 and d["split"] == 1


def test_repeated_cells_add_up():
    cells = [("cat", 3, "confirmed", 2), ("cat", 3, "confirmed", 3), ("cat", 3, "split", 1), ("cat", 3, "split", 1)]
    (cat,) = build_report(cells, EDGES).classes
    assert (cat.confirmed, cat.split, cat.total) == (5, 2, 7)
    assert cat.buckets[3].total == 7 and cat.buckets[3].incorrect == 2


def test_totals_are_pooled_and_class_average_is_a_plain_mean():
    # cat: 9 of 10 correct (90%); Dog: 8 of 10 (80%); tiny: 0 of 1 (0%, its only item in 90–95 is wrong).
    cells = CAT + DOG + [("tiny", 2, "disconfirmed", 1)]
    report = build_report(cells, EDGES)
    assert [c.label for c in report.classes] == ["cat", "Dog", "tiny"]  # case-insensitive order
    t = report.totals
    assert (t.label, t.total, t.confirmed, t.disconfirmed, t.split) == ("TOTALS", 21, 17, 3, 1)
    assert t.percent_correct == pytest.approx(100 * 17 / 21)  # pooled: 80.95
    assert report.class_average.percent_correct == pytest.approx((90 + 80 + 0) / 3)  # 56.67, not 80.95
    d = report.to_dict()
    assert d["totals"]["percent_correct"] == 80.95
    assert d["class_average"]["percent_correct"] == 56.67
    # TOTALS buckets pooled: 80–85 cat 0/1 + Dog 1/2 = 1/3; 85–90 Dog 2/3; 90–95 cat 5/5 + tiny 0/1 = 5/6; 95–100 9/9.
    assert [(b["total"], b["incorrect"], b["percent_correct"]) for b in d["totals"]["buckets"]] == [
        (3, 2, 33.33),
        (3, 1, 66.67),
        (6, 1, 83.33),
        (9, 0, 100.0),
    ]
    # TOTALS threshold: 95–100 ok, 90–95 has 1 wrong for 5 right (1*10 > 5) -> its high edge, 95.
    assert d["totals"]["threshold"] == 95.0


def test_empty_bucket_is_zero_and_counts_as_zero_in_the_class_average():
    report = build_report(CAT + DOG, EDGES)
    cat, dog = report.classes
    assert cat.buckets[1].total == 0 and cat.buckets[1].percent_correct == 0.0  # cat 85–90 is empty
    assert dog.buckets[2].total == 0 and dog.buckets[2].percent_correct == 0.0  # Dog 90–95 is empty
    avg = report.class_average.bucket_percents
    # 80–85: cat 0%, Dog 50% -> 25; 85–90: cat empty (0), Dog 66.67 -> 33.33;
    # 90–95: cat 100, Dog empty (0) -> 50; 95–100: 100, 100 -> 100.
    assert avg == pytest.approx([25.0, 100 * 2 / 3 / 2, 50.0, 100.0])
    assert report.to_dict()["class_average"]["buckets"][1] == {"low": 85.0, "high": 90.0, "percent_correct": 33.33}
    # The class average uses full precision: (90 + 80) / 2, and for a 1/3 class not 33.33.
    third = build_report([("a", 0, "confirmed", 1), ("a", 0, "split", 2), ("b", 0, "confirmed", 1)], EDGES)
    assert third.class_average.percent_correct == pytest.approx((100 / 3 + 100) / 2)
    assert third.to_dict()["class_average"]["percent_correct"] == 66.67


def test_empty_report_and_empty_class_show_zero_not_nan():
    report = build_report([], EDGES)
    d = report.to_dict()
    assert d["classes"] == [] and d["totals"]["total"] == 0 and d["totals"]["percent_correct"] == 0.0
    assert d["class_average"]["percent_correct"] == 0.0
    assert [b["percent_correct"] for b in d["class_average"]["buckets"]] == [0.0] * 4
    assert d["totals"]["threshold"] is None  # nothing reviewed: no evidence, no threshold


def test_pending_is_shown_not_counted():
    report = build_report(CAT, EDGES, pending=[("cat", 2), ("ant", 3), ("cat", 1)])
    ant, cat = report.classes
    assert (ant.label, ant.total, ant.pending, ant.percent_correct) == ("ant", 0, 3, 0.0)
    assert (cat.total, cat.pending) == (10, 3)
    assert report.totals.total == 10 and report.totals.pending == 6
    assert report.totals.percent_correct == pytest.approx(90.0)
    # A class with nothing reviewed has no %Correct to average: the Class Average is cat's alone.
    assert report.class_average.percent_correct == pytest.approx(90.0)
    d = report.to_dict()
    assert d["classes"][0]["pending"] == 3 and d["totals"]["pending"] == 6


def test_reviewed_items_outside_the_edges_count_in_the_class_row_only():
    report = build_report(CAT + [("cat", None, "confirmed", 2)], EDGES)
    (cat,) = report.classes
    assert (cat.total, cat.confirmed) == (12, 11)
    assert sum(b.total for b in cat.buckets) == 10 and cat.unbucketed == 2
    assert cat.percent_correct == pytest.approx(100 * 11 / 12)


def test_build_report_rejects_bad_input():
    with pytest.raises(ReportError, match="cost ratio"):
        build_report(CAT, EDGES, 0)
    with pytest.raises(ReportError, match="cost ratio"):
        build_report(CAT, EDGES, -1)
    with pytest.raises(ReportError, match="cost ratio"):
        build_report(CAT, EDGES, float("inf"))
    with pytest.raises(ReportError, match="verdict 'maybe'"):
        build_report([("cat", 0, "maybe", 1)], EDGES)
    with pytest.raises(ReportError, match="bucket index 4 is outside 0..3"):
        build_report([("cat", 4, "confirmed", 1)], EDGES)
    with pytest.raises(ReportError, match="count must not be negative"):
        build_report([("cat", 0, "confirmed", -1)], EDGES)
    with pytest.raises(ReportError, match="not a \\(label, bucket_index, verdict, count\\)"):
        build_report([("cat", 0, "confirmed")], EDGES)
    with pytest.raises(ReportError, match="label must be text"):
        build_report([(None, 0, "confirmed", 1)], EDGES)
    with pytest.raises(ReportError, match="strictly ascending"):
        build_report(CAT, (80, 90, 85))


# ---------------------------------------------------------------------------------------------
# Threshold


def test_threshold_issue_example_is_85():
    assert threshold(_buckets((0, 1, 0), (0, 0, 0), (5, 0, 0), (4, 0, 0)), EDGES, 10) == 85.0
    (cat,) = build_report(CAT, EDGES, 10).classes
    assert cat.threshold == 85.0


def test_threshold_top_bucket_unacceptable_is_100():
    # 95–100: 9 right, 1 wrong -> 1 * 10 > 9, unacceptable at once: its high edge, 100.
    assert threshold(_buckets((5, 0, 0), (5, 0, 0), (5, 0, 0), (9, 1, 0)), EDGES, 10) == 100.0
    # 0 correct and some incorrect is never acceptable, whatever the ratio.
    assert threshold(_buckets((5, 0, 0), (5, 0, 0), (5, 0, 0), (0, 0, 1)), EDGES, 0.001) == 100.0


def test_threshold_all_acceptable_is_the_lowest_edge():
    assert threshold(_buckets((3, 0, 0), (0, 0, 0), (10, 1, 0), (4, 0, 0)), EDGES, 10) == 80.0
    assert threshold(_buckets((0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0)), EDGES, 10) == 80.0


def test_threshold_cost_ratio_boundary():
    # 1 wrong per 1 right: acceptable at cost ratio 1 (1 * 1 <= 1), not at 1.01 or 10.
    b = _buckets((0, 1, 0), (1, 1, 0), (1, 0, 0), (3, 0, 0))
    assert threshold(b, EDGES, 1) == 85.0  # 85–90 is fine, 80–85 (0 right, 1 wrong) stops
    assert threshold(b, EDGES, 1.01) == 90.0
    assert threshold(b, EDGES, 10) == 90.0
    # Exactly 1 wrong per 10 right at ratio 10 is acceptable; a split counts as wrong.
    assert threshold(_buckets((0, 0, 0), (0, 0, 0), (10, 0, 1), (20, 1, 1)), EDGES, 10) == 80.0
    assert threshold(_buckets((0, 0, 0), (0, 0, 0), (9, 0, 1), (20, 1, 1)), EDGES, 10) == 95.0


def test_threshold_rejects_mismatched_buckets():
    with pytest.raises(ReportError, match="3 buckets do not match 5 edges"):
        threshold(_buckets((1, 0, 0), (1, 0, 0), (1, 0, 0)), EDGES, 10)


# ---------------------------------------------------------------------------------------------
# Verdicts and buckets


def test_verdict_policies():
    assert verdict(2, 1, "unanimous") == "split"
    assert verdict(2, 1, "majority") == "confirmed"
    assert verdict(1, 2, "majority") == "disconfirmed"
    assert verdict(1, 2, "unanimous") == "split"
    assert verdict(1, 1, "majority") == "split"
    assert verdict(3, 0, "unanimous") == verdict(3, 0, "majority") == "confirmed"
    assert verdict(0, 3, "unanimous") == verdict(0, 3, "majority") == "disconfirmed"
    assert verdict(0, 0, "unanimous") is None and verdict(0, 0, "majority") is None
    with pytest.raises(ReportError, match="unknown policy 'most'"):
        verdict(1, 0, "most")
    with pytest.raises(ReportError, match="must not be negative"):
        verdict(-1, 0, "majority")


def test_bucket_index_edges():
    assert bucket_index(80, EDGES) == 0
    assert bucket_index(84.999, EDGES) == 0
    assert bucket_index(85, EDGES) == 1
    assert bucket_index(94.99, EDGES) == 2
    assert bucket_index(95, EDGES) == 3
    assert bucket_index(100, EDGES) == 3
    assert bucket_index(79.9, EDGES) is None
    assert bucket_index(100.01, EDGES) is None
    assert bucket_index(float("nan"), EDGES) is None
    assert bucket_index(50, "0,50,100") == 1 and bucket_index(100, [0, 50, 100]) == 1
    with pytest.raises(ReportError, match="not a number"):
        bucket_index("high", EDGES)


def test_parse_buckets():
    assert parse_buckets("80,85,90,95,100") == EDGES
    assert parse_buckets(" 0, 50.5 ,100") == (0.0, 50.5, 100.0)
    assert parse_buckets([80, 90.0, 100]) == (80.0, 90.0, 100.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("80,abc,100", "bucket edge 'abc' is not a number"),
        ("80,,100", "bucket edge '' is not a number"),
        ("80,nan", "bucket edge 'nan' is not a number"),
        ("80,85,85,100", "bucket edges must be strictly ascending: 85 then 85"),
        ("90,85", "bucket edges must be strictly ascending: 90 then 85"),
        ("80,101", "bucket edge '101' is outside 0..100"),
        ("-5,50", "bucket edge '-5' is outside 0..100"),
        ("80", "need at least 2 bucket edges, got 80"),
        ("", "need at least 2 bucket edges, got none"),
        ([80, True], "bucket edge True is not a number"),
    ],
)
def test_parse_buckets_errors(text, message):
    with pytest.raises(ReportError) as err:
        parse_buckets(text)
    assert str(err.value) == message


# ---------------------------------------------------------------------------------------------
# Renderers


@pytest.fixture
def report():
    return build_report(CAT + DOG + [("a|b", 3, "confirmed", 1)], EDGES, pending=[("cat", 2)])


def test_markdown(report):
    md = render(report, "md")
    lines = md.splitlines()
    assert "| Class | Total | Confirmed | Disconfirm | Split | %Correct | Threshold |" in lines
    # a|b: 1 of 1 (100%), cat 90%, Dog 80%: Class Average 90.00%; TOTALS pooled 18 of 21 = 85.71%.
    assert "| a\\|b | 1 | 1 | 0 | 0 | 100.00% | 80 |" in lines
    assert "| cat | 10 | 9 | 1 | 0 | 90.00% | 85 |" in lines
    assert "| Dog | 10 | 8 | 1 | 1 | 80.00% | 90 |" in lines
    assert "| TOTALS | 21 | 18 | 2 | 1 | 85.71% | 90 |" in lines
    assert "| Class Average |  |  |  |  | 90.00% |  |" in lines
    header = next(line for line in lines if line.startswith("| Class | 80–85 Total"))
    assert header.endswith("| 95–100 Total | 95–100 Incorrect | 95–100 %Correct |")
    assert "| cat | 1 | 1 | 0.00% | 0 | 0 | 0.00% | 5 | 0 | 100.00% | 4 | 0 | 100.00% |" in lines
    # Class Average per bucket: 80–85 (0+50+0)/3; 85–90 (0+66.67+0)/3; 90–95 (100+0+0)/3; 95–100 100.
    assert "| Class Average |  |  | 16.67% |  |  | 22.22% |  |  | 33.33% |  |  | 100.00% |" in lines
    # Every table row has the same number of unescaped pipes as its header.
    for table_header in ("| Class | Total", "| Class | 80–85"):
        start = next(i for i, line in enumerate(lines) if line.startswith(table_header))
        rows = []
        for line in lines[start:]:
            if not line.startswith("|"):
                break
            rows.append(line.replace("\\|", ""))
        assert len({row.count("|") for row in rows}) == 1
    assert "Pending (no votes yet, not counted above): cat 2" in md


def test_md_escape():
    assert md_escape("a|b") == "a\\|b"
    assert md_escape("x\\y") == "x\\\\y"
    assert md_escape("two\nlines") == "two lines"


def test_csv_parses_back(report):
    text = render(report, "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_FIELDS
    by = {(r["kind"], r["label"], r["bucket_low"]): r for r in rows}
    assert len(rows) == 5 * 5  # (1 summary + 4 buckets) x (3 classes, TOTALS, Class Average)
    cat = by[("class", "cat", "")]
    assert (int(cat["total"]), int(cat["incorrect"]), float(cat["percent_correct"])) == (10, 1, 90.0)
    assert (cat["bucket_high"], cat["threshold"], cat["pending"]) == ("", "85", "2")
    dog85 = by[("class", "Dog", "85")]
    assert (dog85["bucket_high"], int(dog85["total"]), int(dog85["incorrect"]), dog85["percent_correct"]) == ("90", 3, 1, "66.67")
    assert dog85["threshold"] == "" and int(dog85["disconfirmed"]) == 1
    assert by[("class", "a|b", "95")]["total"] == "1"  # the label survives the round trip
    totals = by[("totals", "TOTALS", "")]
    assert (totals["total"], totals["percent_correct"], totals["threshold"]) == ("21", "85.71", "90")
    avg = by[("class_average", "Class Average", "")]
    assert (avg["percent_correct"], avg["total"], avg["threshold"]) == ("90.00", "", "")
    assert by[("class_average", "Class Average", "85")]["percent_correct"] == "22.22"


def test_csv_quotes_labels():
    text = render(build_report([('big, "red" dog', 0, "confirmed", 1)], EDGES), "csv")
    assert '"big, ""red"" dog"' in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["label"] == 'big, "red" dog' and rows[0]["total"] == "1"


def test_json_round_trips_to_the_documented_shape(report):
    d = json.loads(render(report, "json"))
    assert d == report.to_dict()
    assert set(d) == {"classes", "totals", "class_average", "edges", "cost_ratio"}
    class_keys = {"label", "total", "confirmed", "disconfirmed", "split", "percent_correct", "buckets", "threshold"}
    for c in d["classes"] + [d["totals"]]:
        assert set(c) - {"pending"} == class_keys
        assert [set(b) for b in c["buckets"]] == [{"low", "high", "total", "incorrect", "percent_correct"}] * 4
    assert set(d["class_average"]) == {"percent_correct", "buckets"}
    assert [set(b) for b in d["class_average"]["buckets"]] == [{"low", "high", "percent_correct"}] * 4
    assert d["edges"] == [80.0, 85.0, 90.0, 95.0, 100.0] and d["cost_ratio"] == 10.0
    assert [c["label"] for c in d["classes"]] == ["a|b", "cat", "Dog"]
    assert d["totals"]["label"] == "TOTALS" and d["totals"]["threshold"] == 90.0  # 85–90 pooled: 2 right, 1 wrong
    assert d["class_average"]["buckets"][0]["percent_correct"] == 16.67


def test_html_is_standalone_and_escapes_labels():
    page = render(build_report(CAT + [("<script>alert(1)</script>", 3, "confirmed", 1)], EDGES), "html", title="<b>x</b>")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page
    assert "http://" not in page and "https://" not in page and " src=" not in page
    assert page.count("<table>") == 2
    assert '<th colspan="3">95–100</th>' in page
    assert ">TOTALS</td>" in page and ">Class Average</td>" in page
    assert "95.00%" in page  # Class Average of 90% and 100%


def test_unknown_format():
    with pytest.raises(ReportError, match="unknown format 'xml': expected one of md, csv, json, html"):
        render(build_report(CAT, EDGES), "xml")


def test_chart_png(report, tmp_path):
    from PIL import Image

    out = chart_png(report, tmp_path / "chart.png")
    assert out == tmp_path / "chart.png"
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(out) as img:
        img.verify()
    with Image.open(out) as img:
        assert img.format == "PNG" and img.size == (900, 500)


def test_chart_png_with_awkward_labels_and_no_classes(tmp_path):
    from PIL import Image

    odd = build_report([("_hidden", 0, "confirmed", 1), ("$\\frac$", 1, "split", 1)], EDGES)
    for name, rep in (("odd.png", odd), ("empty.png", build_report([], EDGES))):
        out = chart_png(rep, tmp_path / name)
        with Image.open(out) as img:
            assert img.size == (900, 500)


def test_a_class_nobody_reviewed_has_no_threshold():
    """All its buckets are empty, so the rule would say "accept everything from 80": there is no evidence for that."""
    from openmaker.labeling.report_render import render

    report = build_report([("Crab", 3, "confirmed", 4)], "80,85,90,95,100", 10, pending=[("Shrimp", 14)])
    data = report.to_dict()
    shrimp = next(c for c in data["classes"] if c["label"] == "Shrimp")
    assert shrimp["threshold"] is None and shrimp["pending"] == 14 and shrimp["total"] == 0
    assert next(c for c in data["classes"] if c["label"] == "Crab")["threshold"] == 80
    assert "| Shrimp | 0 | 0 | 0 | 0 | 0.00% | n/a |" in render(report, "md")
