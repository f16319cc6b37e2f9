//! Appointments and medical documents, with free-text notes in Russian that
//! embed names, identifiers and contacts among look-alike decoys.

use super::data::{CLINICAL, CLINICS, OMS_INSURERS};
use super::ids;
use super::json::{Out, Text};
use super::keys::{F, Keys};
use super::patient::{doctor_block, snils};
use super::person::{self, PHONE_FORMS, Person};
use super::rng::Rng;
use super::{PATIENT_POOL, Subject, patient_id};
use crate::class::FieldClass as C;

const P: Subject = Subject::Patient;

/// A random (ICD-10 code, diagnosis text).
pub(crate) fn icd(rng: &mut Rng) -> (&'static str, &'static str) {
    let c = rng.pick(CLINICAL);
    (c.0, c.1)
}

fn price(rng: &mut Rng) -> (u64, String) {
    let rub = *rng.pick(&[700u64, 950, 1300, 1750, 2100, 2600, 3300, 4800]);
    let text = if rub >= 1000 {
        format!("{} {:03},00 ₽", rub / 1000, rub % 1000)
    } else {
        format!("{rub},00 руб.")
    };
    (rub, text)
}

fn any_name(t: &mut Text, rng: &mut Rng, p: &Person, s: Subject) {
    let v = match rng.below(4) {
        0 => p.fio(),
        1 => p.initials(),
        2 => p.initials_first(),
        _ => p.name_patronymic(),
    };
    t.pd(&v, C::FullName, s);
}

/// A clinical note about `p` written by `d`; `long` adds identifiers,
/// address and decoys.
pub(crate) fn note(rng: &mut Rng, p: &Person, d: &Person, long: bool) -> Text {
    let c = rng.pick(CLINICAL);
    let mut t = Text::default();
    t.t(match (p.male, rng.below(3)) {
        (true, 0) => "Пациент ",
        (false, 0) => "Пациентка ",
        (true, 1) => "Больной ",
        (false, 1) => "Больная ",
        _ => "На приёме ",
    });
    any_name(&mut t, rng, p, P);
    t.t(", ").pd(&p.birth_dotted(), C::BirthDate, P).t(" г.р.");
    if rng.chance(70) {
        t.t(", СНИЛС ")
            .pd(&ids::snils_fmt(&p.snils, rng.below(4)), C::Snils, P);
    }
    t.t(if p.male {
        ", обратился с жалобами на "
    } else {
        ", обратилась с жалобами на "
    });
    t.t(c.2).t(". ");
    if rng.chance(60) {
        t.t("Контактный телефон ")
            .pd(&p.phone(rng.below(PHONE_FORMS)), C::Phone, P);
        if rng.chance(50) {
            t.t(", e-mail ").pd(&p.email, C::Email, P);
        }
        t.t(". ");
    }
    if !long {
        t.t("Диагноз: ").decoy(c.0, "icd10").t(" ").t(c.1).t(".");
        return t;
    }
    t.t("Полис ОМС № ")
        .pd(&p.enp, C::OmsPolicy, P)
        .t(", СМО ")
        .t(rng.one(OMS_INSURERS))
        .t(". ");
    t.t("Адрес: г. ")
        .t(p.region.city)
        .t(", ")
        .pd(&p.street_line(), C::Address, P)
        .t(". ");
    if p.age() >= 14 && rng.chance(35) {
        t.t("Паспорт ")
            .pd(&p.passport(rng.below(3)), C::Passport, P)
            .t(". ");
    }
    if rng.chance(30) {
        t.t("ИНН ").pd(&p.inn, C::Inn, P).t(". ");
    }
    t.t("Объективно: состояние удовлетворительное. Диагноз: ")
        .decoy(c.0, "icd10");
    t.t(" ").t(c.1).t(". Рекомендовано: ").t(c.3).t(" ");
    let next = person::dotted(person::random_date(rng, 2024, 2026));
    t.t("Повторная явка ").decoy(&next, "visit_date").t(". ");
    t.t("Направление № ")
        .decoy(&ids::referral(rng), "referral_snils_digits")
        .t(". ");
    if rng.chance(50) {
        let lab = ids::snils_fmt(&ids::bad_snils(rng), 0);
        t.t("Лабораторный заказ ")
            .decoy(&lab, "lab_order_bad_snils")
            .t(". ");
    }
    if rng.chance(40) {
        t.t("Оплата ")
            .decoy(&price(rng).1, "price")
            .t(", транзакция ");
        t.decoy(&ids::bad_luhn16(rng), "transaction_id_16").t(". ");
    }
    if rng.chance(30) {
        t.t("Номер в регистре ")
            .decoy(&ids::bad_inn12(rng), "registry_number_12")
            .t(". ");
    }
    if rng.chance(50) {
        t.t("Справка выдана ")
            .pd(&p.initials_dative(), C::FullName, P)
            .t(" для предъявления по месту требования. ");
    }
    t.t("Справочная: ")
        .decoy(&ids::tollfree(rng), "tollfree_phone")
        .t(". ");
    t.t("Врач ")
        .pd(&d.initials(), C::FullName, Subject::Doctor)
        .t(", подписано ЭП.");
    t
}

