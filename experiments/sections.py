"""Build each report section's facts and sentences in Python, so the prose only substitutes them.

The answers in `report_src/` are prose a student can edit. Everything that needs logic
(lists of names, "a"/"an", arithmetic, which experiments went which way, the checked
claims and what the prose asserts with them) is computed here and handed to the
templates as plain strings and numbers.

What the prose asserts: a conclusion written in the prose's own words is a claim with an
`expect=`, so the data can contradict it and a `--strict` build then fails. `CONCLUSIONS`
lists, for each such conclusion, the profiles in which the prose states it and the
prose's words for it: the smoke profile (a thousand images, one or two epochs) asserts
nothing about the science.
"""

from __future__ import annotations

from typing import Mapping

from . import formats, stats
from .analysis import best_experiment
from .claims import ClaimBook
from .config import AUGMENTATIONS, DEFAULT_IMAGE_INDEX, EXPERIMENTS, resolve
from .data import CLASS_NAMES
from .formats import article, bold, join_and, num, pct, points, pts, thousands
from .tables import html_table

# Each conclusion the prose states in its own words: the profiles whose prose asserts it
# (and whose data may contradict it), and the prose's words for it, which a --strict
# failure quotes. The smoke profile trains on a thousand images for an epoch or two, so
# its results are near chance and it asserts nothing.
CONCLUSIONS: dict[str, tuple[set[str], str]] = {
    "baseline_overfits": ({"full", "quick"}, "1 b): without augmentation the baseline fits its training images "
                                             "better than new ones"),
    "aug_lowers_train_accuracy": ({"full", "quick"}, "1 a): the transformed images make the training task harder, "
                                                     "so the training accuracy should fall"),
    "aug_shrinks_gap": ({"full", "quick"}, "1 b): augmentation acts as a regulariser: the training and test curves "
                                           "stay closer together"),
    "best_aug_beats_baseline": ({"full"}, "1 a): the best augmentation strategy improves the test accuracy"),
    "vgg_strategy_not_beaten": ({"full"}, "1 c): no other strategy clearly beats the one the VGG net reuses"),
    "pooling_lowers_zero_share": ({"full", "quick"}, "2 c): pooling lowers the share of zeros"),
    "vgg_beats_baseline": ({"full"}, "3: the VGG net is better than the baseline of Exercise 1"),
    "vgg_in_assignment_range": ({"full"}, "3: the VGG net reaches the assignment's 80-85 %"),
    "vgg_aug_shrinks_gap": ({"full", "quick"}, "3: augmentation, with its run's dropout rate, shrinks the deep network's "
                                               "train-test gap"),
    "mirror_helps": ({"full"}, "3: averaging each test image's prediction with its mirror image's raises the "
                               "VGG net's test accuracy"),
}

# The assignment: "should bring your performance around 80-85% on CIFAR10" (Exercise 3).
ASSIGNMENT_RANGE = (0.80, 0.85)
# Exercise 3's suggested configuration: "dropouts of 0.2".
ASSIGNMENT_DROPOUT = 0.2


def asserts(profile: str, conclusion: str) -> bool:
    """Whether the prose of `profile` states `conclusion` (and so checks it)."""
    return profile in CONCLUSIONS[conclusion][0]


def says(conclusion: str) -> str:
    """The prose's words for `conclusion`, as a claim's `where`."""
    return CONCLUSIONS[conclusion][1]


def checked(profile: str, conclusion: str) -> str:
    """The mark the prose puts after a conclusion it asserts: " (checked, Appendix B)", or ""."""
    return " (asserted; checked in Appendix B)" if asserts(profile, conclusion) else ""


# --- differences and their uncertainty ------------------------------------------------------


