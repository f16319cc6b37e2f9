#!/usr/bin/env python3
"""Recall and decoy measurement of a zaslon binary on the independent corpus.

For each purpose the binary redacts corpus.ndjson (NDJSON, one document per
line). Then, for each planted value of truth.jsonl, the string at its JSON
pointer in the output is searched for the planted text (numbers by their
digit sequence, whatever separators stand between the digits; names and
e-mails verbatim). A member that the output no longer has counts as not
surviving. Whether a class may survive for a purpose is read from the table
of rules/README.md: only `allow` lets a value through as it is.

Decoys (decoys.jsonl) must come out unchanged for every purpose; a decoy in a
member that the purpose's rules remove whole is counted apart as removed.

Prints markdown tables, the survivors' shapes for marketing and the first
survivors of each class with their context, writes results.json beside the
outputs, and exits 0 (1 only if the binary fails or the outputs do not line
up with the corpus).

Usage: python3 measure.py --bin /tmp/zaslon-indep-bin --corpus /tmp/ic
"""

import argparse
import collections
import difflib
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_RULES = os.path.normpath(os.path.join(HERE, "..", "..", "rules"))
DEFAULT_PURPOSES = ["marketing", "analytics", "support", "feedback", "care"]
DIGIT_CLASSES = {"phone", "card", "snils", "passport", "birth_date", "inn", "oms_policy"}
NAME_CLASSES = {"full_name", "surname", "given_name", "patronymic"}
MISSING = object()


# ---------------------------------------------------------------- rules table


def read_rules_table(readme_path: str) -> dict:
    """{class: {purpose: action}} from the markdown table of rules/README.md
    whose header starts with `| class |`."""
    actions, purposes = {}, None
    with open(readme_path, encoding="utf-8") as f:
        for line in f:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if purposes is None:
                if line.startswith("| class |"):
                    purposes = cells[1:]
                continue
            if not line.startswith("|"):
                break
            if set(cells[0]) <= set("-: "):
                continue
            if cells[0] in ("consent mode", "other content types"):
                continue
            actions[cells[0]] = dict(zip(purposes, cells[1:]))
    if not actions:
        raise SystemExit("no class table found in %s" % readme_path)
    return actions


# ---------------------------------------------------------------- matching


def resolve(doc, pointer: str):
    """RFC 6901 pointer lookup; MISSING when a step is absent."""
    node = doc
    if pointer in ("", "/"):
        return node
    for raw in pointer.lstrip("/").split("/"):
        key = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            if key not in node:
                return MISSING
            node = node[key]
        elif isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                return MISSING
            node = node[int(key)]
        else:
            return MISSING
    return node


def as_text(value) -> str:
    if value is MISSING or value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


_pattern_cache = {}


def pattern(cls: str, kind: str, text: str):
    """The regex that finds `text` of class `cls` in an output string."""
    key = (cls, kind, text)
    if key in _pattern_cache:
        return _pattern_cache[key]
    digits = re.sub(r"\D", "", text)
    if cls in DIGIT_CLASSES and len(digits) >= 6 and not kind.endswith("words"):
        rx = re.compile(r"(?<!\d)" + r"[^\w]{0,3}".join(digits) + r"(?!\d)")
    elif cls == "email":
        rx = re.compile(r"(?<![\w.+-])" + re.escape(text) + r"(?![\w-])", re.IGNORECASE)
    else:
        rx = re.compile(r"(?<!\w)" + re.escape(text) + r"(?!\w)")
    _pattern_cache[key] = rx
    return rx


def survivors_in_group(items, rx, before: str, after):
    """How many of `items` (same doc, pointer and text) are still there: the
    occurrences lost between `before` and `after` are charged to them first."""
    if after is MISSING:
        return 0
    n_in = len(rx.findall(before))
    n_out = len(rx.findall(as_text(after)))
    lost = min(len(items), max(0, n_in - n_out))
    return len(items) - lost


# ---------------------------------------------------------------- running


def run_binary(binary, rules, purpose, corpus_path, out_path, key):
    env = dict(os.environ, ZASLON_PSEUDONYM_KEY=key)
    start = time.monotonic()
    with open(corpus_path, "rb") as src, open(out_path, "wb") as dst:
        proc = subprocess.run([binary, "redact", "--rules", rules, "--purpose", purpose,
                               "--content-type", "application/x-ndjson"],
                              stdin=src, stdout=dst, stderr=subprocess.PIPE, env=env)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.decode("utf-8", "replace"))
        raise SystemExit("%s failed for purpose %s (exit %d)" % (binary, purpose, proc.returncode))
    return elapsed


def load_ndjson(path):
    docs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                docs.append(json.loads(line))
    return docs


