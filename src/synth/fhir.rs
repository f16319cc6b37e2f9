//! FHIR R4 resources with Russian identifier systems: fhir.ru Ru Core URIs,
//! N3.Health OIDs and the ЕГИСЗ SNILS root, with `system` sometimes after
//! `value`.

use super::clinical::{icd, note};
use super::data::{DMS_INSURERS, OMS_INSURERS};
use super::ids;
use super::json::Out;
use super::patient::dms_number;
use super::person::{self, PHONE_FORMS, Person};
use super::rng::Rng;
use super::{FieldClass, PATIENT_POOL, Subject, patient_id};
use crate::class::FieldClass as C;

const P: Subject = Subject::Patient;

/// Identifier systems: (Ru Core, N3.Health / ЕГИСЗ OID).
const SNILS: (&str, &str) = (
    "http://fhir.ru/core/systems/snils",
    "urn:oid:1.2.643.2.69.1.1.1.6.223",
);
const SNILS_EGISZ: &str = "urn:oid:1.2.643.100.3";
const ENP: (&str, &str) = (
    "http://fhir.ru/core/systems/OMS",
    "urn:oid:1.2.643.2.69.1.1.1.6.228",
);
const PASSPORT: (&str, &str) = (
    "http://fhir.ru/core/systems/passport-RF",
    "urn:oid:1.2.643.2.69.1.1.1.6.14",
);
const INN: &str = "http://fhir.ru/core/systems/inn";
const DMS: (&str, &str) = (
    "http://fhir.ru/core/systems/DMS",
    "urn:oid:1.2.643.2.69.1.1.1.6.240",
);
const ICD10: &str = "urn:oid:1.2.643.5.1.13.13.11.1005";
const MIS: &str = "urn:oid:1.2.643.5.1.13.2.7.100.5";

/// `{"system": ..., "value": ...}`, in either order.
fn identifier(w: &mut Out, rng: &mut Rng, system: &str, v: &str, c: FieldClass, s: Subject) {
    w.obj();
    if rng.chance(25) {
        w.kpd("value", v, c, s).ks("system", system);
    } else {
        w.ks("system", system).kpd("value", v, c, s);
    }
    w.end();
}

fn sys(pair: (&'static str, &'static str), n3: bool) -> &'static str {
    if n3 { pair.1 } else { pair.0 }
}

fn human_name(w: &mut Out, rng: &mut Rng, p: &Person, s: Subject) {
    w.obj().ks("use", "official");
    if rng.chance(60) {
        w.kpd("text", &p.fio(), C::FullName, s);
    }
    w.kpd("family", &p.surname, C::Surname, s);
    w.karr("given")
        .pd(p.given, C::GivenName, s)
        .pd(p.patronymic, C::Patronymic, s)
        .end();
    w.end();
}

/// The `Patient` resource of patient `i`; its `id` is the subject id.
pub(crate) fn patient(w: &mut Out, rng: &mut Rng, seed: u64, i: u64) {
    let p = Person::patient(seed, i);
    let n3 = rng.chance(50);
    w.obj()
        .ks("resourceType", "Patient")
        .ks("id", &patient_id(seed, i));
    w.kobj("meta")
        .kdecoy(
            "lastUpdated",
            &person::datetime(rng, 2023, 2026),
            "created_datetime",
        )
        .end();
    w.karr("identifier");
    w.obj()
        .ks("system", MIS)
        .ks("value", &format!("MIS-{}", patient_id(seed, i)))
        .end();
    let snils_system = if rng.chance(20) {
        SNILS_EGISZ
    } else {
        sys(SNILS, n3)
    };
    let snils = if n3 {
        p.snils.clone()
    } else {
        ids::snils_fmt(&p.snils, 0)
    };
    identifier(w, rng, snils_system, &snils, C::Snils, P);
    identifier(w, rng, sys(ENP, n3), &p.enp, C::OmsPolicy, P);
    if p.age() >= 14 {
        let passport = p.passport(if n3 { 3 } else { 0 });
        identifier(w, rng, sys(PASSPORT, n3), &passport, C::Passport, P);
    }
    if rng.chance(40) {
        identifier(w, rng, INN, &p.inn, C::Inn, P);
    }
    if rng.chance(30) {
        let dms = dms_number(rng);
        identifier(w, rng, sys(DMS, n3), &dms, C::DmsPolicy, P);
    }
    w.end();
    w.key("active").bool(true);
    w.karr("name");
    human_name(w, rng, &p, P);
    w.end();
    w.karr("telecom");
    w.obj()
        .ks("system", "phone")
        .kpd("value", &p.phone(rng.below(PHONE_FORMS)), C::Phone, P);
    w.ks("use", "mobile").end();
    if rng.chance(60) {
        w.obj()
            .ks("system", "email")
            .kpd("value", &p.email, C::Email, P)
            .end();
    }
    w.end();
    w.ks("gender", if p.male { "male" } else { "female" });
    w.kpd("birthDate", &p.birth_iso(), C::BirthDate, P);
    w.karr("address").obj().ks("use", "home");
    w.kpd("text", &p.address(), C::Address, P);
    w.karr("line").pd(&p.street_line(), C::Address, P).end();
    w.ks("city", p.region.city)
        .ks("state", p.region.name)
        .ks("postalCode", &p.postal);
    w.ks("country", "RU").end().end();
    if p.birth.0 >= 2008 {
        let r = Person::random(rng, 1965, 1996);
        let s = Subject::Representative;
        w.karr("contact").obj();
        w.karr("relationship")
            .obj()
            .ks("text", if r.male { "Отец" } else { "Мать" })
            .end()
            .end();
        w.kobj("name").kpd("family", &r.surname, C::Surname, s);
        w.karr("given")
            .pd(r.given, C::GivenName, s)
            .pd(r.patronymic, C::Patronymic, s)
            .end();
        w.end();
        w.karr("telecom").obj().ks("system", "phone");
        w.kpd("value", &r.phone(rng.below(PHONE_FORMS)), C::Phone, s)
            .end()
            .end();
        w.end().end();
    }
    w.kobj("managingOrganization")
        .ks("reference", &format!("Organization/{}", ids::uuid(rng)))
        .end();
    w.end();
}

