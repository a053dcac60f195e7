#!/usr/bin/env python3
"""The knowledge-base tools as staff use them: kb stats and kb search
(--json fields, typo corrections, hostile text), eval on a small labelled
CSV over a temporary KB (every figure checked against a count by hand,
--details, header and row errors), and check reporting a KB error with
path:line and exit 1."""
import csv
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import binary, check, failures, finish, run, source  # noqa: E402


def close(a, b):
    return abs(a - b) < 1e-9


def count_files(folder, ext):
    return sum(1 for _, _, files in os.walk(folder) for f in files if f.endswith(ext) and not f.startswith("."))


# kb stats on the sample knowledge_base/
kb_dir = os.path.join(source, "knowledge_base")
md, csvs = count_files(kb_dir, ".md"), count_files(kb_dir, ".csv")
r = run("kb", "stats", "--json")
check(r.returncode == 0, f"kb stats exits 0: {r.stderr}")
st = json.loads(r.stdout)
check(st["articles"] == md and md >= 80, f"one article per Markdown file: {st['articles']} vs {md}")
check(st["files"] == md + csvs, f"files counts .md and .csv: {st['files']}")
check(st["variants"] > 5 * st["articles"], f"titles and questions counted: {st['variants']}")
check(st["synonym_groups"] >= 10, f"synonym groups: {st['synonym_groups']}")
check(20 <= st["held_out"] < st["variants"] / 4, f"held out for calibration: {st['held_out']}")
check(st["train_accuracy"] >= 0.95, f"train accuracy: {st['train_accuracy']}")
check(st["vocabulary"] > 0 and st["build_ms"] > 0, "vocabulary and build time reported")
r = run("kb", "stats")
check(r.returncode == 0 and f"{st['articles']} articles" in r.stdout, f"text stats: {r.stdout}")

# kb search --json: fields, ranking, explanation, typo corrections
r = run("kb", "search", "I forgot my pasword", "--json", "--limit", "3")
check(r.returncode == 0, f"kb search exits 0: {r.stderr}")
out = json.loads(r.stdout)
check(out["query"] == "I forgot my pasword", "query echoed")
res = out["results"]
check(1 <= len(res) <= 3, f"--limit honoured: {len(res)}")
fields = {"id", "title", "confidence", "probability", "calibrated", "similarity", "coverage", "nearest_variant",
          "terms", "corrected"}
check(all(fields <= set(m) for m in res), f"result fields: {res[0].keys() if res else None}")
check(res and res[0]["id"] == "reset-password", f"typo query ranks reset-password: {res[:1]}")
check(res and res[0]["corrected"] == ["pasword→password"], f"correction reported: {res[:1]}")
check(res and "password" in res[0]["terms"], "shared terms listed")
check(res and res[0]["confidence"] >= 0.6, "confident enough to answer")
check(all(0 <= m["confidence"] <= 1 for m in res), "confidences in [0,1]")
check(all(res[i]["confidence"] >= res[i + 1]["confidence"] for i in range(len(res) - 1)), "best first")
check(out["fts5"] and out["fts5"][0]["id"] == "reset-password" and out["fts5"][0]["bm25"] < 0, f"fts5: {out['fts5']}")

# A misspelled synonym ("pakage" for "package", whose group is "parcel").
out = json.loads(run("kb", "search", "where is my pakage", "--json").stdout)
check(out["results"] and out["results"][0]["id"] == "order-tracking", f"misspelled synonym: {out['results'][:1]}")
check(out["results"] and out["results"][0]["corrected"] == ["pakage→package"], "synonym correction reported")

# Text that is FTS5 syntax is searched as words.
for q in ['password" OR "*', "NEAR(password", "title:password", "body:password -reset ^", '"']:
    r = run("kb", "search", q, "--json")
    check(r.returncode == 0, f"kb search {q!r} exits 0: {r.stderr}")
    out = json.loads(r.stdout)
    if q != '"':
        check(out["fts5"] and out["fts5"][0]["id"] == "reset-password", f"{q!r} still matches: {out['fts5']}")
    else:
        check(out["results"] == [] and out["fts5"] == [], f"a lone quote finds nothing: {out}")
r = run("kb", "search", "zzqxj vvkpw")
check(r.returncode == 0 and "no article shares a word" in r.stdout, f"nothing found, said so: {r.stdout}")
r = run("kb", "search")
check(r.returncode == 2, "kb search without text is a usage error")
r = run("kb", "frobnicate")
check(r.returncode == 2, "unknown kb subcommand is a usage error")

