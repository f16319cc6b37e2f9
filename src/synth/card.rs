//! A full patient card: identity documents, OMS and DMS insurance,
//! contacts, addresses, representatives, payment, devices, chronic
//! conditions, and the decoys an MIS card typically carries.

use super::clinical;
use super::data::{CLINICS, DMS_INSURERS, OMS_INSURERS};
use super::ids;
use super::json::Out;
use super::keys::{F, Keys, Style};
use super::patient::{birth_date, dms_number, doctor_block, names, sex, snils};
use super::person::{self, PHONE_FORMS, Person};
use super::rng::Rng;
use super::{Subject, patient_id};
use crate::class::FieldClass as C;

const P: Subject = Subject::Patient;

fn org(w: &mut Out, rng: &mut Rng, k: &Keys, name: &str, region: &str) {
    w.ks(
        k.pick(["name", "name", "Name", "наименование", "NAM_SMOK"]),
        name,
    );
    w.kdecoy(
        k.pick(["inn", "inn", "Inn", "ИНН", "INN"]),
        &ids::inn10(rng, region),
        "org_inn10",
    );
    w.kdecoy(
        k.pick(["ogrn", "ogrn", "Ogrn", "ОГРН", "OGRN"]),
        &ids::ogrn(rng, region),
        "org_ogrn",
    );
}
fn identity_document(w: &mut Out, rng: &mut Rng, k: &Keys, p: &Person) {
    w.obj();
    w.ks(
        k.pick(["type", "doc_type", "Type", "вид_документа", "DOCTYPE"]),
        "Паспорт гражданина РФ",
    );
    let form = rng.below(3);
    if rng.chance(60) {
        w.kpd(
            k.pick(["series", "series", "Series", "серия", "DOCSER"]),
            &p.passport_series,
            C::Passport,
            P,
        );
        w.kpd(
            k.pick(["number", "number", "Number", "номер", "DOCNUM"]),
            &p.passport_number,
            C::Passport,
            P,
        );
    }
    if rng.chance(60) {
        w.kpd(k.get(F::Passport), &p.passport(form), C::Passport, P);
    }
    w.kdecoy(
        k.pick([
            "issueDate",
            "issue_date",
            "IssueDate",
            "дата_выдачи",
            "DOCDATE",
        ]),
        &person::iso(p.passport_issued),
        "issue_date",
    );
    let by = format!("ГУ МВД России по г. {}", p.region.city);
    w.ks(
        k.pick(["issuedBy", "issued_by", "IssuedBy", "кем_выдан", "DOCORG"]),
        &by,
    );
    w.end();
}
fn address(w: &mut Out, rng: &mut Rng, k: &Keys, p: &Person, s: Subject) {
    w.obj();
    w.ks(
        k.pick(["type", "type", "Type", "тип", "ADR_TYPE"]),
        if rng.chance(70) {
            "registration"
        } else {
            "residence"
        },
    );
    w.kpd(
        k.pick(["text", "full", "Text", "полный_адрес", "ADRES"]),
        &p.address(),
        C::Address,
        s,
    );
    w.ks(
        k.pick(["region", "region", "Region", "регион", "SUBJ"]),
        p.region.name,
    );
    w.ks(
        k.pick(["city", "city", "City", "город", "GOROD"]),
        p.region.city,
    );
    if rng.chance(70) {
        w.kpd(
            k.pick(["street", "street", "Street", "улица", "UL"]),
            p.street,
            C::Address,
            s,
        );
        w.kpd(
            k.pick(["house", "house", "House", "дом", "DOM"]),
            &p.house,
            C::Address,
            s,
        );
        w.kpd(
            k.pick(["flat", "apartment", "Flat", "квартира", "KV"]),
            &p.flat,
            C::Address,
            s,
        );
    }
    w.ks(
        k.pick(["postalCode", "zip", "PostalCode", "индекс", "INDX"]),
        &p.postal,
    );
    w.kdecoy(
        k.pick(["fiasGuid", "fias_guid", "FiasGuid", "фиас", "FIAS"]),
        &ids::uuid(rng),
        "uuid",
    );
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
    w.karr(k.pick([
        "identityDocuments",
        "identity_documents",
        "IdentityDocuments",
        "документы",
        "DOCS",
    ]));
    if p.age() >= 14 {
        identity_document(w, rng, k, &p);
    }
    w.end();
    // Insurance: OMS (new-style ENP or old series + number) and DMS.
    w.kobj(k.pick([
        "insurance",
        "insurance",
        "Insurance",
        "страхование",
        "POLIS",
    ]));
    w.kobj(k.pick(["oms", "oms", "Oms", "омс", "OMS"]));
    if rng.chance(80) {
        let v = if rng.chance(20) {
            ids::group4(&p.enp)
        } else {
            p.enp.clone()
        };
        w.kpd(k.get(F::Oms), &v, C::OmsPolicy, P);
    } else {
        let series = format!("{}{:02}", p.region.code, rng.below(12));
        w.kpd(
            k.pick(["series", "series", "Series", "серия_полиса", "SPOLIS"]),
            &series,
            C::OmsPolicy,
            P,
        );
        let len = *rng.pick(&[6, 8, 9]);
        let n = rng.digits(len);
        w.kpd(
            k.pick(["number", "number", "Number", "номер_полиса", "NPOLIS"]),
            &n,
            C::OmsPolicy,
            P,
        );
    }
    w.kobj(k.pick(["insurer", "smo", "Insurer", "смо", "SMO"]));
    let insurer = rng.one(OMS_INSURERS);
    org(w, rng, k, insurer, p.region.code);
    w.end().end();
    if rng.chance(40) {
        w.karr(k.pick(["dms", "dms", "Dms", "дмс", "DMS"])).obj();
        w.ks(
            k.pick(["insurer", "insurer", "Insurer", "страховщик", "SMO"]),
            rng.one(DMS_INSURERS),
        );
        w.kpd(
            k.get(F::Dms),
            &dms_number(rng),
            super::FieldClass::DmsPolicy,
            P,
        );
        let to = person::iso(person::random_date(rng, 2025, 2027));
        w.kdecoy(
            k.pick(["validTo", "valid_to", "ValidTo", "действует_до", "DATE_E"]),
            &to,
            "policy_date",
        );
        w.end().end();
    }
    w.end();
    // Contacts.
    w.karr(k.pick(["contacts", "contacts", "Contacts", "контакты", "CONTACTS"]));
    w.obj()
        .ks(k.pick(["type", "kind", "Type", "тип", "TYPE"]), "mobile");
    w.kpd(
        k.pick(["value", "value", "Value", "значение", "VALUE"]),
        &p.phone(rng.below(PHONE_FORMS)),
        C::Phone,
        P,
    );
    w.end();
    w.obj()
        .ks(k.pick(["type", "kind", "Type", "тип", "TYPE"]), "email");
    w.kpd(
        k.pick(["value", "value", "Value", "значение", "VALUE"]),
        &p.email,
        C::Email,
        P,
    );
    w.end();
    if rng.chance(40) {
        w.obj()
            .ks(k.pick(["type", "kind", "Type", "тип", "TYPE"]), "home");
        w.kpd(
            k.pick(["value", "value", "Value", "значение", "VALUE"]),
            &p.landline_fmt(rng.chance(50)),
            C::Phone,
            P,
        );
        w.end();
    }
    w.end();
    w.karr(k.pick(["addresses", "addresses", "Addresses", "адреса", "ADDRESSES"]));
    address(w, rng, k, &p, P);
    w.end();
    if p.birth.0 >= 2008 || rng.chance(15) {
        let r = Person::random(rng, 1960, 1996);
        let s = Subject::Representative;
        w.karr(k.pick([
            "representatives",
            "representatives",
            "Representatives",
            "представители",
            "PREDST",
        ]))
        .obj();
        w.ks(
            k.pick([
                "relation",
                "relation",
                "Relation",
                "степень_родства",
                "RELATION",
            ]),
            if r.male {
                "отец"
            } else {
                rng.one(&["мать", "опекун"])
            },
        );
        w.kpd(k.get(F::FullName), &r.fio(), C::FullName, s);
        w.kpd(
            k.get(F::Phone),
            &r.phone(rng.below(PHONE_FORMS)),
            C::Phone,
            s,
        );
        snils(w, rng, k.get(F::Snils), &r.snils, s);
        w.end().end();
    }
    if rng.chance(50) {
        w.kobj(k.pick(["payment", "payment", "Payment", "оплата", "PAYMENT"]));
        let card = if rng.chance(40) {
            ids::group4(&p.card)
        } else {
            p.card.clone()
        };
        w.kpd(k.get(F::Card), &card, C::Card, P);
        w.kpd(
            k.pick(["holder", "card_holder", "Holder", "держатель", "HOLDER"]),
            &p.latin(),
            C::FullName,
            P,
        );
        w.ks(
            k.pick(["expiry", "expiry", "Expiry", "срок", "EXP"]),
            &format!("{:02}/{}", rng.range(1, 13), rng.range(26, 31)),
        );
        w.kdecoy(
            k.pick([
                "lastTransactionId",
                "last_txn_id",
                "LastTransactionId",
                "последняя_транзакция",
                "TXN",
            ]),
            &ids::bad_luhn16(rng),
            "transaction_id_16",
        );
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
            w.obj().ks(
                k.pick(["platform", "platform", "Platform", "платформа", "OS"]),
                platform,
            );
            w.kpd(k.get(F::Device), &id, C::DeviceId, P);
            w.kdecoy(
                k.get(F::Created),
                &person::datetime(rng, 2022, 2025),
                "created_datetime",
            );
            w.end();
        }
        w.end();
    }
    if rng.chance(50) {
        w.karr(k.pick([
            "chronicConditions",
            "chronic_conditions",
            "ChronicConditions",
            "хронические_заболевания",
            "DS_CHRON",
        ]));
        for _ in 0..rng.range(1, 3) {
            let (code, text) = clinical::icd(rng);
            w.obj().kdecoy(
                k.pick(["code", "icd10", "Code", "код_мкб", "DS"]),
                code,
                "icd10",
            );
            w.key(k.get(F::Diagnosis))
                .pd(text, super::FieldClass::Health, P);
            w.end();
        }
        w.end();
    }
    w.kobj(k.pick([
        "attachment",
        "attachment",
        "Attachment",
        "прикрепление",
        "ATTACH",
    ]));
    w.ks(
        k.pick(["clinic", "clinic", "Clinic", "медорганизация", "LPU"]),
        rng.one(CLINICS),
    );
    w.key(k.pick(["doctor", "doctor", "Doctor", "врач", "DOCTOR"]));
    let doc = Person::doctor(seed, rng.below(48));
    doctor_block(w, rng, k, &doc);
    w.end();
    w.kdecoy(
        k.pick([
            "callCenter",
            "call_center",
            "CallCenter",
            "горячая_линия",
            "HOTLINE",
        ]),
        &ids::tollfree(rng),
        "tollfree_phone",
    );
    w.kdecoy(
        k.pick([
            "labBarcode",
            "lab_barcode",
            "LabBarcode",
            "штрихкод_пробы",
            "BARCODE",
        ]),
        &ids::bad_snils(rng),
        "lab_order_bad_snils",
    );
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
    w.kdecoy(
        k.pick([
            "registryNumber",
            "registry_number",
            "RegistryNumber",
            "номер_в_регистре",
            "REG_N",
        ]),
        &ids::bad_inn12(rng),
        "registry_number_12",
    );
    w.kdecoy(
        k.get(F::Created),
        &person::datetime(rng, 2015, 2024),
        "created_datetime",
    );
    w.end();
}