def diff_phrase(claim) -> str:
    """"+1.4 points, 95 % CI +0.6 to +2.2" or "+1.4 points, one run" (a difference of accuracies)."""
    n = claim.numbers
    d = pts(n["difference"])
    if n.get("difference_ci_lo") is None:
        return f"{d}, one run"
    return f"{d}, {formats.interval(n['difference_ci_lo'], n['difference_ci_hi'], formats.PERCENT)}"


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
    text = f"In single runs the {metric_label} minus the baseline's is {parts}."
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
    out: dict = {"augs": augs, "ready": "baseline" in results and bool(augs), "size": "", "leader": "",
                 "missing": (f"The baseline and at least one augmented run are needed to answer this; this build "
                             f"has results for {join_and(results) or 'no experiment'}."),
                 "aug_figure": "aug-" + EXPERIMENTS["aug_strong"]["augmentation"]}
    if "baseline" in results:
        b = results["baseline"]
        out["size"] = (f"It has {thousands(b['params'])} trainable parameters and was trained for {b['epochs']} "
                       f"epochs on {thousands(b['train_size'])} training images.")
        # 1 b) without augmentation (or any regulariser) the baseline fits its training
        # images better than new ones: asserted as a positive train-test gap.
        e = True if asserts(profile, "baseline_overfits") else None
        out["overfits"] = claims.overfits("baseline", expect=e, where=says("baseline_overfits"))
        out["asserts_overfit"] = e is not None
        out["curve"] = curve_sentence(results["baseline"])
    if not out["ready"]:
        return out
    spread = spread_of(results, names)
    out["spread"] = points(spread, 1, sign=False) if spread is not None else None

    # 1 a) test accuracy. The prose asserts that the best strategy beats the baseline.
    leader = best_experiment(results, augs)
    expect = {n: ("higher" if n == leader and asserts(profile, "best_aug_beats_baseline") else None) for n in augs}
    improves = says("best_aug_beats_baseline")
    test = {n: claims.compare("test_accuracy", n, "baseline", expect=expect[n], where=improves).claim for n in augs}
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
    out["asserts_improvement"] = expect[leader] is not None
    out["leader_note"] = (f"On the full training set the best strategy, here **{leader}**, is expected to beat the "
                          f"baseline{checked(profile, 'best_aug_beats_baseline')}." if out["asserts_improvement"] else "")

    # Training accuracy: asserted lower (the transformed images make the task harder).
    e = "lower" if asserts(profile, "aug_lowers_train_accuracy") else None
    train = {n: claims.compare("train_accuracy", n, "baseline", expect=e, where=says("aug_lowers_train_accuracy")).claim
             for n in augs}
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
    gap = {n: claims.compare("gap", n, "baseline", expect=e, where=says("aug_shrinks_gap")).claim for n in augs}
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
        added = [LAYER_WORDS.get(layer["layer"], layer["layer"]) for layer in layers[len(prev):]]
        c = claims.compare("test_accuracy", n, before, expect=expect[n] if before == "baseline" else None,
                           where=improves).claim
        cg = gap[n] if before == "baseline" else claims.compare("gap", n, before).claim
        steps.append({"name": n, "from": before, "added": join_and(added), "test": c, "gap": cg})
        before = n
    out["steps"] = steps
    out["steps_list"] = "\n".join(
        f"- **{s['from']} → {s['name']}** adds {s['added']}: the test accuracy {moved(s['test'])}; "
        f"the train–test gap {moved(s['gap'], 'widens', 'narrows')}." for s in steps)
    gains = [s["added"] for s in steps if s["test"].found == stats.HIGHER]
    losses = [s["added"] for s in steps if s["test"].found == stats.LOWER]
    if gains:
        verdict = f"By these numbers the clear gain in test accuracy comes from adding {join_and(gains)}"
        verdict += f", and adding {join_and(losses)} clearly costs accuracy." if losses else \
            "; the other steps add no gain this build can detect."
    elif losses:
        verdict = f"No step clearly raises the test accuracy, and adding {join_and(losses)} clearly lowers it."
    elif any(s["test"].found == stats.UNCLEAR for s in steps):
        verdict = "No step changes the test accuracy clearly with this many seeds."
    else:
        verdict = "With one seed per strategy no step can be told apart from seed noise."
    out["steps_verdict"] = verdict

    # The strategy Exercise 3 reuses: asserted not to be clearly beaten by another strategy.
    vgg_aug_strategy = EXPERIMENTS["vgg_aug"]["augmentation"]
    reused = next((n for n in augs if EXPERIMENTS[n]["augmentation"] == vgg_aug_strategy), None)
    out["reused"] = reused
    out["reuse"] = ""
    if len(augs) >= 2:
        e = reused if reused and asserts(profile, "vgg_strategy_not_beaten") else None
        out["best"] = claims.best("test_accuracy", augs, expect=e, where=says("vgg_strategy_not_beaten"))
        out["asserts_reused"] = e is not None
        out["reuse"] = reuse_sentence(reused, leader, e is not None, resolve("vgg_aug", profile)["epochs"])
    return out


# Words for the Keras augmentation layers, as the ablation names them.
LAYER_WORDS = {"RandomFlip": "horizontal flips", "RandomTranslation": "shifts", "RandomRotation": "rotations",
               "RandomZoom": "zooms"}


def moved(claim, up: str = "rises", down: str = "falls") -> str:
    """How a paired difference moved, in words, with its numbers."""
    if claim.found == stats.HIGHER:
        return f"{up} ({diff_phrase(claim)})"
    if claim.found == stats.LOWER:
        return f"{down} ({diff_phrase(claim)})"
    if claim.found == stats.UNCLEAR:
        return (f"shows no clear change ({diff_phrase(claim)}; a change smaller than about "
                f"{detectable(claim)} cannot be detected)")
    if claim.found == stats.SINGLE:
        return f"changes by {pts(claim.numbers['difference'])} in one run, with no interval"
    return "cannot be compared yet"