/// Opens a Bundle entry; the caller writes the resource, then [`close`].
fn open(w: &mut Out, url: &str) {
    w.obj().ks("fullUrl", url).key("resource");
}

fn close(w: &mut Out, mode: &str) {
    w.kobj("search").ks("mode", mode).end().end();
}

/// A searchset entry holding the `Patient` resource of patient `i`.
pub(crate) fn patient_entry(w: &mut Out, rng: &mut Rng, seed: u64, i: u64) {
    let url = format!(
        "https://mis.example.ru/fhir/Patient/{}",
        patient_id(seed, i)
    );
    open(w, &url);
    patient(w, rng, seed, i);
    close(w, "match");
}

fn coverage(w: &mut Out, rng: &mut Rng, seed: u64, i: u64) {
    let p = Person::patient(seed, i);
    let id = ids::uuid(rng);
    open(w, &format!("urn:uuid:{id}"));
    w.obj()
        .ks("resourceType", "Coverage")
        .kdecoy("id", &id, "uuid")
        .ks("status", "active");
    w.karr("identifier");
    if rng.chance(70) {
        identifier(w, rng, ENP.0, &p.enp, C::OmsPolicy, P);
    } else {
        let dms = dms_number(rng);
        identifier(w, rng, DMS.0, &dms, C::DmsPolicy, P);
    }
    w.end();
    w.kobj("beneficiary")
        .ks("reference", &format!("Patient/{}", patient_id(seed, i)))
        .end();
    let payor = if rng.chance(70) {
        rng.one(OMS_INSURERS)
    } else {
        rng.one(DMS_INSURERS)
    };
    w.karr("payor").obj().ks("display", payor).end().end();
    let start = person::iso(person::random_date(rng, 2012, 2025));
    w.kobj("period")
        .kdecoy("start", &start, "policy_date")
        .end();
    w.end();
    close(w, "include");
}

fn condition(w: &mut Out, rng: &mut Rng, seed: u64, i: u64) {
    let p = Person::patient(seed, i);
    let d = Person::doctor(seed, rng.below(48));
    let id = ids::uuid(rng);
    let (code, text) = icd(rng);
    open(w, &format!("urn:uuid:{id}"));
    w.obj()
        .ks("resourceType", "Condition")
        .kdecoy("id", &id, "uuid");
    w.kobj("code")
        .karr("coding")
        .obj()
        .ks("system", ICD10)
        .kdecoy("code", code, "icd10");
    w.kpd("display", text, C::Health, P).end().end().end();
    w.kobj("subject")
        .ks("reference", &format!("Patient/{}", patient_id(seed, i)))
        .end();
    w.kdecoy(
        "recordedDate",
        &person::iso(person::random_date(rng, 2023, 2026)),
        "visit_date",
    );
    w.kobj("recorder")
        .kpd("display", &d.fio(), C::FullName, Subject::Doctor)
        .end();
    let long = rng.chance(50);
    let t = note(rng, &p, &d, long);
    w.karr("note").obj().key("text").text(&t, true).end().end();
    w.end();
    close(w, "include");
}

/// The entries for patient `i`: the Patient, sometimes its Coverage and a
/// Condition with a free-text note.
pub(crate) fn bundle_entries(w: &mut Out, rng: &mut Rng, seed: u64, i: u64) {
    patient_entry(w, rng, seed, i);
    if rng.chance(50) {
        coverage(w, rng, seed, i);
    }
    if rng.chance(50) {
        condition(w, rng, seed, i);
    }
}

/// A small searchset Bundle.
pub(crate) fn bundle(w: &mut Out, rng: &mut Rng, seed: u64) {
    let n = rng.range(1, 5);
    w.obj()
        .ks("resourceType", "Bundle")
        .kdecoy("id", &ids::uuid(rng), "uuid");
    w.ks("type", "searchset").key("total").int(n);
    w.karr("link").obj().ks("relation", "self");
    w.ks(
        "url",
        "https://mis.example.ru/fhir/Patient?_count=20&_include=Coverage:beneficiary",
    )
    .end()
    .end();
    w.karr("entry");
    for _ in 0..n {
        let i = rng.below(PATIENT_POOL);
        bundle_entries(w, rng, seed, i);
    }
    w.end().end();
}
