"""Build each report section's facts and sentences in Python, so the prose only substitutes them.

The answers in `report_src/` are prose a student can edit. Everything that needs logic
(lists of names, "a"/"an", arithmetic, which experiments went which way, the checked
claims and what the prose asserts with them) is computed here and handed to the
templates as plain strings and numbers.

What the prose asserts: a conclusion written in the prose's own words is a claim with an
`expect=`, so the data can contradict it and a `--strict` build then fails. `ASSERTED_IN`
lists, for each such conclusion, the profiles in which the prose states it: the smoke
profile (a few hundred images, one or two epochs) asserts nothing about the science.
"""

from __future__ import annotations

from typing import Mapping

from . import stats
from .claims import ClaimBook
from .config import AUGMENTATIONS, DEFAULT_IMAGE_INDEX, EXPERIMENTS
from .data import CLASS_NAMES
from .formats import article, join_and, num, pct, points, pts, thousands

# Conclusion -> the profiles in which the prose asserts it (and the data may contradict it).
ASSERTED_IN: dict[str, set[str]] = {
    "aug_lowers_train_accuracy": {"full", "quick"},
    "aug_shrinks_gap": {"full", "quick"},
    "best_aug_beats_baseline": {"full"},
    "vgg_strategy_not_beaten": {"full"},
    "pooling_lowers_zero_share": {"full", "quick"},
    "vgg_beats_baseline": {"full"},
    "vgg_in_assignment_range": {"full"},
    "vgg_aug_shrinks_gap": {"full", "quick"},
}

# The assignment: "should bring your performance around 80-85% on CIFAR10" (Exercise 3).
ASSIGNMENT_RANGE = (0.80, 0.85)


def asserts(profile: str, conclusion: str) -> bool:
    """Whether the prose of `profile` states `conclusion` (and so checks it)."""
    return profile in ASSERTED_IN[conclusion]


def bold(names) -> list[str]:
    return [f"**{n}**" for n in names]


# --- differences and their uncertainty ------------------------------------------------------


def diff_phrase(claim) -> str:
    """"+1.4 points, 95 % CI +0.6 to +2.2" or "+1.4 points, one run"."""
    n = claim.numbers
    d = pts(n["difference"])
    if n.get("difference_ci_lo") is None:
        return f"{d}, one run"
    return f"{d}, 95 % CI {num(100 * n['difference_ci_lo'], 1, True)} to {num(100 * n['difference_ci_hi'], 1, True)}"


def detectable(claim) -> str:
    """Half the width of a difference's interval, in points: below it, no effect is visible."""
    n = claim.numbers
    return points((n["difference_ci_hi"] - n["difference_ci_lo"]) / 2, 1, sign=False)


def unclear_sentence(claims_by_name: Mapping, metric_label: str) -> str:
    """"No clear change" said properly: what the interval spans and what it cannot detect."""
    names = list(claims_by_name)
    if not names:
        return ""
    widest = max(names, key=lambda n: claims_by_name[n].numbers["difference_ci_hi"]
                 - claims_by_name[n].numbers["difference_ci_lo"])
    c = claims_by_name[widest]
    seeds = c.numbers["difference_n"]
    parts = join_and(f"**{n}** ({diff_phrase(claims_by_name[n])})" for n in names)
    return (f"For {parts} the interval includes zero. That is not evidence of *no* effect: with "
            f"{seeds} seeds the interval spans ±{detectable(c)} around the mean, so a change in "
            f"{metric_label} smaller than about that cannot be detected here.")


def single_sentence(claims_by_name: Mapping, metric_label: str, spread: float | None) -> str:
    """Single-run differences, told apart by size against the seed-to-seed spread if measured."""
    names = list(claims_by_name)
    if not names:
        return ""
    parts = join_and(f"{pts(claims_by_name[n].numbers['difference'])} for **{n}**" for n in names)
    text = f"In single runs the {metric_label} differs from the baseline's by {parts}."
    if spread is None:
        return (text + " One seed gives no interval and this build measures no seed-to-seed spread, "
                "so none of these differences is settled; the larger ones are less likely to be noise.")
    big = [n for n in names if abs(claims_by_name[n].numbers["difference"]) > 3 * spread]
    small = [n for n in names if n not in big]
    out = text + f" The seed-to-seed spread measured in this build is {points(spread, 1, sign=False)} (sd)"
    if big:
        out += f"; the differences of {join_and(bold(big))} are several times larger than that"
    if small:
        out += f"; those of {join_and(bold(small))} are within a few spreads of zero and unsettled"
    return out + "."


