#!/usr/bin/env python3
"""Build a lexicon of Russian personal names from the OpenCorpora dictionary.

The OpenCorpora morphological dictionary (http://opencorpora.org), as compiled
for pymorphy3 and shipped on PyPI as ``pymorphy3-dicts-ru``, marks lexemes of
given names with the grammeme ``Name``, surnames with ``Surn`` and patronymics
with ``Patr``.  This script walks every word form stored in that dictionary
and writes plain-text word lists that a matcher can load directly.

Usage (inside a virtualenv with the pinned packages from requirements.txt)::

    python3 build_name_lexicon.py OUTDIR

Files written to OUTDIR (all UTF-8, ``\\n`` line ends, a few leading ``#``
comment lines, then one entry per line, sorted by Unicode code point -- which
is also UTF-8 byte order -- and deduplicated):

``given.txt``, ``patronymic.txt``, ``surname.txt``
    Every form (all cases, both numbers, and the few vocative / informal /
    misspelt forms the dictionary has) of every lexeme with the respective
    tag, lower-cased.  Forms spelled with ``ё`` are kept and are additionally
    listed in their ``е`` spelling.
``given_sing.txt``, ``patronymic_sing.txt``, ``surname_sing.txt``
    The subset of the above that are singular forms (plural forms such as
    ``ивановичами`` or ``мариям`` dropped): roughly half the size, for
    builds that must stay small.
``given_latin.txt``
    Nominative singular given names transliterated to Latin, lower-cased:
    the Russian passport scheme (ICAO Doc 9303, in use since 2013) plus the
    common older spellings (GOST R 52535.1-2006 as used in passports
    2010-2013, BGN/PCGN-style without diacritics, and a "popular" variant
    such as Yulia / Dmitry / Alexey).
``given_latin.tsv``
    The same as a table: latin, cyrillic source, schemes that produce it.
``ambiguous.txt``
    Given-name forms (as listed in ``given.txt``) that are also ordinary words:
    the same string has at least one dictionary parse without any of the tags
    Name/Surn/Patr/Geox/Orgn (a form written with ``е`` also matches dictionary
    words spelled with ``ё``: семена ~ Семёна).
``ambiguous_detail.tsv``
    The same forms with the non-name readings and a corpus-based frequency
    estimate (see ``corpus_counts``), most frequent first.
``ambiguous_patronymic.txt``, ``ambiguous_surname.txt``
    The same test applied to the other two lists.

Everything is derived from the dictionary package alone; no network access
is needed at run time.  The dictionary data is licensed CC BY-SA 3.0, and so
are the files this script writes.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from collections import defaultdict
from importlib import metadata

import pymorphy3

# Versions this lexicon was built and checked with (see requirements.txt).
PINNED = {
    "pymorphy3": "2.0.6",
    "pymorphy3-dicts-ru": "2.4.417150.4580142",
    "dawg2-python": "0.9.0",
}

LICENSE_LINES = [
    "license: CC BY-SA 3.0 (https://creativecommons.org/licenses/by-sa/3.0/)",
    "data: OpenCorpora morphological dictionary, http://opencorpora.org",
]

# Lexicon name -> dictionary grammeme.
CATEGORIES = {
    "given": "Name",
    "patronymic": "Patr",
    "surname": "Surn",
}

# A parse carrying none of these tags counts as an ordinary-word reading.
PROPER_TAGS = frozenset({"Name", "Surn", "Patr", "Geox", "Orgn"})

# Lexemes tagged as misspellings / distortions; kept in the case-form lists
# (real texts contain them) but not transliterated.
TYPO_TAGS = frozenset({"Erro", "Dist"})


# --------------------------------------------------------------------------
# Dictionary access
# --------------------------------------------------------------------------

def fold_yo(word: str) -> str:
    """Return ``word`` with ``ё`` written as ``е``."""
    return word.replace("ё", "е")


class NameDictionary:
    """Thin layer over pymorphy3's compiled OpenCorpora dictionary."""

    def __init__(self) -> None:
        self.morph = pymorphy3.MorphAnalyzer(lang="ru")
        self.dict = self.morph.dictionary
        self.meta = dict(self.dict.meta)
        self._yo = self.dict.words.compile_replaces({"е": "ё"})
        self._pcache: dict[int, list] = {}

    def _paradigm_tags(self, para_id: int) -> list:
        """Tag objects of every slot of paradigm ``para_id`` (cached)."""
        tags = self._pcache.get(para_id)
        if tags is None:
            paradigm = self.dict.paradigms[para_id]
            n = len(paradigm) // 3
            tags = [self.dict.gramtab[paradigm[n + i]] for i in range(n)]
            self._pcache[para_id] = tags
        return tags

    def tag(self, para_id: int, idx: int):
        return self._paradigm_tags(para_id)[idx]

    def iter_entries(self):
        """Yield ``(form, para_id, idx)`` for every stored word form."""
        for word, (para_id, idx) in self.dict.words.iteritems():
            yield word, para_id, idx

    def normal_form(self, word: str, para_id: int, idx: int) -> str:
        return self.dict.build_normal_form(para_id, idx, word)

    def parses(self, word: str):
        """All dictionary parses ``(stored_form, tag, para_id, idx)`` a text
        token ``word`` can have.  A token written with ``е`` may stand for
        ``ё`` (most texts do not write ``ё``), so it also matches stored forms
        that differ only there; a token containing ``ё`` matches exactly."""
        if "ё" in word:
            items = [(word, self.dict.words.get(word) or [])]
        else:
            items = self.dict.words.similar_items(word, self._yo)
        out = []
        for form, values in items:
            for para_id, idx in values:
                out.append((form, self.tag(para_id, idx), para_id, idx))
        return out

    def corpus_counts(self, word: str, tags) -> tuple[int, dict]:
        """Estimate how often ``word`` occurred in the OpenCorpora annotated
        corpus, per tag.

        The package stores P(tag|word) for words that were ambiguous in the
        disambiguated corpus, Laplace-smoothed: P = (c + 1) / (N + B), times
        10**6 and truncated.  The smallest denominator D that turns every
        stored probability into an integer recovers the counts c = P*D - 1.
        Returns ``(total, {tag_string: count})``; ``(0, {})`` when the word
        is not in that table.
        """
        cpd = self.morph.prob_estimator.p_t_given_w if self.morph.prob_estimator else None
        if cpd is None:
            return 0, {}
        probs = {}
        for t in {str(t) for t in tags}:
            p = cpd.prob(word, t)
            if p:
                probs[t] = p
        if not probs:
            return 0, {}
        for denom in range(max(2, len(probs)), 20001):
            ok = True
            for p in probs.values():
                x = p * denom
                # values were truncated to 6 decimals: allow that much error
                if x < 0.99 or (x - int(x + 0.5)) ** 2 > (denom * 1.2e-6 + 1e-3) ** 2:
                    ok = False
                    break
            if ok:
                counts = {t: max(0, int(p * denom + 0.5) - 1) for t, p in probs.items()}
                return sum(counts.values()), counts
        return 0, {}


