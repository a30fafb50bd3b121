"""experiments.report on fixture results (no training): questions, strictness, claims, PDF text.

The results come from tests/conftest.py in the exact published format; the figures and
the Exercise-2 visuals are small hand-made records in the format build.make_visuals writes.
"""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest

from experiments import config, report
from experiments import results as published
from experiments.formats import num, pct
from experiments.errors import ReportError

from conftest import FULL_ACCURACIES, fake_results

# The questions of PW09, in the assignment's order (Exercise 3 has no lettered questions).
QUESTION_IDS = ["1 a)", "1 b)", "1 c)", "2 a)", "2 b)", "2 c)", "3",
                "4 a)", "4 b)", "4 c)", "5 a)", "5 b)", "5 c)", "5 d)", "5 e)"]
SECTION_HEADINGS = ["Introduction", "Data augmentation", "Visualisation of activations", "Deeper models",
                    "Analysis of a deep architecture: Inception-v4", "Review questions", "References",
                    "Provenance", "Checked claims"]

BASELINE_LAYERS = ["conv1", "relu1", "conv2", "relu2", "pool1", "conv3", "relu3", "pool2"]
VGG_LAYERS = ["conv1_1", "relu1_1", "pool1", "conv4_3", "relu4_3", "pool4"]


# --- fixtures: figures, visuals, provenance in the build's formats -----------------------------


def _layer_facts(name: str, shape: list[int], zero: float, dead: int, lead: int = 17) -> dict:
    kind = re.sub(r"\d.*", "", name)
    return {"type": kind, "shape": shape, "zero_fraction": 0.0 if kind == "conv" else zero,
            "dead_channels": 0 if kind == "conv" else dead, "mean": 0.05, "max": 0.75, "min": -0.5 if kind == "conv" else 0.0,
            # The visualiser's channel ranking by mean response (visualize.channel_extremes).
            "most_active": {"channel": lead, "mean": 0.38}, "median_channel_mean": 0.06,
            "least_active": {"channel": 3, "mean": -0.37 if kind == "conv" else 0.0}}


def _model_visuals(exp: str, layers: list[str], channels: int, image: int = 12, label: int = 0,
                   tag: str = "") -> dict:
    size = {"1": 32, "2": 16, "3": 8, "4": 4}
    facts = {}
    for i, name in enumerate(layers):
        block = name.split("_")[0][-1] if "_" in name else str(1 + sum(1 for n in layers[:i] if n.startswith("pool")))
        if exp.startswith("vgg") and name.startswith("pool"):
            block = name[-1]  # the VGG net's pool<k> closes block k
        side = size.get(block, 32) // (2 if name.startswith("pool") else 1)
        zero = 0.3 + 0.1 * i / len(layers)
        if name.startswith("pool") and i > 0:
            # A 2×2 maximum is zero only where all four inputs are: pooling lowers the share.
            zero = facts[layers[i - 1]]["zero_fraction"] * 0.4
        # The second image shares the first layers' leading channel, not the deeper ones'.
        lead = 17 if not tag or i < 3 else 5 + i
        facts[name] = _layer_facts(name, [side, side, channels], zero=zero, dead=i % 3, lead=lead)
    suffix = f"-{tag}" if tag else ""
    figures = [{"id": f"input-{exp}{suffix}", "kind": "input", "experiment": exp, "layer": None,
                "path": f"input-{exp}{suffix}.png", "tiles": 1, "caption": f"Input image #{image} seen by {exp}."}]
    convs = [n for n in layers if n.startswith("conv")]
    for name in ([] if tag else convs[:1] if exp.startswith("vgg") else convs):
        figures.append({"id": f"filters-{exp}-{name}", "kind": "filters", "experiment": exp, "layer": name,
                        "path": f"filters-{exp}-{name}.png", "tiles": channels, "caption": f"Filters of {name}."})
    for name in layers:
        figures.append({"id": f"act-{exp}-{name}{suffix}", "kind": "activations", "experiment": exp, "layer": name,
                        "path": f"act-{exp}-{name}{suffix}.png", "tiles": channels,
                        "caption": f"Activations of {name}{' for the second image' if tag else ''}."})
    return {"experiment": exp, "layers": layers, "facts": facts, "figures": figures, "image_index": image,
            "true_label": label, "predicted_label": label, "probability": 0.42}