def load_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def context(text: str, rx, width: int = 110) -> str:
    """The sentence of `text` around the first match of rx."""
    m = rx.search(text)
    if not m:
        return text[:2 * width]
    start = max(0, m.start() - width)
    cut = max(text.rfind(". ", start, m.start()), text.rfind("; ", start, m.start()))
    start = cut + 2 if cut >= 0 else start
    end = min(len(text), m.end() + width)
    stop = text.find(". ", m.end(), end)
    end = stop + 1 if stop >= 0 else end
    return text[start:end]


# ---------------------------------------------------------------- measuring


def measure(truth, decoys, inputs, outputs):
    """Per truth item and per decoy: 'kept' (still there verbatim),
    'changed' (the member is there, the value is not) or 'removed' (the
    member is gone); per free-text name with a surname also whether that
    surname form is still in the member (surname_left)."""
    groups = collections.defaultdict(list)
    for idx, item in enumerate(truth):
        groups[(item["doc"], item["pointer"], item["class"], item["kind"], item["text"])].append(idx)
    state = [None] * len(truth)
    for (doc, ptr, cls, kind, text), idxs in groups.items():
        rx = pattern(cls, kind, text)
        before = as_text(resolve(inputs[doc], ptr))
        after = resolve(outputs[doc], ptr)
        if after is MISSING:
            for idx in idxs:
                state[idx] = "removed"
            continue
        keep = survivors_in_group(idxs, rx, before, after)
        for n, idx in enumerate(idxs):
            state[idx] = "kept" if n < keep else "changed"

    surname_left = [None] * len(truth)
    sgroups = collections.defaultdict(list)
    for idx, item in enumerate(truth):
        if item["where"] == "free" and item.get("surname"):
            sgroups[(item["doc"], item["pointer"], item["surname"])].append(idx)
    for (doc, ptr, form), idxs in sgroups.items():
        rx = pattern("surname", "", form)
        before = as_text(resolve(inputs[doc], ptr))
        after = resolve(outputs[doc], ptr)
        keep = survivors_in_group(idxs, rx, before, after)
        for n, idx in enumerate(idxs):
            surname_left[idx] = n < keep

    dstate = [None] * len(decoys)
    dgroups = collections.defaultdict(list)
    for idx, item in enumerate(decoys):
        dgroups[(item["doc"], item["pointer"], item["text"])].append(idx)
    for (doc, ptr, text), idxs in dgroups.items():
        after = resolve(outputs[doc], ptr)
        if after is MISSING:
            for idx in idxs:
                dstate[idx] = "removed"
            continue
        if decoys[idxs[0]]["where"] == "keyed":
            same = as_text(after) == as_text(resolve(inputs[doc], ptr))
            for idx in idxs:
                dstate[idx] = "kept" if same else "changed"
            continue
        rx = re.compile(r"(?<!\w)" + re.escape(text) + r"(?!\w)")
        before = as_text(resolve(inputs[doc], ptr))
        keep = survivors_in_group(idxs, rx, before, after)
        for n, idx in enumerate(idxs):
            dstate[idx] = "kept" if n < keep else "changed"
    return state, surname_left, dstate


def replaced_by(before: str, after: str, rx) -> str:
    """What the output has where the first match of rx stood in the input:
    a placeholder such as `[card]`, `psn` for a pseudonym, `mask` for a
    masked value, or the changed text itself (shortened)."""
    m = rx.search(before)
    if not m:
        return "?"
    frags = []
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "equal" and i1 < m.end() and i2 > m.start() or (op == "insert" and m.start() <= i1 <= m.end()):
            frags.append(after[j1:j2])
    text = "".join(frags)
    tokens = re.findall(r"\[[a-z_]+\]", text)
    if tokens:
        return " ".join(dict.fromkeys(tokens))
    if "psn_" in text or re.fullmatch(r"[a-z2-7_]+", text.strip() or "-"):
        return "psn"
    if "*" in text:
        return "mask"
    return "«%s»" % text.strip()[:24] if text.strip() else "(deleted)"


# ---------------------------------------------------------------- reporting


