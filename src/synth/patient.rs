//! Patient summaries (list items) and full patient cards.

use super::clinical;
use super::ids;
use super::json::Out;
use super::keys::{Keys, Style, F};
use super::person::{self, Person, PHONE_FORMS};
use super::rng::Rng;
use super::{patient_id, Subject, PATIENTS_PER_PAGE};
use crate::class::FieldClass as C;

const P: Subject = Subject::Patient;

pub(crate) const CLINICS: &[&str] = &[
    "ГБУЗ «Городская поликлиника № 12»",
    "ГАУЗ «Республиканская клиническая больница»",
    "ООО «Медицинский центр „Вита“»",
    "ГБУЗ «Детская городская больница № 3»",
    "АО «Телемедицина Онлайн»",
];

pub(crate) const OMS_INSURERS: &[&str] = &[
    "ООО «Капитал МС»", "АО «СОГАЗ-Мед»", "ООО «ВТБ МС»", "ООО «Ингосстрах-М»",
    "АО «МАКС-М»",
];

pub(crate) const DMS_INSURERS: &[&str] = &[
    "СПАО «Ингосстрах»", "АО «АльфаСтрахование»", "САО «ВСК»", "ПАО СК «Росгосстрах»",
    "АО «Группа Ренессанс Страхование»",
];

/// Write a surname, given name or patronymic, upper-cased in half the FOMS
/// documents, as registries do.
fn name_part(w: &mut Out, k: &Keys, f: F, v: &str, c: super::FieldClass, s: Subject, up: bool) {
    let v = if up { v.to_uppercase() } else { v.to_owned() };
    w.kpd(k.get(f), &v, c, s);
}

