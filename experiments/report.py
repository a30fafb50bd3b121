"""Render the report: prose from `report_src/` + results -> HTML (Jinja2) -> PDF (WeasyPrint).

The prose files are Markdown with Jinja2 expressions. They never contain a hand-typed
result: numbers come from the context below through formatting filters (`pct`, `pts`,
`num`), comparative statements from `claims` (a `ClaimBook` that checks each one
against the data), figures and tables from `figure()` / `table()`, which number them in
the order they appear in the document, and `ref()` refers to them by that number.

Question headings are Markdown `###` headings that start with the question's id
("### 1 a) ...", "### 3 ..."): they get an anchor (`q1a`, `q3`) and a line in the
table of contents.

Rendering is strict: an undefined name fails the build with the file and line, and
WeasyPrint may read nothing but files inside the build folder. The prose cannot run
code: Jinja2 runs sandboxed, and raw HTML is cut to an allow-list (`html_guard`).
"""

from __future__ import annotations

import html
import re
import tomllib
from pathlib import Path

from . import atomic, sections
from .claims import ClaimBook
from .formats import article, bold, delta, join_and, num, pct, pts, thousands
from .config import EXPERIMENTS, PROFILES
from .data import CLASS_NAMES
from .errors import ReportError
from .html_guard import clean_html
from .tables import html_table

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


def results_table(results: dict, names: list[str], mirror: bool = False) -> str:
    """HTML table of final metrics (mean ± sd over seeds when several ran); with `mirror`,
    also the test accuracy with each image's prediction averaged with its mirror image's."""
    import pandas as pd

    def cell(r, metric, fmt, sd_fmt):
        return fmt(r[metric]) + (f" ± {sd_fmt(r['std'][metric])}" if r["n_seeds"] > 1 else "")

    acc = (pct, lambda v: num(100 * v, 1))
    loss = (lambda v: num(v, 3), lambda v: num(v, 3))
    rows = [{"Experiment": name, "Augmentation": r["augmentation"] or "none",
             "Train acc.": cell(r, "train_accuracy", *acc), "Test acc.": cell(r, "test_accuracy", *acc),
             **({"Test acc., mirror-averaged": cell(r, "test_accuracy_mirror", *acc)} if mirror else {}),
             "Gap (points)": delta(r["train_accuracy"] - r["test_accuracy"]),
             "Train loss": cell(r, "train_loss", *loss), "Test loss": cell(r, "test_loss", *loss),
             "Epochs": str(r["epochs"]), "Images": f"{r['train_size']:,}", "Seeds": str(r["n_seeds"]),
             "Time": f"{r['train_seconds']:.0f} s"}
            for name in names if name in results for r in [results[name]]]
    return html_table(pd.DataFrame(rows), "results", "ll" + "r" * (len(rows[0]) - 2) if rows else "ll")


# What each Keras augmentation layer does, in words, from its recorded arguments.
def describe_augmentation_layer(layer: dict) -> str:
    kind = layer.get("layer", "?")
    args = {k: v for k, v in layer.items() if k != "layer"}

    def frac(key):
        v = args.get(key)
        return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    if kind == "RandomFlip" and set(args) <= {"mode"}:
        mode = args.get("mode", "horizontal_and_vertical")
        what = {"horizontal": "left–right", "vertical": "top–bottom",
                "horizontal_and_vertical": "left–right and top–bottom"}.get(mode)
        if what:
            return f"mirror {what} with probability 1/2" if mode != "horizontal_and_vertical" else \
                f"mirror {what}, each with probability 1/2"
    if kind == "RandomTranslation" and frac("height_factor") is not None and frac("width_factor") is not None \
            and set(args) <= {"height_factor", "width_factor"}:
        return (f"shift by up to ±{pct(args['height_factor'], 0)} of the height and "
                f"±{pct(args['width_factor'], 0)} of the width")
    if kind == "RandomRotation" and frac("factor") is not None and set(args) <= {"factor"}:
        return f"rotate by up to ±{num(360 * args['factor'], 1)}°"
    if kind == "RandomZoom" and frac("height_factor") is not None and set(args) <= {"height_factor", "width_factor"}:
        return f"zoom in or out by up to {pct(args['height_factor'], 0)}"
    return ", ".join(f"{k} = {v}" for k, v in args.items()) or "default settings"