def reuse_sentence(reused: str | None, leader: str, asserted: bool, epochs: int) -> str:
    """Which Exercise-1 strategy the VGG net reuses, why, and how it stands in the Exercise-1
    results (`epochs`: the VGG net's training budget in this profile)."""
    if not reused:
        return ""
    spec = AUGMENTATIONS[EXPERIMENTS[reused]["augmentation"]]
    words = join_and(LAYER_WORDS.get(layer["layer"], layer["layer"]) for layer in spec)
    text = (f"The VGG net of Exercise 3 (**vgg_aug**) reuses the strategy of **{reused}** ({words}). It was "
            "fixed in the configuration before this build")
    if len(spec) == min(len(s) for s in AUGMENTATIONS.values()):  # the mildest of the nested strategies
        budget = f"{epochs} epochs leave" if epochs != 1 else "1 epoch leaves"
        text += f": {budget} a network little time to learn from harder images, so it gets the mildest one"
    text += (". Earlier runs of this project on the same test set (there is no separate validation split) "
             "informed that choice; re-choosing it from the results above would tune a setting on the test "
             "set once more. ")
    if reused == leader:
        text += "It is also the strategy with the highest mean test accuracy above"
    else:
        text += f"Here **{leader}** has the higher mean test accuracy"
    if asserted:
        text += (", and no other strategy clearly beats it" if reused == leader else
                 f", but no strategy clearly beats **{reused}**") + " (asserted; checked in Appendix B)."
    else:
        text += "."
    return text


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


def ex2(claims: ClaimBook, visuals: Mapping, profile: str, analysis: Mapping | None = None) -> dict:
    """Lists, channels and checked relations of 2 c), for the visualised Exercise-1 model."""
    chosen = visuals.get("chosen", {}).get("ex1")
    out = {"candidates": "", "convs": "", "silent": "", "pools": "", "deep": {}, "image": "", "second": "",
           "channels": "", "relu_trend": "", "conv_zero": "", "first_channels": 0, "pool_shapes": "",
           "predicted": "", "probability": "", "deep_choice": "", "filters_sentence": ""}
    if not chosen:
        return out
    exp = chosen["experiment"]
    out["exp"], out["accuracy"] = exp, pct(chosen["test_accuracy"])
    c3 = visuals.get("chosen", {}).get("ex3")
    if c3:
        out["deep_choice"] = (f"For comparison with a deep network, the better of the two VGG-style models of "
                              f"Exercise 3, **{c3['experiment']}** ({pct(c3['test_accuracy'])}), is shown as well.")
    filters = [r for r in visuals.get("models", {}).get(exp, {}).get("figures", []) if r["kind"] == "filters"]
    if filters:
        out["filters_sentence"] = f"The figure below shows every filter of {filters[0]['layer']} of {exp}."
    out["candidates"] = join_and(f"{n} ({pct(a)})" for n, a in sorted(chosen["candidates"].items()))
    model = visuals.get("models", {}).get(exp)
    if not model:
        return out
    facts, order = model["facts"], model["layers"]
    out["convs"] = join_and(n for n in order if facts[n]["type"] == "conv")
    silent = join_and(f"{facts[n]['dead_channels']} of {facts[n]['shape'][-1]} after {n}"
                      for n in order if facts[n]["type"] == "relu" and facts[n]["dead_channels"] > 0)
    out["silent"] = (f"Some channels are silent on this image, zero everywhere: {silent}; their feature does "
                     "not occur in this image (or the unit never learnt one)." if silent else
                     "No channel is silent (zero everywhere) on this image.")
    relus = [(n, facts[n]["zero_fraction"]) for n in order if facts[n]["type"] == "relu"]
    convs = [n for n in order if facts[n]["type"] == "conv"]
    out["conv_zero"] = join_and(sorted({pct(facts[n]["zero_fraction"]) for n in convs}))
    out["first_channels"] = facts[convs[0]]["shape"][-1] if convs else 0
    out["relu_trend"] = (claims.increasing(relus, f"share of exactly-zero values after each ReLU of {exp}")
                         if len(relus) > 1 else "")
    out["pool_shapes"] = join_and(f"{n}: {facts[n]['shape'][0]} × {facts[n]['shape'][1]}"
                                  for n in order if facts[n]["type"] == "pool")
    out["predicted"] = CLASS_NAMES[model["predicted_label"]]
    out["probability"] = pct(model["probability"])
    e = "lower" if asserts(profile, "pooling_lowers_zero_share") else None
    pools = []
    for i, n in enumerate(order):
        if facts[n]["type"] == "pool" and i > 0:
            prev = order[i - 1]
            pools.append(claims.relation(f"share of exactly-zero values in {exp}", n,
                                         facts[n]["zero_fraction"], prev, facts[prev]["zero_fraction"],
                                         expect=e, where=says("pooling_lowers_zero_share")))
    out["pools"] = " ".join(pools)
    inputs = visuals.get("inputs") or (analysis or {}).get("inputs") or {}
    out["image"] = image_sentence(visuals.get("image_index", DEFAULT_IMAGE_INDEX), CLASS_NAMES[model["true_label"]], inputs)
    second = (visuals.get("second") or {}).get(exp)
    out["second"] = second_sentence(second, inputs)
    out["channels"] = channel_sentences(model, second)
    out["deep"] = ex2_deep(claims, visuals)
    return out