def fake_visuals(results: dict) -> dict:
    """The visuals manifest as build.make_visuals writes it, for the fixture's best models."""
    from experiments.build import choose_visualised

    chosen = choose_visualised(results)
    models = {}
    if "ex1" in chosen:
        models[chosen["ex1"]["experiment"]] = _model_visuals(chosen["ex1"]["experiment"], BASELINE_LAYERS, 32)
    if "ex3" in chosen:
        models[chosen["ex3"]["experiment"]] = _model_visuals(chosen["ex3"]["experiment"], VGG_LAYERS, 64)
    # A second training image of another class (build.make_visuals), in a copy not in the official order.
    layers = {name: (BASELINE_LAYERS, 32) if name == chosen.get("ex1", {}).get("experiment") else (VGG_LAYERS, 64)
              for name in models}
    second = {name: _model_visuals(name, *layers[name], image=29, label=1, tag="second") for name in models}
    inputs = {"official_order": False, "data_kind": "image-folder-archive",
              "images": [{"index": 12, "class": "airplane"}, {"index": 29, "class": "automobile"}]}
    augmentation = {s: {"id": f"aug-{s}", "kind": "augmentation", "path": f"aug-{s}.png", "tiles": 20,
                        "caption": f"Augmentation strategy {s}."} for s in config.AUGMENTATIONS}
    return {"chosen": chosen, "image_index": 12, "models": models, "augmentation": augmentation,
            "inputs": inputs, "second": second}


def fake_figures(results: dict, visuals: dict) -> dict:
    records = {fid: {"id": fid, "kind": "curves", "path": f"{fid}.png", "caption": f"Training curves {fid}."}
               for fid in ("curves-ex1", "curves-ex3")}
    for vis in [*visuals["models"].values(), *visuals.get("second", {}).values()]:
        records.update({r["id"]: r for r in vis["figures"]})
    records.update({r["id"]: r for r in visuals["augmentation"].values()})
    return records


def fake_provenance(results: dict, git: dict | None = None) -> dict:
    first = next(iter(results.values()))
    return {
        "profile": "smoke", "profile_description": config.PROFILES["smoke"]["description"],
        "data_source": "fixture", "data_fingerprint": first["data_fingerprint"],
        "seeds": first["seeds"], "git": git or {"revision": "abc1234", "dirty": False},
        "training_environments": published.training_environments(results), "report_python": "3.11",
        "host": "x86_64, Linux",
        "wall_times": {n: r["train_seconds"] for n, r in results.items()},
        "per_seed_seconds": {n: r["per_seed"]["train_seconds"] for n, r in results.items()},
    }


def render(results: dict, strict: bool = False, git: dict | None = None, **dirs) -> tuple[str, object]:
    visuals = fake_visuals(results)
    return report.render_html(results, {}, fake_figures(results, visuals), visuals, fake_provenance(results, git),
                              "smoke", strict, **dirs)


def text_of(page: str) -> str:
    """The visible text of the report body, whitespace collapsed."""
    body = page[page.index("<body>"):]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


@pytest.fixture
def prose_copy(tmp_path) -> Path:
    """A private copy of report_src/ that a test may edit."""
    target = tmp_path / "report_src"
    shutil.copytree(report.PROSE, target)
    return target


# --- structure -------------------------------------------------------------------------------


def test_every_question_of_the_assignment_is_answered_in_order(results_one_seed):
    page, _ = render(results_one_seed)
    found = re.findall(r'<h3 id="q[^"]+" class="question"><span class="qid">([^<]+)</span>', page)
    assert found == QUESTION_IDS
    # Each question is in the table of contents, linked to its heading.
    for qid in QUESTION_IDS:
        anchor = "q" + qid.replace(" ", "").rstrip(")")
        assert f'href="#{anchor}"' in page and f'id="{anchor}"' in page


def test_sections_figures_and_tables_are_numbered_in_document_order(results_one_seed):
    page, _ = render(results_one_seed)
    for kind in ("Figure", "Table"):
        numbers = [int(n) for n in re.findall(rf"<b>{kind} (\d+)\.</b>", page)]
        assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 3
    # Every reference in the prose points at a placed block, and nothing is left unresolved.
    for target in re.findall(r'<a class="ref" href="#([^"]+)">', page):
        assert f'id="{target}"' in page
    assert "PW09BLOCK" not in page and "PW09REF" not in page
    # The Exercise-4 Markdown table with its "Table:" caption is numbered like the others.
    assert re.search(r'<p class="caption"><b>Table \d+\.</b> Published figures.*?<table class="paper">', page, re.S)


@pytest.mark.parametrize("fixture", ["results_one_seed", "results_three_seeds"])
def test_nothing_renders_as_nan_none_or_template_syntax(fixture, request):
    page, _ = render(request.getfixturevalue(fixture))
    text = text_of(page)
    for bad in ("nan", "None", "undefined"):
        assert not re.search(rf"\b{bad}\b", text), bad
    for bad in ("{{", "}}", "{%", "%}", "PW09BLOCK", "PW09REF"):
        assert bad not in page, bad
    # No sentence glued to the next one by the template's whitespace control.
    assert not re.search(r"[a-z%)]\.[A-Z][a-z]", text)