def strategies_table(results: dict, names: list[str]) -> str:
    """One row per augmentation layer of each experiment, as recorded with its results."""
    import markupsafe
    import pandas as pd

    rows = []
    for name in (n for n in names if n in results):
        r = results[name]
        strategy = r["augmentation"] or "none"
        layers = r.get("augmentation_layers") or []
        if not layers:
            rows.append([name, strategy, "—", "no augmentation"])
        for i, layer in enumerate(layers):
            args = ", ".join(f"{k}={v}" for k, v in layer.items() if k != "layer")
            code = markupsafe.Markup("<code>{}</code>({})").format(layer.get("layer", "?"), args)
            rows.append([name if i == 0 else "", strategy if i == 0 else "", code, describe_augmentation_layer(layer)])
    columns = ["Experiment", "Strategy", "Keras layer (in order)", "Effect while training"]
    return html_table(pd.DataFrame(rows, columns=columns), "results strategies", "llll")


def _diff_cell(claim) -> str:
    """A table cell for one paired difference: "+2.6 (+1.3 to +3.7)" or "+2.6 (1 run)"."""
    n = claim.numbers
    if "difference" not in n:
        return "—"
    text = delta(n["difference"])
    if n.get("difference_ci_lo") is None:
        return f"{text} (1 run)"
    return f"{text} ({delta(n['difference_ci_lo'])} to {delta(n['difference_ci_hi'])})"


def comparison_table(claims: ClaimBook, results: dict, names: list[str], base: str,
                     recorded: dict | None = None) -> str:
    """Each experiment against `base`: paired differences (checked claims); the values
    themselves are in the results table.

    `recorded` ({metric: {name: Claim}}) gives claims the section facts already made,
    with the expectation the prose asserts; the others are made here, asserting nothing.
    """
    import pandas as pd

    recorded = recorded or {}
    columns = {"test_accuracy": "Δ test accuracy", "train_accuracy": "Δ train accuracy", "gap": "Δ gap"}
    rows = [{"Experiment": name, **{label: _diff_cell(recorded.get(metric, {}).get(name)
                                                      or claims.compare(metric, name, base).claim)
                                    for metric, label in columns.items()}}
            for name in names if name in results]
    return html_table(pd.DataFrame(rows), "results compare")


def overfitting_table(results: dict, names: list[str]) -> str:
    """The curve facts the answer to 1 b) rests on, one row per experiment."""
    import pandas as pd

    rows = []
    for name in (n for n in names if n in results):
        f = curve_facts(results[name])
        rows.append({"Experiment": name, "Lowest test loss (epoch)": f"{num(f['min_test_loss'])} (epoch {f['best_epoch']})",
                     "Final test loss": num(f["final_test_loss"]),
                     "Test loss rises after its minimum?":
                         f"yes, by {num(f['test_loss_rise'])}" if f["test_loss_turns_up"] else "no",
                     "Final training loss (curve)": num(f["final_train_loss"]), "Final gap (points)": delta(f["gap"])})
    return html_table(pd.DataFrame(rows), "results overfit", "lrrlrr")


# --- rendering ------------------------------------------------------------------------------