def image_sentence(index: int, cls: str, inputs: Mapping) -> str:
    """Which picture X_train[index] is here, and whether it is the official one."""
    text = f"The input is training image {index} (`X_train[{index}]`), {article(cls)} in this build's copy of the data."
    if inputs.get("official_order") is False:
        text += (f" This copy is not stored in the official CIFAR-10 order, so the official `X_train[{index}]` "
                 "is a different picture.")
    elif inputs.get("official_order") is True:
        text += f" The copy is in the official CIFAR-10 order, so this is the official `X_train[{index}]`."
    return text


def second_sentence(second: Mapping | None, inputs: Mapping) -> str:
    """The second input image, of another class, and what the model makes of it."""
    images = inputs.get("images") or []
    if not second or len(images) < 2:
        return ""
    cls = CLASS_NAMES[second["true_label"]]
    return (f"A second input, training image {second['image_index']} ({article(cls)}, the first image of another "
            f"class in this copy), goes through the same layers; the model predicts **{CLASS_NAMES[second['predicted_label']]}** "
            f"with probability {pct(second['probability'])}.")


def leading(f: Mapping, key: str) -> str:
    c = f.get(key)
    return f"{c['channel']} ({num(c['mean'], 2)})" if c else "—"


def channel_sentences(model: Mapping, second: Mapping | None) -> str:
    """Named channels, chosen by their mean response on the image (the visualiser's measure)."""
    facts, order = model["facts"], model["layers"]
    ranked = [n for n in order if facts[n].get("most_active")]
    if not ranked:
        return ""
    first = ranked[0]
    f = facts[first]
    hi, lo = f["most_active"], f["least_active"]
    text = (f"Ranked by the mean of its map on this image, the most active channel of {first} is channel "
            f"{hi['channel']} (mean {num(hi['mean'], 2)}, against a median channel mean of "
            f"{num(f['median_channel_mean'], 2)}): its kernel is tile {hi['channel']} of the filter figure above, "
            f"and its map, tile {hi['channel']} of the {first} grid below, shows where the image matches that kernel. "
            f"The least active is channel {lo['channel']} (mean {num(lo['mean'], 2)})")
    text += (", a negative mean: the image mostly matches the opposite of its kernel, and the ReLU after "
             "it sets those values to zero." if lo["mean"] < 0 else ".")
    if second:
        sf = second["facts"]
        same = [n for n in ranked if sf.get(n, {}).get("most_active", {}).get("channel") == facts[n]["most_active"]["channel"]]
        other = [n for n in ranked if n not in same and sf.get(n, {}).get("most_active")]
        cls = CLASS_NAMES[second["true_label"]]
        if same:
            text += (f" On the second image ({cls}) the same channel leads in {join_and(same)}: those channels respond "
                     "to something both pictures share (a colour, the overall brightness, a texture), not to one class")
            text += f"; in {join_and(other)} another channel leads, a feature specific to each picture." if other else "."
        elif other:
            text += (f" On the second image ({cls}) a different channel leads in every layer: each picture excites "
                     "its own features.")
    return text


def activity_table(visuals: Mapping, exp: str) -> str | None:
    """Per layer of `exp`: shape, zeros, silent channels, most and least active channel, for one or two images."""
    model = visuals.get("models", {}).get(exp)
    if not model:
        return None
    import pandas as pd

    second = (visuals.get("second") or {}).get(exp)
    rows = []
    for n in model["layers"]:
        f = model["facts"][n]
        row = {"Layer": n, "Type": f["type"].upper(), "Output": "×".join(map(str, f["shape"])),
               "Zeros": pct(f["zero_fraction"]), "Silent": f"{f['dead_channels']}/{f['shape'][-1]}",
               "Most active": leading(f, "most_active"), "Least active": leading(f, "least_active")}
        if second and n in second["facts"]:
            s = second["facts"][n]
            row.update({"Zeros (2nd)": pct(s["zero_fraction"]), "Most active (2nd)": leading(s, "most_active")})
        rows.append(row)
    df = pd.DataFrame(rows)
    return html_table(df, "results facts", "lllrrll" + "rl" * (len(df.columns) > 7))


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
    fields = receptive_fields(VGG_TYPES)
    return {
        "name": exp, "first": first, "last": last, "last_maps": side(last), "last_pool": side(pools[-1]),
        # The last ReLU follows the twelfth convolution; the last pooling closes the network's body.
        "last_field": fields[-2][0], "pool_field": fields[-1][0],
        "predicted": CLASS_NAMES[model["predicted_label"]], "probability": pct(model["probability"]),
        "first_zero": pct(facts[first]["zero_fraction"]), "last_zero": pct(facts[last]["zero_fraction"]),
        "zero_claim": claims.relation(f"share of exactly-zero values in {exp}", last, facts[last]["zero_fraction"],
                                      first, facts[first]["zero_fraction"]),
    }