def md_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="zaslon binary")
    ap.add_argument("--corpus", required=True, help="directory written by gen.py")
    ap.add_argument("--rules", default=DEFAULT_RULES, help="rules directory (default: %(default)s)")
    ap.add_argument("--purposes", default=",".join(DEFAULT_PURPOSES))
    ap.add_argument("--key", default="indep-corpus-measurement-key-0123456789",
                    help="ZASLON_PSEUDONYM_KEY for the runs")
    ap.add_argument("--show", type=int, default=15, help="survivors to print per class (marketing)")
    ap.add_argument("--show-purpose", default="marketing")
    args = ap.parse_args(argv)

    t0 = time.monotonic()
    actions = read_rules_table(os.path.join(args.rules, "README.md"))
    purposes = [p for p in args.purposes.split(",") if p]
    corpus_path = os.path.join(args.corpus, "corpus.ndjson")
    inputs = load_ndjson(corpus_path)
    truth = load_jsonl(os.path.join(args.corpus, "truth.jsonl"))
    decoys = load_jsonl(os.path.join(args.corpus, "decoys.jsonl"))

    results, timings = {}, {}
    for purpose in purposes:
        out_path = os.path.join(args.corpus, "out-%s.ndjson" % purpose)
        timings[purpose] = run_binary(args.bin, args.rules, purpose, corpus_path, out_path, args.key)
        outputs = load_ndjson(out_path)
        if len(outputs) != len(inputs):
            raise SystemExit("%s: %d output documents for %d input documents"
                             % (purpose, len(outputs), len(inputs)))
        results[purpose] = (outputs,) + measure(truth, decoys, inputs, outputs)

    classes = sorted({t["class"] for t in truth},
                     key=lambda c: list(actions).index(c) if c in actions else 99)
    allowed = {c: {p: actions.get(c, {}).get(p, "remove") == "allow" for p in purposes}
               for c in classes}

    def cell(items_idx, purpose, cls):
        st = results[purpose][1]
        n = len(items_idx)
        if n == 0:
            return "–"
        kept = sum(1 for i in items_idx if st[i] == "kept")
        if allowed[cls][purpose]:
            changed = sum(1 for i in items_idx if st[i] == "changed")
            return "allow (%d/%d changed)" % (changed, n) if changed else "allow"
        return "%d/%d" % (kept, n)

    by = collections.defaultdict(list)
    for i, t in enumerate(truth):
        by[(t["class"], t["where"])].append(i)
        if t["where"] == "free":
            by[(t["class"], "free-" + t["member"])].append(i)

    out = []
    out.append("# zaslon on the independent corpus\n")
    out.append("corpus: %s (%d documents, %d planted values, %d decoys); rules: %s\n"
               % (args.corpus, len(inputs), len(truth), len(decoys), args.rules))
    out.append("Cells: survived/planted where the purpose may not see the class verbatim "
               "(mask, pseudonymize, generalize, remove); a value whose member was removed did "
               "not survive. `allow` where the purpose may see it, with how many allowed values "
               "were changed in place anyway (over-redaction; a removed member is not counted).\n")

    for title, where in [("Free text, all members", "free"),
                         ("Free text in members no key rule removes (comment, note, "
                          "operatorNote, message, ...: detectors only)", "free-plain"),
                         ("Free text in health-keyed members (complaints, anamnesis, "
                          "recommendations: removed whole where health is not allowed)",
                          "free-health"),
                         ("Keyed fields (leaks)", "keyed")]:
        rows = []
        for cls in classes:
            idx = by.get((cls, where), [])
            if not idx:
                continue
            rows.append([cls] + [cell(idx, p, cls) for p in purposes])
        out.append("## %s\n" % title)
        out.append(md_table(["class"] + purposes, rows) + "\n")

    # Names: the surname form left behind even where the whole name did not survive.
    rows = []
    name_idx = [i for i in by.get(("full_name", "free"), []) if truth[i].get("surname")]
    row = ["full_name (free text, with a surname)"]
    for p in purposes:
        if allowed["full_name"][p]:
            row.append("allow")
            continue
        left = results[p][2]
        row.append("%d/%d" % (sum(1 for i in name_idx if left[i]), len(name_idx)))
    rows.append(row)
    out.append("## Surname form still present (whole or partial name leak)\n")
    out.append(md_table(["what"] + purposes, rows) + "\n")

    # Decoys.
    kinds = sorted({d["kind"] for d in decoys})
    rows = []
    for where in ("free", "keyed"):
        for kind in kinds:
            idx = [i for i, d in enumerate(decoys) if d["kind"] == kind and d["where"] == where]
            if not idx:
                continue
            row = ["%s (%s)" % (kind, where)]
            for p in purposes:
                st = results[p][3]
                changed = sum(1 for i in idx if st[i] == "changed")
                removed = sum(1 for i in idx if st[i] == "removed")
                row.append("%d/%d" % (changed, len(idx)) + (" (removed %d)" % removed if removed else ""))
            rows.append(row)
    total_row = ["**all**"]
    for p in purposes:
        st = results[p][3]
        total_row.append("**%d/%d** (removed %d)" % (st.count("changed"), len(decoys), st.count("removed")))
    rows.append(total_row)
    out.append("## Decoys changed (changed/total; removed = the member was dropped by a key rule)\n")
    out.append(md_table(["decoy"] + purposes, rows) + "\n")

    # Survivor shapes, all purposes: rows with at least one survivor.
    kind_rows = collections.defaultdict(lambda: {p: [0, 0] for p in purposes})
    for i, t in enumerate(truth):
        for p in purposes:
            if allowed[t["class"]][p]:
                continue
            cnt = kind_rows[(t["class"], t["where"], t["kind"])][p]
            cnt[0] += 1
            cnt[1] += results[p][1][i] == "kept"
    sp = args.show_purpose
    order_by = sp if sp in purposes else purposes[0]
    rows = []
    for (c, w, k), per in sorted(kind_rows.items(),
                                 key=lambda kv: (-kv[1][order_by][1], -sum(v[1] for v in kv[1].values()))):
        if not any(v[1] for v in per.values()):
            continue
        rows.append([c, w, k] + ["%d/%d" % tuple(per[p][::-1]) if per[p][0] else "allow"
                                 for p in purposes])
    out.append("## Survivors by shape (survived/planted; rows with a survivor)\n")
    out.append(md_table(["class", "where", "shape"] + purposes, rows) + "\n")

    # Replacements and examples for one purpose.
    if sp in results:
        outputs, st = results[sp][0], results[sp][1]

        # What the free-text values that did not survive were replaced with.
        repl = collections.defaultdict(collections.Counter)
        for i, t in enumerate(truth):
            if t["where"] != "free" or st[i] != "changed":
                continue
            rx = pattern(t["class"], t["kind"], t["text"])
            before = as_text(resolve(inputs[t["doc"]], t["pointer"]))
            after = as_text(resolve(outputs[t["doc"]], t["pointer"]))
            repl[t["class"]][replaced_by(before, after, rx)] += 1
        rows = [[cls, ", ".join("%s %d" % kv for kv in repl[cls].most_common(6))]
                for cls in classes if repl.get(cls)]
        out.append("## %s: what replaced the free-text values that did not survive\n" % sp)
        out.append(md_table(["class", "replaced by (count)"], rows) + "\n")

        lines = []
        for i, t in enumerate(truth):
            if (t["class"] == "full_name" and t["where"] == "free" and st[i] != "kept"
                    and results[sp][2][i] and not allowed["full_name"][sp]):
                rx = pattern("surname", "", t["surname"])
                after = as_text(resolve(outputs[t["doc"]], t["pointer"]))
                lines.append("- doc %d `%s` %s «%s»: …%s…"
                             % (t["doc"], t["pointer"], t["kind"], t["text"],
                                context(after, rx).replace("\n", " ")))
                if len(lines) >= args.show:
                    break
        out.append("## %s: surname left where the whole name did not survive (first %d)\n"
                   % (sp, args.show))
        out.append("\n".join(lines) + "\n" if lines else "(none)\n")

        out.append("## First %d survivors per class (%s; a class %s may see is shown from the "
                   "first purpose that may not)\n" % (args.show, sp, sp))
        for cls in classes:
            src = sp if not allowed[cls][sp] else next(
                (p for p in purposes if not allowed[cls][p]), None)
            if src is None:
                continue
            src_out, src_st = results[src][0], results[src][1]
            lines = []
            for i, t in enumerate(truth):
                if t["class"] != cls or src_st[i] != "kept":
                    continue
                rx = pattern(t["class"], t["kind"], t["text"])
                after = as_text(resolve(src_out[t["doc"]], t["pointer"]))
                lines.append("- doc %d `%s` %s «%s»: …%s…"
                             % (t["doc"], t["pointer"], t["kind"], t["text"],
                                context(after, rx).replace("\n", " ")))
                if len(lines) >= args.show:
                    break
            out.append("### %s, %s (%d shown)\n" % (cls, src, len(lines)))
            out.append("\n".join(lines) + "\n" if lines else "(none)\n")

    elapsed = time.monotonic() - t0
    out.append("## Timing\n")
    out.append(md_table(["purpose", "binary seconds"],
                        [[p, "%.2f" % timings[p]] for p in purposes]) + "\n")
    out.append("measure.py total: %.1f s\n" % elapsed)
    print("\n".join(out))

    summary = {"corpus": args.corpus, "rules": args.rules, "timings": timings, "purposes": {}}
    for p in purposes:
        tst = results[p][1]
        per = {}
        for (cls, where), idx in by.items():
            per["%s/%s" % (cls, where)] = {"planted": len(idx),
                                          "kept": sum(1 for i in idx if tst[i] == "kept"),
                                          "changed": sum(1 for i in idx if tst[i] == "changed"),
                                          "removed": sum(1 for i in idx if tst[i] == "removed"),
                                          "allowed": allowed[cls][p]}
        st = results[p][3]
        summary["purposes"][p] = {"classes": per,
                                  "decoys": {"total": len(decoys), "changed": st.count("changed"),
                                             "removed": st.count("removed")}}
    with open(os.path.join(args.corpus, "results.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, ensure_ascii=False, indent=2, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