# --------------------------------------------------------------------------
# Transliteration
# --------------------------------------------------------------------------

# Russian passports since 2013 (ICAO Doc 9303, 7th ed.; FMS order 320/2012).
ICAO = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e",
    "ж": "zh", "з": "z", "и": "i", "й": "i", "к": "k", "л": "l", "м": "m",
    "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u",
    "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch",
    "ъ": "ie", "ы": "y", "ь": "", "э": "e", "ю": "iu", "я": "ia",
}

# Passports 2010-2013 (GOST R 52535.1-2006): as ICAO but ц -> tc, ъ dropped.
GOST_2006 = dict(ICAO, **{"ц": "tc", "ъ": ""})

# BGN/PCGN 1947 without diacritics or apostrophes: Yuliya, Natalya, Andrey.
BGN = dict(ICAO, **{
    "ё": "yo", "й": "y", "ъ": "", "ь": "", "ю": "yu", "я": "ya",
})
VOWELS = set("аеёиоуыэюя")


def translit(word: str, table: dict, ye_rule: bool = False) -> str:
    """Transliterate ``word`` letter by letter; characters outside the table
    (hyphen, apostrophe, spaces) pass through.  With ``ye_rule`` the letter
    ``е`` is written ``ye`` at the start of a word and after a vowel, ``й``,
    ``ъ`` or ``ь`` (BGN/PCGN)."""
    out = []
    prev = ""
    for ch in word:
        if ye_rule and ch == "е" and (prev == "" or prev == "-" or prev in VOWELS or prev in "йъь"):
            out.append("ye")
        else:
            out.append(table.get(ch, ch))
        prev = ch
    return "".join(out)