def spread_of(results: Mapping, names, metric: str = "test_accuracy") -> float | None:
    """The largest seed-to-seed standard deviation of `metric` among `names` (None with one seed)."""
    sds = [results[n]["std"][metric] for n in names if n in results and results[n]["n_seeds"] > 1]
    return max(sds) if sds else None


def split(claims_by_name: Mapping) -> dict[str, dict]:
    """Claims grouped by what the data found: higher, lower, unclear, single."""
    out = {k: {} for k in (stats.HIGHER, stats.LOWER, stats.UNCLEAR, stats.SINGLE, "missing")}
    for name, c in claims_by_name.items():
        out[c.found if c.found in out else "missing"][name] = c
    return out


def listed(group: Mapping) -> str:
    return join_and(f"**{n}** ({diff_phrase(c)})" for n, c in group.items())


# --- the training recipes -------------------------------------------------------------------


SCHEDULES = {
    "constant": "a constant learning rate",
    "warmup_cosine": "a linear warm-up followed by a cosine decay to zero",
}


def recipe(result: Mapping) -> dict:
    """The optimiser settings one result was trained with, as words and numbers."""
    optimizer = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD"}.get(result["optimizer"], result["optimizer"])
    warm = result.get("warmup_epochs", 0)
    schedule = SCHEDULES.get(result.get("schedule", "constant"), result.get("schedule", "constant"))
    if result.get("schedule") == "warmup_cosine":
        first = "the first epoch" if warm == 1 else f"the first {warm} epochs"
        schedule = f"a linear warm-up over {first} to the peak learning rate, then a cosine decay to zero at the last epoch"
    return {
        "optimizer": optimizer,
        "learning_rate": f"{result['learning_rate']:g}",
        "weight_decay": f"{result.get('weight_decay', 0.0):g}",
        "schedule": schedule,
        "label_smoothing": f"{result.get('label_smoothing', 0.0):g}",
        "smoothed": result.get("label_smoothing", 0.0) > 0,
        "decayed": result.get("weight_decay", 0.0) > 0,
        "batch_size": result["batch_size"],
        "epochs": f"{result['epochs']} epoch{'s' if result['epochs'] != 1 else ''}",
        # Keras' label smoothing over K classes: targets 1 - s + s/K and s/K.
        "true_target": num(1 - result.get("label_smoothing", 0.0) + result.get("label_smoothing", 0.0) / 10, 2),
        "other_target": num(result.get("label_smoothing", 0.0) / 10, 2),
    }


# --- Exercise 1 ------------------------------------------------------------------------------


def nested_strategies(names) -> list[str]:
    """The augmented Exercise-1 experiments, from the fewest augmentation layers to the most."""
    return sorted(names, key=lambda n: len(AUGMENTATIONS[EXPERIMENTS[n]["augmentation"]]))