class Numbering:
    """Numbers figures and tables in the order they appear in the document.

    The prose goes through Markdown, so figure() and table() return a placeholder
    paragraph; `restore()` (called on each section's HTML, in document order) numbers
    the placeholders and swaps in the real blocks. A Markdown table followed by a
    paragraph "*Table: caption*" becomes a numbered table too. `ref(id)` returns a
    placeholder that `resolve_refs()` turns into "Figure n" / "Table n" at the end.
    """

    TOKEN = re.compile(
        r"<p>(PW09BLOCK\d{4}X)</p>|(PW09BLOCK\d{4}X)"
        r"|(<table>(?:(?!</table>).)*</table>)\s*<p><em>Table:\s*(.*?)</em>(.*?)</p>", re.S)
    REF = re.compile(r"PW09REF(\d{4})([NL])X")

    def __init__(self, figures: dict[str, dict]):
        self.figures = figures
        self.blocks: dict[str, tuple[str, str, str]] = {}  # token -> (kind, id, html with {n})
        self.counts = {"figure": 0, "table": 0}
        self.numbers: dict[str, tuple[str, int]] = {}  # id -> (kind, number)
        self.refs: list[str] = []

    def _place(self, kind: str, block_id: str, block: str) -> str:
        if block_id in self.numbers or any(b[1] == block_id for b in self.blocks.values()):
            raise ReportError(f"the prose places {kind} {block_id!r} twice; place it once and refer to it with ref().")
        token = f"PW09BLOCK{len(self.blocks):04d}X"
        self.blocks[token] = (kind, block_id, block)
        return f"\n\n{token}\n\n"

    @staticmethod
    def default_width(rec: dict) -> str:
        """The printed width of a figure, by kind."""
        # Grids are drawn 7 in wide with 6.5-pt tile labels: at the full text width (about
        # 6.5 in) the labels print at 6 pt, so no grid is shrunk below it.
        kind = rec.get("kind")
        if kind in ("activations", "filters", "misclassified"):
            return "100%"
        if kind == "input":
            return "72%"
        if kind == "augmentation":
            return "62%"
        if kind == "confusion":  # one matrix, or several side by side at the full width
            return "58%" if len(rec.get("experiments", [None])) == 1 else "100%"
        if kind == "schematic":
            return "85%"  # a wide two-row diagram: its 9-pt labels print at about 7 pt
        return "100%"

    # Boilerplate that activation captions repeat: said in full on the first grid only.
    GRID_BOILERPLATE = [
        (re.compile(r": all \d+ channels, one tile per channel labelled with its index, drawn pixel for pixel\."), "."),
        (re.compile(r"One colour scale is shared by every tile of the layer \(one colour bar\): "), "Colour scale: "),
        (re.compile(r", so tiles compare directly"), ""),
    ]

    def caption(self, rec: dict) -> str:
        """The caption of a figure; activation grids after the first placed drop the shared boilerplate."""
        text = rec["caption"]
        placed = (self.figures[block_id[4:]] for kind, block_id, _ in self.blocks.values() if kind == "figure")
        if rec.get("kind") == "activations" and any(r.get("kind") == "activations" for r in placed):
            for pattern, repl in self.GRID_BOILERPLATE:
                text = pattern.sub(repl, text)
        return text

    def figure(self, fig_id: str, width: str | None = None) -> str:
        if fig_id not in self.figures:
            known = ", ".join(sorted(self.figures)) or "none"
            raise ReportError(f"the prose asks for figure {fig_id!r}, which the build did not draw (known: {known}).")
        rec = self.figures[fig_id]
        width = width or self.default_width(rec)
        block = (
            f'<figure id="fig-{html.escape(fig_id)}"><img src="figures/{html.escape(rec["path"])}" '
            f'style="width:{html.escape(width)}" alt="{html.escape(rec["caption"])}">'
            f"<figcaption><b>Figure {{n}}.</b> {html.escape(self.caption(rec))}</figcaption></figure>"
        )
        return self._place("figure", f"fig-{fig_id}", block)

    def table(self, table_html: str, caption: str, table_id: str | None = None) -> str:
        table_id = f"tab-{table_id}" if table_id else f"tab-{len(self.blocks):04d}"
        block = (f'<div class="table" id="{html.escape(table_id)}"><p class="caption"><b>Table {{n}}.</b> '
                 f"{html.escape(caption)}</p>{table_html}</div>")
        return self._place("table", table_id, block)

    def ref(self, block_id: str, label: bool = True) -> str:
        """"Figure n" / "Table n" (or just "n" with label=False) for a placed block.

        `block_id` is a figure id, or "tab-" + the id given to table()."""
        key = block_id if block_id.startswith("tab-") else f"fig-{block_id}"
        self.refs.append(key)
        return f"PW09REF{len(self.refs) - 1:04d}{'L' if label else 'N'}X"

    def _number(self, kind: str, block_id: str) -> int:
        self.counts[kind] += 1
        self.numbers[block_id] = (kind, self.counts[kind])
        return self.counts[kind]

    def restore(self, text: str) -> str:
        def swap(match):
            token = match.group(1) or match.group(2)
            if token:
                kind, block_id, block = self.blocks[token]
                return block.replace("{n}", str(self._number(kind, block_id)), 1)
            table, caption, rest = match.group(3), match.group(4), match.group(5)
            block_id = f"tab-md{self.counts['table'] + 1}"
            n = self._number("table", block_id)
            table = table.replace("<table>", '<table class="paper">', 1)
            return (f'<div class="table" id="{block_id}"><p class="caption"><b>Table {n}.</b> '
                    f"{caption[:1].upper()}{caption[1:]}{rest}</p>{table}</div>")

        return self.TOKEN.sub(swap, text)

    def resolve_refs(self, text: str) -> str:
        def swap(match):
            key = self.refs[int(match.group(1))]
            if key not in self.numbers:
                placed = ", ".join(sorted(self.numbers)) or "none"
                raise ReportError(f"the prose refers to {key!r}, which is not placed in the report "
                                  f"(placed: {placed}); place it with figure()/table() or fix the id.")
            kind, n = self.numbers[key]
            label = f"{kind.capitalize()} {n}" if match.group(2) == "L" else str(n)
            return f'<a class="ref" href="#{key}">{label}</a>'

        return self.REF.sub(swap, text)