def ex2_figures(visuals: Mapping) -> dict:
    """Which Exercise-2 figures the report places (the build draws more; `invoke visualize` shows any).

    The first convolution's filters of the Exercise-1 model (2 b) asks for one layer); its
    first CONV → RELU → MAXP stage for the first image, the second image's input (the facts
    table covers every layer of both); and the last
    ReLU of the VGG net.
    """
    chosen = visuals.get("chosen", {})
    models = visuals.get("models", {})

    def ids(vis, kind):
        return [r for r in (vis or {}).get("figures", []) if r["kind"] == kind]

    out = {"filters": [], "filters_layer": None, "acts": [], "acts_layers": "", "input": [], "second": [],
           "vacts": []}
    c1 = chosen.get("ex1", {}).get("experiment")
    if c1:
        vis = models.get(c1, {})
        filters = ids(vis, "filters")
        out["filters"] = [r["id"] for r in filters[:1]]
        out["filters_layer"] = filters[0]["layer"] if filters else None
        facts, order = vis.get("facts", {}), vis.get("layers", [])
        pools = [n for n in order if facts[n]["type"] == "pool"]
        # The first CONV → RELU → MAXP stage; the deeper layers repeat the same story at a
        # coarser scale and are left to the table (`invoke visualize` draws them all).
        shown = set(order[:2]) | set(pools[:1])
        acts = [r for r in ids(vis, "activations") if r["layer"] in shown]
        out["acts"] = [r["id"] for r in acts]
        out["acts_layers"] = join_and(r["layer"] for r in acts)
        out["input"] = [r["id"] for r in ids(vis, "input")]
        second = (visuals.get("second") or {}).get(c1)
        if second:
            # Its maps are compared through the table and the named channels; its grids are
            # drawn too (`build/figures`), but not placed, to keep the report short.
            out["second"] = [r["id"] for r in ids(second, "input")]
    c3 = chosen.get("ex3", {}).get("experiment")
    if c3:
        facts = models.get(c3, {}).get("facts", {})
        acts = [r for r in ids(models.get(c3), "activations") if facts.get(r["layer"], {}).get("type") == "relu"]
        out["vacts"] = [r["id"] for r in acts[-1:]]
        # The VGG net sees the same picture as the baseline: its input figure is not repeated.
    return out


# --- Exercise 3 ------------------------------------------------------------------------------


def dropout_rates(results: Mapping, present) -> dict | None:
    """{run: dropout rate} of the VGG runs present; None where one was written before the rate
    was recorded (the builder's 0.2, but the prose does not guess)."""
    rates = {n: results[n].get("dropout") for n in present}
    return None if None in rates.values() else rates


def dropout_sentence(results: Mapping, present) -> str:
    """What the VGG runs' dropout layers drop, and why the two runs differ where they do."""
    rates = dropout_rates(results, present)
    if rates is None:
        return ""

    def theirs(r):
        return " (the assignment's rate)" if r == ASSIGNMENT_DROPOUT else ""

    if len(set(rates.values())) == 1:
        r = next(iter(rates.values()))
        if r == 0:
            return "The dropout layers have a rate of 0: they pass their inputs on unchanged."
        return f"Each dropout sets {pct(r, 0)} of its inputs to zero while training{theirs(r)}."
    plain, flipped = rates["vgg"], rates["vgg_aug"]
    if plain == 0:
        text = "The run without augmentation has dropout layers with a rate of 0, which pass their inputs on unchanged"
    else:
        text = f"Each dropout sets {pct(plain, 0)} of its inputs to zero while training the run without augmentation{theirs(plain)}"
    if flipped == 0:
        text += (", and none in the run with flips, whose dropout layers have a rate of 0 and pass their inputs "
                 "on unchanged.")
    else:
        text += f", and {pct(flipped, 0)} in the run with flips{theirs(flipped)}."
    if flipped < plain:
        text += (" Flipped images already make the training images harder to memorise, so the augmented run is "
                 "given less dropout, which leaves it more of its capacity to fit them in few epochs.")
    return text + (" The two runs therefore differ in two settings, and the comparison of them below measures "
                   "the flips and the dropout rate together.")