def ex1(claims: ClaimBook, results: Mapping, profile: str) -> dict:
    """The facts and sentences of 1 a), 1 b) and 1 c)."""
    names = [n for n, e in EXPERIMENTS.items() if e["exercise"] == 1]
    augs = nested_strategies([n for n in names if n != "baseline" and n in results])
    out: dict = {"augs": augs, "ready": "baseline" in results and bool(augs)}
    if "baseline" in results:
        b = results["baseline"]
        out["baseline_gap"] = points(b["train_accuracy"] - b["test_accuracy"], 1, sign=False)
    if not out["ready"]:
        return out
    spread = spread_of(results, names)
    out["spread"] = points(spread, 1, sign=False) if spread is not None else None

    # 1 a) test accuracy. The prose asserts that the best strategy beats the baseline.
    leader = max(augs, key=lambda n: results[n]["test_accuracy"])
    expect = {n: ("higher" if n == leader and asserts(profile, "best_aug_beats_baseline") else None) for n in augs}
    test = {n: claims.compare("test_accuracy", n, "baseline", expect=expect[n]).claim for n in augs}
    g = split(test)
    sentences = []
    if g["higher"]:
        sentences.append(f"Yes: {listed(g['higher'])} {'has' if len(g['higher']) == 1 else 'have'} a higher "
                         "test accuracy than the baseline, with the whole 95 % interval of the paired "
                         "difference above zero.")
    if g["lower"]:
        sentences.append(f"{listed(g['lower'])} {'is' if len(g['lower']) == 1 else 'are'} clearly *below* the baseline.")
    if g["unclear"]:
        sentences.append(unclear_sentence(g["unclear"], "test accuracy"))
    if g["single"]:
        sentences.append(single_sentence(g["single"], "test accuracy", spread))
    out["improvement"] = " ".join(sentences)
    out["leader"] = leader
    out["leader_claim"] = test[leader]
    out["asserts_improvement"] = expect[leader] is not None

    # Training accuracy: asserted lower (the transformed images make the task harder).
    e = "lower" if asserts(profile, "aug_lowers_train_accuracy") else None
    train = {n: claims.compare("train_accuracy", n, "baseline", expect=e).claim for n in augs}
    g = split(train)
    sentences = []
    if g["lower"]:
        sentences.append(f"{listed(g['lower'])} {'has' if len(g['lower']) == 1 else 'have'} a clearly "
                         "lower training accuracy than the baseline.")
    if g["higher"]:
        sentences.append(f"{listed(g['higher'])} {'has' if len(g['higher']) == 1 else 'have'} a clearly "
                         "*higher* training accuracy, against that expectation.")
    if g["unclear"]:
        sentences.append(unclear_sentence(g["unclear"], "training accuracy"))
    if g["single"]:
        sentences.append(single_sentence(g["single"], "training accuracy", spread_of(results, names, "train_accuracy")))
    out["training"] = " ".join(sentences)
    out["asserts_training"] = e is not None

    # 1 b) the gap: asserted smaller.
    e = "lower" if asserts(profile, "aug_shrinks_gap") else None
    gap = {n: claims.compare("gap", n, "baseline", expect=e).claim for n in augs}
    g = split(gap)
    sentences = []
    if g["lower"]:
        sentences.append(f"The train–test gap is clearly smaller than the baseline's for {listed(g['lower'])}.")
    if g["higher"]:
        sentences.append(f"The gap is clearly *larger* than the baseline's for {listed(g['higher'])}.")
    if g["unclear"]:
        sentences.append(unclear_sentence(g["unclear"], "the gap"))
    if g["single"]:
        sentences.append(single_sentence(g["single"], "train–test gap", spread_of(results, names, "train_accuracy")))
    out["gap"] = " ".join(sentences)
    out["asserts_gap"] = e is not None
    out["claims"] = {"test_accuracy": test, "train_accuracy": train, "gap": gap}
    out["gap_range"] = join_and(f"{points(results[n]['train_accuracy'] - results[n]['test_accuracy'], 1, sign=False)} "
                                f"for **{n}**" for n in augs)

    # 1 c) the nested strategies as an ablation: what each added transform changes.
    steps = []
    before = "baseline"
    for n in augs:
        layers = AUGMENTATIONS[EXPERIMENTS[n]["augmentation"]]
        prev = [] if before == "baseline" else AUGMENTATIONS[EXPERIMENTS[before]["augmentation"]]
        added = [layer["layer"].removeprefix("Random").lower() for layer in layers[len(prev):]]
        c = claims.compare("test_accuracy", n, before, expect=expect[n] if before == "baseline" else None).claim
        cg = gap[n] if before == "baseline" else claims.compare("gap", n, before).claim
        steps.append({"name": n, "from": before, "added": join_and(added), "test": diff_phrase(c),
                      "gap": diff_phrase(cg), "found": c.found})
        before = n
    out["steps"] = steps
    out["step_lines"] = [f"adding {s['added']} (**{s['from']}** → **{s['name']}**): test accuracy {s['test']}; "
                         f"gap {s['gap']}" for s in steps]

    # The strategy Exercise 3 reuses: asserted not to be clearly beaten by another strategy.
    vgg_aug_strategy = EXPERIMENTS["vgg_aug"]["augmentation"]
    reused = next((n for n in augs if EXPERIMENTS[n]["augmentation"] == vgg_aug_strategy), None)
    out["reused"] = reused
    if len(augs) >= 2:
        e = reused if reused and asserts(profile, "vgg_strategy_not_beaten") else None
        out["best"] = claims.best("test_accuracy", augs, expect=e)
        out["asserts_reused"] = e is not None
    return out


