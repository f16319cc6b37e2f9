#!/usr/bin/env python3
"""Independent test corpus for zaslon: MIS-like JSON documents with planted
personal data, their ground truth, and decoys.

Names, e-mails, some phone numbers and bank card numbers come from Faker's
ru_RU locale (en_US for the JCB, Diners and Discover card ranges); the
sentences are the hand-written templates of templates.py; SNILS, passports,
Mir cards and Russian phone numbers are built here. Nothing is shared with
any other corpus of the project.

Output (in --out):
  corpus.ndjson   one JSON document per line
  truth.jsonl     one planted value per line: doc, pointer, class, kind,
                  text, where (free|keyed), member (plain|health), ...
  decoys.jsonl    one value that must come out unchanged: doc, pointer,
                  kind, text, where
  meta.json       seed, count, Faker version, counts

Usage: python3 gen.py --seed 1 --count 2000 --out /tmp/ic
"""

import argparse
import datetime as dt
import json
import os
import random
import re
import sys

import faker
from faker import Faker
from faker.providers.person.ru_RU import translit

import inflect
import templates as T

# ---------------------------------------------------------------- checksums


def luhn_check_digit(body: str) -> str:
    """The Luhn digit that makes body + digit valid."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # these get doubled once the check digit is appended
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    return luhn_check_digit(number[:-1]) == number[-1]


def snils_check(nine: str) -> str:
    """SNILS control number: digits weighted 9..1; sum < 100 is the number,
    100 and 101 give 00, larger sums are taken mod 101 (100 -> 00)."""
    total = sum(int(d) * w for d, w in zip(nine, range(9, 0, -1)))
    if total < 100:
        check = total
    elif total in (100, 101):
        check = 0
    else:
        check = total % 101
        if check == 100:
            check = 0
    return "%02d" % check


# ---------------------------------------------------------------- persons

MOBILE_CODES = ["900", "901", "903", "905", "906", "909", "910", "912", "915", "916", "917",
                "919", "921", "926", "927", "929", "937", "950", "951", "953", "960", "964",
                "977", "980", "985", "987", "999"]
CITY_CODES = ["495", "499", "812", "843", "846", "863", "343", "383", "351", "831", "861"]
EMAIL_DOMAINS = ["mail.ru", "yandex.ru", "bk.ru", "list.ru", "inbox.ru", "gmail.com",
                 "rambler.ru", "ya.ru"]


class Person:
    """One person of a document, with every value the templates may plant."""

    def __init__(self, rng: random.Random, fk: Faker, gender: str = None):
        self.gender = gender or rng.choice("fm")
        if self.gender == "f":
            self.first, self.middle = fk.first_name_female(), fk.middle_name_female()
            last = fk.last_name_female()
        else:
            self.first, self.middle = fk.first_name_male(), fk.middle_name_male()
            last = fk.last_name_male()
        self.surname_source = "faker"
        if rng.random() < 0.15:
            pair = rng.choice(T.EXTRA_SURNAMES)
            last = pair[0] if self.gender == "m" else pair[1]
            self.surname_source = "own"
        self.last = last
        start = dt.date(1932, 1, 1).toordinal()
        self.dob = dt.date.fromordinal(rng.randint(start, dt.date(2019, 12, 31).toordinal()))
        code = rng.choice(MOBILE_CODES) if rng.random() < 0.8 else rng.choice(CITY_CODES)
        self.national = code + "%07d" % rng.randint(0, 9999999)
        self.faker_phone = fk.phone_number()
        # Faker draws the area code at random; Russian codes begin with 3, 4, 8 or 9,
        # so a number whose code does not is told apart in the truth.
        code_digit = re.sub(r"\D", "", self.faker_phone)[1]
        self.faker_phone_kind = "phone/faker" if code_digit in "3489" else "phone/faker-unassigned-code"
        self.email, self.email_kind = None, None  # drawn when first planted
        nine = "%09d" % rng.randint(1001999, 999999999)  # above 001-001-998
        self.snils = nine + snils_check(nine)
        self.passport_series = "%02d%02d" % (rng.randint(1, 99), rng.choice(range(0, 25)))
        self.passport_number = "%06d" % rng.randint(100000, 999999)
        self.card_brand, self.card = None, None  # drawn when first planted


# ---------------------------------------------------------------- renderers


class CannotRender(Exception):
    """A template cannot be filled for this person (a form we do not know)."""


class Generator:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.fk = Faker("ru_RU")
        self.fk.seed_instance(seed)
        self.fk_en = Faker("en_US")
        self.fk_en.seed_instance(seed + 1)

    # -- names --------------------------------------------------------------

    def render_name(self, p: Person, shape: str, case: str):
        """Returns (text, kind, surname_form or None)."""
        if shape == "*":
            shape = self.rng.choice(["gs", "sg", "sgp", "gps", "gp", "si", "is"])
        g = p.gender
        first = inflect.given_name(p.first, g, case)
        middle = inflect.patronymic(p.middle, g, case)
        last = inflect.surname(p.last, g, case)
        need = {"gs": (first, last), "sg": (last, first), "sgp": (last, first, middle),
                "gps": (first, middle, last), "gp": (first, middle),
                "si": (last,), "is": (last,)}[shape]
        if any(part is None for part in need):
            raise CannotRender("%s %s %s in %s" % (p.last, p.first, p.middle, case))
        variant = ""
        if shape in ("si", "is"):
            i1, i2 = p.first[0] + ".", p.middle[0] + "."
            r = self.rng.random()
            if r < 0.6:
                initials, variant = i1 + i2, "IO"
            elif r < 0.85:
                initials, variant = i1 + " " + i2, "I_O"
            else:
                initials, variant = i1, "I"
            text = last + " " + initials if shape == "si" else initials + " " + last
        else:
            text = " ".join(need)
        kind = "name/%s%s/%s/%s" % (shape, ("-" + variant) if variant else "", case,
                                    p.surname_source)
        return text, kind, (last if shape not in ("gp",) else None)

    # -- birth dates ----------------------------------------------------------

    def render_dob(self, p: Person, shape: str = None):
        """Returns (rendered phrase, planted date text, kind)."""
        d = p.dob
        dmy = d.strftime("%d.%m.%Y")
        iso = d.isoformat()
        if shape is None:
            shape = self.rng.choice(["rod", "gr", "gr4", "label_iso", "dr", "dob_iso", "label",
                                     "born", "words", "rod", "gr"])
        if shape == "paren":
            if self.rng.random() < 0.8:
                return "(" + dmy + ")", dmy, "dob/paren"
            return "(" + dmy + " г.р.)", dmy, "dob/paren-gr"
        if shape == "bare":
            return dmy, dmy, "dob/bare"
        if shape == "rod":
            return "род. " + dmy, dmy, "dob/rod"
        if shape == "gr":
            short = d.strftime("%d.%m.%y")
            return short + " г.р.", short, "dob/gr-yy"
        if shape == "gr4":
            return dmy + " г.р.", dmy, "dob/gr-yyyy"
        if shape == "label_iso":
            return "дата рождения: " + iso, iso, "dob/label-iso"
        if shape == "dr":
            return "д.р. " + dmy, dmy, "dob/dr"
        if shape == "dob_iso":
            return "DOB " + iso, iso, "dob/DOB-iso"
        if shape == "label":
            return "дата рождения " + dmy, dmy, "dob/label"
        if shape == "born":
            verb = "родилась " if p.gender == "f" else "родился "
            return verb + dmy, dmy, "dob/born"
        if shape == "words":
            text = "%d %s %d" % (d.day, T.MONTHS_GEN[d.month - 1], d.year)
            return text + " г. рождения", text, "dob/words"
        raise ValueError(shape)

    # -- phones ---------------------------------------------------------------

    def render_phone(self, p: Person, shape: str = None):
        """Returns (text, kind)."""
        n = p.national
        a, b, c, d = n[:3], n[3:6], n[6:8], n[8:]
        if shape == "intl":
            r = self.rng.randrange(4)
            tail = "%07d" % self.rng.randint(0, 9999999)
            if r == 0:
                return "+375 %s %s-%s-%s" % (self.rng.choice(["29", "33", "44", "25"]), tail[:3],
                                             tail[3:5], tail[5:]), "phone/+375"
            if r == 1:
                return "+375 (%s) %s-%s-%s" % (self.rng.choice(["29", "33", "44"]), tail[:3],
                                               tail[3:5], tail[5:]), "phone/+375-paren"
            if r == 2:
                return "+998 %s %s %s %s" % (self.rng.choice(["90", "91", "93", "97"]), tail[:3],
                                             tail[3:5], tail[5:]), "phone/+998"
            return "+374 %s %s-%s%s" % (self.rng.choice(["91", "93", "77"]), tail[:3], tail[3:5],
                                        tail[5:7]) + "%d" % self.rng.randint(0, 9), "phone/+374"
        shapes = [
            ("+7 (%s) %s-%s-%s" % (a, b, c, d), "phone/+7(xxx)xxx-xx-xx"),
            ("8 %s %s %s%s" % (a, b, c, d), "phone/8 xxx xxx xxxx"),
            ("+7 %s %s-%s-%s" % (a, b, c, d), "phone/+7 xxx xxx-xx-xx"),
            ("8(%s)%s%s%s" % (a, b, c, d), "phone/8(xxx)xxxxxxx"),
            ("8" + n, "phone/8xxxxxxxxxx"),
            ("+7" + n, "phone/+7xxxxxxxxxx"),
            ("8-%s-%s-%s-%s" % (a, b, c, d), "phone/8-xxx-xxx-xx-xx"),
            ("8 (%s) %s-%s-%s" % (a, b, c, d), "phone/8 (xxx) xxx-xx-xx"),
            (p.faker_phone, p.faker_phone_kind),
            (p.faker_phone, p.faker_phone_kind),
        ]
        return self.rng.choice(shapes)

    # -- e-mail ---------------------------------------------------------------

    def render_email(self, p: Person):
        if p.email is None:
            r = self.rng.random()
            if r < 0.35:
                p.email, p.email_kind = self.fk.free_email(), "email/faker-free"
            elif r < 0.55:
                p.email, p.email_kind = self.fk.email(), "email/faker"
            else:
                sep = self.rng.choice([".", "_", ""])
                local = translit(p.last).lower().replace("'", "") + sep + translit(p.first)[0].lower()
                if self.rng.random() < 0.5:
                    local += str(p.dob.year % 100).zfill(2)
                p.email = local + "@" + self.rng.choice(EMAIL_DOMAINS)
                p.email_kind = "email/name-based"
                if self.rng.random() < 0.15:
                    p.email = p.email[0].upper() + p.email[1:]
                    p.email_kind = "email/name-based-capital"
        return p.email, p.email_kind

    # -- SNILS, passport --------------------------------------------------------

    def render_snils(self, p: Person):
        s = p.snils
        r = self.rng.random()
        if r < 0.6:
            return "%s-%s-%s %s" % (s[:3], s[3:6], s[6:9], s[9:]), "snils/xxx-xxx-xxx yy"
        if r < 0.75:
            return s, "snils/plain"
        if r < 0.9:
            return "%s %s %s %s" % (s[:3], s[3:6], s[6:9], s[9:]), "snils/spaces"
        return "%s-%s-%s-%s" % (s[:3], s[3:6], s[6:9], s[9:]), "snils/all-hyphens"

    def render_passport(self, p: Person):
        s, n = p.passport_series, p.passport_number
        r = self.rng.random()
        if r < 0.5:
            return "%s %s %s" % (s[:2], s[2:], n), "passport/ss ss nnnnnn"
        if r < 0.75:
            return "%s %s" % (s, n), "passport/ssss nnnnnn"
        if r < 0.9:
            return "%s %s № %s" % (s[:2], s[2:], n), "passport/ss ss № nnnnnn"
        return "%s%s" % (s, n), "passport/10 digits"

    # -- cards ----------------------------------------------------------------

    CARD_BRANDS = [("mir", 20), ("visa", 16), ("mastercard", 16), ("maestro", 8), ("amex", 10),
                   ("jcb", 10), ("diners", 10), ("discover", 10)]

    def card_number(self, brand: str) -> str:
        if brand == "mir":
            body = str(2200 + self.rng.randint(0, 4)) + "".join(
                str(self.rng.randint(0, 9)) for _ in range(11))
            number = body + luhn_check_digit(body)
        elif brand in ("visa", "mastercard", "amex", "maestro"):
            number = self.fk.credit_card_number(card_type=brand)
        elif brand == "jcb":
            number = self.fk_en.credit_card_number(card_type="jcb16")
        else:  # diners, discover
            number = self.fk_en.credit_card_number(card_type=brand)
        assert luhn_valid(number), (brand, number)
        return number

    def render_card(self, p: Person):
        if p.card is None:
            brands, weights = zip(*self.CARD_BRANDS)
            p.card_brand = self.rng.choices(brands, weights)[0]
            p.card = self.card_number(p.card_brand)
        n = p.card
        r = self.rng.random()
        if len(n) == 15:  # Amex 4-6-5
            if r < 0.3:
                return n, "card/%s/plain" % p.card_brand
            sep = " " if r < 0.85 else "-"
            return sep.join([n[:4], n[4:10], n[10:]]), "card/%s/4-6-5" % p.card_brand
        if len(n) == 14:  # Diners 4-6-4
            if r < 0.35:
                return n, "card/%s/plain" % p.card_brand
            return " ".join([n[:4], n[4:10], n[10:]]), "card/%s/4-6-4" % p.card_brand
        groups = [n[i:i + 4] for i in range(0, len(n), 4)]
        if r < 0.35:
            return n, "card/%s/plain" % p.card_brand
        if r < 0.85:
            return " ".join(groups), "card/%s/groups-space" % p.card_brand
        return "-".join(groups), "card/%s/groups-hyphen" % p.card_brand

    # -- decoys ---------------------------------------------------------------

    def visit_date(self) -> dt.date:
        start = dt.date(2023, 1, 1).toordinal()
        return dt.date.fromordinal(self.rng.randint(start, dt.date(2025, 12, 31).toordinal()))

    def render_decoy(self, kind: str) -> str:
        rng = self.rng
        if kind == "date":
            d = self.visit_date()
            r = rng.random()
            if r < 0.55:
                return d.strftime("%d.%m.%Y")
            if r < 0.75:
                return d.isoformat()
            return "%d %s %d г." % (d.day, T.MONTHS_GEN[d.month - 1], d.year)
        if kind == "time":
            return "%d:%02d" % (rng.randint(8, 19), rng.choice([0, 10, 15, 20, 30, 40, 45, 50]))
        if kind == "ts":
            d = self.visit_date()
            t = "%02d:%02d:%02d" % (rng.randint(7, 21), rng.randint(0, 59), rng.randint(0, 59))
            r = rng.random()
            if r < 0.5:
                return "%sT%s+03:00" % (d.isoformat(), t)
            if r < 0.75:
                return "%s %s" % (d.isoformat(), t)
            return "%s %s" % (d.strftime("%d.%m.%Y"), t[:5])
        if kind == "order":
            r = rng.random()
            if r < 0.4:
                return "%d" % rng.randint(100000, 9999999)
            if r < 0.6:
                return "%d-%06d" % (rng.randint(2023, 2025), rng.randint(1, 999999))
            if r < 0.8:
                return "%s-%07d" % (rng.choice(["ЛБ", "ЗК", "ПУ", "A"]), rng.randint(1, 9999999))
            return "№ %05d" % rng.randint(1, 99999)
        if kind == "lab":
            tpl = rng.choice(T.LAB)
            vals = {
                "a": str(rng.randint(95, 175)), "b": "%d,%d" % (rng.randint(3, 12), rng.randint(0, 9)),
                "c": str(rng.randint(2, 45)), "d": "%.2f" % rng.uniform(0.3, 6.5),
                "bp": "%d/%d" % (rng.randint(100, 185), rng.randint(60, 110)),
                "e": str(rng.randint(52, 120)), "t": "%d,%d" % (rng.choice([36, 37, 38, 39]), rng.randint(0, 9)),
                "f": "%d,%d" % (rng.randint(3, 14), rng.randint(0, 9)),
                "g": "%d.%d" % (rng.randint(3, 8), rng.randint(0, 9)), "h": str(rng.randint(45, 160)),
                "s": str(rng.randint(88, 99)), "k": "%d,%d" % (rng.randint(4, 11), rng.randint(0, 9)),
                "m": "%d,%d" % (rng.randint(0, 80), rng.randint(0, 9)), "n": str(rng.randint(8, 400)),
                "o": str(rng.randint(8, 70)),
            }
            return tpl.format(**vals)
        if kind == "icd":
            return rng.choice(T.ICD)
        if kind == "price":
            rub = rng.choice([450, 700, 990, 1200, 1500, 1850, 2300, 2500, 3200, 4100, 5600, 12400])
            r = rng.random()
            if r < 0.35:
                return "%s руб." % format(rub, ",").replace(",", " ")
            if r < 0.65:
                return "%s,00 ₽" % format(rub, ",").replace(",", " ")
            if r < 0.85:
                return "%d р." % rub
            return "%d ₽" % rub
        if kind == "uuid":
            return self.fk.uuid4()
        if kind == "inn":
            return self.fk.businesses_inn()
        if kind == "hotline":
            t = "%07d" % rng.randint(0, 9999999)
            r = rng.random()
            if r < 0.5:
                return "8-800-%s-%s-%s" % (t[:3], t[3:5], t[5:])
            if r < 0.8:
                return "8 800 %s-%s-%s" % (t[:3], t[3:5], t[5:])
            return "8 (800) %s-%s-%s" % (t[:3], t[3:5], t[5:])
        if kind == "org":
            return rng.choice(T.ORGS)
        raise ValueError(kind)

    # -- templates --------------------------------------------------------------

    SLOT = re.compile(r"\{([^{}]+)\}")

    def fill(self, template: str, persons: dict):
        """Fills a template. Returns (text, planted, decoys); planted items are
        dicts with class, kind, text (+ surname); decoys have kind and text."""
        out, planted, decoys = [], [], []
        pos = 0
        for m in self.SLOT.finditer(template):
            out.append(template[pos:m.start()])
            pos = m.end()
            slot = m.group(1)
            if slot.startswith("$"):
                kind = slot[1:]
                text = self.render_decoy(kind)
                decoys.append({"kind": kind, "text": text.replace("№ ", "") if kind == "order" else text})
                out.append(text)
                continue
            if "~" in slot:
                role, forms = slot.split("~", 1)
                fem, masc = forms.split("|", 1)
                out.append(fem if persons[role].gender == "f" else masc)
                continue
            role, _, what = slot.partition(".")
            p = persons[role]
            item, _, arg = what.partition(":")
            if item == "name":
                shape, _, case = arg.partition(":")
                text, kind, surname = self.render_name(p, shape or "*", case or "nom")
                planted.append({"class": "full_name", "kind": kind, "text": text, "surname": surname})
                out.append(text)
            elif item == "dob":
                phrase, text, kind = self.render_dob(p, arg or None)
                planted.append({"class": "birth_date", "kind": kind, "text": text})
                out.append(phrase)
            elif item == "phone":
                text, kind = self.render_phone(p, arg or None)
                planted.append({"class": "phone", "kind": kind, "text": text})
                out.append(text)
            elif item == "email":
                text, kind = self.render_email(p)
                planted.append({"class": "email", "kind": kind, "text": text})
                out.append(text)
            elif item == "snils":
                text, kind = self.render_snils(p)
                planted.append({"class": "snils", "kind": kind, "text": text})
                out.append(text)
            elif item == "passport":
                text, kind = self.render_passport(p)
                planted.append({"class": "passport", "kind": kind, "text": text})
                out.append(text)
            elif item == "card":
                text, kind = self.render_card(p)
                planted.append({"class": "card", "kind": kind, "text": text})
                out.append(text)
            else:
                raise ValueError("unknown slot %r in %r" % (slot, template))
        out.append(template[pos:])
        # A sentence-final period after an abbreviation («2025 г.», «М.И.») is not doubled.
        return re.sub(r"(?<!\.)\.\.(?!\.)", ".", "".join(out)), planted, decoys

    def sentence(self, persons: dict):
        groups, weights = zip(*T.WEIGHTS.items())
        for _ in range(50):
            group = self.rng.choices(groups, weights)[0]
            template = self.rng.choice(T.GROUPS[group])
            try:
                text, planted, decoys = self.fill(template, persons)
            except CannotRender:
                continue
            for item in planted:
                item["group"] = group
            return text, planted, decoys
        raise RuntimeError("no template could be filled")

    def free_text(self, persons: dict):
        """A note of 1-4 sentences."""
        n = self.rng.choices([1, 2, 3, 4], [30, 38, 22, 10])[0]
        parts, planted, decoys = [self.rng.choice(T.OPENERS)], [], []
        for _ in range(n):
            text, pl, dc = self.sentence(persons)
            for item in pl:
                item["sentence"] = text
            parts.append(text + ("" if text.endswith((".", "!", "?")) else "."))
            parts.append(" ")
            planted += pl
            decoys += dc
        return "".join(parts).strip(), planted, decoys

    # -- keyed personal data -------------------------------------------------

    def person_object(self, p: Person, style: str):
        """A patient/client object: (object, [(relative pointer, class, kind, value)])."""
        obj, facts = {}, []

        def put(key, cls, value, kind):
            obj[key] = value
            facts.append(("/" + key, cls, kind, value))

        rng = self.rng
        if style == "split":
            put("lastName", "surname", p.last, "keyed/lastName")
            put("firstName", "given_name", p.first, "keyed/firstName")
            if rng.random() < 0.7:
                put("middleName", "patronymic", p.middle, "keyed/middleName")
        else:
            fio = "%s %s %s" % (p.last, p.first, p.middle)
            put(rng.choice(["fio", "fullName", "patientName"]), "full_name", fio, "keyed/fio")
        if rng.random() < 0.7:
            value = p.dob.isoformat() if rng.random() < 0.6 else p.dob.strftime("%d.%m.%Y")
            put(rng.choice(["birthDate", "dateOfBirth", "birthday"]), "birth_date", value,
                "keyed/birthDate")
        if rng.random() < 0.7:
            text, kind = self.render_phone(p)
            if rng.random() < 0.15:  # a number, as some MIS export it
                put("phone", "phone", int("7" + p.national), "keyed/phone-number")
            else:
                put(rng.choice(["phone", "mobilePhone", "contactPhone"]), "phone", text,
                    "keyed/" + kind)
        if rng.random() < 0.5:
            text, kind = self.render_email(p)
            put("email", "email", text, "keyed/" + kind)
        if rng.random() < 0.5:
            text, kind = self.render_snils(p)
            put("snils", "snils", text, "keyed/" + kind)
        if rng.random() < 0.35:
            text, kind = self.render_passport(p)
            put("passport", "passport", text, "keyed/" + kind)
        if rng.random() < 0.25:
            contacts = []
            text, kind = self.render_phone(p)
            contacts.append({"type": "phone", "value": text})
            facts.append(("/contacts/0/value", "phone", "keyed/contacts-phone", text))
            email, _ = self.render_email(p)
            contacts.append({"type": "email", "value": email})
            facts.append(("/contacts/1/value", "email", "keyed/contacts-email", email))
            obj["contacts"] = contacts
        return obj, facts

    # -- documents -------------------------------------------------------------

    PLAIN_KEYS = ["comment", "note", "operatorNote", "remark", "message", "callNote",
                  "adminComment"]

    def document(self):
        rng = self.rng
        persons = {"P": Person(rng, self.fk), "R": Person(rng, self.fk), "D": Person(rng, self.fk)}
        doc_type = rng.choice(["call", "appointment", "lab_order", "visit", "feedback"])
        doc = {}
        members = []  # (pointer, member kind) of free-text members to fill
        keyed_decoys = []  # (pointer, kind, value)

        def decoy_field(container, ptr, key, kind, value=None):
            value = self.render_decoy(kind) if value is None else value
            container[key] = value
            keyed_decoys.append((ptr + "/" + key, kind, value))

        if doc_type == "call":
            decoy_field(doc, "", "ticketId", "uuid")
            decoy_field(doc, "", "createdAt", "ts")
            doc["channel"] = rng.choice(["phone", "chat", "callback"])
            members.append(("/operatorNote", "plain"))
            if rng.random() < 0.5:
                members.append(("/comment", "plain"))
            org = {"name": self.render_decoy("org")}
            decoy_field(org, "/organization", "inn", "inn")
            decoy_field(org, "/organization", "phone", "hotline")
            doc["organization"] = org
            person_key = "client"
        elif doc_type == "appointment":
            decoy_field(doc, "", "appointmentId", "uuid")
            d = self.visit_date()
            decoy_field(doc, "", "visitDate", "date", d.isoformat())
            decoy_field(doc, "", "visitTime", "time")
            doc["service"] = rng.choice(["Приём терапевта", "УЗИ брюшной полости", "Приём кардиолога",
                                         "ЭКГ с расшифровкой", "Консультация невролога"])
            decoy_field(doc, "", "price", "price", "%d.00" % rng.choice([900, 1500, 1850, 2600]))
            members.append(("/note", "plain"))
            if rng.random() < 0.4:
                members.append(("/adminComment", "plain"))
            person_key = "patient"
        elif doc_type == "lab_order":
            decoy_field(doc, "", "orderNumber", "order", "%d" % rng.randint(1000000, 99999999))
            decoy_field(doc, "", "createdAt", "ts")
            doc["items"] = [
                {"code": "A09.05.023", "name": "Глюкоза", "value": "%d.%d" % (rng.randint(3, 9), rng.randint(0, 9)),
                 "unit": "ммоль/л"},
                {"code": "B03.016.002", "name": "Общий анализ крови", "value": str(rng.randint(95, 170)),
                 "unit": "г/л"},
            ]
            for i in range(2):
                keyed_decoys.append(("/items/%d/value" % i, "lab", doc["items"][i]["value"]))
                keyed_decoys.append(("/items/%d/unit" % i, "lab", doc["items"][i]["unit"]))
                keyed_decoys.append(("/items/%d/name" % i, "lab", doc["items"][i]["name"]))
            decoy_field(doc, "", "total", "price", "%d.00" % rng.choice([650, 1240, 2450, 3900]))
            members.append(("/comment", "plain"))
            person_key = "patient"
        elif doc_type == "visit":
            decoy_field(doc, "", "visitId", "uuid")
            visit = {}
            decoy_field(visit, "/visit", "date", "date", self.visit_date().isoformat())
            doc["visit"] = visit
            members.append(("/visit/complaints", "health"))
            if rng.random() < 0.5:
                members.append(("/visit/anamnesis", "health"))
            if rng.random() < 0.4:
                members.append(("/visit/recommendations", "health"))
            diag = {}
            decoy_field(diag, "/visit/diagnosis", "code", "icd")
            visit["diagnosis"] = diag
            members.append(("/note", "plain"))
            person_key = "patient"
        else:
            decoy_field(doc, "", "feedbackId", "uuid")
            decoy_field(doc, "", "createdAt", "ts")
            doc["rating"] = rng.randint(1, 5)
            members.append(("/message", "plain"))
            if rng.random() < 0.5:
                members.append(("/reply", "plain"))
            person_key = "author"

        planted_all, decoys_all = [], []
        for ptr, member in members:
            text, planted, decoys = self.free_text(persons)
            set_pointer(doc, ptr, text)
            for item in planted:
                item.update(pointer=ptr, where="free", member=member)
            for item in decoys:
                item.update(pointer=ptr, where="free", member=member)
            planted_all += planted
            decoys_all += decoys

        if rng.random() < 0.5:
            obj, facts = self.person_object(persons["P"], rng.choice(["split", "fio"]))
            doc[person_key] = obj
            for rel, cls, kind, value in facts:
                planted_all.append({"class": cls, "kind": kind, "text": str(value),
                                    "pointer": "/" + person_key + rel, "where": "keyed",
                                    "member": "keyed"})
            if doc_type in ("appointment", "lab_order") and rng.random() < 0.4:
                text, kind = self.render_card(persons["P"])
                doc["payment"] = {"method": "card", "cardNumber": text}
                planted_all.append({"class": "card", "kind": "keyed/" + kind, "text": text,
                                    "pointer": "/payment/cardNumber", "where": "keyed",
                                    "member": "keyed"})

        for ptr, kind, value in keyed_decoys:
            decoys_all.append({"kind": kind, "text": str(value), "pointer": ptr, "where": "keyed",
                               "member": "keyed"})
        return doc, doc_type, planted_all, decoys_all


def set_pointer(doc, pointer: str, value) -> None:
    parts = pointer.strip("/").split("/")
    node = doc
    for key in parts[:-1]:
        node = node.setdefault(key, {})
    node[parts[-1]] = value


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--out", required=True, help="output directory")
    args = ap.parse_args(argv)

    inflect._self_test()
    os.makedirs(args.out, exist_ok=True)
    gen = Generator(args.seed)
    counts = {"documents": 0, "planted": 0, "decoys": 0, "by_class": {}, "by_type": {}}
    with open(os.path.join(args.out, "corpus.ndjson"), "w", encoding="utf-8") as corpus, \
            open(os.path.join(args.out, "truth.jsonl"), "w", encoding="utf-8") as truth, \
            open(os.path.join(args.out, "decoys.jsonl"), "w", encoding="utf-8") as decoy_file:
        for i in range(args.count):
            doc, doc_type, planted, decoys = gen.document()
            corpus.write(json.dumps(doc, ensure_ascii=False) + "\n")
            for item in planted:
                record = {"doc": i, "doc_type": doc_type}
                record.update(item)
                truth.write(json.dumps(record, ensure_ascii=False) + "\n")
                key = "%s/%s" % (item["class"], item["where"])
                counts["by_class"][key] = counts["by_class"].get(key, 0) + 1
            for item in decoys:
                record = {"doc": i}
                record.update(item)
                decoy_file.write(json.dumps(record, ensure_ascii=False) + "\n")
            counts["documents"] += 1
            counts["planted"] += len(planted)
            counts["decoys"] += len(decoys)
            counts["by_type"][doc_type] = counts["by_type"].get(doc_type, 0) + 1
    meta = {"seed": args.seed, "count": args.count, "faker": faker.VERSION,
            "python": sys.version.split()[0], "counts": counts}
    with open(os.path.join(args.out, "meta.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, ensure_ascii=False, indent=2, sort_keys=True)
    print("wrote %d documents, %d planted values, %d decoys to %s"
          % (counts["documents"], counts["planted"], counts["decoys"], args.out))
    for key in sorted(counts["by_class"]):
        print("  %-22s %6d" % (key, counts["by_class"][key]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
