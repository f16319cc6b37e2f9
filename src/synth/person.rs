//! Synthetic people: names with gender agreement, birth dates, and every
//! identifier a Russian MIS keeps about a patient, a doctor or a relative.

use super::data::{
    FEMALE, MAIL, MALE, MOBILE_CODES, PATRONYMICS, REGIONS, Region, STREETS, SURNAMES,
};
use super::ids;
use super::rng::{Rng, stream};

pub(crate) struct Person {
    pub(crate) male: bool,
    pub(crate) surname: String,
    pub(crate) given: &'static str,
    pub(crate) patronymic: &'static str,
    pub(crate) birth: (u64, u64, u64),
    pub(crate) region: &'static Region,
    pub(crate) snils: String,
    pub(crate) enp: String,
    pub(crate) inn: String,
    /// Ten national digits of the mobile number (9XX…).
    pub(crate) mobile: String,
    pub(crate) landline: String,
    pub(crate) email: String,
    pub(crate) passport_series: String,
    pub(crate) passport_number: String,
    pub(crate) passport_issued: (u64, u64, u64),
    pub(crate) street: &'static str,
    pub(crate) house: String,
    pub(crate) flat: String,
    pub(crate) postal: String,
    pub(crate) card: String,
}

fn feminine(surname: &str) -> String {
    if let Some(stem) = surname.strip_suffix("ский") {
        format!("{stem}ская")
    } else if let Some(stem) = surname.strip_suffix("цкий") {
        format!("{stem}цкая")
    } else if let Some(stem) = surname.strip_suffix("ской") {
        format!("{stem}ская")
    } else if ["ов", "ев", "ёв", "ин", "ын"]
        .iter()
        .any(|s| surname.ends_with(s))
    {
        format!("{surname}а")
    } else {
        // -енко, -ук, -их, -ян, -дзе and the like do not change.
        surname.to_owned()
    }
}

fn dative(surname: &str, male: bool) -> String {
    let swap = |suffix: &str, with: &str| {
        surname
            .strip_suffix(suffix)
            .map(|stem| format!("{stem}{with}"))
    };
    let declined = if male {
        swap("ий", "ому")
            .or_else(|| swap("ой", "ому"))
            .or_else(|| swap("ь", "ю"))
            .or_else(|| {
                let last = surname.chars().last().unwrap_or('о');
                let invariant = "аеёиоуыэюя".contains(last)
                    || surname.ends_with("их")
                    || surname.ends_with("ых");
                (!invariant).then(|| format!("{surname}у"))
            })
    } else {
        swap("ская", "ской")
            .or_else(|| swap("цкая", "цкой"))
            .or_else(|| {
                let adjectival = ["ова", "ева", "ёва", "ина", "ына"]
                    .iter()
                    .any(|s| surname.ends_with(s));
                adjectival.then(|| swap("а", "ой")).flatten()
            })
    };
    declined.unwrap_or_else(|| surname.to_owned())
}

pub(crate) fn translit(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .filter_map(crate::rules::keys::latin)
        .collect()
}

pub(crate) fn iso((y, m, d): (u64, u64, u64)) -> String {
    format!("{y:04}-{m:02}-{d:02}")
}

pub(crate) fn dotted((y, m, d): (u64, u64, u64)) -> String {
    format!("{d:02}.{m:02}.{y:04}")
}

pub(crate) fn random_date(rng: &mut Rng, y0: u64, y1: u64) -> (u64, u64, u64) {
    (rng.range(y0, y1 + 1), rng.range(1, 13), rng.range(1, 29))
}

pub(crate) fn datetime(rng: &mut Rng, y0: u64, y1: u64) -> String {
    let (h, m) = (rng.range(8, 21), rng.pick(&[0, 10, 15, 30, 45, 50]));
    let tz = rng.one(&["+03:00", "+05:00", "Z", "+07:00"]);
    format!("{}T{h:02}:{m:02}:00{tz}", iso(random_date(rng, y0, y1)))
}

