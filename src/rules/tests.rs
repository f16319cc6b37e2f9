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

/// The codes of the value set v3-PurposeOfUse in FHIR R4 4.0.1
/// (hl7.fhir.r4.core), all of the code system v3-ActReason.
const PURPOSE_OF_USE_CODES: [&str; 59] = [
    "HMARKT",
    "HOPERAT",
    "CAREMGT",
    "DONAT",
    "FRAUD",
    "GOV",
    "HACCRED",
    "HCOMPL",
    "HDECD",
    "HDIRECT",
    "HDM",
    "HLEGAL",
    "HOUTCOMS",
    "HPRGRP",
    "HQUALIMP",
    "HSYSADMIN",
    "LABELING",
    "METAMGT",
    "MEMADMIN",
    "MILCDM",
    "PATADMIN",
    "PATSFTY",
    "PERFMSR",
    "RECORDMGT",
    "SYSDEV",
    "HTEST",
    "TRAIN",
    "HPAYMT",
    "CLMATTCH",
    "COVAUTH",
    "COVERAGE",
    "ELIGDTRM",
    "ELIGVER",
    "ENROLLM",
    "MILDCRG",
    "REMITADV",
    "HRESCH",
    "BIORCH",
    "CLINTRCH",
    "CLINTRCHNPC",
    "CLINTRCHPC",
    "PRECLINTRCH",
    "DSRCH",
    "POARCH",
    "TRANSRCH",
    "PATRQT",
    "FAMRQT",
    "PWATRNY",
    "SUPNWK",
    "PUBHLTH",
    "DISASTER",
    "THREAT",
    "TREAT",
    "CLINTRL",
    "COC",
    "ETREAT",
    "BTG",
    "ERTREAT",
    "POPHLTH",
];

#[test]
fn shipped_purpose_of_use_mapping() {
    let r = rs();
    let m = r.purpose_of_use();
    for (code, p) in [
        ("TREAT", Purpose::Care),
        ("ETREAT", Purpose::Care),
        ("CAREMGT", Purpose::Care),
        ("HPAYMT", Purpose::Appointments),
        ("PATRQT", Purpose::Documents),
        ("HSYSADMIN", Purpose::Support),
        ("HOPERAT", Purpose::Analytics),
        ("HQUALIMP", Purpose::Analytics),
        ("HMARKT", Purpose::Marketing),
        ("HLEGAL", Purpose::Legal),
        ("PUBHLTH", Purpose::Legal),
    ] {
        assert_eq!(m.get(code), Some((p, code)), "{code}");
    }
    // No fitting purpose: refused as unknown.
    for code in ["BTG", "HRESCH", "CLINTRCH", "FAMRQT", "PWATRNY", "TRAIN"] {
        assert_eq!(m.get(code), None, "{code}");
    }
    // Only real codes, and every real code is decided: mapped, or named in
    // the file's list of codes left out and in the README's table.
    let file = include_str!("../../rules/purpose_of_use.toml");
    let readme = include_str!("../../rules/README.md");
    for (code, _) in m.entries() {
        assert!(
            PURPOSE_OF_USE_CODES.contains(&code),
            "{code} is no PurposeOfUse code"
        );
    }
    for code in PURPOSE_OF_USE_CODES {
        let quoted = format!("\"{code}\"");
        let named = file.lines().any(|l| {
            l.starts_with('#')
                && l.split(|c: char| !c.is_ascii_uppercase())
                    .any(|w| w == code)
        });
        assert!(
            m.get(code).is_some() == file.contains(&quoted) && (m.get(code).is_some() || named),
            "{code} is neither mapped nor listed as left out"
        );
        assert!(
            readme.contains(&format!("`{code}`")),
            "{code} is not in rules/README.md"
        );
    }
    assert_eq!(m.len(), 20);
}

#[test]
fn x_purpose_is_an_id_first_then_a_code() {
    let r = rs();
    assert_eq!(r.purpose_for("care"), Some((Purpose::Care, None)));
    assert_eq!(r.purpose_for("legal"), Some((Purpose::Legal, None)));
    assert_eq!(r.purpose_for("treat"), Some((Purpose::Care, Some("TREAT"))));
    assert_eq!(
        r.purpose_for("http://terminology.hl7.org/CodeSystem/v3-ActReason|HMARKT"),
        Some((Purpose::Marketing, Some("HMARKT")))
    );
    // Ids are exact; only codes are matched without case.
    assert_eq!(r.purpose_for("Care"), None);
    assert_eq!(r.purpose_for("LEGAL"), None);
    assert_eq!(r.purpose_for("spying"), None);
}

