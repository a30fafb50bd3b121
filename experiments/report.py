"""Render the report: prose from `report_src/` + results -> HTML (Jinja2) -> PDF (WeasyPrint).

The prose files are Markdown with Jinja2 expressions. They never contain a hand-typed
result: numbers come from the context below through formatting filters (`pct`, `pts`,
`num`), comparative statements from `claims` (a `ClaimBook` that checks each one
against the data), figures and tables from `figure()` / `table()`, which number them.

Rendering is strict: an undefined name fails the build with the file and line, and
WeasyPrint may read nothing but files inside the build folder.
"""

from __future__ import annotations

import html
import re
import tomllib
from pathlib import Path

from . import atomic
from .claims import ClaimBook, num, pct, pts
from .config import EXPERIMENTS, PROFILES
from .data import CLASS_NAMES
from .errors import ReportError

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
PROSE = ROOT / "report_src"

# The report's sections, in the assignment's order: (number, title, prose file).
SECTIONS = [
    (1, "Data augmentation", "ex1_augmentation.md"),
    (2, "Visualisation of activations", "ex2_visualisation.md"),
    (3, "Deeper models", "ex3_deeper.md"),
    (4, "Analysis of a deep architecture: Inception-v4", "ex4_inception.md"),
    (5, "Review questions", "ex5_review.md"),
]


# --- derived facts (pure) ----------------------------------------------------------------


def curve_facts(metrics: dict) -> dict:
    """Facts about one experiment's curves that the prose comments on."""
    hist = metrics["history"]
    test_loss = hist["test_loss"]
    best = min(range(len(test_loss)), key=test_loss.__getitem__)
    return {
        "best_epoch": hist["epoch"][best],
        "min_test_loss": test_loss[best],
        "final_test_loss": test_loss[-1],
        "final_train_loss": hist["loss"][-1],
        "test_loss_rise": test_loss[-1] - test_loss[best],
        "test_loss_turns_up": best < len(test_loss) - 1,
        "gap": metrics["train_accuracy"] - metrics["test_accuracy"],
        "epochs": len(test_loss),
    }


def layer_series(visuals: dict, exp: str, kind: str, key: str) -> list[tuple[str, float]]:
    """(layer, fact) pairs for every layer of one kind, in the model's order."""
    model = visuals.get("models", {}).get(exp)
    if model is None:
        return []
    order = model["layers"]
    return [(name, model["facts"][name][key]) for name in order if model["facts"][name]["type"] == kind]


def facts_table(visuals: dict, exp: str) -> str:
    """HTML table of the per-layer activation facts of one model."""
    import pandas as pd

    model = visuals["models"][exp]
    order = model["layers"]
    rows = []
    for name in order:
        f = model["facts"][name]
        rows.append({
            "Layer": name, "Type": f["type"].upper(), "Output shape": " × ".join(map(str, f["shape"])),
            "Zero values": pct(f["zero_fraction"]), "Silent channels": f"{f['dead_channels']} / {f['shape'][-1]}",
            "Mean": num(f["mean"], 3), "Max": num(f["max"], 3),
        })
    return pd.DataFrame(rows).to_html(index=False, escape=True, classes="results facts", border=0)


def results_table(results: dict, names: list[str]) -> str:
    """HTML table of final metrics (mean ± std when several seeds ran)."""
    import pandas as pd

    rows = []
    for name in names:
        if name not in results:
            continue
        r = results[name]
        n = r["n_seeds"]

        def cell(metric, fmt):
            text = fmt(r[metric])
            if n > 1:
                text += f" ± {num(100 * r['std'][metric], 1) if fmt is pct else num(r['std'][metric], 3)}"
            return text

        rows.append({
            "Experiment": name,
            "Augmentation": r["augmentation"] or "none",
            "Train acc.": cell("train_accuracy", pct),
            "Test acc.": cell("test_accuracy", pct),
            "Gap": pts(100 * (r["train_accuracy"] - r["test_accuracy"])).replace(" points", "").replace(" point", ""),
            "Train loss": cell("train_loss", lambda v: num(v, 3)),
            "Test loss": cell("test_loss", lambda v: num(v, 3)),
            "Epochs": str(r["epochs"]),
            "n": str(n),
            "Time": f"{r['train_seconds']:.0f} s",
        })
    if not rows:
        return "<p class='missing'>No results yet.</p>"
    return pd.DataFrame(rows).to_html(index=False, escape=True, classes="results", border=0)


