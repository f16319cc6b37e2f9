//! Patient summaries (list items and list pages) and the blocks shared with
//! patient cards and appointments: names, birth date, sex, SNILS, OMS.

use super::clinical;
use super::data::{CLINICS, OMS_INSURERS};
use super::ids;
use super::json::Out;
use super::keys::{F, Keys, Style};
use super::person::{self, PHONE_FORMS, Person};
use super::rng::Rng;
use super::{PATIENTS_PER_PAGE, Subject, patient_id};
use crate::class::FieldClass as C;

const P: Subject = Subject::Patient;

/// Write a surname, given name or patronymic, upper-cased in half the FOMS
/// documents, as registries do.
fn name_part(w: &mut Out, k: &Keys, f: F, v: &str, c: super::FieldClass, s: Subject, up: bool) {
    let v = if up { v.to_uppercase() } else { v.to_owned() };
    w.kpd(k.get(f), &v, c, s);
}

pub(crate) fn names(w: &mut Out, rng: &mut Rng, k: &Keys, p: &Person, s: Subject) {
    let up = k.style == Style::Foms && rng.chance(50);
    match rng.below(6) {
        // Nested name object.
        0 if k.style != Style::Foms => {
            w.kobj(k.pick(["name", "name", "Name", "фио", "FIO"]));
            w.kpd(
                k.pick(["family", "family", "Family", "фамилия", "FAM"]),
                &p.surname,
                C::Surname,
                s,
            );
            w.kpd(
                k.pick(["given", "given", "Given", "имя", "IM"]),
                p.given,
                C::GivenName,
                s,
            );
            w.kpd(
                k.pick(["middle", "middle", "Middle", "отчество", "OT"]),
                p.patronymic,
                C::Patronymic,
                s,
            );
            w.end();
        }
        // The full name only.
        1 => {
            let v = if rng.chance(70) {
                p.fio()
            } else {
                p.initials()
            };
            w.kpd(k.get(F::FullName), &v, C::FullName, s);
        }
        n => {
            name_part(w, k, F::Surname, &p.surname, C::Surname, s, up);
            name_part(w, k, F::Given, p.given, C::GivenName, s, up);
            name_part(w, k, F::Patronymic, p.patronymic, C::Patronymic, s, up);
            if n == 2 {
                w.kpd(k.get(F::FullName), &p.fio(), C::FullName, s);
            }
        }
    }
}

pub(crate) fn birth_date(w: &mut Out, rng: &mut Rng, k: &Keys, p: &Person) {
    let v = match (k.style, rng.below(6)) {
        (Style::Russian, 0..=3) => p.birth_dotted(),
        (_, 0) => p.birth_dotted(),
        (_, 1) => format!("{}T00:00:00", p.birth_iso()),
        _ => p.birth_iso(),
    };
    w.kpd(k.get(F::BirthDate), &v, C::BirthDate, P);
}

pub(crate) fn sex(w: &mut Out, k: &Keys, p: &Person) {
    w.key(k.get(F::Sex));
    match k.style {
        Style::Foms => w.int(if p.male { 1 } else { 2 }),
        Style::Russian => w.str(if p.male {
            "мужской"
        } else {
            "женский"
        }),
        _ => w.str(if p.male { "male" } else { "female" }),
    };
}

/// SNILS in a random written form, sometimes as a JSON number.
pub(crate) fn snils(w: &mut Out, rng: &mut Rng, key: &str, d: &str, s: Subject) {
    let form = rng.below(6);
    w.key(key);
    if form == 5 && !d.starts_with('0') {
        w.pd_num(d, C::Snils, s);
    } else {
        w.pd(&ids::snils_fmt(d, form % 4), C::Snils, s);
    }
}

fn oms(w: &mut Out, rng: &mut Rng, k: &Keys, p: &Person) {
    if rng.chance(30) && k.style != Style::Foms {
        w.kobj(k.pick(["omsPolicy", "oms_policy", "OmsPolicy", "полис", "POLIS"]));
        w.ks(k.pick(["type", "type", "Type", "тип", "VPOLIS"]), "ЕНП");
        let v = if rng.chance(20) {
            ids::group4(&p.enp)
        } else {
            p.enp.clone()
        };
        w.kpd(
            k.pick(["number", "number", "Number", "номер", "NPOLIS"]),
            &v,
            C::OmsPolicy,
            P,
        );
        let insurer = rng.one(OMS_INSURERS);
        w.ks(
            k.pick(["insurer", "smo", "Insurer", "страховая", "SMO"]),
            insurer,
        );
        w.end();
    } else {
        w.kpd(k.get(F::Oms), &p.enp, C::OmsPolicy, P);
    }
}