fn names(w: &mut Out, rng: &mut Rng, k: &Keys, p: &Person, s: Subject) {
    let up = k.style == Style::Foms && rng.chance(50);
    match rng.below(6) {
        // Nested name object.
        0 if k.style != Style::Foms => {
            w.kobj(k.pick(["name", "name", "Name", "фио", "FIO"]));
            w.kpd(k.pick(["family", "family", "Family", "фамилия", "FAM"]), &p.surname, C::Surname, s);
            w.kpd(k.pick(["given", "given", "Given", "имя", "IM"]), p.given, C::GivenName, s);
            w.kpd(k.pick(["middle", "middle", "Middle", "отчество", "OT"]), p.patronymic, C::Patronymic, s);
            w.end();
        }
        // The full name only.
        1 => {
            let v = if rng.chance(70) { p.fio() } else { p.initials() };
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

fn birth_date(w: &mut Out, rng: &mut Rng, k: &Keys, p: &Person) {
    let v = match (k.style, rng.below(6)) {
        (Style::Russian, 0..=3) => p.birth_dotted(),
        (_, 0) => p.birth_dotted(),
        (_, 1) => format!("{}T00:00:00", p.birth_iso()),
        _ => p.birth_iso(),
    };
    w.kpd(k.get(F::BirthDate), &v, C::BirthDate, P);
}

fn sex(w: &mut Out, k: &Keys, p: &Person) {
    w.key(k.get(F::Sex));
    match k.style {
        Style::Foms => w.int(if p.male { 1 } else { 2 }),
        Style::Russian => w.str(if p.male { "мужской" } else { "женский" }),
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
        let v = if rng.chance(20) { ids::group4(&p.enp) } else { p.enp.clone() };
        w.kpd(k.pick(["number", "number", "Number", "номер", "NPOLIS"]), &v, C::OmsPolicy, P);
        w.ks(k.pick(["insurer", "smo", "Insurer", "страховая", "SMO"]), &OMS_INSURERS[p.enp.len() % 5]);
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
        w.kpd(k.get(F::Phone), &p.phone(rng.below(PHONE_FORMS)), C::Phone, P);
        w.kpd(k.get(F::Email), &p.email, C::Email, P);
        w.end();
    } else {
        w.kpd(k.get(F::Phone), &p.phone(rng.below(PHONE_FORMS)), C::Phone, P);
    }
    if rng.chance(30) {
        w.kpd(k.get(F::Address), &p.address(), C::Address, P);
    }
    let visit = person::iso(person::random_date(rng, 2023, 2025));
    w.kdecoy(k.pick(["lastVisit", "last_visit", "LastVisit", "последний_визит", "DATE_IN"]), &visit, "visit_date");
    w.ks(k.pick(["clinic", "clinic", "Clinic", "мо_прикрепления", "LPU_NAME"]), rng.one(CLINICS));
    if rng.chance(20) {
        let code = clinical::icd(rng);
        w.kdecoy(k.pick(["mainDiagnosisCode", "ds_code", "DsCode", "код_мкб", "DS1"]), code.0, "icd10");
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
        w.key(k.pick(["page", "page", "Page", "страница", "PAGE"])).int(index + 1);
        w.key(k.pick(["pageSize", "page_size", "PageSize", "размер_страницы", "SIZE"])).int(n);
    }
    w.karr("items");
    for i in first..first + n {
        summary(w, rng, k, seed, i);
    }
    w.end();
    w.key(k.pick(["total", "total_count", "TotalCount", "всего", "TOTAL"])).int(rng.range(n, 40_000));
    w.kdecoy(k.pick(["requestId", "request_id", "RequestId", "ид_запроса", "REQ_ID"]), &ids::uuid(rng), "uuid");
    w.end();
}

fn org(w: &mut Out, rng: &mut Rng, k: &Keys, name: &str, region: &str) {
    w.ks(k.pick(["name", "name", "Name", "наименование", "NAM_SMOK"]), name);
    w.kdecoy(k.pick(["inn", "inn", "Inn", "ИНН", "INN"]), &ids::inn10(rng, region), "org_inn10");
    w.kdecoy(k.pick(["ogrn", "ogrn", "Ogrn", "ОГРН", "OGRN"]), &ids::ogrn(rng, region), "org_ogrn");
}

fn identity_document(w: &mut Out, rng: &mut Rng, k: &Keys, p: &Person) {
    w.obj();
    w.ks(k.pick(["type", "doc_type", "Type", "вид_документа", "DOCTYPE"]), "Паспорт гражданина РФ");
    let form = rng.below(3);
    if rng.chance(60) {
        w.kpd(k.pick(["series", "series", "Series", "серия", "DOCSER"]), &p.passport_series, C::Passport, P);
        w.kpd(k.pick(["number", "number", "Number", "номер", "DOCNUM"]), &p.passport_number, C::Passport, P);
    }
    if rng.chance(60) {
        w.kpd(k.get(F::Passport), &p.passport(form), C::Passport, P);
    }
    w.kdecoy(k.pick(["issueDate", "issue_date", "IssueDate", "дата_выдачи", "DOCDATE"]), &person::iso(p.passport_issued), "issue_date");
    let by = format!("ГУ МВД России по г. {}", p.region.city);
    w.ks(k.pick(["issuedBy", "issued_by", "IssuedBy", "кем_выдан", "DOCORG"]), &by);
    w.end();
}

fn address(w: &mut Out, rng: &mut Rng, k: &Keys, p: &Person, s: Subject) {
    w.obj();
    w.ks(k.pick(["type", "type", "Type", "тип", "ADR_TYPE"]), if rng.chance(70) { "registration" } else { "residence" });
    w.kpd(k.pick(["text", "full", "Text", "полный_адрес", "ADRES"]), &p.address(), C::Address, s);
    w.ks(k.pick(["region", "region", "Region", "регион", "SUBJ"]), p.region.name);
    w.ks(k.pick(["city", "city", "City", "город", "GOROD"]), p.region.city);
    if rng.chance(70) {
        w.kpd(k.pick(["street", "street", "Street", "улица", "UL"]), p.street, C::Address, s);
        w.kpd(k.pick(["house", "house", "House", "дом", "DOM"]), &p.house, C::Address, s);
        w.kpd(k.pick(["flat", "apartment", "Flat", "квартира", "KV"]), &p.flat, C::Address, s);
    }
    w.ks(k.pick(["postalCode", "zip", "PostalCode", "индекс", "INDX"]), &p.postal);
    w.kdecoy(k.pick(["fiasGuid", "fias_guid", "FiasGuid", "фиас", "FIAS"]), &ids::uuid(rng), "uuid");
    w.end();
}

pub(crate) fn doctor_block(w: &mut Out, rng: &mut Rng, k: &Keys, d: &Person) {
    let s = Subject::Doctor;
    w.obj();
    w.kdecoy("id", &ids::uuid(rng), "uuid");
    w.kpd(k.get(F::FullName), &d.fio(), C::FullName, s);
    w.ks(k.pick(["position", "position", "Position", "должность", "PRVS"]), rng.one(clinical::POSITIONS));
    snils(w, rng, k.get(F::Snils), &d.snils, s);
    w.end();
}

/// A full patient card of patient `i`.
pub(crate) fn card(w: &mut Out, rng: &mut Rng, k: &Keys, seed: u64, i: u64) {
    let p = Person::patient(seed, i);
    w.obj().ks("id", &patient_id(seed, i));
    if rng.chance(50) && k.style != Style::Foms {
        w.kobj(k.pick(["person", "person", "Person", "персона", "PERS"]));
        names(w, rng, k, &p, P);
        birth_date(w, rng, k, &p);
        sex(w, k, &p);
        w.end();
    } else {
        names(w, rng, k, &p, P);
        birth_date(w, rng, k, &p);
        sex(w, k, &p);
    }
    snils(w, rng, k.get(F::Snils), &p.snils, P);
    if rng.chance(50) {
        w.kpd(k.get(F::Inn), &p.inn, C::Inn, P);
    } else {
        w.key(k.get(F::Inn)).null();
    }
    // Passports are issued from 14; children have none here.
    w.karr(k.pick(["identityDocuments", "identity_documents", "IdentityDocuments", "документы", "DOCS"]));
    if p.age() >= 14 {
        identity_document(w, rng, k, &p);
    }
    w.end();
    // Insurance: OMS (new-style ENP or old series + number) and DMS.
    w.kobj(k.pick(["insurance", "insurance", "Insurance", "страхование", "POLIS"]));
    w.kobj(k.pick(["oms", "oms", "Oms", "омс", "OMS"]));
    if rng.chance(80) {
        let v = if rng.chance(20) { ids::group4(&p.enp) } else { p.enp.clone() };
        w.kpd(k.get(F::Oms), &v, C::OmsPolicy, P);
    } else {
        let series = format!("{}{:02}", p.region.code, rng.below(12));
        w.kpd(k.pick(["series", "series", "Series", "серия_полиса", "SPOLIS"]), &series, C::OmsPolicy, P);
        let len = *rng.pick(&[6, 8, 9]);
        let n = rng.digits(len);
        w.kpd(k.pick(["number", "number", "Number", "номер_полиса", "NPOLIS"]), &n, C::OmsPolicy, P);
    }
    w.kobj(k.pick(["insurer", "smo", "Insurer", "смо", "SMO"]));
    let insurer = rng.one(OMS_INSURERS);
    org(w, rng, k, insurer, p.region.code);
    w.end().end();
    if rng.chance(40) {
        w.karr(k.pick(["dms", "dms", "Dms", "дмс", "DMS"])).obj();
        w.ks(k.pick(["insurer", "insurer", "Insurer", "страховщик", "SMO"]), rng.one(DMS_INSURERS));
        w.kpd(k.get(F::Dms), &dms_number(rng), super::FieldClass::DmsPolicy, P);
        let to = person::iso(person::random_date(rng, 2025, 2027));
        w.kdecoy(k.pick(["validTo", "valid_to", "ValidTo", "действует_до", "DATE_E"]), &to, "policy_date");
        w.end().end();
    }
    w.end();
    // Contacts.
    w.karr(k.pick(["contacts", "contacts", "Contacts", "контакты", "CONTACTS"]));
    w.obj().ks(k.pick(["type", "kind", "Type", "тип", "TYPE"]), "mobile");
    w.kpd(k.pick(["value", "value", "Value", "значение", "VALUE"]), &p.phone(rng.below(PHONE_FORMS)), C::Phone, P);
    w.end();
    w.obj().ks(k.pick(["type", "kind", "Type", "тип", "TYPE"]), "email");
    w.kpd(k.pick(["value", "value", "Value", "значение", "VALUE"]), &p.email, C::Email, P);
    w.end();
    if rng.chance(40) {
        w.obj().ks(k.pick(["type", "kind", "Type", "тип", "TYPE"]), "home");
        w.kpd(k.pick(["value", "value", "Value", "значение", "VALUE"]), &p.landline_fmt(rng.chance(50)), C::Phone, P);
        w.end();
    }
    w.end();
    w.karr(k.pick(["addresses", "addresses", "Addresses", "адреса", "ADDRESSES"]));
    address(w, rng, k, &p, P);
    w.end();
    if p.birth.0 >= 2008 || rng.chance(15) {
        let r = Person::random(rng, 1960, 1996);
        let s = Subject::Representative;
        w.karr(k.pick(["representatives", "representatives", "Representatives", "представители", "PREDST"])).obj();
        w.ks(k.pick(["relation", "relation", "Relation", "степень_родства", "RELATION"]), if r.male { "отец" } else { rng.one(&["мать", "опекун"]) });
        w.kpd(k.get(F::FullName), &r.fio(), C::FullName, s);
        w.kpd(k.get(F::Phone), &r.phone(rng.below(PHONE_FORMS)), C::Phone, s);
        snils(w, rng, k.get(F::Snils), &r.snils, s);
        w.end().end();
    }
    if rng.chance(50) {
        w.kobj(k.pick(["payment", "payment", "Payment", "оплата", "PAYMENT"]));
        let card = if rng.chance(40) { ids::group4(&p.card) } else { p.card.clone() };
        w.kpd(k.get(F::Card), &card, C::Card, P);
        w.kpd(k.pick(["holder", "card_holder", "Holder", "держатель", "HOLDER"]), &p.latin(), C::FullName, P);
        w.ks(k.pick(["expiry", "expiry", "Expiry", "срок", "EXP"]), &format!("{:02}/{}", rng.range(1, 13), rng.range(26, 31)));
        w.kdecoy(k.pick(["lastTransactionId", "last_txn_id", "LastTransactionId", "последняя_транзакция", "TXN"]), &ids::bad_luhn16(rng), "transaction_id_16");
        w.end();
    }
    if rng.chance(60) {
        w.karr(k.pick(["devices", "devices", "Devices", "устройства", "DEVICES"]));
        for _ in 0..rng.range(1, 3) {
            let (platform, id) = match rng.below(3) {
                0 => ("ios", ids::uuid(rng).to_uppercase()),
                1 => ("android", ids::android_id(rng)),
                _ => ("android", ids::imei(rng)),
            };
            w.obj().ks(k.pick(["platform", "platform", "Platform", "платформа", "OS"]), platform);
            w.kpd(k.get(F::Device), &id, C::DeviceId, P);
            w.kdecoy(k.get(F::Created), &person::datetime(rng, 2022, 2025), "created_datetime");
            w.end();
        }
        w.end();
    }
    if rng.chance(50) {
        w.karr(k.pick(["chronicConditions", "chronic_conditions", "ChronicConditions", "хронические_заболевания", "DS_CHRON"]));
        for _ in 0..rng.range(1, 3) {
            let (code, text) = clinical::icd(rng);
            w.obj().kdecoy(k.pick(["code", "icd10", "Code", "код_мкб", "DS"]), code, "icd10");
            w.key(k.get(F::Diagnosis)).pd(text, super::FieldClass::Health, P);
            w.end();
        }
        w.end();
    }
    w.kobj(k.pick(["attachment", "attachment", "Attachment", "прикрепление", "ATTACH"]));
    w.ks(k.pick(["clinic", "clinic", "Clinic", "медорганизация", "LPU"]), rng.one(CLINICS));
    w.key(k.pick(["doctor", "doctor", "Doctor", "врач", "DOCTOR"]));
    let doc = Person::doctor(seed, rng.below(48));
    doctor_block(w, rng, k, &doc);
    w.end();
    w.kdecoy(k.pick(["callCenter", "call_center", "CallCenter", "горячая_линия", "HOTLINE"]), &ids::tollfree(rng), "tollfree_phone");
    w.kdecoy(k.pick(["labBarcode", "lab_barcode", "LabBarcode", "штрихкод_пробы", "BARCODE"]), &ids::bad_snils(rng), "lab_order_bad_snils");
    w.kdecoy(k.pick(["referralNumber", "referral_number", "ReferralNumber", "номер_направления", "NAPR_N"]), &ids::referral(rng), "referral_snils_digits");
    w.kdecoy(k.pick(["registryNumber", "registry_number", "RegistryNumber", "номер_в_регистре", "REG_N"]), &ids::bad_inn12(rng), "registry_number_12");
    w.kdecoy(k.get(F::Created), &person::datetime(rng, 2015, 2024), "created_datetime");
    w.end();
}

/// A DMS policy number in one of several insurers' patterns.
pub(crate) fn dms_number(rng: &mut Rng) -> String {
    const UP: &[u8] = b"ABCEHKMPTX";
    match rng.below(5) {
        0 => format!("{}-{}", rng.range(100, 999), rng.digits(7)),
        1 => format!("ДМС-{}-{}", rng.range(2020, 2026), rng.digits(6)),
        2 => format!("{}{}/{}", rng.chars(UP, 2), rng.digits(8), rng.range(20, 26)),
        3 => format!("{} {} {}", rng.digits(4), rng.chars(UP, 1), rng.digits(6)),
        _ => format!("VHI{}", rng.digits(9)),
    }
}