def popular_variants(word: str) -> set[str]:
    """Spellings seen in older documents and everyday use that no single
    standard produces: Yulia, Maria, Dmitry, Yuri, Alexey, Evgeny, Fedor."""
    base = translit(word, BGN, ye_rule=True)
    variants = {base}
    # -ия / -ья -> -ia: Yulia, Maria, Natalia, Daria
    variants |= {v[:-3] + "ia" for v in variants if v.endswith("iya")}
    variants |= {v[:-2] + "ia" for v in list(variants) if word.endswith("ья") and v.endswith("ya")}
    # -ий / -ый -> -y, -i: Dmitry, Dmitri, Yuri
    if word.endswith(("ий", "ый")):
        stem = {v[:-2] for v in variants if v.endswith(("iy", "yy"))}
        vowel = "i" if word.endswith("ий") else "y"
        variants |= {s + vowel for s in stem}
        if vowel == "i":
            variants |= {s + "y" for s in stem}
    # initial е without the y: Evgeny, Elena, Ekaterina
    variants |= {v[1:] for v in variants if word.startswith("е") and v.startswith("ye")}
    # кс -> x: Alexey, Alexei, Alexandra, Xenia
    if "кс" in word:
        variants |= {v.replace("ks", "x") for v in variants}
        variants.add(translit(word, ICAO).replace("ks", "x"))
    return variants


def latin_forms(word: str) -> dict[str, set[str]]:
    """Map each Latin spelling of ``word`` to the schemes that give it."""
    out: dict[str, set[str]] = defaultdict(set)
    out[translit(word, ICAO)].add("icao")
    out[translit(word, GOST_2006)].add("gost2006")
    out[translit(word, BGN, ye_rule=True)].add("bgn")
    for v in popular_variants(word):
        out[v].add("popular")
    return out


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------

def header(provenance: list[str], title: str, tag: str | None, count: int,
           extra: list[str] = ()) -> list[str]:
    lines = [f"zaslon name lexicon: {title}"]
    if tag:
        lines.append(f"tag: {tag}")
    lines += provenance + LICENSE_LINES + list(extra)
    lines.append(f"entries: {count}")
    return ["# " + line for line in lines]