/// One appointment (a list item).
pub(crate) fn appointment(w: &mut Out, rng: &mut Rng, k: &Keys, seed: u64) {
    let i = rng.below(PATIENT_POOL);
    let p = Person::patient(seed, i);
    w.obj();
    w.kdecoy("id", &ids::uuid(rng), "uuid");
    w.kdecoy(
        k.pick(["number", "order_number", "Number", "номер_записи", "N_ZAP"]),
        &ids::order_number(rng),
        "order_number",
    );
    w.ks(
        k.pick(["status", "status", "Status", "статус", "STATUS"]),
        rng.one(&["booked", "arrived", "fulfilled", "cancelled"]),
    );
    w.kdecoy(
        k.pick(["start", "start_time", "Start", "время_приёма", "DATE_1"]),
        &person::datetime(rng, 2024, 2026),
        "visit_datetime",
    );
    w.key(k.pick([
        "patientId",
        "patient_id",
        "PatientId",
        "ид_пациента",
        "ID_PAC",
    ]));
    // Subject ids come as strings and, from some systems, as numbers.
    if rng.chance(30) {
        w.num(&patient_id(seed, i));
    } else {
        w.str(&patient_id(seed, i));
    }
    w.kobj(k.pick(["patient", "patient", "Patient", "пациент", "PAC"]));
    let fio = if rng.chance(80) {
        p.fio()
    } else {
        p.fio().to_uppercase()
    };
    w.kpd(k.get(F::FullName), &fio, C::FullName, P);
    let bd = if rng.chance(50) {
        p.birth_iso()
    } else {
        p.birth_dotted()
    };
    w.kpd(k.get(F::BirthDate), &bd, C::BirthDate, P);
    w.kpd(
        k.get(F::Phone),
        &p.phone(rng.below(PHONE_FORMS)),
        C::Phone,
        P,
    );
    if rng.chance(60) {
        w.kpd(k.get(F::Oms), &p.enp, C::OmsPolicy, P);
    }
    w.end();
    w.key(k.pick(["doctor", "doctor", "Doctor", "врач", "DOCTOR"]));
    let doc = Person::doctor(seed, rng.below(48));
    doctor_block(w, rng, k, &doc);
    let (code, text) = icd(rng);
    w.kdecoy(
        k.pick(["reasonCode", "reason_code", "ReasonCode", "код_мкб", "DS0"]),
        code,
        "icd10",
    );
    if rng.chance(50) {
        w.kpd(
            k.pick([
                "reasonText",
                "reason",
                "ReasonText",
                "причина_обращения",
                "DS0_TEXT",
            ]),
            text,
            C::Health,
            P,
        );
    }
    let (rub, text) = price(rng);
    w.kobj(k.pick(["price", "price", "Price", "стоимость", "SUMV"]));
    w.key(k.pick(["amount", "amount", "Amount", "сумма", "SUM"]))
        .decoy_num(&rub.to_string(), "price");
    w.kdecoy(
        k.pick(["text", "text", "Text", "текст", "TXT"]),
        &text,
        "price",
    );
    w.end();
    if rng.chance(50) {
        let mut t = Text::default();
        t.t("Просьба перезвонить ");
        if rng.chance(50) {
            t.pd(&p.name_patronymic(), C::FullName, P).t(" ");
        }
        t.t("по номеру ")
            .pd(&p.phone(rng.below(PHONE_FORMS)), C::Phone, P);
        t.t(" за день до приёма. Счёт ")
            .decoy(&ids::order_number(rng), "order_number");
        t.t(" на сумму ").decoy(&text, "price").t(".");
        w.key(k.get(F::Notes)).text(&t, false);
    }
    w.end();
}

/// A clinic's appointments for one day.
pub(crate) fn appointments(w: &mut Out, rng: &mut Rng, k: &Keys, seed: u64) {
    let region = rng.pick(super::data::REGIONS).code;
    w.obj();
    w.ks(
        k.pick(["clinic", "clinic", "Clinic", "медорганизация", "LPU"]),
        rng.one(CLINICS),
    );
    w.kdecoy(
        k.pick(["clinicInn", "clinic_inn", "ClinicInn", "инн_мо", "INN_LPU"]),
        &ids::inn10(rng, region),
        "org_inn10",
    );
    w.kdecoy(
        k.pick([
            "clinicOgrn",
            "clinic_ogrn",
            "ClinicOgrn",
            "огрн_мо",
            "OGRN_LPU",
        ]),
        &ids::ogrn(rng, region),
        "org_ogrn",
    );
    w.kdecoy(
        k.pick(["date", "date", "Date", "дата", "DATE"]),
        &person::iso(person::random_date(rng, 2024, 2026)),
        "visit_date",
    );
    w.karr(k.pick(["appointments", "slots", "Appointments", "записи", "ZAP"]));
    for _ in 0..rng.range(2, 9) {
        appointment(w, rng, k, seed);
    }
    w.end().end();
}