/// One patient summary as a list item; its subject id is under `"id"`,
/// first in most items and last in some (the engine must hold those back).
pub(crate) fn summary(w: &mut Out, rng: &mut Rng, k: &Keys, seed: u64, i: u64) {
    let p = Person::patient(seed, i);
    let id = patient_id(seed, i);
    let id_last = rng.chance(15);
    w.obj();
    if !id_last {
        w.ks("id", &id);
    }
    names(w, rng, k, &p, P);
    birth_date(w, rng, k, &p);
    sex(w, k, &p);
    snils(w, rng, k.get(F::Snils), &p.snils, P);
    oms(w, rng, k, &p);
    if rng.chance(50) && k.style != Style::Foms {
        w.kobj(k.pick(["contacts", "contacts", "Contacts", "контакты", "CONTACTS"]));
        w.kpd(
            k.get(F::Phone),
            &p.phone(rng.below(PHONE_FORMS)),
            C::Phone,
            P,
        );
        w.kpd(k.get(F::Email), &p.email, C::Email, P);
        w.end();
    } else if k.style == Style::Foms && rng.chance(40) {
        // Registries export phones as bare numbers too.
        w.key(k.get(F::Phone))
            .pd_num(&format!("7{}", p.mobile), C::Phone, P);
    } else {
        w.kpd(
            k.get(F::Phone),
            &p.phone(rng.below(PHONE_FORMS)),
            C::Phone,
            P,
        );
    }
    if rng.chance(30) {
        w.kpd(k.get(F::Address), &p.address(), C::Address, P);
    }
    let visit = person::iso(person::random_date(rng, 2023, 2025));
    w.kdecoy(
        k.pick([
            "lastVisit",
            "last_visit",
            "LastVisit",
            "последний_визит",
            "DATE_IN",
        ]),
        &visit,
        "visit_date",
    );
    w.ks(
        k.pick(["clinic", "clinic", "Clinic", "мо_прикрепления", "LPU_NAME"]),
        rng.one(CLINICS),
    );
    if rng.chance(20) {
        let code = clinical::icd(rng);
        w.kdecoy(
            k.pick(["mainDiagnosisCode", "ds_code", "DsCode", "код_мкб", "DS1"]),
            code.0,
            "icd10",
        );
    }
    if id_last {
        w.ks("id", &id);
    }
    w.end();
}

/// `{"items":[...],"total":N,...}` with patients `index * 20 ..`.
pub(crate) fn list_page(w: &mut Out, rng: &mut Rng, k: &Keys, seed: u64, index: u64) {
    let n = rng.range(4, PATIENTS_PER_PAGE + 1);
    let first = index * PATIENTS_PER_PAGE;
    w.obj();
    if rng.chance(50) {
        w.key(k.pick(["page", "page", "Page", "страница", "PAGE"]))
            .int(index + 1);
        w.key(k.pick([
            "pageSize",
            "page_size",
            "PageSize",
            "размер_страницы",
            "SIZE",
        ]))
        .int(n);
    }
    w.karr("items");
    for i in first..first + n {
        summary(w, rng, k, seed, i);
    }
    w.end();
    w.key(k.pick(["total", "total_count", "TotalCount", "всего", "TOTAL"]))
        .int(rng.range(n, 40_000));
    w.kdecoy(
        k.pick([
            "requestId",
            "request_id",
            "RequestId",
            "ид_запроса",
            "REQ_ID",
        ]),
        &ids::uuid(rng),
        "uuid",
    );
    w.end();
}

pub(crate) fn doctor_block(w: &mut Out, rng: &mut Rng, k: &Keys, d: &Person) {
    let s = Subject::Doctor;
    w.obj();
    w.kdecoy("id", &ids::uuid(rng), "uuid");
    w.kpd(k.get(F::FullName), &d.fio(), C::FullName, s);
    w.ks(
        k.pick(["position", "position", "Position", "должность", "PRVS"]),
        rng.one(super::data::POSITIONS),
    );
    snils(w, rng, k.get(F::Snils), &d.snils, s);
    w.end();
}

/// A DMS policy number in one of several insurers' patterns.
pub(crate) fn dms_number(rng: &mut Rng) -> String {
    const UP: &[u8] = b"ABCEHKMPTX";
    match rng.below(5) {
        0 => format!("{}-{}", rng.range(100, 999), rng.digits(7)),
        1 => format!("ДМС-{}-{}", rng.range(2020, 2026), rng.digits(6)),
        2 => format!(
            "{}{}/{}",
            rng.chars(UP, 2),
            rng.digits(8),
            rng.range(20, 26)
        ),
        3 => format!("{} {} {}", rng.digits(4), rng.chars(UP, 1), rng.digits(6)),
        _ => format!("VHI{}", rng.digits(9)),
    }
}