impl Person {
    /// Patient number `i` of this seed: the same person wherever it appears.
    pub(crate) fn patient(seed: u64, i: u64) -> Person {
        Person::random(&mut Rng::new(seed, stream::PATIENT, i), 1938, 2022)
    }

    /// One of the 48 doctors of this seed.
    pub(crate) fn doctor(seed: u64, j: u64) -> Person {
        Person::random(&mut Rng::new(seed, stream::DOCTOR, j % 48), 1956, 1997)
    }

    pub(crate) fn random(rng: &mut Rng, y0: u64, y1: u64) -> Person {
        let male = rng.chance(50);
        let base = *rng.pick(SURNAMES);
        let surname = if male {
            base.to_owned()
        } else {
            feminine(base)
        };
        let given = *rng.pick(if male { MALE } else { FEMALE });
        let pat = rng.pick(PATRONYMICS);
        let patronymic = if male { pat.0 } else { pat.1 };
        let birth = random_date(rng, y0, y1);
        let region = rng.pick(REGIONS);
        let mobile = format!("{}{}", rng.pick(MOBILE_CODES), rng.digits(7));
        let landline = format!(
            "{}{}",
            region.phone_code,
            rng.digits(10 - region.phone_code.len())
        );
        let (s, g, p) = (translit(&surname), translit(given), translit(patronymic));
        let local = match rng.below(5) {
            0 => format!("{s}.{}{:02}", &g[..1], birth.0 % 100),
            1 => format!("{g}.{s}"),
            2 => format!("{s}{}", rng.range(1, 1000)),
            3 => format!("{}{}{s}", &g[..1], &p[..1]),
            _ => format!("{g}_{s}{}", birth.0),
        };
        let email = format!("{local}@{}", rng.pick(MAIL));
        let issue_year = (birth.0 + if rng.chance(50) { 14 } else { 20 }).clamp(1998, 2025);
        let house = format!(
            "{}{}",
            rng.range(1, 180),
            rng.one(&["", "", "", "", "а", "к2", "/1"])
        );
        Person {
            male,
            given,
            patronymic,
            birth,
            snils: ids::snils(rng),
            enp: ids::enp(rng, region.code),
            inn: ids::inn12(rng, region.code),
            mobile,
            landline,
            email,
            passport_series: format!("{}{:02}", region.okato, issue_year % 100),
            passport_number: rng.range(100_000, 1_000_000).to_string(),
            passport_issued: random_date(rng, issue_year, issue_year),
            street: rng.one(STREETS),
            house,
            flat: rng.range(1, 320).to_string(),
            postal: format!("{}{:03}", region.postal, rng.below(1000)),
            card: ids::card(rng),
            region,
            surname,
        }
    }

    pub(crate) fn fio(&self) -> String {
        format!("{} {} {}", self.surname, self.given, self.patronymic)
    }

    /// `Иванов И.И.`
    pub(crate) fn initials(&self) -> String {
        let i = self.given.chars().next().unwrap_or('И');
        let o = self.patronymic.chars().next().unwrap_or('И');
        format!("{} {i}.{o}.", self.surname)
    }

    /// `И.И. Иванов`
    pub(crate) fn initials_first(&self) -> String {
        let i = self.given.chars().next().unwrap_or('И');
        let o = self.patronymic.chars().next().unwrap_or('И');
        format!("{i}.{o}. {}", self.surname)
    }

    /// `Иванову И.И.` / `Ивановой И.И.`: the dative, as in "выдана кому".
    pub(crate) fn initials_dative(&self) -> String {
        let initials = self.initials();
        let rest = initials.strip_prefix(self.surname.as_str()).unwrap_or("");
        format!("{}{rest}", dative(&self.surname, self.male))
    }

    pub(crate) fn name_patronymic(&self) -> String {
        format!("{} {}", self.given, self.patronymic)
    }

