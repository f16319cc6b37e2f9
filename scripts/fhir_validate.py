#!/usr/bin/env python3
"""Validates the FHIR R4 examples and their redacted outputs with the R4
(4.0.1) models of PyPI's fhir.resources (6.4.0, pydantic 1).

    fhir_validate.py EXAMPLES_DIR OUT_DIR PURPOSE...

OUT_DIR/PURPOSE/NAME holds the output of `zaslon redact` for example NAME;
OUT_DIR/PURPOSE/NAME.exit its exit status when it was not 0. Prints, per
purpose, how many inputs the models accept, how many outputs of those
inputs they accept, and the first rejections with the validator's reasons.
An output is only judged when its input is accepted: the question is
whether redaction breaks a valid resource, not whether the examples are.
Then, apart from the models (which do not check them), the JSON
representation's own rules (https://hl7.org/fhir/R4/json.html): no empty
object, no empty array, no empty string, null only inside an array (where
it aligns primitive extensions). Counted for the outputs of inputs that
keep those rules.
Exit status 1 when any output of an accepted input is rejected, or breaks
a JSON rule its input keeps.
"""

import collections
import json
import os
import re
import sys

import fhir.resources
from fhir.resources import get_fhir_model_class

SHOWN = 5


def judge(doc):
    """None when the models accept `doc`, else the reason (one line)."""
    if not isinstance(doc, dict) or "resourceType" not in doc:
        return "no resourceType"
    try:
        model = get_fhir_model_class(doc["resourceType"])
    except (KeyError, ValueError) as e:
        return f"unknown resourceType {doc['resourceType']!r} ({e})"
    try:
        model.parse_obj(doc)
    except Exception as e:  # pydantic.ValidationError and model errors alike
        return " | ".join(str(e).splitlines())
    return None


def error_kinds(reason):
    """The kinds of error in a reason: element path without indices and
    message, e.g. `note.__root__.text: field required`."""
    parts = reason.split(" | ")
    if len(parts) < 3:
        return [re.sub(r"\d+", "N", reason)[:120]]
    kinds = []
    for loc, msg in zip(parts[1::2], parts[2::2]):
        path = ".".join(x.strip() for x in loc.split("->") if not x.strip().isdigit())
        kinds.append(f"{path}: {msg.strip()}")
    return kinds


def json_rule(doc, path="$", in_array=False):
    """The first place where `doc` breaks a rule of FHIR's JSON
    representation, or None."""
    if isinstance(doc, dict):
        if not doc:
            return f"{path}: empty object"
        for k, v in doc.items():
            r = json_rule(v, f"{path}.{k}")
            if r:
                return r
    elif isinstance(doc, list):
        if not doc:
            return f"{path}: empty array"
        for i, v in enumerate(doc):
            r = json_rule(v, f"{path}[{i}]", True)
            if r:
                return r
    elif doc is None and not in_array:
        return f"{path}: null outside an array"
    elif isinstance(doc, str) and not doc.strip():
        return f"{path}: empty string"
    return None


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def judge_file(path):
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        return f"not JSON: {e}"
    return judge(doc)


def main(argv):
    if len(argv) < 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    examples, out_dir, purposes = argv[1], argv[2], argv[3:]
    print(f"fhir.resources {fhir.resources.__version__}, FHIR {fhir.resources.__fhir_version__}")
    names = sorted(n for n in os.listdir(examples) if n.endswith(".json"))
    accepted = []
    rejected_inputs = []
    for n in names:
        reason = judge_file(os.path.join(examples, n))
        if reason is None:
            accepted.append(n)
        else:
            rejected_inputs.append((n, reason))
    print(f"inputs accepted: {len(accepted)} of {len(names)}")
    for n, reason in rejected_inputs[:SHOWN]:
        print(f"  input rejected {n}: {reason[:300]}")
    if len(rejected_inputs) > SHOWN:
        print(f"  ... and {len(rejected_inputs) - SHOWN} more inputs rejected")
    failed = False
    for p in purposes:
        rejections = []
        for n in accepted:
            out = os.path.join(out_dir, p, n)
            status = os.path.join(out_dir, p, n + ".exit")
            if os.path.exists(status):
                with open(status, encoding="utf-8") as f:
                    reason = f"zaslon redact exited {f.read().strip()}"
            else:
                reason = judge_file(out)
            if reason is not None:
                rejections.append((n, reason))
        ok = len(accepted) - len(rejections)
        print(f"{p}: outputs accepted {ok} of {len(accepted)} accepted inputs")
        for n, reason in rejections[:SHOWN]:
            print(f"  rejected {n}: {reason[:300]}")
        if len(rejections) > SHOWN:
            print(f"  ... and {len(rejections) - SHOWN} more")
        # The same few breakages repeat across files: a tally of the kinds
        # says more than a longer list.
        kinds = collections.Counter(k for _, r in rejections for k in error_kinds(r))
        for kind, n in kinds.most_common(8):
            print(f"  {n:4} x {kind}")
        failed = failed or bool(rejections)
        broken = []
        kept = 0
        for n in accepted:
            if json_rule(load(os.path.join(examples, n))) is not None:
                continue
            kept += 1
            out = os.path.join(out_dir, p, n)
            if os.path.exists(out + ".exit"):
                continue
            r = json_rule(load(out))
            if r is not None:
                broken.append((n, r))
        print(f"{p}: JSON rules kept by {kept - len(broken)} of {kept} outputs whose input keeps them")
        for n, r in broken[:SHOWN]:
            print(f"  broken {n}: {r}")
        kinds = collections.Counter(re.sub(r"\[\d+\]", "[]", r) for _, r in broken)
        for kind, n in kinds.most_common(5):
            print(f"  {n:4} x {kind}")
        failed = failed or bool(broken)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
