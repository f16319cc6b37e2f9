"""Declension of Russian personal names for the independent corpus.

Only the patterns that the generator plants are handled, and only where the
rule is certain; every function returns None for a form it does not know, so
the caller can pick another name or another template instead of planting a
misspelt one.

Cases: nom (именительный), gen (родительный), dat (дательный),
acc (винительный), ins (творительный).

Written from the standard rules of Russian grammar; no external word lists.
"""

CASES = ("nom", "gen", "dat", "acc", "ins")

# Letters after which a hard-stem -а takes -и (not -ы) in the genitive.
_VELAR_SIBILANT = set("гкхжшчщ")
# Letters after which an unstressed instrumental ending is -ей / -ем.
_SIBILANT_C = set("жшчщц")

# Male given names with a fleeting vowel or otherwise irregular stems.
_MALE_GIVEN_IRREGULAR = {
    "Павел": {"gen": "Павла", "dat": "Павлу", "acc": "Павла", "ins": "Павлом"},
    "Лев": {"gen": "Льва", "dat": "Льву", "acc": "Льва", "ins": "Львом"},
    "Петр": {"gen": "Петра", "dat": "Петру", "acc": "Петра", "ins": "Петром"},
    "Пётр": {"gen": "Петра", "dat": "Петру", "acc": "Петра", "ins": "Петром"},
    "Илья": {"gen": "Ильи", "dat": "Илье", "acc": "Илью", "ins": "Ильёй"},
}

# Female given names of the third declension, or ones whose forms are
# better spelt out.
_FEMALE_GIVEN_IRREGULAR = {
    "Любовь": {"gen": "Любови", "dat": "Любови", "acc": "Любовь", "ins": "Любовью"},
    "Нинель": {"gen": "Нинели", "dat": "Нинели", "acc": "Нинель", "ins": "Нинелью"},
    "Ия": {"gen": "Ии", "dat": "Ии", "acc": "Ию", "ins": "Ией"},
}


def _first_decl_a(stem: str, case: str) -> str:
    """Forms of a noun in -а with the stem `stem` (Анна, Никита, Кузьма)."""
    last = stem[-1]
    if case == "gen":
        return stem + ("и" if last in _VELAR_SIBILANT else "ы")
    if case == "dat":
        return stem + "е"
    if case == "acc":
        return stem + "у"
    if case == "ins":
        return stem + ("ей" if last in _SIBILANT_C else "ой")
    raise ValueError(case)


def _first_decl_ya(stem: str, case: str) -> str:
    """Forms of a noun in -я after a vowel or ь (Дарья, Майя, Зоя, Пелагея)."""
    if case == "gen":
        return stem + "и"
    if case == "dat":
        return stem + "е"
    if case == "acc":
        return stem + "ю"
    if case == "ins":
        return stem + "ей"
    raise ValueError(case)


def given_name(name: str, gender: str, case: str):
    """A given name in `case`; gender is 'f' or 'm'."""
    if case == "nom":
        return name
    irregular = _FEMALE_GIVEN_IRREGULAR if gender == "f" else _MALE_GIVEN_IRREGULAR
    if name in irregular:
        return irregular[name][case]
    low = name.lower()
    if low.endswith("ия"):  # Мария, Анастасия; male Зосима is not here
        stem = name[:-1]
        return {"gen": stem + "и", "dat": stem + "и", "acc": stem + "ю", "ins": stem + "ей"}[case]
    if low.endswith("я"):
        return _first_decl_ya(name[:-1], case)
    if low.endswith("а"):
        return _first_decl_a(name[:-1], case)
    if gender == "f":
        return None  # a female name in a consonant: not planted inflected
    # Male names of the second declension.
    if low.endswith(("ий", "ей", "ай", "ой", "уй")):
        stem = name[:-1]
        return {"gen": stem + "я", "dat": stem + "ю", "acc": stem + "я", "ins": stem + "ем"}[case]
    if low.endswith("ь"):
        stem = name[:-1]
        return {"gen": stem + "я", "dat": stem + "ю", "acc": stem + "я", "ins": stem + "ем"}[case]
    if low[-1] in "бвгдзклмнпрстфх":
        return {"gen": name + "а", "dat": name + "у", "acc": name + "а", "ins": name + "ом"}[case]
    if low[-1] in _SIBILANT_C:
        return {"gen": name + "а", "dat": name + "у", "acc": name + "а", "ins": name + "ем"}[case]
    return None