def test_numbers_are_typeset_units_on_their_line_and_minus_signs(results_full):
    # The PDF broke "80.0–85.0 %" before its "%"; a no-break space joins them everywhere.
    page, _ = render(results_full)
    assert not re.search(r"\d (%|points?\b)", page)
    assert re.search(r"\d\u00a0%", page) and re.search(r"\d\u00a0points\b", page)
    # and a negative number has a minus sign, not a hyphen; dates and names keep theirs
    assert re.search(r"CI \u22120\.\d to", page) and not re.search(r"[\s(>]-\d", page)
    assert report.typeset("on 2026-12-05, conv1-2, 3e-3 and (-1.5 or -2 %)") == \
        "on 2026-12-05, conv1-2, 3e-3 and (\u22121.5 or \u22122\u00a0%)"
    css = '<style>\np { margin:-1px; width: 5 %; }\n</style><p title="-3 points">-3 points</p>'
    assert report.typeset(css) == css.replace(">-3 points<", ">\u22123\u00a0points<")


def test_three_seeds_render_spread_and_intervals(results_three_seeds):
    page, claims = render(results_three_seeds)
    text = text_of(page)
    assert "±" in text
    assert "95 % CI" in text
    # aug_flip beats the baseline on every seed: the answer says so, with the interval.
    assert "Yes: aug_flip (+" in text
    flip = next(c for c in claims.records if c.id == "ex1.aug_flip_vs_baseline.test_accuracy")
    assert flip.found == "higher" and flip.numbers["difference_ci_lo"] > 0
    lo, hi = num(100 * flip.numbers["difference_ci_lo"], 1, sign=True), num(100 * flip.numbers["difference_ci_hi"], 1, sign=True)
    assert f"({lo} to {hi})" in text  # the Δ column of the comparison table
    # The one-seed fixture words the same comparison as a single run, without an interval.
    page1, _ = render(fake_results({"baseline": [(0.60, 0.75)], "aug_flip": [(0.63, 0.70)]}))
    assert "(1 run)" in text_of(page1) and "One seed gives no interval" in text_of(page1)


def test_partial_results_render_without_errors():
    results = fake_results({"baseline": [(0.60, 0.75)], "aug_flip": [(0.63, 0.70)]})
    page, _ = render(results)
    text = text_of(page)
    assert "No VGG-style experiment has results in this build" in text
    assert re.findall(r'class="qid">([^<]+)<', page) == QUESTION_IDS


def test_a_build_outside_git_claims_no_revision_and_no_clean_tree(results_one_seed, tmp_path):
    from experiments import build

    # An unpacked submission zip has no .git: the report must not call its tree clean.
    assert build.git_revision(tmp_path) == {"revision": None, "dirty": None}
    text = text_of(render(results_one_seed, git=build.git_revision(tmp_path))[0])
    assert text.count("none: not built from a git checkout") == 2 and "clean working tree" not in text
    assert "clean working tree" in text_of(render(results_one_seed)[0])  # a revision, no uncommitted changes


def test_provenance_names_every_machine_that_trained_the_results(results_one_seed):
    one = text_of(render(results_one_seed)[0])
    assert one.count("Training software Python 3.11, Keras 3, backend tensorflow 2") == 1  # one machine: no names
    assert "Training hardware Test CPU 9000 (x86_64), 2 logical CPUs, devices: cpu" in one
    gpu = {**results_one_seed["vgg"]["environments"][0], "python": "3.12", "backend_version": "2.21", "devices": ["gpu"]}
    mixed = {**results_one_seed, "vgg": {**results_one_seed["vgg"], "environments": [gpu]},
             "vgg_aug": {**results_one_seed["vgg_aug"], "environments": [*results_one_seed["vgg_aug"]["environments"], gpu]}}
    assert [e["experiments"] for e in published.training_environments(mixed)] == [
        ["baseline", "aug_flip", "aug_shift", "aug_strong", "vgg_aug"], ["vgg", "vgg_aug"]]
    text = text_of(render(mixed)[0])
    assert ("Training software (baseline, aug_flip, aug_shift, aug_strong, vgg_aug) Python 3.11, Keras 3, "
            "backend tensorflow 2") in text
    assert "Training software (vgg, vgg_aug) Python 3.12, Keras 3, backend tensorflow 2.21" in text
    assert "Training hardware (vgg, vgg_aug) Test CPU 9000 (x86_64), 2 logical CPUs, devices: gpu" in text
    # A run from before the CPU model was recorded still shows its architecture.
    older = {k: v for k, v in gpu.items() if k != "cpu_model"}
    text = text_of(render({**mixed, "vgg": {**mixed["vgg"], "environments": [older]}})[0])
    assert "Training hardware (vgg) x86_64, 2 logical CPUs, devices: gpu" in text


def test_the_report_says_which_arithmetic_each_experiment_trained_with(results_one_seed):
    text = text_of(render(results_one_seed)[0])
    assert "Every run computed in float32." in text and "mixed precision" not in text
    assert re.search(r"vgg_aug \w{12} 1234 float32 ", text)  # Appendix A: experiment, config hash, seeds, precision
    mixed = {n: {**r, "precision_policies": ["mixed_bfloat16"]} if n.startswith("vgg") else r
             for n, r in results_one_seed.items()}
    text = re.sub(r" ([.,;])", r"\1", text_of(render(mixed)[0]))  # no space a closing tag left before punctuation
    assert ("Arithmetic: float32 for baseline, aug_flip, aug_shift and aug_strong; mixed precision "
            "(bfloat16 arithmetic, float32 weights) for vgg and vgg_aug. The machine that trained") in text
    assert "--no-mixed-precision" in text and re.search(r"vgg_aug \w{12} 1234 mixed_bfloat16 ", text)
    every = {n: {**r, "precision_policies": ["mixed_bfloat16"]} for n, r in results_one_seed.items()}
    assert "Every run computed in mixed precision (bfloat16 arithmetic, float32 weights). The" in text_of(render(every)[0])