def dropout_difference(results: Mapping, present) -> str:
    """" with less dropout" (or more, or none) where vgg_aug's rate differs from vgg's; else ""."""
    rates = dropout_rates(results, present)
    if rates is None or len(rates) < 2 or rates["vgg"] == rates["vgg_aug"]:
        return ""
    if rates["vgg_aug"] == 0:
        return " without dropout"
    return " with less dropout" if rates["vgg_aug"] < rates["vgg"] else " with more dropout"


def ex3(claims: ClaimBook, results: Mapping, profile: str, c1_best: str | None, analysis: Mapping) -> dict:
    """The facts and sentences of Exercise 3."""
    present = [n for n in ("vgg", "vgg_aug") if n in results]
    out: dict = {"present": present, "lo": num(100 * ASSIGNMENT_RANGE[0], 0), "hi": pct(ASSIGNMENT_RANGE[1], 0)}
    if not present:
        return out
    first = results[present[0]]
    out["recipe"] = recipe(first)
    out["dropout"] = dropout_sentence(results, present)
    out["aug_with"] = dropout_difference(results, present)
    out["batch_reason"] = ""
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
        if first["batch_size"] != b["batch_size"]:
            changes.append(f"the batch size ({b['batch_size']} → {first['batch_size']})")
        if first["batch_size"] < b["batch_size"]:
            ratio = b["batch_size"] / first["batch_size"]
            times = "twice" if ratio == 2 else f"{num(ratio, 1)} times"
            out["batch_reason"] = (
                f"- *Batches of {first['batch_size']}* instead of Exercise 1's {b['batch_size']} make {times} "
                f"as many weight updates per epoch from the same images. With only {out['recipe']['epochs']}, "
                "the network is expected to get further with more, smaller steps.")
        if first["epochs"] != b["epochs"]:
            changes.append(f"the number of epochs ({b['epochs']} → {first['epochs']})")
        if first["train_size"] != b["train_size"]:
            changes.append(f"the number of training images ({thousands(b['train_size'])} → {thousands(first['train_size'])})")
        out["changes"] = changes

    # Parameters: trainable and non-trainable apart when the analysis counted them.
    totals = (analysis or {}).get("totals", {})
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
    if "changes" in out:
        changed = join_and(out["changes"] + [f"the number of parameters (about {out['ratio']}×)"])
        out["changes"] = (f"Exercise 3 against Exercise 1 therefore changes {changed} at once: the comparison "
                          "below measures the whole change, not what depth alone does.")
    else:
        out["changes"] = ""
    out["params"] = f"It has {out['params']}" + (
        f", about {out['ratio']} times as many as the baseline of Exercise 1." if out["ratio"] else ".")
    models = [m for m in (analysis or {}).get("models", []) if EXPERIMENTS.get(m, {}).get("exercise") == 3]
    out["analysis_figures"] = (["confusion-ex3"] if models else []) + [f"misclassified-{m}" for m in models]

    lo, hi = ASSIGNMENT_RANGE
    e = True if asserts(profile, "vgg_in_assignment_range") else None
    out["range"] = bullets(claims.in_range("test_accuracy", n, lo, hi, "the assignment's range",
                                           expect=e if n == "vgg" else None, where=says("vgg_in_assignment_range"))
                           for n in present)
    out["aug"] = ""
    if "vgg" in results and "vgg_aug" in results:
        e = "lower" if asserts(profile, "vgg_aug_shrinks_gap") else None
        out["aug"] = bullets([claims.compare("test_accuracy", "vgg_aug", "vgg"),
                              claims.compare("gap", "vgg_aug", "vgg", expect=e, where=says("vgg_aug_shrinks_gap"))])
    e = True if asserts(profile, "mirror_helps") else None
    out["mirror"] = bullets(claims.mirror_gain(n, expect=e, where=says("mirror_helps")) for n in present)
    out["mirror_ex1"] = mirror_elsewhere(results, [n for n, spec in EXPERIMENTS.items() if spec["exercise"] == 1])
    out["best"] = best_sentence(results, present)
    out["vs_ex1"] = out["vs_ex1_lead"] = ""
    out["size"] = ""
    if "baseline" in results and "vgg" in results:
        e = "higher" if asserts(profile, "vgg_beats_baseline") else None
        depth = claims.compare("test_accuracy", "vgg", "baseline", expect=e, where=says("vgg_beats_baseline"))
        lines = [depth]
        if "vgg_aug" in results and c1_best and c1_best != "baseline" and c1_best in results:
            lines.append(claims.compare("test_accuracy", "vgg_aug", c1_best))
        out["vs_ex1"] = bullets(lines)
        out["vs_ex1_lead"] = ("**Compared with Exercise 1**, the VGG net is expected to be better"
                              f"{checked(profile, 'vgg_beats_baseline')}:" if e else "**Compared with Exercise 1**:")
        out["size"] = size_sentence(depth.claim, spread_of(results, list(results)))
    out["loss"] = loss_sentence(results[present[0]], present[0])
    return out