def patronymic(name: str, gender: str, case: str):
    """A patronymic (-ович/-евич/-ич, -овна/-евна/-ична) in `case`."""
    if case == "nom":
        return name
    low = name.lower()
    if gender == "m" and low.endswith("ич"):
        return {"gen": name + "а", "dat": name + "у", "acc": name + "а", "ins": name + "ем"}[case]
    if gender == "f" and low.endswith("на"):
        return _first_decl_a(name[:-1], case)
    return None


def surname(name: str, gender: str, case: str):
    """A surname in `case`. Types: -ов/-ев/-ёв/-ин/-ын (possessive),
    -ский/-цкий (adjectival), -енко/-ко/-ых/-их (indeclinable), and a plain
    consonant (-ян, -ук, -юк: declined for men, indeclinable for women)."""
    if case == "nom":
        return name
    low = name.lower()
    if low.endswith(("ко", "ых", "их", "аго", "яго")):
        return name  # indeclinable
    if gender == "m":
        if low.endswith(("ов", "ев", "ёв", "ин", "ын")):
            return {"gen": name + "а", "dat": name + "у", "acc": name + "а", "ins": name + "ым"}[case]
        if low.endswith(("ский", "цкий")):
            stem = name[:-2]
            return {"gen": stem + "ого", "dat": stem + "ому", "acc": stem + "ого", "ins": stem + "им"}[case]
        if low.endswith(("ян", "ук", "юк", "ич", "ак", "ер")):
            ins = "ем" if low[-1] in _SIBILANT_C else "ом"
            return {"gen": name + "а", "dat": name + "у", "acc": name + "а", "ins": name + ins}[case]
        return None
    if low.endswith(("ова", "ева", "ёва", "ина", "ына")):
        stem = name[:-1]
        return {"gen": stem + "ой", "dat": stem + "ой", "acc": stem + "у", "ins": stem + "ой"}[case]
    if low.endswith(("ская", "цкая")):
        stem = name[:-2]
        return {"gen": stem + "ой", "dat": stem + "ой", "acc": stem + "ую", "ins": stem + "ой"}[case]
    if low.endswith(("ян", "ук", "юк", "ич", "ак", "ер")):
        return name  # a woman's consonant surname does not decline
    return None


def _self_test() -> None:
    assert given_name("Мария", "f", "dat") == "Марии"
    assert given_name("Ольга", "f", "gen") == "Ольги"
    assert given_name("Наталья", "f", "ins") == "Натальей"
    assert given_name("Иван", "m", "dat") == "Ивану"
    assert given_name("Андрей", "m", "gen") == "Андрея"
    assert given_name("Игорь", "m", "ins") == "Игорем"
    assert given_name("Никита", "m", "gen") == "Никиты"
    assert given_name("Лука", "m", "gen") == "Луки"
    assert given_name("Павел", "m", "dat") == "Павлу"
    assert surname("Иванова", "f", "dat") == "Ивановой"
    assert surname("Иванова", "f", "acc") == "Иванову"
    assert surname("Петров", "m", "ins") == "Петровым"
    assert surname("Вишневская", "f", "gen") == "Вишневской"
    assert surname("Заблоцкий", "m", "dat") == "Заблоцкому"
    assert surname("Шевченко", "m", "gen") == "Шевченко"
    assert surname("Григорян", "f", "dat") == "Григорян"
    assert surname("Григорян", "m", "dat") == "Григоряну"
    assert patronymic("Петровна", "f", "gen") == "Петровны"
    assert patronymic("Ильинична", "f", "dat") == "Ильиничне"
    assert patronymic("Сергеевич", "m", "ins") == "Сергеевичем"


if __name__ == "__main__":
    _self_test()
    print("inflect: ok")
