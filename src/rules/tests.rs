use super::*;

fn rs() -> RuleSet {
    RuleSet::embedded()
}

#[test]
fn shipped_rules_compile_and_match_disk() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let from_disk = RuleSet::load_dir(&dir).unwrap();
    assert_eq!(from_disk.version(), rs().version());
}

#[test]
fn key_families_across_spellings() {
    let r = rs();
    for k in [
        "snils",
        "SNILS",
        "snils_number",
        "snilsNumber",
        "СНИЛС",
        "patientSnils",
    ] {
        assert_eq!(r.key_info(k).class, Some(FieldClass::Snils), "{k}");
    }
    for (k, c) in [
        ("phoneNumber", FieldClass::Phone),
        ("mobile_phone", FieldClass::Phone),
        ("Телефон", FieldClass::Phone),
        ("emailAddress", FieldClass::Email),
        ("e-mail", FieldClass::Email),
        ("birthDate", FieldClass::BirthDate),
        ("дата_рождения", FieldClass::BirthDate),
        ("ДатаРождения", FieldClass::BirthDate),
        ("lastName", FieldClass::Surname),
        ("ФАМИЛИЯ", FieldClass::Surname),
        ("middleName", FieldClass::Patronymic),
        ("fullName", FieldClass::FullName),
        ("ФИО", FieldClass::FullName),
        ("omsNumber", FieldClass::OmsPolicy),
        ("полисОМС", FieldClass::OmsPolicy),
        ("deviceId", FieldClass::DeviceId),
        ("homeAddress", FieldClass::Address),
    ] {
        assert_eq!(r.key_info(k).class, Some(c), "{k}");
    }
    for k in [
        "id",
        "email_verified",
        "addressType",
        "fiasHouseGuid",
        "createdAt",
        "price",
        "clinicInn",
        "insurer_phone",
    ] {
        assert_eq!(r.key_info(k).class, None, "{k}");
    }
    assert_eq!(r.key_info("name").class, Some(FieldClass::GivenName));
}

#[test]
fn shipped_policy_holds() {
    use Action::*;
    let r = rs();
    let m = r.purpose(Purpose::Marketing);
    assert_eq!(m.consent, ConsentMode::OptIn);
    for c in [
        FieldClass::Snils,
        FieldClass::OmsPolicy,
        FieldClass::DmsPolicy,
        FieldClass::Passport,
        FieldClass::Inn,
        FieldClass::Card,
        FieldClass::BirthDate,
        FieldClass::Address,
        FieldClass::Health,
        FieldClass::Surname,
        FieldClass::Patronymic,
        FieldClass::FullName,
    ] {
        assert!(
            matches!(m.action(c), Remove | Null | Block),
            "marketing {c}"
        );
    }
    let a = r.purpose(Purpose::Analytics);
    for c in FieldClass::ALL
        .into_iter()
        .filter(|c| *c != FieldClass::Health)
    {
        assert_ne!(a.action(c), Allow, "analytics {c}");
    }
    assert_eq!(a.action(FieldClass::BirthDate), Generalize);
    assert_eq!(a.action(FieldClass::Address), Generalize);
    assert_eq!(a.action(FieldClass::Snils), Pseudonymize);
    let s = r.purpose(Purpose::Support);
    assert!(matches!(s.action(FieldClass::Phone), Mask { .. }));
    assert!(matches!(s.action(FieldClass::Email), Mask { .. }));
    for c in [
        FieldClass::Snils,
        FieldClass::OmsPolicy,
        FieldClass::DmsPolicy,
        FieldClass::Health,
    ] {
        assert_eq!(s.action(c), Remove, "support {c}");
    }
    let l = r.purpose(Purpose::Legal);
    assert_eq!(l.consent, ConsentMode::None);
    assert!(FieldClass::ALL.iter().all(|c| l.action(*c) == Allow));
}

fn with(name: &str, text: &str) -> Result<RuleSet, RulesError> {
    let mut files: Vec<(String, String)> = EMBEDDED
        .iter()
        .filter(|(n, _)| *n != name)
        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
        .collect();
    files.push((name.to_owned(), text.to_owned()));
    RuleSet::from_files(&files)
}

#[test]
fn errors_name_file_line_and_fix() {
    let bad = "purpose = \"marketing\"\nconsent = \"opt_in\"\ndefault = \"remove\"\n[actions]\nsnlis = \"allow\"\nphone = \"maks\"\n";
    let err = with("marketing.toml", bad).unwrap_err();
    assert_eq!(err.0.len(), 2, "{err}");
    assert!(
        err.0[0].starts_with("marketing.toml:5: unknown field class \"snlis\""),
        "{err}"
    );
    assert!(err.0[0].contains("write one of: snils"), "{err}");
    assert!(
        err.0[1].starts_with("marketing.toml:6: unknown action \"maks\""),
        "{err}"
    );

    let unknown_key = "purpose = \"legal\"\nconsent = \"none\"\ndefault = \"allow\"\nconsnet = 1\n";
    let err = with("legal.toml", unknown_key).unwrap_err();
    assert!(
        err.0
            .iter()
            .any(|e| e.starts_with("legal.toml:4: unknown field `consnet`")),
        "{err}"
    );

    let generalize = "purpose = \"auth\"\nconsent = \"opt_out\"\ndefault = \"remove\"\n[actions]\nphone = \"generalize\"\n";
    let err = with("auth.toml", generalize).unwrap_err();
    assert!(
        err.0[0].contains("generalize applies to birth_date and address"),
        "{err}"
    );

    let none = "purpose = \"care\"\nconsent = \"none\"\ndefault = \"remove\"\n";
    assert!(with("care.toml", none).unwrap_err().0[0].contains("reserved for `legal`"));
}

#[test]
fn missing_purpose_file_is_reported() {
    let files: Vec<(String, String)> = EMBEDDED
        .iter()
        .filter(|(n, _)| *n != "support.toml")
        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
        .collect();
    let err = RuleSet::from_files(&files).unwrap_err();
    assert!(
        err.0.iter().any(|e| e.starts_with("support.toml: missing")),
        "{err}"
    );
}

#[test]
fn context_and_sibling_bits() {
    let r = rs();
    let number = r.key_info("number");
    let docs = r.key_info("identityDocuments");
    assert_ne!(number.ctx_keys & docs.ctx_within, 0);
    assert_ne!(r.key_info("identifier").sibling_within, 0);
    assert_ne!(r.key_info("telecom").sibling_within, 0);
    assert_ne!(r.key_info("system").sibling_disc, 0);
    assert_ne!(r.key_info("value").sibling_value, 0);
}