def mirror_elsewhere(results: Mapping, names) -> str:
    """What mirror averaging did to Exercise 1's runs, worded from their results and not
    checked: those runs record it too, but their tables keep the single view."""
    gains = {n: results[n]["test_accuracy_mirror"] - results[n]["test_accuracy"]
             for n in names if "test_accuracy_mirror" in results.get(n, {})}
    if not gains:
        return ""
    lo, hi = min(gains, key=gains.get), max(gains, key=gains.get)
    n_seeds = max(results[n]["n_seeds"] for n in gains)
    what = "the mean test accuracy" if n_seeds > 1 else "the test accuracy"
    if len(gains) == 1:
        change = f"of its run, {lo}, by {pts(gains[lo])}"
    elif pts(gains[lo]) == pts(gains[hi]):
        change = f"of each of its {len(gains)} runs by {pts(gains[lo])}"
    else:
        change = f"of its {len(gains)} runs by {pts(gains[lo])} ({lo}) to {pts(gains[hi])} ({hi})"
    return (f"Exercise 1's runs record the same measure, though its tables keep the single view: "
            f"mirror averaging changes {what} {change}.")


def best_sentence(results: Mapping, names) -> str:
    """The best performance of each VGG run, single-view or mirror-averaged, whichever is higher."""
    n_seeds = max(results[n]["n_seeds"] for n in names)
    parts = []
    for n in names:
        single, mirror = results[n]["test_accuracy"], results[n]["test_accuracy_mirror"]
        how = "mirror-averaged" if mirror > single else "single-view"
        parts.append(f"**{n}** {pct(max(single, mirror))} ({how})")
    over = "" if n_seeds == 1 else f", means over {n_seeds} seeds"
    return (f"**Best performances**, as the assignment asks for them, without and with augmentation"
            f"{over}: {join_and(parts)}.")


def bullets(sentences) -> str:
    """A Markdown list, one sentence per item."""
    return "\n".join(f"- {s}" for s in sentences)


def size_sentence(claim, spread: float | None) -> str:
    """A large difference compared with the seed-to-seed spread, where this build measured one."""
    d = claim.numbers.get("difference")
    if d is None:
        return ""
    if spread is None or spread == 0:
        return (f"With one seed per experiment this build measures no seed-to-seed spread, so even a difference "
                f"of {pts(d)} has no interval here; the full profile's three seeds give one.")
    return (f"A difference of {pts(d)} is about {num(abs(d) / spread, 0)} times the largest seed-to-seed "
            f"standard deviation of any experiment in this build ({points(spread, 1, sign=False)}): unlike a "
            "difference of the size of that spread, it is not seed noise.")


def loss_sentence(result: Mapping, name: str) -> str:
    """Where the test loss of `name` is lowest, and whether it turns up afterwards."""
    test_loss = result["history"]["test_loss"]
    if len(test_loss) < 2:
        return ""
    best = min(range(len(test_loss)), key=test_loss.__getitem__)
    epoch = result["history"]["epoch"][best]
    if best < len(test_loss) - 1:
        return (f"The test loss of **{name}** is lowest after epoch {epoch} of {len(test_loss)} and rises by "
                f"{num(test_loss[-1] - test_loss[best])} afterwards.")
    return (f"The test loss of **{name}** is lowest after the last epoch ({epoch}): with the learning rate "
            "decaying to zero, the last epoch is the best one.")


def curve_sentence(result: Mapping) -> str:
    """The baseline's test loss through the epochs: its minimum and whether it turns up."""
    hist = result["history"]
    test_loss = hist["test_loss"]
    best = min(range(len(test_loss)), key=test_loss.__getitem__)
    text = (f"Without augmentation, the baseline's test loss is lowest after epoch {hist['epoch'][best]} of "
            f"{len(test_loss)} ({num(test_loss[best])})")
    if best < len(test_loss) - 1:
        return (text + f" and then rises to {num(test_loss[-1])} while the training loss keeps falling to "
                f"{num(hist['loss'][-1])}: the network fits its training images at the expense of new ones.")
    return text + ", the last one: within this budget its test loss has not turned up."


# --- the analysis step (Section 4 artifacts) -----------------------------------------------


def per_class(analysis: Mapping, exp: str) -> dict | None:
    """Best and worst class and the commonest confusions of one model, as words."""
    pc = (analysis or {}).get("per_class", {}).get(exp)
    if not pc:
        return None
    acc = dict(zip(pc["classes"], pc["accuracy"]))
    confused = join_and(f"{c['true']} taken for {c['pred']} ({pct(c['share'])} of the {c['true']} images)"
                        for c in pc["most_confused"])
    return {"best": pc["best_class"], "best_acc": pct(acc[pc["best_class"]]),
            "worst": pc["worst_class"], "worst_acc": pct(acc[pc["worst_class"]]), "confused": confused}