    /// As embossed on a bank card: `IVAN IVANOV`.
    pub(crate) fn latin(&self) -> String {
        format!("{} {}", translit(self.given), translit(&self.surname)).to_uppercase()
    }

    pub(crate) fn birth_iso(&self) -> String {
        iso(self.birth)
    }

    pub(crate) fn birth_dotted(&self) -> String {
        dotted(self.birth)
    }

    pub(crate) fn age(&self) -> u64 {
        2025u64.saturating_sub(self.birth.0)
    }

    pub(crate) fn street_line(&self) -> String {
        format!("{}, д. {}, кв. {}", self.street, self.house, self.flat)
    }

    pub(crate) fn address(&self) -> String {
        let city = if self.region.name.starts_with("г. ") {
            self.region.name.to_owned()
        } else {
            format!("{}, г. {}", self.region.name, self.region.city)
        };
        format!("{}, {city}, {}", self.postal, self.street_line())
    }

    /// The mobile number in one of the forms seen in MIS data.
    pub(crate) fn phone(&self, form: u64) -> String {
        phone_fmt(&self.mobile, form)
    }

    pub(crate) fn landline_fmt(&self, intl: bool) -> String {
        let code = self.region.phone_code;
        let rest = &self.landline[code.len()..];
        let grouped = if rest.len() == 7 {
            format!("{}-{}-{}", &rest[0..3], &rest[3..5], &rest[5..7])
        } else {
            format!("{}-{}-{}", &rest[0..2], &rest[2..4], &rest[4..6])
        };
        if intl {
            format!("+7 ({code}) {grouped}")
        } else {
            format!("8 ({code}) {grouped}")
        }
    }

    pub(crate) fn passport(&self, form: u64) -> String {
        let (s, n) = (&self.passport_series, &self.passport_number);
        match form {
            0 => format!("{s} {n}"),
            1 => format!("{} {} {n}", &s[..2], &s[2..]),
            2 => format!("{} {} № {n}", &s[..2], &s[2..]),
            _ => format!("{s}:{n}"),
        }
    }
}

/// Number of phone forms understood by [`phone_fmt`].
pub(crate) const PHONE_FORMS: u64 = 10;

pub(crate) fn phone_fmt(n: &str, form: u64) -> String {
    let (a, b, c, d) = (&n[0..3], &n[3..6], &n[6..8], &n[8..10]);
    match form % PHONE_FORMS {
        0 => format!("+7 ({a}) {b}-{c}-{d}"),
        1 => format!("+7{n}"),
        2 => format!("8 ({a}) {b}-{c}-{d}"),
        3 => format!("8-{a}-{b}-{c}-{d}"),
        4 => format!("8{n}"),
        5 => format!("+7 {a} {b} {c} {d}"),
        6 => format!("+7-{a}-{b}-{c}-{d}"),
        7 => format!("7{n}"),
        8 => format!("+7 {a} {b}-{c}-{d}"),
        _ => format!("8 {a} {b} {c} {d}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surnames_agree_in_gender_and_case() {
        let cases = [
            ("Иванов", "Иванова", "Иванову", "Ивановой"),
            ("Белозерский", "Белозерская", "Белозерскому", "Белозерской"),
            ("Дубовской", "Дубовская", "Дубовскому", "Дубовской"),
            ("Сафин", "Сафина", "Сафину", "Сафиной"),
            ("Кобзарь", "Кобзарь", "Кобзарю", "Кобзарь"),
            ("Аветисян", "Аветисян", "Аветисяну", "Аветисян"),
            ("Рыжих", "Рыжих", "Рыжих", "Рыжих"),
            ("Гончаренко", "Гончаренко", "Гончаренко", "Гончаренко"),
        ];
        for (m, f, md, fd) in cases {
            assert_eq!(feminine(m), f);
            assert_eq!(dative(m, true), md);
            assert_eq!(dative(f, false), fd);
        }
        assert_eq!(translit("Журавлёва"), "zhuravleva");
    }
}
