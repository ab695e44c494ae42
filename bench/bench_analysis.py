"""How well and how fast ``feedback.analysis.analyze`` reads feedback, against plain VADER.

    .venv/bin/python bench/bench_analysis.py

Quality, on the evaluation set ``bench/data/feedback_eval.jsonl`` (see ``bench/data/README.md``):
label accuracy and macro-F1, urgency precision and recall, and per-touchpoint precision, recall
and F1, for our analyser and for plain VADER (``polarity_scores`` compound with the standard
thresholds: >= 0.05 positive, <= -0.05 negative; VADER has no touchpoints or urgency). The
lexicon is tuned on the ``tune`` split only; the ``test`` split is the one to quote, the tune
numbers are shown for transparency.

Speed, in the same run: texts per second of ``analyze()`` against a bare VADER
``polarity_scores`` on the same texts (the ceiling: the library we build on, doing less), and
lines per second of ``rapport analyze`` on N lines piped through a subprocess (Django start-up
included; the start-up alone is measured too).

``--errors`` lists the tune split's mistakes (never the test split's) for tuning the lexicon.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "src"))

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # noqa: E402

from feedback.analysis import LEXICON_VERSIONS, TOUCHPOINTS, analyze  # noqa: E402

EVAL = PROJECT / "bench" / "data" / "feedback_eval.jsonl"
LABELS = ("negative", "neutral", "positive")


def load(path: Path = EVAL) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def vader_label(compound: float) -> str:
    if compound >= 0.05:
        return "positive"
    if compound <= -0.05:
        return "negative"
    return "neutral"


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def label_scores(gold: list[str], predicted: list[str]) -> dict:
    accuracy = sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold)
    per_class = {}
    for label in LABELS:
        tp = sum(g == p == label for g, p in zip(gold, predicted, strict=True))
        fp = sum(p == label != g for g, p in zip(gold, predicted, strict=True))
        fn = sum(g == label != p for g, p in zip(gold, predicted, strict=True))
        per_class[label] = prf(tp, fp, fn)
    macro_f1 = sum(f for _, _, f in per_class.values()) / len(LABELS)
    return {"accuracy": accuracy, "macro_f1": macro_f1, "per_class": per_class}


def evaluate(items: list[dict], vader: SentimentIntensityAnalyzer) -> dict:
    ours = [analyze(item["text"]) for item in items]
    gold = [item["label"] for item in items]
    result = {
        "n": len(items),
        "ours": label_scores(gold, [a.label for a in ours]),
        "vader": label_scores(
            gold, [vader_label(vader.polarity_scores(i["text"])["compound"]) for i in items]
        ),
    }
    tp = sum(a.urgent and i["urgent"] for a, i in zip(ours, items, strict=True))
    fp = sum(a.urgent and not i["urgent"] for a, i in zip(ours, items, strict=True))
    fn = sum(i["urgent"] and not a.urgent for a, i in zip(ours, items, strict=True))
    result["urgent"] = (*prf(tp, fp, fn), sum(i["urgent"] for i in items))
    touchpoints = {}
    totals = Counter()
    for slug in TOUCHPOINTS:
        counts = Counter()
        for analysis, item in zip(ours, items, strict=True):
            said, meant = slug in analysis.touchpoints, slug in item["touchpoints"]
            counts["tp"] += said and meant
            counts["fp"] += said and not meant
            counts["fn"] += meant and not said
        totals.update(counts)
        support = counts["tp"] + counts["fn"]
        touchpoints[slug] = (*prf(counts["tp"], counts["fp"], counts["fn"]), support)
    result["touchpoints"] = touchpoints
    result["touchpoints_micro"] = prf(totals["tp"], totals["fp"], totals["fn"])
    result["touchpoints_macro_f1"] = sum(t[2] for t in touchpoints.values()) / len(touchpoints)
    return result


def print_quality(name: str, r: dict) -> None:
    ours, vader = r["ours"], r["vader"]
    print(f"\n### {name} split ({r['n']} texts)\n")
    print("| measure | ours | plain VADER |")
    print("|---|---:|---:|")
    print(f"| label accuracy | {ours['accuracy']:.1%} | {vader['accuracy']:.1%} |")
    print(f"| label macro-F1 | {ours['macro_f1']:.3f} | {vader['macro_f1']:.3f} |")
    for label in LABELS:
        o, v = ours["per_class"][label], vader["per_class"][label]
        print(f"| F1 {label} | {o[2]:.3f} | {v[2]:.3f} |")
    p, rc, f, support = r["urgent"]
    print(f"| urgency precision | {p:.1%} | n/a |")
    print(f"| urgency recall ({support} urgent) | {rc:.1%} | n/a |")
    mp, mr, mf = r["touchpoints_micro"]
    print(f"| touchpoints micro P / R / F1 | {mp:.1%} / {mr:.1%} / {mf:.3f} | n/a |")
    print(f"| touchpoints macro-F1 | {r['touchpoints_macro_f1']:.3f} | n/a |")
    print("\n| touchpoint | support | precision | recall | F1 |")
    print("|---|---:|---:|---:|---:|")
    for slug, (p, rc, f, support) in r["touchpoints"].items():
        print(f"| `{slug}` | {support} | {p:.1%} | {rc:.1%} | {f:.3f} |")


def print_errors(items: list[dict]) -> None:
    for item in items:
        a = analyze(item["text"])
        problems = []
        if a.label != item["label"]:
            problems.append(f"label {a.label} (gold {item['label']}, {a.sentiment:+.3f})")
        if a.urgent != item["urgent"]:
            problems.append(f"urgent {a.urgent} (gold {item['urgent']})")
        extra = [t for t in a.touchpoints if t not in item["touchpoints"]]
        missing = [t for t in item["touchpoints"] if t not in a.touchpoints]
        if extra or missing:
            problems.append(f"touchpoints +{extra} -{missing}")
        if problems:
            print(f"{item['id']}: {item['text'][:150]}")
            print("    " + "; ".join(problems))
            print("    " + " | ".join(a.reasons))


def throughput(texts: list[str], vader: SentimentIntensityAnalyzer, repeat: int) -> dict:
    """Best of ``repeat`` passes over the same texts, ours and bare VADER interleaved."""
    best_ours = best_vader = float("inf")
    polarity = vader.polarity_scores
    for _ in range(repeat):
        started = time.perf_counter()
        for text in texts:
            polarity(text)
        best_vader = min(best_vader, time.perf_counter() - started)
        started = time.perf_counter()
        for text in texts:
            analyze(text)
        best_ours = min(best_ours, time.perf_counter() - started)
    return {"ours": len(texts) / best_ours, "vader": len(texts) / best_vader}


def long_text(vader: SentimentIntensityAnalyzer) -> dict:
    """One 20,000-character text (the command's cap): ours against VADER's quadratic rules."""
    unit = "The hygienist was rough but Dr. Chen was lovely. I waited 40 minutes again! "
    text = (unit * (20_000 // len(unit) + 1))[:20_000]
    started = time.perf_counter()
    analyze(text)
    ours = time.perf_counter() - started
    started = time.perf_counter()
    vader.polarity_scores(text)
    return {"ours": ours, "vader": time.perf_counter() - started}


def command_throughput(texts: list[str], lines: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(PROJECT / "src")}
    command = [sys.executable, "-m", "rapport.cli", "analyze"]
    with tempfile.TemporaryFile() as source:
        payload = "\n".join(texts[i % len(texts)] for i in range(lines)) + "\n"
        source.write(payload.encode("utf-8"))
        source.seek(0)
        started = time.perf_counter()
        done = subprocess.run(command, stdin=source, capture_output=True, env=env, check=True)
        elapsed = time.perf_counter() - started
    produced = done.stdout.count(b"\n")
    if produced != lines:
        raise SystemExit(f"rapport analyze wrote {produced} lines for {lines}")
    started = time.perf_counter()
    subprocess.run(command, input=b"", capture_output=True, env=env, check=True)
    startup = time.perf_counter() - started
    return {"lines": lines, "seconds": elapsed, "startup": startup}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000, help="lines for rapport analyze")
    parser.add_argument("--repeat", type=int, default=5, help="passes for the speed test")
    parser.add_argument("--errors", action="store_true", help="list the tune split's mistakes")
    parser.add_argument("--no-speed", action="store_true", help="quality only")
    args = parser.parse_args()

    items = load()
    if args.errors:
        print_errors([i for i in items if i["split"] == "tune"])
        return
    vader = SentimentIntensityAnalyzer()
    versions = ", ".join(f"{name} {version}" for name, version in LEXICON_VERSIONS.items())
    print(f"lexicon: {versions}; evaluation set: {len(items)} texts")
    for split in ("test", "tune"):
        print_quality(split, evaluate([i for i in items if i["split"] == split], vader))
    if args.no_speed:
        return

    texts = [item["text"] for item in items]
    speed = throughput(texts, vader, args.repeat)
    ratio = speed["ours"] / speed["vader"]
    longest = long_text(vader)
    command = command_throughput(texts, args.lines)
    print(f"\n### Speed ({len(texts)} evaluation texts, best of {args.repeat})\n")
    print("| what | texts/s | ceiling | ceiling texts/s | ratio |")
    print("|---|---:|---|---:|---:|")
    print(
        f"| `analyze()` | {speed['ours']:,.0f} | VADER `polarity_scores` | "
        f"{speed['vader']:,.0f} | {ratio:.0%} |"
    )
    print(
        f"\nOne 20,000-character text: `analyze()` {longest['ours'] * 1000:.1f} ms, "
        f"VADER `polarity_scores` {longest['vader'] * 1000:.0f} ms."
    )
    rate = command["lines"] / command["seconds"]
    print(
        f"`rapport analyze` on {command['lines']:,} lines: {command['seconds']:.1f} s, "
        f"{rate:,.0f} lines/s including {command['startup']:.2f} s of start-up."
    )


if __name__ == "__main__":
    main()