# --- rendering ------------------------------------------------------------------------------


class Numbering:
    """Numbers figures and tables in order of first use and keeps their HTML aside.

    The prose goes through Markdown, so figure() and table() return a placeholder
    paragraph that is swapped for the real block after conversion.
    """

    def __init__(self, figures: dict[str, dict]):
        self.figures = figures
        self.blocks: dict[str, str] = {}
        self.counts = {"figure": 0, "table": 0}
        self.used: list[dict] = []

    def _place(self, kind: str, block: str) -> str:
        token = f"PW09BLOCK{len(self.blocks):04d}X"
        self.blocks[token] = block
        return f"\n\n{token}\n\n"

    def figure(self, fig_id: str, width: str = "100%") -> str:
        if fig_id not in self.figures:
            known = ", ".join(sorted(self.figures)) or "none"
            raise ReportError(f"the prose asks for figure {fig_id!r}, which the build did not draw (known: {known}).")
        rec = self.figures[fig_id]
        self.counts["figure"] += 1
        n = self.counts["figure"]
        self.used.append(rec)
        block = (
            f'<figure id="fig-{html.escape(fig_id)}"><img src="figures/{html.escape(rec["path"])}" '
            f'style="width:{html.escape(width)}" alt="{html.escape(rec["caption"])}">'
            f"<figcaption><b>Figure {n}.</b> {html.escape(rec['caption'])}</figcaption></figure>"
        )
        return self._place("figure", block)

    def table(self, table_html: str, caption: str) -> str:
        self.counts["table"] += 1
        n = self.counts["table"]
        block = (f'<div class="table"><p class="caption"><b>Table {n}.</b> {html.escape(caption)}</p>'
                 f"{table_html}</div>")
        return self._place("table", block)

    def restore(self, text: str) -> str:
        for token, block in self.blocks.items():
            text = text.replace(f"<p>{token}</p>", block).replace(token, block)
        return text


def jinja_env():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(TEMPLATES), str(PROSE)]),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "j2"), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(pct=pct, pts=pts, num=num, lower_first=lambda s: s[:1].lower() + s[1:])
    return env


def _template_error(exc, default_name: str) -> ReportError:
    """Turn a Jinja2 error into one sentence naming the file and line."""
    import jinja2

    name, line = default_name, getattr(exc, "lineno", None)
    if isinstance(exc, jinja2.TemplateSyntaxError):
        name = exc.filename or exc.name or default_name
    else:
        import traceback

        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if frame.filename.endswith((".md", ".j2", ".html")):
                name, line = frame.filename, frame.lineno
                break
    where = f"{Path(name).name}, line {line}" if line else Path(name).name
    return ReportError(f"cannot render {where}: {exc}; fix the template or prose there.")


def render_markdown(env, name: str, context: dict, numbering: Numbering) -> str:
    """Jinja2 first (values, claims, placeholders), then Markdown -> HTML, then blocks."""
    import jinja2
    import markdown

    try:
        text = env.get_template(name).render(context)
    except (jinja2.TemplateError, ReportError) as exc:
        if isinstance(exc, ReportError):
            raise
        raise _template_error(exc, name) from None
    converted = markdown.markdown(text, extensions=["tables", "attr_list", "footnotes", "sane_lists"])
    return numbering.restore(converted)


def load_meta() -> dict:
    path = PROSE / "report.toml"
    try:
        meta = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ReportError(f"cannot read {path}: {exc}; fix that file.") from None
    missing = {"course", "school", "pw", "title", "authors", "date"} - set(meta)
    if missing:
        raise ReportError(f"{path} lacks {', '.join(sorted(missing))}; add them (see the comments in that file).")
    if meta["date"] == "auto":
        import datetime

        meta["date"] = datetime.date.today().strftime("%d %B %Y").lstrip("0")
    return meta