def write_list(path: str, head: list[str], rows) -> int:
    data = "\n".join(head + list(rows)) + "\n"
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(data)
    return len(data.encode("utf-8"))


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir", help="directory to write the lexicon files to")
    args = ap.parse_args(argv)
    os.makedirs(args.outdir, exist_ok=True)
    started = time.time()

    versions = {name: package_version(name) for name in PINNED}
    for name, want in PINNED.items():
        if versions[name] != want:
            print(f"warning: {name} {versions[name]} installed, lexicon pinned to {want}",
                  file=sys.stderr)

    nd = NameDictionary()
    meta = nd.meta
    provenance = [
        f"source: pymorphy3-dicts-ru {versions['pymorphy3-dicts-ru']} "
        f"(OpenCorpora dictionary {meta.get('source_version')}, revision "
        f"{meta.get('source_revision')}, compiled {meta.get('compiled_at', '')[:10]}), "
        f"read with pymorphy3 {versions['pymorphy3']}",
        "command: python3 build_name_lexicon.py " + shlex.quote(args.outdir),
    ]

    # ---- pass over all word forms -------------------------------------
    # forms[cat][form] = set of lemmas (normal forms); typo forms tracked apart
    forms: dict[str, dict[str, set[str]]] = {c: defaultdict(set) for c in CATEGORIES}
    nominatives: dict[str, set[str]] = defaultdict(set)  # given nomn sing -> lemmas
    typo_forms: dict[str, set[str]] = {c: set() for c in CATEGORIES}
    singular: dict[str, set[str]] = {c: set() for c in CATEGORIES}  # not plural-only
    gram_to_cat = {g: c for c, g in CATEGORIES.items()}

    # What we need to know about a paradigm slot, computed once per paradigm:
    # (categories, is_typo, is_plural, is_clean_nominative_singular_given_name)
    slot_cache: dict[int, list] = {}

    def slot_info(para_id: int) -> list:
        info = slot_cache.get(para_id)
        if info is None:
            info = []
            for tag in nd._paradigm_tags(para_id):
                gr = tag.grammemes
                cats = tuple(gram_to_cat[g] for g in gram_to_cat if g in gr)
                typo = bool(gr & TYPO_TAGS)
                nom = "Name" in gr and "nomn" in gr and "sing" in gr and not typo
                info.append((cats, typo, "plur" in gr, nom))
            slot_cache[para_id] = info
        return info

    total = 0
    for word, para_id, idx in nd.iter_entries():
        total += 1
        cats, typo, plural, nom = slot_info(para_id)[idx]
        if not cats:
            continue
        lemma = nd.normal_form(word, para_id, idx)
        for cat in cats:
            forms[cat][word].add(lemma)
            if typo:
                typo_forms[cat].add(word)
            if not plural:
                singular[cat].add(word)
        if nom:
            nominatives[word].add(lemma)
    t_scan = time.time() - started

    report = {"dictionary_forms": total, "scan_seconds": round(t_scan, 1)}

    # ---- case-form lists ------------------------------------------------
    lists: dict[str, list[str]] = {}
    sing_lists: dict[str, set[str]] = {}
    for cat, gram in CATEGORIES.items():
        entries = set(forms[cat])
        entries |= {fold_yo(w) for w in entries}
        lists[cat] = sorted(entries)
        sing = sorted(singular[cat] | {fold_yo(w) for w in singular[cat]})
        lemmas = set().union(*forms[cat].values()) if forms[cat] else set()
        size = write_list(
            os.path.join(args.outdir, f"{cat}.txt"),
            header(provenance, f"{cat} names, all case forms", gram, len(lists[cat]), [
                "forms: all dictionary forms of the lexemes, lower-case; "
                "forms with ё also given with е",
            ]),
            lists[cat],
        )
        sing_lists[cat] = set(sing)
        sing_size = write_list(
            os.path.join(args.outdir, f"{cat}_sing.txt"),
            header(provenance, f"{cat} names, singular case forms", gram, len(sing), [
                "forms: the singular forms of the lexemes (all cases), lower-case; "
                "forms with ё also given with е; a subset of " + f"{cat}.txt",
            ]),
            sing,
        )
        report[cat] = {
            "lemmas": len(lemmas),
            "singular_entries": len(sing),
            "singular_bytes": sing_size,
            "dictionary_forms": len(forms[cat]),
            "typo_forms(Erro/Dist)": len(typo_forms[cat]),
            "entries_with_yo_folding": len(lists[cat]),
            "bytes": size,
        }

    # ---- Latin transliteration of nominative given names ------------------
    latin: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for nom in nominatives:
        for src in {nom, fold_yo(nom)}:
            for lat, schemes in latin_forms(src).items():
                latin[lat][nom] |= schemes
    lat_sorted = sorted(latin)
    size = write_list(
        os.path.join(args.outdir, "given_latin.txt"),
        header(provenance, "given names in Latin script", "Name (nomn, sing)", len(lat_sorted), [
            "schemes: icao (ICAO Doc 9303, Russian passports since 2013), gost2006 "
            "(GOST R 52535.1-2006, passports 2010-2013), bgn (BGN/PCGN, no diacritics), "
            "popular (Yulia, Dmitry, Alexey, Evgeny ...); ё also read as е",
        ]),
        lat_sorted,
    )
    tsv_rows = ["latin\tcyrillic\tschemes"]
    for lat in lat_sorted:
        for nom in sorted(latin[lat]):
            tsv_rows.append(f"{lat}\t{nom}\t{','.join(sorted(latin[lat][nom]))}")
    write_list(
        os.path.join(args.outdir, "given_latin.tsv"),
        header(provenance, "given names in Latin script, with source", "Name (nomn, sing)",
               len(tsv_rows) - 1),
        tsv_rows,
    )
    report["given_latin"] = {
        "cyrillic_nominatives": len(nominatives),
        "entries": len(lat_sorted),
        "bytes": size,
    }

    # ---- forms that are also ordinary words ------------------------------
    for cat, fname in (("given", "ambiguous.txt"), ("patronymic", "ambiguous_patronymic.txt"),
                       ("surname", "ambiguous_surname.txt")):
        amb = []
        detail = []
        for form in lists[cat]:
            parses = nd.parses(form)
            common = [(f, t, p, i) for (f, t, p, i) in parses if not (t.grammemes & PROPER_TAGS)]
            if not common:
                continue
            amb.append(form)
            if cat != "given":
                continue
            readings = sorted({f"{t.POS}:{nd.normal_form(f, p, i)}" for (f, t, p, i) in common})
            # corpus counts: take the spelling (exact form or its е/ё twin)
            # that the corpus statistics know best
            best_total, best_counts = 0, {}
            for spelling in {form} | {f for (f, _, _, _) in parses}:
                tags = [t for (f, t, _, _) in parses if fold_yo(f) == fold_yo(spelling)]
                tot, counts = nd.corpus_counts(spelling, tags)
                if tot > best_total:
                    best_total, best_counts = tot, counts
            common_tags = {str(t) for (_, t, _, _) in common}
            n_common = sum(c for t, c in best_counts.items() if t in common_tags)
            lemmas = sorted(set().union(*(forms[cat][f] for (f, _, _, _) in parses
                                          if f in forms[cat])))
            detail.append((n_common, best_total, form, ",".join(lemmas), " ".join(readings)))
        write_list(
            os.path.join(args.outdir, fname),
            header(provenance, f"{cat}-name forms that are also ordinary words",
                   CATEGORIES[cat], len(amb), [
                       "test: the form has a dictionary parse without Name/Surn/Patr/Geox/Orgn "
                       "(е in the form may stand for ё in the dictionary word, not vice versa)",
                   ]),
            amb,
        )
        report[cat]["ambiguous"] = len(amb)
        report[cat]["ambiguous_singular"] = len(set(amb) & sing_lists[cat])
        if cat == "given":
            detail.sort(key=lambda r: (-r[0], -r[1], r[2]))
            rows = ["form\tcorpus_nonname\tcorpus_total\tname_lemmas\tnonname_readings"]
            rows += [f"{f}\t{a}\t{b}\t{l}\t{r}" for (a, b, f, l, r) in detail]
            write_list(
                os.path.join(args.outdir, "ambiguous_detail.tsv"),
                header(provenance, "ambiguous given-name forms, most frequent first", "Name",
                       len(detail), [
                           "corpus_*: occurrences in the OpenCorpora disambiguated corpus "
                           "recovered from the package's P(t|w) table (0 = not in it); "
                           "corpus_nonname counts the ordinary-word readings",
                       ]),
                rows,
            )
            report["ambiguous_top30"] = [(f, a, b) for (a, b, f, _, _) in detail[:30]]

    report["seconds"] = round(time.time() - started, 1)
    for key, val in report.items():
        print(f"{key}: {val}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