# --- Exercise 2 ------------------------------------------------------------------------------


def receptive_fields(types: list[str]) -> list[tuple[int, int]]:
    """(receptive field, stride in input pixels) after each layer of a chain of 3×3 stride-1
    convolutions and 2×2 stride-2 poolings ("conv", "pool"; anything else changes nothing)."""
    field, jump, out = 1, 1, []
    for t in types:
        if t == "conv":
            field += 2 * jump
        elif t == "pool":
            field += jump
            jump *= 2
        out.append((field, jump))
    return out


# The VGG net of Exercise 3: four blocks of three 3×3 convolutions and a 2×2 pooling.
VGG_TYPES = (["conv"] * 3 + ["pool"]) * 4


def ex2_fields(visuals: Mapping, exp: str) -> dict:
    """The receptive field after each conv and pooling layer of a visualised model."""
    model = visuals.get("models", {}).get(exp)
    if not model:
        return {"text": "", "last": None}
    types = [model["facts"][n]["type"] for n in model["layers"]]
    fields = receptive_fields(types)
    shown = [(n, f) for n, t, f in zip(model["layers"], types, fields) if t in ("conv", "pool")]
    text = join_and(f"{f[0]}×{f[0]} after {n}" for n, f in shown)
    return {"text": text, "last": shown[-1][1][0] if shown else None}


def ex2(claims: ClaimBook, visuals: Mapping, profile: str) -> dict:
    """Lists and checked relations of 2 c), for the visualised Exercise-1 model."""
    chosen = visuals.get("chosen", {}).get("ex1")
    out = {"candidates": "", "convs": "", "silent": "", "pools": [], "deep": {}}
    if not chosen:
        return out
    exp = chosen["experiment"]
    out["candidates"] = join_and(f"{n} ({pct(a)})" for n, a in sorted(chosen["candidates"].items()))
    model = visuals.get("models", {}).get(exp)
    if not model:
        return out
    facts, order = model["facts"], model["layers"]
    out["convs"] = join_and(n for n in order if facts[n]["type"] == "conv")
    out["silent"] = join_and(f"{facts[n]['dead_channels']} of {facts[n]['shape'][-1]} after {n}"
                             for n in order if facts[n]["type"] == "relu" and facts[n]["dead_channels"] > 0)
    relus = [(n, facts[n]["zero_fraction"]) for n in order if facts[n]["type"] == "relu"]
    convs = [n for n in order if facts[n]["type"] == "conv"]
    out["conv_zero"] = join_and(sorted({pct(facts[n]["zero_fraction"]) for n in convs}))
    out["first_channels"] = facts[convs[0]]["shape"][-1] if convs else 0
    out["relu_first"] = f"{relus[0][0]}, {pct(relus[0][1])}" if relus else ""
    out["relu_last"] = f"{relus[-1][0]}, {pct(relus[-1][1])}" if len(relus) > 1 else ""
    out["relu_trend"] = (claims.increasing(relus, f"share of exactly-zero values after each ReLU of {exp}")
                         if len(relus) > 1 else "")
    out["pool_shapes"] = join_and(f"{n}: {facts[n]['shape'][0]} × {facts[n]['shape'][1]}"
                                  for n in order if facts[n]["type"] == "pool")
    out["image"] = article(CLASS_NAMES[model["true_label"]])
    out["predicted"] = CLASS_NAMES[model["predicted_label"]]
    out["probability"] = pct(model["probability"])
    e = "lower" if asserts(profile, "pooling_lowers_zero_share") else None
    for i, n in enumerate(order):
        if facts[n]["type"] == "pool" and i > 0:
            prev = order[i - 1]
            out["pools"].append(claims.relation(f"share of exactly-zero values in {exp}", n,
                                                facts[n]["zero_fraction"], prev, facts[prev]["zero_fraction"],
                                                expect=e))
    out["asserts_pools"] = e is not None
    out["deep"] = ex2_deep(claims, visuals)
    return out