def build_context(results: dict, problems: dict, figures: dict, visuals: dict, provenance: dict,
                  profile: str, strict: bool) -> tuple[dict, ClaimBook, Numbering]:
    claims = ClaimBook(results, facts=visuals, strict=strict)
    numbering = Numbering(figures)
    context = {
        "meta": load_meta(),
        "profile": profile,
        "profile_info": PROFILES[profile],
        "R": results,
        "problems": problems,
        "E": EXPERIMENTS,
        "F": {name: curve_facts(m) for name, m in results.items()},
        # Settings every experiment shares (read from a result, so they are what ran).
        "common": next(iter(results.values()), None),
        "V": visuals,
        "claims": claims,
        "prov": provenance,
        "figure": numbering.figure,
        "table": numbering.table,
        "results_table": lambda names: results_table(results, names),
        "facts_table": lambda exp: facts_table(visuals, exp),
        "series": lambda exp, kind, key: layer_series(visuals, exp, kind, key),
        "fig_ids": lambda exp, kind: [r["id"] for r in visuals.get("models", {}).get(exp, {}).get("figures", [])
                                      if r["kind"] == kind],
        "has": lambda *names: all(n in results for n in names),
        "num": num, "pct": pct, "pts": pts,
        "classes": CLASS_NAMES,
        "c1_best": visuals.get("chosen", {}).get("ex1", {}).get("experiment"),
        "full_epochs_deep": PROFILES["full"]["epochs"]["deep"],
        "ex1_names": [n for n, e in EXPERIMENTS.items() if e["exercise"] == 1],
        "ex3_names": [n for n, e in EXPERIMENTS.items() if e["exercise"] == 3],
    }
    return context, claims, numbering


def render_html(results: dict, problems: dict, figures: dict, visuals: dict, provenance: dict,
                profile: str, strict: bool = False) -> tuple[str, ClaimBook]:
    """The whole report as one HTML string (pure: reads only templates and prose)."""
    import markupsafe

    env = jinja_env()
    context, claims, numbering = build_context(results, problems, figures, visuals, provenance, profile, strict)
    sections = []
    for number, title, prose in SECTIONS:
        body = render_markdown(env, prose, context, numbering)
        sections.append({"number": number, "title": title, "id": f"ex{number}", "html": markupsafe.Markup(body)})
    references = markupsafe.Markup(render_markdown(env, "references.md", context, numbering))
    intro = markupsafe.Markup(render_markdown(env, "intro.md", context, numbering))
    try:
        page = env.get_template("report.html.j2").render(
            context, sections=sections, intro=intro, references=references,
            claim_records=claims.records, css=(TEMPLATES / "style.css").read_text(encoding="utf-8"),
        )
    except Exception as exc:
        import jinja2

        if isinstance(exc, jinja2.TemplateError):
            raise _template_error(exc, "report.html.j2") from None
        raise
    claims.check_strict()
    return page, claims


# --- PDF ----------------------------------------------------------------------------------


def safe_fetcher(allowed_root: Path):
    """A WeasyPrint URL fetcher that reads only files under `allowed_root`.

    http(s), ftp and any file outside the build folder are refused, so a template can
    neither leak a request to the network nor embed a file from elsewhere on disk.
    """
    from urllib.parse import unquote, urlparse

    from weasyprint.urls import URLFetcher

    root = Path(allowed_root).resolve()

    class BuildFolderFetcher(URLFetcher):
        refused: list[str] = []

        def fetch(self, url, headers=None):
            parsed = urlparse(url)
            if parsed.scheme == "data":
                return super().fetch(url, headers)
            if parsed.scheme == "file":
                path = Path(unquote(parsed.path)).resolve()
                if path.is_relative_to(root):
                    return super().fetch(url, headers)
            self.refused.append(url)
            raise ValueError(f"refused to fetch {url}: only files inside {root} may be embedded")

    return BuildFolderFetcher()


def write_pdf(html_text: str, base_dir: Path, out_path: Path, allowed_root: Path) -> list[str]:
    """Render `html_text` to `out_path`; returns the URLs the fetcher refused."""
    import logging

    import weasyprint

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    fetcher = safe_fetcher(allowed_root)
    document = weasyprint.HTML(string=html_text, base_url=str(base_dir) + "/", url_fetcher=fetcher)
    with atomic.atomic_path(out_path) as tmp:
        document.write_pdf(tmp)
    return list(fetcher.refused)


def strip_tags(text: str) -> str:
    return re.sub(r"<[^>]+>", "", text)