/// A medical document: author, patient, diagnoses and free-text sections.
pub(crate) fn document(w: &mut Out, rng: &mut Rng, k: &Keys, seed: u64) {
    let i = rng.below(PATIENT_POOL);
    let p = Person::patient(seed, i);
    let d = Person::doctor(seed, rng.below(48));
    w.obj();
    w.kdecoy("id", &ids::uuid(rng), "uuid");
    let kind = rng.one(&[
        "Протокол консультации",
        "Выписной эпикриз",
        "Заключение врача",
        "Протокол телемедицинской консультации",
    ]);
    w.ks(
        k.pick(["title", "doc_type", "Title", "вид_документа", "DOC_TYPE"]),
        kind,
    );
    w.kdecoy(
        k.get(F::Created),
        &person::datetime(rng, 2023, 2026),
        "created_datetime",
    );
    w.key(k.pick(["author", "author", "Author", "автор", "AUTHOR"]));
    doctor_block(w, rng, k, &d);
    w.kobj(k.pick(["patient", "patient", "Patient", "пациент", "PAC"]));
    w.ks("id", &patient_id(seed, i));
    w.kpd(
        k.pick([
            "shortName",
            "short_name",
            "ShortName",
            "фио_кратко",
            "FIO_SHORT",
        ]),
        &p.initials(),
        C::FullName,
        P,
    );
    w.key(k.pick(["age", "age", "Age", "возраст", "VOZR"]))
        .int(p.age());
    if rng.chance(40) {
        snils(w, rng, k.get(F::Snils), &p.snils, P);
    }
    w.end();
    w.karr(k.pick(["diagnoses", "diagnoses", "Diagnoses", "диагнозы", "DS"]));
    for n in 0..rng.range(1, 3) {
        let (code, text) = icd(rng);
        w.obj().kdecoy(
            k.pick(["code", "icd10", "Code", "код_мкб", "DS"]),
            code,
            "icd10",
        );
        w.key(k.get(F::Diagnosis)).pd(text, C::Health, P);
        w.key(k.pick(["primary", "is_primary", "Primary", "основной", "PR_DS"]))
            .bool(n == 0);
        w.end();
    }
    w.end();
    w.karr(k.pick(["sections", "sections", "Sections", "разделы", "SECTIONS"]));
    let titles = ["Жалобы и анамнез", "Заключение"];
    for (n, title) in titles.iter().enumerate() {
        w.obj().ks(
            k.pick(["title", "title", "Title", "заголовок", "NAME"]),
            title,
        );
        let t = note(rng, &p, &d, n == 1);
        w.key(k.pick(["text", "text", "Text", "текст", "TEXT"]))
            .text(&t, true);
        w.end();
    }
    if rng.chance(40) {
        let r = Person::random(rng, 1950, 1996);
        let mut t = Text::default();
        let who = if r.male {
            ["отца", "супруга", "сына"]
        } else {
            ["матери", "супруги", "дочери"]
        };
        t.t("Со слов ").t(rng.one(&who)).t(" (");
        any_name(&mut t, rng, &r, Subject::Representative);
        t.t(", тел. ").pd(
            &r.phone(rng.below(PHONE_FORMS)),
            C::Phone,
            Subject::Representative,
        );
        let onset = person::dotted(person::random_date(rng, 2024, 2025));
        t.t("), ухудшение с ").decoy(&onset, "onset_date").t(".");
        w.obj().ks(
            k.pick(["title", "title", "Title", "заголовок", "NAME"]),
            "Анамнез со слов родственников",
        );
        w.key(k.pick(["text", "text", "Text", "текст", "TEXT"]))
            .text(&t, true);
        w.end();
    }
    w.end();
    w.kdecoy(
        k.pick([
            "referralNumber",
            "referral_number",
            "ReferralNumber",
            "номер_направления",
            "NAPR_N",
        ]),
        &ids::referral(rng),
        "referral_snils_digits",
    );
    w.kobj(k.pick(["signature", "signature", "Signature", "подпись", "SIGN"]));
    w.ks(
        k.pick(["algorithm", "algorithm", "Algorithm", "алгоритм", "ALG"]),
        "ГОСТ Р 34.10-2012",
    );
    w.kdecoy(
        k.pick(["signedAt", "signed_at", "SignedAt", "подписано", "D_SIGN"]),
        &person::datetime(rng, 2023, 2026),
        "created_datetime",
    );
    w.end().end();
}