def ex2_deep(claims: ClaimBook, visuals: Mapping) -> dict:
    """The VGG net's first and last ReLU and its last pooling, for the end of 2 c)."""
    exp = visuals.get("chosen", {}).get("ex3", {}).get("experiment")
    model = visuals.get("models", {}).get(exp) if exp else None
    if not model:
        return {}
    facts, order = model["facts"], model["layers"]
    relus = [n for n in order if facts[n]["type"] == "relu"]
    pools = [n for n in order if facts[n]["type"] == "pool"]
    if len(relus) < 2 or not pools:
        return {}
    first, last = relus[0], relus[-1]
    side = lambda n: f"{facts[n]['shape'][0]} × {facts[n]['shape'][1]}"  # noqa: E731
    return {
        "name": exp, "first": first, "last": last, "last_maps": side(last), "last_pool": side(pools[-1]),
        "predicted": CLASS_NAMES[model["predicted_label"]], "probability": pct(model["probability"]),
        "first_zero": pct(facts[first]["zero_fraction"]), "last_zero": pct(facts[last]["zero_fraction"]),
        "zero_claim": claims.relation(f"share of exactly-zero values in {exp}", last, facts[last]["zero_fraction"],
                                      first, facts[first]["zero_fraction"]),
    }


def ex2_figures(visuals: Mapping) -> dict:
    """Which Exercise-2 figures the report places (the build draws more; `invoke visualize` shows any).

    The first convolution's filters of the Exercise-1 model (2 b) asks for one layer); the
    CONV, RELU and MAXP maps of that model's first and last convolution stage (2 c; the
    facts table covers every layer); and the last ReLU of the VGG net, whose first maps
    look like the baseline's.
    """
    chosen = visuals.get("chosen", {})
    models = visuals.get("models", {})

    def ids(exp, kind):
        return [r for r in models.get(exp, {}).get("figures", []) if r["kind"] == kind]

    out = {"filters": [], "filters_layer": None, "acts": [], "acts_layers": "", "input": [], "vacts": []}
    c1 = chosen.get("ex1", {}).get("experiment")
    if c1:
        filters = ids(c1, "filters")
        out["filters"] = [r["id"] for r in filters[:1]]
        out["filters_layer"] = filters[0]["layer"] if filters else None
        facts = models.get(c1, {}).get("facts", {})
        acts = ids(c1, "activations")
        convs = [r for r in acts if facts.get(r["layer"], {}).get("type") == "conv"]
        # Leave out the middle convolution stages (from the second conv up to the first pooling's input).
        middle = {r["layer"] for r in convs[1:-1]}
        order = models.get(c1, {}).get("layers", [])
        for name in list(middle):
            i = order.index(name)
            while i + 1 < len(order) and facts[order[i + 1]]["type"] == "relu":
                middle.add(order[i + 1])
                i += 1
        out["acts"] = [r["id"] for r in acts if r["layer"] not in middle]
        out["acts_layers"] = join_and(r["layer"] for r in acts if r["layer"] not in middle)
        out["input"] = [r["id"] for r in ids(c1, "input")]
    c3 = chosen.get("ex3", {}).get("experiment")
    if c3:
        facts = models.get(c3, {}).get("facts", {})
        acts = [r for r in ids(c3, "activations") if facts.get(r["layer"], {}).get("type") == "relu"]
        out["vacts"] = [r["id"] for r in acts[-1:]]
        # The VGG net sees the same picture as the baseline: its input figure is not repeated.
    return out


# --- Exercise 3 ------------------------------------------------------------------------------


