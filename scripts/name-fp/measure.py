#!/usr/bin/env python3
"""False positives of zaslon's name detection on prose that names nobody.

Runs `zaslon redact --content-type text/plain --purpose analytics` (names are
removed there, so every name the detectors find becomes a `[full_name]`,
`[surname]`, `[given_name]` or `[patronymic]` marker) over three sets of
lines and reports every line where a marker appeared:

- `fhir`: the narrative (`text.div`), `description`, `comment` and `note.text`
  of the HL7 FHIR R4 examples (../shared/conformance/fhir-r4/examples), except
  the resources that are persons (Patient, Practitioner, RelatedPerson, Person,
  PractitionerRole) and Bundles. A finding whose text is a part of a person's
  name that the same file names by structure (HumanName, a reference's
  `display`) is a true positive and counted apart; the rest are false.
- `policy`: the Russian privacy policy in ../shared/seed (legal prose).
- `clinical`: Russian clinical sentences written here (CLINICAL below), built
  around what a name lexicon trips on: eponymous diseases, signs and methods
  (болезнь Паркинсона, симптом Щеткина-Блюмберга, по Бобату), the common words
  that are also given names (вера, надежда, любовь, роман, лев, слава, мир)
  at a sentence's start, drugs, months and places. Every finding there is
  false: the sentences name nobody.

Prints counts per set (lines, words, lines with a false finding, false
findings per 10,000 words) and each false finding with its line, and exits 0;
1 only if the binary fails. Needs only the standard library.

Usage: python3 scripts/name-fp/measure.py --bin target/release/zaslon
"""

import argparse
import difflib
import glob
import html
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared"))
MARKER = re.compile(r"\[(full_name|surname|given_name|patronymic)\]")
PERSON_TYPES = {"Patient", "Practitioner", "RelatedPerson", "Person", "PractitionerRole", "Bundle"}
PROSE_KEYS = {"description", "comment"}

CLINICAL = """\
Болезнь Паркинсона, дрожательная форма, стадия 2 по Хен и Яру.
Болезнь Альцгеймера с поздним началом, умеренная деменция.
Симптом Щеткина-Блюмберга отрицательный, живот мягкий, безболезненный.
Симптомы Ортнера и Мерфи положительные, рекомендовано УЗИ желчного пузыря.
Синдром Иценко-Кушинга исключён, кортизол в пределах нормы.
Тиреоидит Хашимото, эутиреоз на фоне терапии левотироксином.
Болезнь Крона, терминальный илеит, ремиссия.
Проба Манту отрицательная, диаскинтест отрицательный.
Реакция Вассермана отрицательная.
Пульс по Короткову ритмичный, АД 130/85 мм рт. ст.
Лечебная гимнастика по Бобату, массаж по Шербаку.
Перелом Коллеса справа, гипсовая лонгета на 4 недели.
Лимфома Ходжкина в анамнезе, ремиссия 10 лет.
Саркома Юинга исключена по данным биопсии.
Синдром Дауна у плода исключён по результатам скрининга.
Болезнь Бехтерева, HLA-B27 положительный.
Шкала Глазго 15 баллов, сознание ясное.
Индекс Кетле 31,2, ожирение первой степени.
Проба Ромберга устойчив, пальценосовая проба выполняет уверенно.
Зрачки D=S, симптом Маринеску-Радовичи отрицательный с обеих сторон.
Вера в успех лечения высокая, пациент мотивирован.
Надежда на восстановление функции кисти сохраняется.
Любовь к сладкому, нарушение режима питания.
Роман с продолжением не читал, зрение резко снижено.
Лев Толстой упоминается пациентом в бреде величия, ориентирован частично.
Слава богу, после приёма препарата боль уменьшилась.
Мир вокруг кажется нереальным, эпизоды дереализации.
Роза ветров в палате не учитывается, проветривание дважды в день.
Лилия в вазе убрана из палаты из-за аллергии на пыльцу.
Марина в порту не работает, жалобы на укачивание отсутствуют.
Назначен Кагоцел по схеме, Арбидол отменён.
Принимает Нурофен при болях, Но-шпу при спазмах.
Ксефокам 8 мг внутримышечно, затем Мовалис 15 мг.
Актовегин и Мексидол капельно, Кавинтон в таблетках.
Май и июнь провёл за городом, контакт с клещами отрицает.
Госпитализирован в августе, выписан в сентябре.
Направлен в Боткинскую больницу на консультацию.
Проживает в Калининграде, работает в Кирове вахтовым методом.
Операция по Лихтенштейну выполнена без осложнений.
Аппендэктомия по Волковичу-Дьяконову, дренаж не устанавливался.
Резекция желудка по Бильрот-1 в 2015 году.
Окраска по Граму: грамположительные кокки.
Посев по Голду на флору выполнен.
Лейкоцитарная формула по Шиллингу без сдвига.
Рефлексы Бабинского и Россолимо отрицательные.
Симптом Ласега положительный справа под углом 40 градусов.
Симптом Пастернацкого отрицательный с обеих сторон.
Паралич Белла слева, назначена гимнастика для мимических мышц.
Ангина Людвига исключена, флегмона дна полости рта не выявлена.
Гипертоническая болезнь II стадии, риск 3, ХСН I ФК по NYHA.
Пациентка жалуется на головную боль, слабость и головокружение.
Со слов матери, ребёнок болен третий день, температура до 38,5.
Рекомендовано наблюдение у терапевта по месту жительства.
Жалобы на кашель с мокротой, одышку при физической нагрузке.
Аллергоанамнез не отягощён, наследственность не отягощена.
Осмотрен дежурным врачом, показаний к госпитализации нет.
Консультация кардиолога: данных за острый коронарный синдром нет.
Выписан с улучшением под наблюдение участкового врача.
Повторный приём через две недели с результатами анализов.
Пациент курит 20 лет по пачке в день, алкоголь отрицает.
"""