ABSOLUTE_PATH = re.compile(r"(?<![\w.])(?:/[^\s/()]+)+/([^\s/()]+)")


def without_dirs(text) -> str:
    """Absolute paths in `text` reduced to their file names (the report names data by file name and fingerprint)."""
    return ABSOLUTE_PATH.sub(r"\1", str(text))


def jinja_env(templates_dir: Path = TEMPLATES, prose_dir: Path = PROSE):
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    # Sandboxed: a grader may build a student's submission, and the prose must not run code.
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader([str(templates_dir), str(prose_dir)]),
        undefined=jinja2.StrictUndefined,
        # Values are escaped in the prose too (a data path may hold "<"); Markdown, not raw
        # HTML, is how the prose says what it means.
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "j2", "md"), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        pct=pct, pts=pts, num=num, lower_first=lambda s: s[:1].lower() + s[1:],
        upper_first=lambda s: s[:1].upper() + s[1:],
        join_and=join_and, thousands=thousands, article=article, without_dirs=without_dirs,
        bold=bold,
    )
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


QUESTION_HEADING = re.compile(r"<h3>(\d)(?:\s+([a-z])\))?\s+(.+?)</h3>", re.S)


def mark_questions(body: str, toc: list[dict]) -> str:
    """Give every question heading ("1 a) ...", "3 ...") an anchor and a TOC line."""
    def swap(match):
        number, letter, title = match.group(1), match.group(2), match.group(3)
        qid = f"{number} {letter})" if letter else number
        anchor = f"q{number}{letter or ''}"
        toc.append({"qid": qid, "anchor": anchor, "title": re.sub(r"<[^>]+>", "", title)})
        return f'<h3 id="{anchor}" class="question"><span class="qid">{qid}</span> {title}</h3>'

    return QUESTION_HEADING.sub(swap, body)


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
    return numbering.restore(clean_html(converted))


AUTHOR_PLACEHOLDER = re.compile(r"^\s*\(.*\)\s*$")


def load_meta(prose_dir: Path = PROSE) -> dict:
    path = prose_dir / "report.toml"
    try:
        meta = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ReportError(f"cannot read {path}: {exc}; fix that file.") from None
    missing = {"course", "school", "pw", "title", "authors", "date"} - set(meta)
    if missing:
        raise ReportError(f"{path} lacks {', '.join(sorted(missing))}; add them (see the comments in that file).")
    if isinstance(meta["authors"], str):
        meta["authors"] = [meta["authors"]]
    # Names still to be filled in are shown as such on the cover, never silently dropped.
    meta["authors_missing"] = not meta["authors"] or any(AUTHOR_PLACEHOLDER.match(a) for a in meta["authors"])
    if meta["date"] == "auto":
        import datetime

        meta["date"] = datetime.date.today().strftime("%d %B %Y").lstrip("0")
    return meta