def ex3(claims: ClaimBook, results: Mapping, profile: str, c1_best: str | None, totals: Mapping) -> dict:
    """The facts and sentences of Exercise 3."""
    present = [n for n in ("vgg", "vgg_aug") if n in results]
    out: dict = {"present": present, "lo": num(100 * ASSIGNMENT_RANGE[0], 0), "hi": pct(ASSIGNMENT_RANGE[1], 0)}
    if not present:
        return out
    first = results[present[0]]
    out["recipe"] = recipe(first)
    if "baseline" in results:
        b = results["baseline"]
        out["baseline_recipe"] = recipe(b)
        changes = ["depth", "batch normalisation", "dropout"]
        if first["optimizer"] != b["optimizer"] or first.get("weight_decay", 0) != b.get("weight_decay", 0):
            changes.append("the optimiser")
        if first["learning_rate"] != b["learning_rate"] or first.get("schedule") != b.get("schedule"):
            changes.append("the learning rate and its schedule")
        if first.get("label_smoothing", 0) != b.get("label_smoothing", 0):
            changes.append("the loss (label smoothing)")
        if first["epochs"] != b["epochs"]:
            changes.append(f"the number of epochs ({b['epochs']} → {first['epochs']})")
        if first["train_size"] != b["train_size"]:
            changes.append(f"the number of training images ({thousands(b['train_size'])} → {thousands(first['train_size'])})")
        changes.append("the number of parameters")
        out["changes"] = join_and(changes)

    # Parameters: trainable and non-trainable apart when the analysis counted them.
    vt = totals.get("vgg") or {}
    bt = totals.get("baseline") or {}
    if vt and bt:
        out["params"] = (f"{thousands(vt['trainable'])} trainable parameters and {thousands(vt['non_trainable'])} "
                         "non-trainable ones (the moving means and variances of batch normalisation)")
        out["ratio"] = num(vt["trainable"] / bt["trainable"], 0)
    else:
        out["params"] = (f"{thousands(first['params'])} parameters as Keras' `count_params()` counts them, which "
                         "includes the moving means and variances of batch normalisation (not trained by the optimiser)")
        out["ratio"] = num(first["params"] / results["baseline"]["params"], 0) if "baseline" in results else None

    lo, hi = ASSIGNMENT_RANGE
    e = True if asserts(profile, "vgg_in_assignment_range") else None
    out["range"] = [claims.in_range("test_accuracy", n, lo, hi, "the assignment's range",
                                    expect=e if n == "vgg" else None) for n in present]
    out["asserts_range"] = e is not None
    if "baseline" in results and "vgg" in results:
        e = "higher" if asserts(profile, "vgg_beats_baseline") else None
        out["depth"] = claims.compare("test_accuracy", "vgg", "baseline", expect=e)
        out["asserts_depth"] = e is not None
    if "vgg" in results and "vgg_aug" in results:
        out["aug_test"] = claims.compare("test_accuracy", "vgg_aug", "vgg")
        e = "lower" if asserts(profile, "vgg_aug_shrinks_gap") else None
        out["aug_gap"] = claims.compare("gap", "vgg_aug", "vgg", expect=e)
        out["asserts_aug_gap"] = e is not None
    if "vgg_aug" in results and c1_best and c1_best != "baseline" and c1_best in results:
        out["vs_ex1"] = claims.compare("test_accuracy", "vgg_aug", c1_best)
    return out


# --- the analysis step (Section 4 artifacts) -----------------------------------------------


def per_class(analysis: Mapping, exp: str) -> dict | None:
    """Best and worst class and the commonest confusions of one model, as words."""
    pc = (analysis or {}).get("per_class", {}).get(exp)
    if not pc:
        return None
    acc = dict(zip(pc["classes"], pc["accuracy"]))
    confused = join_and(f"{c['true']} taken for {c['pred']} ({c['count']} images, {pct(c['share'])} of the "
                        f"{c['true']} images)" for c in pc["most_confused"])
    return {"best": pc["best_class"], "best_acc": pct(acc[pc["best_class"]]),
            "worst": pc["worst_class"], "worst_acc": pct(acc[pc["worst_class"]]), "confused": confused}


def per_class_sentence(analysis: Mapping, exp: str) -> str:
    """One sentence on a model's best and worst class and its commonest confusions ("" without analysis)."""
    f = per_class(analysis, exp)
    if not f:
        return ""
    return (f"Per class, **{exp}** does best on the class {f['best']} ({f['best_acc']}) and worst on "
            f"{f['worst']} ({f['worst_acc']}); its commonest confusions are {f['confused']}.")