def strip_html(div: str) -> str:
    text = re.sub(r"<[^>]+>", " ", div)
    return html.unescape(text)


def fhir_prose(node, out: list, key: str = ""):
    """Collect the prose members of one resource (narrative, description,
    comment, note.text) into out."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "div" and isinstance(v, str):
                out.append(strip_html(v))
            elif k in PROSE_KEYS and isinstance(v, str):
                out.append(v)
            elif key == "note" and k == "text" and isinstance(v, str):
                out.append(v)
            else:
                fhir_prose(v, out, k)
    elif isinstance(node, list):
        for v in node:
            fhir_prose(v, out, key)


def fhir_names(node, out: set):
    """Every word of a HumanName or a reference's display in the resource: the
    persons the file names by structure."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("family", "text", "display") and isinstance(v, str):
                out.update(w.lower() for w in re.findall(r"\w+", v))
            elif k in ("given", "prefix") and isinstance(v, list):
                for g in v:
                    if isinstance(g, str):
                        out.update(w.lower() for w in re.findall(r"\w+", g))
            else:
                fhir_names(v, out)
    elif isinstance(node, list):
        for v in node:
            fhir_names(v, out)


def lines_of(text: str) -> list:
    out = []
    for line in re.split(r"[\r\n]+", text):
        line = " ".join(line.split())
        if len(line) >= 3:
            out.append(line)
    return out


def fhir_set(examples: str):
    """[(line, names)] for the non-person FHIR examples."""
    rows = []
    for path in sorted(glob.glob(os.path.join(examples, "*.json"))):
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError):
            continue
        if not isinstance(doc, dict) or doc.get("resourceType") in PERSON_TYPES:
            continue
        prose, names = [], set()
        fhir_prose(doc, prose)
        fhir_names(doc, names)
        for text in prose:
            for line in lines_of(text):
                rows.append((line, names))
    return rows


def redact(binary: str, rules: str, lines: list) -> list:
    key = "name-fp-measurement-key-of-32-bytes!"
    env = dict(os.environ, ZASLON_PSEUDONYM_KEY=key)
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    proc = subprocess.run(
        [binary, "redact", "--rules", rules, "--purpose", "analytics", "--content-type", "text/plain"],
        input=data, capture_output=True, env=env, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.decode("utf-8", "replace"))
        sys.exit(1)
    out = proc.stdout.decode("utf-8").split("\n")
    if out and out[-1] == "":
        out.pop()
    if len(out) != len(lines):
        sys.exit(f"the output has {len(out)} lines for {len(lines)} input lines")
    return out


def findings(before: str, after: str):
    """[(marker, original text)] for each name marker the redactor wrote."""
    found = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            continue
        for m in MARKER.finditer(after[b0:b1]):
            found.append((m.group(1), before[a0:a1]))
    return found


def measure(name: str, rows, binary: str, rules: str):
    lines = [line for line, _ in rows]
    outs = redact(binary, rules, lines)
    words = sum(len(re.findall(r"\w+", line)) for line in lines)
    false, true = [], 0
    for (line, names), out in zip(rows, outs):
        for marker, text in findings(line, out):
            parts = {w.lower() for w in re.findall(r"\w+", text)}
            if names and parts and parts <= names:
                true += 1
            else:
                false.append((marker, text, line))
    return {"set": name, "lines": len(lines), "words": words, "true": true,
            "false": len(false), "false_lines": len({f[2] for f in false}),
            "per_10k_words": round(len(false) * 10000 / max(words, 1), 2),
            "findings": false}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="the zaslon binary")
    ap.add_argument("--rules", default=os.path.join(ROOT, "rules"))
    ap.add_argument("--shared", default=SHARED, help="the shared folder (conformance, seed)")
    args = ap.parse_args()

    sets = []
    examples = os.path.join(args.shared, "conformance", "fhir-r4", "examples")
    if os.path.isdir(examples):
        sets.append(("fhir", fhir_set(examples)))
    else:
        print(f"SKIP fhir: {examples} is absent")
    seed = sorted(glob.glob(os.path.join(args.shared, "seed", "*.txt")))
    if seed:
        text = "".join(open(p, encoding="utf-8").read() + "\n" for p in seed)
        sets.append(("policy", [(line, set()) for line in lines_of(text)]))
    else:
        print(f"SKIP policy: no {os.path.join(args.shared, 'seed')}/*.txt")
    sets.append(("clinical", [(line, set()) for line in lines_of(CLINICAL)]))

    results = [measure(name, rows, args.bin, args.rules) for name, rows in sets]
    print("| set | lines | words | names found by structure | false findings | lines with one | per 10k words |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['set']} | {r['lines']} | {r['words']} | {r['true']} | {r['false']} "
              f"| {r['false_lines']} | {r['per_10k_words']} |")
    for r in results:
        for marker, text, line in r["findings"]:
            print(f"- {r['set']}: [{marker}] <- {text!r} in: {line[:160]}")


if __name__ == "__main__":
    main()