def test_cover_shows_authors_from_report_toml(results_one_seed, prose_copy):
    toml = prose_copy / "report.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace(
        'authors = ["(your names: set them in report_src/report.toml)"]', 'authors = ["Ada Lovelace", "Alan Turing"]'),
        encoding="utf-8")
    page, _ = render(results_one_seed, prose_dir=prose_copy)
    assert '<p class="authors">Ada Lovelace, Alan Turing</p>' in page
    # A placeholder is shown as one (in red on the cover), never dropped silently.
    toml.write_text('course = "C"\nschool = "S"\npw = "09"\ntitle = "T"\ndate = "1 May 2025"\n'
                    'authors = ["(your names)"]\n', encoding="utf-8")
    assert report.load_meta(prose_copy)["authors_missing"] is True
    page, _ = render(results_one_seed, prose_dir=prose_copy)
    assert '<p class="authors missing">(your names)</p>' in page


# --- strictness ------------------------------------------------------------------------------


def test_missing_value_names_the_prose_file_and_line(results_one_seed, prose_copy):
    path = prose_copy / "ex3_deeper.md"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(5, "The VGG net has {{ R.vgg.no_such_value }} layers.")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ReportError) as err:
        render(results_one_seed, prose_dir=prose_copy)
    message = str(err.value)
    assert "ex3_deeper.md, line 6" in message and "no_such_value" in message


def test_missing_value_in_the_page_template_names_it(results_one_seed, tmp_path):
    templates = tmp_path / "templates"
    shutil.copytree(report.TEMPLATES, templates)
    page = templates / "report.html.j2"
    page.write_text(page.read_text(encoding="utf-8").replace("{{ meta.date }}", "{{ meta.no_such_date }}"),
                    encoding="utf-8")
    with pytest.raises(ReportError, match=r"report\.html\.j2, line \d+.*no_such_date"):
        render(results_one_seed, templates_dir=templates)


CONTRADICTED = '\n{{ claims.compare("test_accuracy", "baseline", "aug_shift", expect="higher") }}\n'


def test_contradicted_claim_fails_a_strict_build_and_names_the_claim(results_one_seed, prose_copy):
    with (prose_copy / "ex5_review.md").open("a", encoding="utf-8") as f:
        f.write(CONTRADICTED)  # the fixture has baseline 60 % < aug_shift 64 %
    with pytest.raises(ReportError) as err:
        render(results_one_seed, strict=True, prose_dir=prose_copy)
    message = str(err.value)
    assert "ex1.baseline_vs_aug_shift.test_accuracy" in message
    assert "expects higher" in message and "60.0 %" in message and "64.0 %" in message

    # Without --strict the build renders the data's wording and lists the claim as contradicted.
    page, claims = render(results_one_seed, strict=False, prose_dir=prose_copy)
    assert [c.id for c in claims.failures()] == ["ex1.baseline_vs_aug_shift.test_accuracy"]
    assert '<tr class="contradicted"><td class="mark">✘</td>' in page.replace("\n      ", "")


def test_the_shipped_prose_passes_strict_on_both_fixtures(results_one_seed, results_three_seeds):
    for results in (results_one_seed, results_three_seeds):
        _, claims = render(results, strict=True)
        assert claims.records and not claims.failures()


def test_unknown_reference_fails_with_its_id(results_one_seed, prose_copy):
    with (prose_copy / "ex5_review.md").open("a", encoding="utf-8") as f:
        f.write('\nSee {{ ref("no-such-figure") }}.\n')
    with pytest.raises(ReportError, match="no-such-figure"):
        render(results_one_seed, prose_dir=prose_copy)


# --- the PDF -----------------------------------------------------------------------------------