def per_class_block(analysis: Mapping, exercise: int) -> dict:
    """The analysed models of one exercise, with their per-class sentences."""
    models = [m for m in (analysis or {}).get("models", []) if m in EXPERIMENTS and EXPERIMENTS[m]["exercise"] == exercise]
    return {"models": models, "text": " ".join(per_class_sentence(analysis, m) for m in models)}


def layer_table(analysis: Mapping, model: str) -> str | None:
    """The per-layer table (output shape, parameters, receptive field, MACs) as HTML."""
    rows = (analysis or {}).get("layers", {}).get(model)
    if not rows:
        return None
    import pandas as pd

    # Layers without weights of their own (activations, dropout, flatten) and batch
    # normalisation are left out; the totals below the table count every layer.
    # (The analysis step names types "conv", "pool", "dense"; Keras class names are accepted too.)
    kinds = {"conv": "conv", "Conv2D": "conv", "pool": "pool", "MaxPooling2D": "pool", "dense": "dense", "Dense": "dense"}
    rows = [r for r in rows if r["type"] in kinds]
    df = pd.DataFrame([{
        "Layer": r["name"], "Type": kinds[r["type"]], "Output": r["output_shape"],
        "Params": thousands(r["params"]),
        # The receptive field is a spatial notion: shown for convolutions and poolings only.
        "RF": (f"{r['receptive_field']}×{r['receptive_field']}"
               if r.get("receptive_field") and kinds[r["type"]] != "dense" else "—"),
        "MACs": thousands(r["macs"]) if r.get("macs") else "—",
    } for r in rows])
    return df.to_html(index=False, classes="results layers", border=0, escape=True)


def paper_table(analysis: Mapping) -> str | None:
    """The Inception-v4 paper's single-model results beside ResNet's, as the analysis step recorded them."""
    rows = ((analysis or {}).get("inception") or {}).get("paper_results") or []
    if not rows:
        return None
    import pandas as pd

    def err(v):
        if v is None:
            return "—"
        return pct(v) if v <= 1 else f"{num(v, 1)} %"

    df = pd.DataFrame([{"Network": r["model"], "Top-1 error": err(r.get("top1")), "Top-5 error": err(r.get("top5")),
                        "Source": r.get("table", "")} for r in rows])
    return df.to_html(index=False, classes="results paper-results", border=0, escape=True)


def input_images(analysis: Mapping, image_index: int) -> dict:
    """Which picture X_train[index] is in this build's copy of the data, and whether it is the official one."""
    inputs = (analysis or {}).get("inputs") or {}
    images = inputs.get("images") or []
    first = next((i for i in images if i["index"] == image_index), None)
    second = next((i for i in images if i["index"] != image_index), None)
    out = {"known": first is not None, "official": inputs.get("official_order")}
    if first:
        out["first"] = article(first["class"])
    if second:
        out["second_index"] = second["index"]
        out["second"] = article(second["class"])
    return out


def context(claims: ClaimBook, results: Mapping, visuals: Mapping, analysis: Mapping, profile: str) -> dict:
    """Everything the prose needs beyond the raw results: one dict per section."""
    c1_best = visuals.get("chosen", {}).get("ex1", {}).get("experiment")
    c3_best = visuals.get("chosen", {}).get("ex3", {}).get("experiment")
    totals = (analysis or {}).get("totals", {})
    asserted = sorted(k for k in ASSERTED_IN if asserts(profile, k))
    return {
        "ex1": ex1(claims, results, profile),
        "ex2": {"fields": ex2_fields(visuals, c1_best) if c1_best else {"text": "", "last": None},
                "vgg_field": receptive_fields(VGG_TYPES)[-1][0],
                "inputs": input_images(analysis, visuals.get("image_index", DEFAULT_IMAGE_INDEX)),
                "figs": ex2_figures(visuals),
                **ex2(claims, visuals, profile)},
        "ex3": ex3(claims, results, profile, c1_best, totals),
        "per_class": {n: per_class(analysis, n) for n in (analysis or {}).get("models", [])},
        "classes1": per_class_block(analysis, 1),
        "classes3": per_class_block(analysis, 3),
        "paper_table": paper_table(analysis),
        "asserted_conclusions": asserted,
    }