def per_class_sentence(analysis: Mapping, exp: str) -> str:
    """One sentence on a model's best and worst class and its commonest confusions ("" without analysis)."""
    f = per_class(analysis, exp)
    if not f:
        return ""
    return (f"**{exp}** does best on the class {f['best']} ({f['best_acc']}) and worst on {f['worst']} "
            f"({f['worst_acc']}); its commonest confusions are {f['confused']}.")


def per_class_block(analysis: Mapping, exercise: int) -> dict:
    """The analysed models of one exercise, with their per-class sentences."""
    models = [m for m in (analysis or {}).get("models", []) if m in EXPERIMENTS and EXPERIMENTS[m]["exercise"] == exercise]
    text = " ".join(per_class_sentence(analysis, m) for m in models)
    return {"models": models, "text": f"Per class (test set): {text}" if text else ""}


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
    return html_table(df, "results layers", "lllrrr")


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
    return html_table(df, "results paper-results", "lrrl")


POLICY_WORDS = {"float32": "float32", "mixed_bfloat16": "mixed precision (bfloat16 arithmetic, float32 weights)"}


def precision(results: Mapping) -> str:
    """Which arithmetic the runs used, from what each seed recorded."""
    used: dict[str, list[str]] = {}
    for name, r in results.items():
        for policy in r.get("precision_policies", ["float32"]):
            used.setdefault(policy, []).append(name)
    if not used:
        return ""
    words = {p: POLICY_WORDS.get(p, p) for p in used}
    if list(used) == ["float32"]:
        return "Every run computed in float32."
    why = ("The machine that trained a run chose mixed precision where its calibration measured it faster than "
           "float32 for that network and augmentation; `--no-mixed-precision` trains everything in float32.")
    if len(used) == 1:
        return f"Every run computed in {words[next(iter(used))]}. {why}"
    parts = "; ".join(f"{words[p]} for {join_and(f'**{n}**' for n in names)}" for p, names in used.items())
    return f"Arithmetic: {parts}. {why}"


def intro(results: Mapping, seeds: int, profile: str) -> dict:
    """The introduction's data-dependent sentences."""
    from .config import PROFILES

    trained = f"It trained {len(results)} of the {len(EXPERIMENTS)} registered experiments"
    if seeds > 1:
        trained += f", each with {seeds} seeds"
    uncertainty = ""
    if seeds > 1:
        uncertainty = (f"Differences are given with 95 % intervals over {seeds} seeds, paired by seed; a difference "
                       "whose interval includes zero is undetected, not absent.")
    else:
        uncertainty = ("Each experiment ran with one seed, so no difference has an interval; the full profile "
                       "trains three seeds per experiment.")
    caveat = "" if profile == "full" else (
        f"The {profile} profile trains on fewer images or epochs than the assignment asks; what that does to "
        "the accuracies is read from the tables, not assumed.")
    training = ""
    if "baseline" in results:
        r = recipe(results["baseline"])
        training = (f"Exercise 1 uses the assignment's settings: {r['optimizer']} with learning rate "
                    f"{r['learning_rate']}, batches of {r['batch_size']}, {r['epochs']} and plain categorical "
                    "cross-entropy.")
    return {"profile": f"**{profile}**, {PROFILES[profile]['description']}", "trained": trained,
            "training": training, "precision": precision(results),
            "uncertainty": uncertainty, "caveat": caveat}


def context(claims: ClaimBook, results: Mapping, visuals: Mapping, analysis: Mapping, profile: str,
            seeds: int = 1) -> dict:
    """Everything the prose needs beyond the raw results: one dict per section."""
    c1_best = visuals.get("chosen", {}).get("ex1", {}).get("experiment")
    papers = paper_table(analysis)
    return {
        "intro": intro(results, seeds, profile),
        "ex1": ex1(claims, results, profile),
        "ex2": {"fields": ex2_fields(visuals, c1_best) if c1_best else {"text": "", "last": None},
                "vgg_field": receptive_fields(VGG_TYPES)[-1][0],
                "figs": ex2_figures(visuals),
                **ex2(claims, visuals, profile, analysis)},
        "ex3": ex3(claims, results, profile, c1_best, analysis),
        "per_class": {n: per_class(analysis, n) for n in (analysis or {}).get("models", [])},
        "classes1": per_class_block(analysis, 1),
        "classes3": per_class_block(analysis, 3),
        "paper_table": papers,
        "paper_note": ("The table below copies only the single-model errors this build checked against the paper."
                       if papers else
                       "Its single-model error tables are not reproduced here, because this build could not check "
                       "them against the paper."),
    }