#[test]
fn purpose_of_use_file_is_optional() {
    let files: Vec<(String, String)> = EMBEDDED
        .iter()
        .filter(|(n, _)| *n != purpose_of_use::FILE)
        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
        .collect();
    let r = RuleSet::from_files(&files).unwrap();
    assert!(r.purpose_of_use().is_empty());
    assert_eq!(r.purpose_for("TREAT"), None);
    assert_eq!(r.purpose_for("care"), Some((Purpose::Care, None)));
    assert_ne!(r.version(), rs().version());
}

#[test]
fn purpose_of_use_errors_come_through_check() {
    let bad =
        "[purposes]\ncare = [\"TREAT\"]\ncare_team = [\"COC\"]\nlegal = [\"TREAT\", \"hlegal\"]\n";
    let err = with(purpose_of_use::FILE, bad).unwrap_err();
    assert_eq!(err.0.len(), 3, "{err}");
    assert!(
        err.0[0].starts_with("purpose_of_use.toml:3: unknown purpose \"care_team\"; write one of:"),
        "{err}"
    );
    assert!(
        err.0[1].starts_with(
            "purpose_of_use.toml:4: code \"TREAT\" is already mapped to care (line 2)"
        ),
        "{err}"
    );
    assert!(
        err.0[2].starts_with(
            "purpose_of_use.toml:4: code \"hlegal\" is not upper-case letters; write \"HLEGAL\""
        ),
        "{err}"
    );
}

#[test]
fn a_part_context_names_its_class() {
    let base = EMBEDDED
        .iter()
        .find(|(n, _)| *n == "classes.toml")
        .map(|(_, t)| *t)
        .unwrap();
    let bad = format!(
        "{base}\n[[context]]\nclass = \"none\"\npart = true\nkeys = [\"issued\"]\nwithin = [\"passport\"]\n"
    );
    let err = with("classes.toml", &bad).unwrap_err();
    assert!(
        err.0
            .iter()
            .any(|e| e.contains("`part = true`") && e.starts_with("classes.toml:")),
        "{err}"
    );
    let shipped = rs();
    let part: Vec<_> = shipped.contexts().iter().filter(|c| c.part).collect();
    assert_eq!(part.len(), 1);
    assert_eq!(part[0].class, Some(FieldClass::Passport));
}

#[test]
fn allowlist_purposes_are_checked() {
    let on =
        "purpose = \"feedback\"\nconsent = \"opt_out\"\ndefault = \"remove\"\nallowlist = true\n";
    assert!(
        with("feedback.toml", on)
            .unwrap()
            .purpose(Purpose::Feedback)
            .allowlist
    );
    let off =
        "purpose = \"feedback\"\nconsent = \"opt_out\"\ndefault = \"remove\"\nallowlist = false\n";
    assert!(
        !with("feedback.toml", off)
            .unwrap()
            .purpose(Purpose::Feedback)
            .allowlist
    );
    // The shipped allowlists, and a purpose that is not one.
    assert!(rs().purpose(Purpose::Feedback).allowlist);
    assert!(rs().purpose(Purpose::Marketing).allowlist);
    assert!(!rs().purpose(Purpose::Support).allowlist);
    let legal = "purpose = \"legal\"\nconsent = \"none\"\ndefault = \"allow\"\nallowlist = true\n";
    let err = with("legal.toml", legal).unwrap_err();
    assert!(
        err.0[0].starts_with("legal.toml:4:") && err.0[0].contains("cannot be an allowlist"),
        "{err}"
    );
    let open =
        "purpose = \"feedback\"\nconsent = \"opt_out\"\ndefault = \"allow\"\nallowlist = true\n";
    let err = with("feedback.toml", open).unwrap_err();
    assert!(err.0[0].contains("must be remove, null or block"), "{err}");
    let typo = "purpose = \"feedback\"\nconsent = \"opt_out\"\ndefault = \"remove\"\nallowlist = \"yes\"\n";
    let err = with("feedback.toml", typo).unwrap_err();
    assert!(
        err.0
            .iter()
            .any(|e| e.starts_with("feedback.toml:4:") && e.contains("boolean")),
        "{err}"
    );
}