def _tiny_pngs(folder: Path, figures: dict) -> None:
    from PIL import Image

    for rec in figures.values():
        target = folder / "figures" / rec["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40, 24), (200, 210, 230)).save(target)


def test_pdf_holds_the_headings_and_the_fixture_numbers(results_one_seed, tmp_path):
    from pypdf import PdfReader

    visuals = fake_visuals(results_one_seed)
    figures = fake_figures(results_one_seed, visuals)
    page, _ = report.render_html(results_one_seed, {}, figures, visuals, fake_provenance(results_one_seed), "smoke")
    _tiny_pngs(tmp_path, figures)
    out = tmp_path / "report.pdf"
    refused = report.write_pdf(page, tmp_path, out, allowed_root=tmp_path)
    assert refused == []
    reader = PdfReader(out)
    text = " ".join(" ".join(p.extract_text().split()) for p in reader.pages)
    assert len(reader.pages) >= 10
    for heading in SECTION_HEADINGS:
        assert heading in text, heading
    for qid in QUESTION_IDS:
        assert qid in text, qid
    # Every experiment's numbers, formatted as in the result tables.
    for name, r in results_one_seed.items():
        for value in (pct(r["test_accuracy"]), pct(r["train_accuracy"]), num(r["test_loss"], 3)):
            assert value in text, (name, value)
    # Page numbers "n / N" and a table of contents with page numbers.
    assert f"2 / {len(reader.pages)}" in text
    assert re.search(r"Data augmentation[ .]+\d+", text)


# --- the pieces the prose is built from ---------------------------------------------------------


def test_claims_use_short_names_and_carry_their_verdict(results_one_seed):
    from experiments.claims import ClaimBook

    book = ClaimBook(results_one_seed, names={n: n for n in config.EXPERIMENTS})
    text = book.compare("test_accuracy", "aug_shift", "baseline")
    assert text == ("Comparing the test accuracy of aug_shift and baseline, with one seed per experiment "
                    "there is no interval to tell the difference from seed noise: 64.0 % vs 60.0 % (+4.0 points).")
    assert text.claim.found == "single" and text.claim.numbers["difference"] == pytest.approx(0.04)
    # Without names the sentences keep the experiments' titles.
    assert ClaimBook(results_one_seed).compare("test_accuracy", "aug_shift", "baseline").startswith(
        "Comparing the test accuracy of Baseline CNN + flips and shifts and Baseline CNN, no augmentation")


def test_relation_claims():
    from experiments.claims import ClaimBook

    book = ClaimBook({})
    assert book.relation("share of zeros", "pool1", 0.487, "relu2", 0.575) == (
        "The share of zeros is lower for pool1 (48.7 %) than for relu2 (57.5 %).")
    same = book.relation("time (ms)", "a", 2.004, "b", 2.001, percent=False, digits=2)
    assert same == "The time (ms) is the same for a and b: 2.00." and same.claim.found == "equal"
    wrong = book.relation("share of zeros", "relu3", 0.4, "relu1", 0.5, expect="higher")
    assert wrong.claim.verdict == "contradicted" and [c.id for c in book.failures()] == [
        "relation.share_of_zeros.relu3_vs_relu1"]


def test_augmentation_layers_are_described_from_their_recorded_arguments():
    d = report.describe_augmentation_layer
    assert d({"layer": "RandomFlip", "mode": "horizontal"}) == "mirror left–right with probability 1/2"
    assert d({"layer": "RandomTranslation", "height_factor": 0.1, "width_factor": 0.2}) == (
        "shift by up to ±10 % of the height and ±20 % of the width")
    assert d({"layer": "RandomRotation", "factor": 0.04}) == "rotate by up to ±14.4°"
    assert d({"layer": "RandomContrast", "factor": 0.3}) == "factor = 0.3"


# --- asserted conclusions: checks that can fail -------------------------------------------------


def _render_profile(results: dict, profile: str, strict: bool, visuals: dict | None = None, analysis=None):
    visuals = visuals or fake_visuals(results)
    prov = fake_provenance(results)
    prov["profile"], prov["profile_description"] = profile, config.PROFILES[profile]["description"]
    return report.render_html(results, {}, fake_figures(results, visuals), visuals, prov, profile, strict,
                              analysis=analysis)


def _seeds(test: float, train: float, mirror_gain: float | None = None) -> list[tuple]:
    extra = () if mirror_gain is None else (mirror_gain,)
    return [(test + d, train + d, *extra) for d in (-0.002, 0.0, 0.003)]


def _mirror(seeds, gains):
    """The same accuracies, with mirror averaging adding `gains` to the test accuracy, per seed."""
    return [(test, train, g) for (test, train), g in zip(seeds, gains)]


# Every conclusion the full-profile prose asserts, turned the other way round.
CONTRADICTING = {
    "baseline": _seeds(0.70, 0.68),    # the baseline's training accuracy is below its test accuracy
    "aug_flip": _seeds(0.66, 0.80),    # augmentation raises the training accuracy and widens the gap
    "aug_shift": _seeds(0.65, 0.81),
    "aug_strong": _seeds(0.68, 0.82),  # the best strategy is below the baseline and beats aug_flip
    "vgg": _seeds(0.60, 0.62, -0.01),  # below the baseline, outside 80-85 %, hurt by mirror averaging
    "vgg_aug": _seeds(0.59, 0.70, -0.01),  # augmentation widens the VGG net's gap
}


def test_the_full_fixture_passes_strict_and_asserts_conclusions(results_full):
    from conftest import fake_analysis

    page, claims = _render_profile(results_full, "full", strict=True, analysis=fake_analysis(results_full))
    asserted = [c for c in claims.records if c.expected is not None]
    assert len(asserted) >= 8 and not claims.failures()
    assert claims.asserted == asserted and len(claims.worded) == len(claims.records) - len(asserted)
    text = text_of(page)
    # The cover names the profile with its own description.
    assert f"Profile full : {config.PROFILES['full']['description']}" in text
    # The cover says exactly what is checked and what is not.
    assert (f"{len(asserted)} statements asserted in the prose are checked against the results, and a "
            f"contradiction fails a --strict build; {len(claims.worded)} more are worded by the data") in text
    # Appendix B: each asserted row gives the prose's words, the expectation and what the data shows.
    appendix = text[text.index("Asserted in the prose and checked"):]
    for c in asserted:
        assert text_of(report.typeset(f"<body>{c.where} {c.id} {c.expected} {c.found} {c.text}")) in appendix, c.id
    assert appendix.index("Worded by the data") > max(appendix.index(text_of(report.typeset(f"<body>{c.text}")))
                                                      for c in asserted)
    # The Exercise-3 recipe is stated from the results.
    assert "AdamW" in text and "0.003" in text and "label smoothing 0.1" in text
    # Trainable and non-trainable parameters apart; the baseline's receptive fields.
    assert "477,898 trainable parameters and 1,536 non-trainable" in text
    assert "3×3 after conv1, 5×5 after conv2, 6×6 after pool1, 10×10 after conv3 and 12×12 after pool2" in text
    # "No clear change" says what cannot be detected.
    assert "cannot be detected here" in text
    # The analysis step's artifacts: per-class sentences, layer tables, the paper's results.
    assert "does best on the class" in text and "106×106" in text and "Single-model ImageNet results" in text
    # Exercise 3 against 1: what changes is listed from the data (both ran 10 epochs here).
    assert "depth, batch normalisation, dropout, the optimiser" in text and "number of epochs" not in text


def test_every_asserted_conclusion_fails_strict_when_the_data_contradicts_it(results_full):
    _, good = _render_profile(results_full, "full", strict=True)
    asserted = {c.id for c in good.records if c.expected is not None}

    bad = fake_results(CONTRADICTING, profile="full")
    visuals = fake_visuals(bad)
    for model in visuals["models"].values():  # pooling that raises the share of zeros
        for name in model["layers"]:
            if name.startswith("pool"):
                model["facts"][name]["zero_fraction"] = 0.99
    with pytest.raises(ReportError) as err:
        _render_profile(bad, "full", strict=True, visuals=visuals)
    message = str(err.value)
    _, book = _render_profile(bad, "full", strict=False, visuals=visuals)
    failed = {c.id for c in book.failures()}
    # As many conclusions are asserted (which experiment leads depends on the data), and
    # each one is contradicted and named.
    asserted_bad = {c.id for c in book.records if c.expected is not None}
    assert len(asserted_bad) == len(asserted)
    assert failed == asserted_bad
    for claim_id in asserted_bad:
        assert claim_id in message, claim_id


def test_smoke_asserts_nothing_and_says_so(results_one_seed):
    page, claims = _render_profile(results_one_seed, "smoke", strict=True)
    assert not [c for c in claims.records if c.expected is not None]
    text = text_of(page)
    assert ("In the smoke profile the prose asserts nothing the results could contradict, so no statement is "
            f"checked; its {len(claims.records)} comparative statements are worded by the data") in text
    assert "The smoke profile asserts nothing (see the cover)." in text


def test_the_report_renders_without_analysis_artifacts(results_full):
    page, _ = _render_profile(results_full, "full", strict=True, analysis={})
    text = text_of(page)
    assert "count_params()" in text  # the parameter count says what it includes
    assert "Confusion" not in text
    # Without checked paper figures the text says the tables are left out, and shows none.
    assert "single-model error tables are not reproduced here" in text and "ex4-paper" not in page


def test_the_paper_table_and_its_sentence_agree(results_full):
    from conftest import fake_analysis

    page, _ = _render_profile(results_full, "full", strict=True, analysis=fake_analysis(results_full))
    text = text_of(page)
    assert "The table below copies only the single-model errors this build checked" in text
    assert "not reproduced" not in text and 'id="tab-ex4-paper"' in page


def test_every_data_table_aligns_its_headings_with_its_cells(results_full):
    # pandas' plain to_html right-aligned every heading above left-aligned cells (Table 7, the
    # VGG net's layers, and the activation and paper tables); each column now has one side.
    from conftest import fake_analysis

    page, _ = _render_profile(results_full, "full", strict=False, analysis=fake_analysis(results_full))
    assert 'style="text-align: right;"' not in page
    tables = re.findall(r'<style type="text/css">([^<]*)</style>\s*<table id="T_\w+" class="results ?([^"]*)">(.*?)</table>',
                        page, re.S)
    assert {"layers", "facts", "paper-results", ""} <= {kind for _, kind, _ in tables}
    for style, kind, table in tables:
        heading = {col: side for selectors, side in re.findall(r"([^{}]+){\s*text-align: (\w+);", style)
                   for col in re.findall(r"_level0_col(\d+)\b", selectors)}
        cells = re.findall(r'class="data row\d+ col(\d+) (\w+)"', table)
        assert cells and heading and all(heading[col] == side for col, side in cells), (kind, heading, cells[:8])
    layers = next(table for _, kind, table in tables if kind == "layers")
    assert re.search(r'col3 right" >\d{1,3},\d{3}<', layers)  # parameter counts right-aligned under their heading


# One case per claim the full-profile prose asserts: fixture results that contradict that claim
# (other claims may fall with it), the conclusion it states, and pooling layers whose share of
# zeros is raised in the visualised Exercise-1 model.
F = FULL_ACCURACIES
AUGS = ("aug_flip", "aug_shift", "aug_strong")


def _shift(seeds, by):
    return [(test + by, train + by) for test, train in seeds]


def _gap(seeds, gaps):
    """The same test accuracies with the training accuracy `gaps` above them, per seed."""
    return [(test, test + g) for (test, _), g in zip(seeds, gaps)]


def _gaps(seeds, plus=0.0):
    return [train - test + plus for test, train in seeds]


CONTRADICTIONS = {
    "ex1.baseline.overfits": ("baseline_overfits", {"baseline": _gap(F["baseline"], [-0.03] * 3)}, {}),
    "ex1.aug_shift_vs_baseline.test_accuracy": (
        "best_aug_beats_baseline", {n: _shift(F[n], -0.05) for n in AUGS}, {}),
    **{f"ex1.{n}_vs_baseline.train_accuracy": (
        "aug_lowers_train_accuracy", {n: [(test, b + 0.03) for (test, _), (_, b) in zip(F[n], F["baseline"])]}, {})
       for n in AUGS},
    **{f"ex1.{n}_vs_baseline.gap": ("aug_shrinks_gap", {n: _gap(F[n], _gaps(F["baseline"], 0.03))}, {}) for n in AUGS},
    "ex1.best_of_aug_flip+aug_shift+aug_strong.test_accuracy": (
        "vgg_strategy_not_beaten", {"aug_shift": _shift(F["aug_shift"], 0.03)}, {}),
    "relation.share_of_exactly_zero_values_in_aug_shift.pool1_vs_relu2": (
        "pooling_lowers_zero_share", {}, {"pool1": 0.99}),
    "relation.share_of_exactly_zero_values_in_aug_shift.pool2_vs_relu3": (
        "pooling_lowers_zero_share", {}, {"pool2": 0.99}),
    "ex3.vgg.test_accuracy.in_0.8_0.85": ("vgg_in_assignment_range", {"vgg": _shift(F["vgg"], -0.07)}, {}),
    "ex1+3.vgg_vs_baseline.test_accuracy": ("vgg_beats_baseline", {"vgg": _shift(F["vgg"], -0.20)}, {}),
    "ex3.vgg_aug_vs_vgg.gap": ("vgg_aug_shrinks_gap", {"vgg_aug": _gap(F["vgg_aug"], _gaps(F["vgg"], 0.03))}, {}),
    "ex3.vgg.mirror_gain": ("mirror_helps", {"vgg": _mirror(F["vgg"], [-0.004, -0.006, -0.005])}, {}),
    "ex3.vgg_aug.mirror_gain": ("mirror_helps", {"vgg_aug": _mirror(F["vgg_aug"], [-0.003, -0.002, -0.004])}, {}),
}


def test_the_reuse_sentence_calls_the_strategy_mildest_only_when_it_is():
    from experiments import sections

    flips = sections.reuse_sentence("aug_flip", "aug_flip", True, 10)
    assert "10 epochs leave a network little time" in flips and "the mildest one" in flips
    assert flips.endswith("highest mean test accuracy above, and no other strategy clearly beats it "
                          "(asserted; checked in Appendix B).")
    shifts = sections.reuse_sentence("aug_shift", "aug_flip", True, 1)
    assert "mildest" not in shifts and "epoch" not in shifts.split(". Earlier")[0]
    assert "Here **aug_flip** has the higher mean test accuracy, but no strategy clearly beats **aug_shift**" in shifts
    assert sections.reuse_sentence("aug_flip", "aug_flip", True, 1).count("1 epoch leaves") == 1


def test_every_asserted_claim_has_a_contradicting_case(results_full):
    _, claims = _render_profile(results_full, "full", strict=True)
    assert sorted(c.id for c in claims.asserted) == sorted(CONTRADICTIONS)
    from experiments import sections

    assert {conclusion for conclusion, _, _ in CONTRADICTIONS.values()} == {
        k for k in sections.CONCLUSIONS if sections.asserts("full", k)}


@pytest.mark.parametrize("claim_id", sorted(CONTRADICTIONS))
def test_each_asserted_claim_fails_strict_when_the_data_contradicts_it(claim_id):
    from experiments import sections

    conclusion, accuracies, zeros = CONTRADICTIONS[claim_id]
    results = fake_results({**FULL_ACCURACIES, **accuracies}, profile="full")
    visuals = fake_visuals(results)
    model = visuals["models"][visuals["chosen"]["ex1"]["experiment"]]
    for layer, share in zeros.items():
        model["facts"][layer]["zero_fraction"] = share
    with pytest.raises(ReportError) as err:
        _render_profile(results, "full", strict=True, visuals=visuals)
    message = str(err.value)
    # The error names the claim and quotes the prose's sentence that asserts it.
    assert f"- {claim_id} (the prose says: \"{sections.says(conclusion)}\"): the prose expects" in message


def test_section_3_says_what_mirror_averaging_did_to_exercise_1s_runs():
    from conftest import fake_results

    accuracies = {"baseline": [(0.60, 0.75, 0.020)], "aug_flip": [(0.63, 0.70, 0.009)],
                  "aug_shift": [(0.64, 0.68, -0.004)], "aug_strong": [(0.61, 0.64, 0.005)],
                  "vgg": [(0.78, 0.90)], "vgg_aug": [(0.82, 0.86)]}
    text = text_of(render(fake_results(accuracies))[0])
    assert ("mirror averaging changes the test accuracy of its 4 runs by \u22120.4 points (aug_shift) to "
            "+2.0 points (baseline).") in text
    same = {n: [(t, tr, 0.007)] if n.startswith("a") or n == "baseline" else v
            for n, v in accuracies.items() for (t, tr, *_) in v}
    assert "the test accuracy of each of its 4 runs by +0.7 points." in text_of(render(fake_results(same))[0])
    only = {n: v for n, v in accuracies.items() if n in ("aug_flip", "vgg", "vgg_aug")}
    assert "the test accuracy of its run, aug_flip, by +0.9 points." in text_of(render(fake_results(only))[0])
    vgg_only = {n: v for n, v in accuracies.items() if n.startswith("vgg")}
    assert "Exercise 1's runs record" not in text_of(render(fake_results(vgg_only))[0])


def test_section_3_gives_the_vgg_recipes_batch_size_and_its_reason_only_when_it_differs(results_one_seed):
    assert results_one_seed["vgg"]["batch_size"] == config.resolve("vgg", "smoke")["batch_size"] == 64
    text = text_of(render(results_one_seed)[0])
    epochs = f"{results_one_seed['vgg']['epochs']} epochs"
    assert f"batches of 64 and {epochs}. The reasons" in text
    assert ("Batches of 64 instead of Exercise 1's 128 make twice as many weight updates per epoch from the "
            f"same images. With only {epochs}, the network is expected to get further") in text
    assert "the batch size (128 → 64)" in text
    same = {n: {**r, "batch_size": 128} if n.startswith("vgg") else r for n, r in results_one_seed.items()}
    text = text_of(render(same)[0])
    assert f"batches of 128 and {epochs}. The reasons" in text
    assert "Batches of 128 instead" not in text and "Exercise 1's 128 make" not in text and "the batch size (" not in text


def test_section_3_states_each_runs_dropout_rate_and_that_the_two_runs_differ_in_it(results_one_seed):
    # The results record the rate each experiment trained with; the prose below reads it from there.
    assert all(results_one_seed[n]["dropout"] == config.resolve(n, "smoke")["dropout"] for n in ("vgg", "vgg_aug"))
    rate = {"vgg": 0.2, "vgg_aug": 0.1}
    less = {n: {**r, "dropout": rate[n]} if n in rate else r for n, r in results_one_seed.items()}
    text = text_of(render(less)[0])
    assert ("Each dropout sets 20 % of its inputs to zero while training the run without augmentation (the "
            "assignment's rate), and 10 % in the run with flips.") in text
    assert "measures the flips and the dropout rate together" in text
    assert "Augmentation on the deep network with less dropout, expected to narrow" in text
    same = {n: {**r, "dropout": 0.2} if n.startswith("vgg") else r for n, r in results_one_seed.items()}
    text = text_of(render(same)[0])
    assert "Each dropout sets 20 % of its inputs to zero while training (the assignment's rate)." in text
    assert "differ in two settings" not in text and "with less dropout" not in text
    # A rate of 0 keeps the layers but drops nothing, and the prose says so; more dropout with flips
    # gets no reason it does not have.
    none = {n: {**r, "dropout": 0.0} if n == "vgg_aug" else r for n, r in less.items()}
    text = text_of(render(none)[0])
    assert ("and none in the run with flips, whose dropout layers have a rate of 0 and pass their inputs on "
            "unchanged. Flipped images already") in text
    assert "Augmentation on the deep network without dropout, expected" in text
    more = {n: {**r, "dropout": 0.3} if n == "vgg_aug" else r for n, r in less.items()}
    text = text_of(render(more)[0])
    assert "and 30 % in the run with flips. The two runs therefore differ in two settings" in text
    assert "with more dropout, expected" in text and "given less dropout" not in text
    # Results written before the rate was recorded say nothing about it rather than guess.
    old = {n: {k: v for k, v in r.items() if k != "dropout"} for n, r in results_one_seed.items()}
    assert "Each dropout sets" not in text_of(render(old)[0])