def build_context(results: dict, problems: dict, figures: dict, visuals: dict, provenance: dict,
                  profile: str, strict: bool, prose_dir: Path = PROSE,
                  analysis: dict | None = None) -> tuple[dict, ClaimBook, Numbering]:
    # Claims name experiments by the short ids the tables and figure legends use.
    claims = ClaimBook(results, facts=visuals, strict=strict, names={n: n for n in EXPERIMENTS})
    numbering = Numbering(figures)
    analysis = analysis or {}
    S = sections.context(claims, results, visuals, analysis, profile, len(provenance.get("seeds") or [1]))
    context = {
        "S": S,
        # Each section's facts under a short name, so the prose reads {{ ex1.improvement }}.
        "intro": S["intro"], "ex1": S["ex1"], "ex2": S["ex2"], "ex3": S["ex3"],
        # " (asserted; checked in Appendix B)" after a conclusion this profile's prose asserts.
        "checked": lambda conclusion: sections.checked(profile, conclusion),
        # Several figures at once, in order; those the build did not draw are left out.
        "figures": lambda ids: "".join(numbering.figure(i) for i in ids if i in figures),
        "activity_table": lambda exp: sections.activity_table(visuals, exp),
        "analysis": analysis,
        "has_figure": lambda fig_id: fig_id in figures,
        # Optional blocks (the analysis step's): placed when the build made them, else nothing.
        "figure_if": lambda fig_id: numbering.figure(fig_id) if fig_id in figures else "",
        "table_if": lambda html_text, caption, table_id: numbering.table(html_text, caption, table_id) if html_text else "",
        "layer_table": lambda model: sections.layer_table(analysis, model),
        "meta": load_meta(prose_dir),
        "profile": profile,
        "profile_info": PROFILES[profile],
        "R": results,
        "problems": problems,
        "E": EXPERIMENTS,
        "F": {name: curve_facts(m) for name, m in results.items()},
        "V": visuals,
        "claims": claims,
        "prov": provenance,
        "figure": numbering.figure,
        "table": numbering.table,
        "ref": numbering.ref,
        "results_table": lambda names, mirror=False: results_table(results, names, mirror),
        "strategies_table": lambda names: strategies_table(results, names),
        "comparison_table": lambda names, base: comparison_table(
            claims, results, names, base, S["ex1"].get("claims") if base == "baseline" else None),
        "overfitting_table": lambda names: overfitting_table(results, names),
        "has": lambda *names: all(n in results for n in names),
        "total_train_seconds": sum(sum(r["per_seed"]["train_seconds"]) for r in results.values()),
        "num": num, "pct": pct, "pts": pts,
        "classes": CLASS_NAMES,
        "ex1_names": [n for n, e in EXPERIMENTS.items() if e["exercise"] == 1],
        "ex3_names": [n for n, e in EXPERIMENTS.items() if e["exercise"] == 3],
    }
    return context, claims, numbering


def render_html(results: dict, problems: dict, figures: dict, visuals: dict, provenance: dict,
                profile: str, strict: bool = False, *, templates_dir: Path | None = None,
                prose_dir: Path | None = None, analysis: dict | None = None) -> tuple[str, ClaimBook]:
    """The whole report as one HTML string (pure: reads only templates and prose).

    `templates_dir` / `prose_dir` replace `templates/` and `report_src/` (tests use them).
    `analysis` holds the analysis step's artifacts (per-class results, layer tables, ...);
    empty or None for a build without them, which still renders.
    """
    import markupsafe

    templates_dir = Path(templates_dir or TEMPLATES)
    prose_dir = Path(prose_dir or PROSE)
    env = jinja_env(templates_dir, prose_dir)
    context, claims, numbering = build_context(results, problems, figures, visuals, provenance, profile,
                                               strict, prose_dir, analysis)
    intro = markupsafe.Markup(render_markdown(env, "intro.md", context, numbering))
    sections = []
    for number, title, prose in SECTIONS:
        questions: list[dict] = []
        body = mark_questions(render_markdown(env, prose, context, numbering), questions)
        sections.append({"number": number, "title": title, "id": f"ex{number}", "html": markupsafe.Markup(body),
                         "questions": questions})
    references = markupsafe.Markup(render_markdown(env, "references.md", context, numbering))
    try:
        css = (templates_dir / "style.css").read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot read the stylesheet: {exc}; restore templates/style.css.") from None
    try:
        page = env.get_template("report.html.j2").render(
            context, sections=sections, intro=intro, references=references,
            css=markupsafe.Markup(css),
        )
    except Exception as exc:
        import jinja2

        if isinstance(exc, jinja2.TemplateError):
            raise _template_error(exc, "report.html.j2") from None
        raise
    page = numbering.resolve_refs(page)
    claims.check_strict()
    return typeset(page), claims


def typeset(page: str) -> str:
    """A no-break space between a number and its unit ("%", "point", "points"), so that a
    line never starts with the unit (the PDF broke "80.0–85.0 %" before its "%"), and a
    minus sign, not a hyphen, in front of a negative number ("−1.6 points"). Only text is
    touched: tags, and the stylesheets with their own numbers, pass as they are."""
    def text(piece: str) -> str:
        piece = re.sub(r"(\d) (%|points?\b)", "\\1\u00a0\\2", piece)
        return re.sub(r"(?<![\w.-])-(?=\d)", "\u2212", piece)

    pieces = re.split(r"(<style\b.*?</style>|<[^>]*>)", page, flags=re.S)
    return "".join(piece if i % 2 else text(piece) for i, piece in enumerate(pieces))


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