ARTICLES = {
    "returns-policy": ("What is your return policy?",
                       ["can I send something back", "how long do I have to return an item", "are returns free"]),
    "shipping-costs": ("How much does shipping cost?", ["shipping price", "is delivery free", "cost of express shipping"]),
    "reset-password": ("How do I reset my password?",
                       ["forgot my password", "can't log in to my account", "password reset email never came"]),
    "store-hours": ("When is the store open?", ["opening hours", "are you open on sunday", "what time do you close"]),
}


def write_kb(folder):
    os.makedirs(folder)
    for aid, (title, questions) in ARTICLES.items():
        with open(os.path.join(folder, aid + ".md"), "w") as f:
            f.write(f"---\nid: {aid}\ntitle: {title}\nquestions:\n")
            f.write("".join(f"  - {q}\n" for q in questions))
            f.write("---\nThe answer.\n")


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


with tempfile.TemporaryDirectory() as tmp:
    kb, intents = os.path.join(tmp, "kb"), os.path.join(tmp, "intents")
    write_kb(kb)
    os.makedirs(intents)  # no intents: every answer comes from the KB
    ev = ["--kb", kb, "--intents", intents]

    # 4 rows: 3 in scope answered right, 1 nonsense out of scope.
    small = os.path.join(tmp, "small.csv")
    write_csv(small, [["text", "expected"],
                      ["What is your return policy?", "returns-policy"],
                      ["how much does shipping cost", "shipping-costs"],
                      ["I forgot my password", "reset-password"],
                      ["zzqx wvkp plugh", "out_of_scope"]])
    r = run("eval", small, *ev, "--json", cwd=tmp)
    check(r.returncode == 0, f"eval exits 0: {r.stderr}")
    out = json.loads(r.stdout)
    check(out["count"] == 4, f"count: {out['count']}")
    for key in ("accuracy", "in_scope_accuracy", "out_of_scope_precision", "out_of_scope_recall"):
        check(close(out[key], 1.0), f"{key} is 1.0 on the small case: {out[key]}")
    check(out["in_scope_count"] == 3 and out["out_of_scope_count"] == 1, "in/out of scope counts")
    check(out["decisions"] == {"answer": 3, "fallback": 1}, f"decisions: {out['decisions']}")

    # 6 rows with mistakes, counted by hand:
    #   rows 1-3 right; row 4 nonsense, out_of_scope: right (predicted out_of_scope);
    #   row 5 a title labelled as another article: wrong (predicted store-hours);
    #   row 6 nonsense labelled as an article: wrong (predicted out_of_scope).
    # right 4/6; in scope 5, right 3 -> 0.6; out_of_scope predicted 2 (rows 4, 6),
    # expected 1, both 1 -> precision 0.5, recall 1.0.
    mixed = os.path.join(tmp, "mixed.csv")
    rows = [["text", "expected"],
            ["What is your return policy?", "returns-policy"],
            ["how much does shipping cost", "shipping-costs"],
            ["I forgot my password", "reset-password"],
            ["zzqx wvkp plugh", "out_of_scope"],
            ["When is the store open?", "shipping-costs"],
            ["qqzv xxjw", "store-hours"]]
    write_csv(mixed, rows)
    details = os.path.join(tmp, "details.csv")
    r = run("eval", mixed, *ev, "--json", "--details", details, cwd=tmp)
    check(r.returncode == 0, f"eval exits 0: {r.stderr}")
    out = json.loads(r.stdout)
    check(out["count"] == 6, f"count: {out['count']}")
    check(close(out["accuracy"], 4 / 6), f"accuracy 4/6: {out['accuracy']}")
    check(close(out["in_scope_accuracy"], 0.6), f"in-scope accuracy 3/5: {out['in_scope_accuracy']}")
    check(close(out["out_of_scope_precision"], 0.5), f"out-of-scope precision 1/2: {out['out_of_scope_precision']}")
    check(close(out["out_of_scope_recall"], 1.0), f"out-of-scope recall 1/1: {out['out_of_scope_recall']}")
    check(out["labels"]["shipping-costs"]["predicted_instead"] == {"store-hours": 1}, f"confusion: {out['labels']}")
    check(out["labels"]["store-hours"]["predicted_instead"] == {"out_of_scope": 1}, f"confusion: {out['labels']}")
    for key in ("mean", "p50", "p99", "max"):
        check(out["latency_us"][key] >= 0, f"latency {key}")

    # --details: a header and one row per message, in order.
    with open(details, newline="") as f:
        d = list(csv.DictReader(f))
    check(len(d) == 6, f"one details row per message: {len(d)}")
    check([x["text"] for x in d] == [r[0] for r in rows[1:]], "details keep the messages in order")
    check([x["expected"] for x in d] == [r[1] for r in rows[1:]], "details keep the labels")
    check([x["predicted"] for x in d] ==
          ["returns-policy", "shipping-costs", "reset-password", "out_of_scope", "store-hours", "out_of_scope"],
          f"details predictions: {[x['predicted'] for x in d]}")
    check(d[0]["decision"] == "answer" and d[3]["decision"] == "fallback", "details decisions")
    check(d[0]["kb_top"] == "returns-policy" and float(d[0]["kb_probability"]) > 0.5, f"kb columns: {d[0]}")

    # Text output of the same run.
    r = run("eval", mixed, *ev, cwd=tmp)
    check(r.returncode == 0 and "accuracy:               66.67%" in r.stdout, f"text accuracy: {r.stdout}")
    check("out-of-scope precision: 50.00%" in r.stdout, f"text precision: {r.stdout}")

    # Header and row errors.
    bad = os.path.join(tmp, "bad.csv")
    write_csv(bad, [["question", "answer"], ["x", "y"]])
    r = run("eval", bad, *ev, cwd=tmp)
    check(r.returncode == 1, f"bad header exits 1: {r.returncode}")
    check(f"{bad}:1: the header must be 'text,expected'" in r.stderr, f"header error: {r.stderr}")
    with open(bad, "w") as f:
        f.write("text,expected\nfine,out_of_scope\ntoo,many,fields\n")
    r = run("eval", bad, *ev, cwd=tmp)
    check(r.returncode == 1 and f"{bad}:3: expected 2 fields" in r.stderr, f"row error: {r.stderr}")
    with open(bad, "w") as f:
        f.write('text,expected\n"never closed,out_of_scope\n')
    r = run("eval", bad, *ev, cwd=tmp)
    check(r.returncode == 1 and f"{bad}:2: unterminated quoted field" in r.stderr, f"quote error: {r.stderr}")
    r = run("eval", os.path.join(tmp, "missing.csv"), *ev, cwd=tmp)
    check(r.returncode == 1 and "cannot read" in r.stderr, f"missing file: {r.stderr}")
    r = run("eval", cwd=tmp)
    check(r.returncode == 2, "eval without a file is a usage error")

    # check: a KB error is reported with path:line and fails the run.
    variants = os.path.join(kb, "variants.csv")
    write_csv(variants, [["article", "question"], ["returns-policy", "send it back"], ["retruns-policy", "typo"]])
    env = {"SUPPORTBOT_KB_DIR": kb}
    r = run("check", env=env)
    check(r.returncode == 1, f"check fails on a KB error: {r.returncode} {r.stdout}")
    check(f"{variants}:3: unknown article 'retruns-policy'" in r.stdout, f"KB error located: {r.stdout}")
    r = run("check", "--json", env=env)
    check(r.returncode == 1, "check --json fails on a KB error")
    out = json.loads(r.stdout)
    check(out["ok"] is False and f"{variants}:3: unknown article 'retruns-policy'" in out["errors"],
          f"KB error in JSON: {out['errors']}")
    # The same broken KB refuses kb stats and eval, naming the error.
    r = run("kb", "stats", env=env)
    check(r.returncode == 1 and f"{variants}:3: unknown article" in r.stderr, f"kb stats refuses: {r.stderr}")
    r = run("eval", small, *ev, cwd=tmp)
    check(r.returncode == 1 and f"{variants}:3: unknown article" in r.stderr, f"eval refuses: {r.stderr}")

    # A front-matter error is located too.
    os.remove(variants)
    broken = os.path.join(kb, "store-hours.md")
    with open(broken, "w") as f:
        f.write("---\nid: store-hours\ntitle: When is the store open?\ncolour: red\n---\nThe answer.\n")
    r = run("check", env=env)
    check(r.returncode == 1 and f"{broken}:4: unknown key 'colour'" in r.stdout, f"front matter error: {r.stdout}")

finish()
