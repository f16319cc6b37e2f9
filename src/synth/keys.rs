//! Key spellings. A real MIS names the same field in many ways; each
//! document picks one convention and sticks to it, so a redaction engine
//! that only knows `lastName` is caught out by `фамилия`, `FAM` or
//! `family_name`.

use super::rng::Rng;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Style {
    Camel,
    Snake,
    Pascal,
    Russian,
    /// Upper-case registry keys of the territorial OMS funds (FAM/IM/OT/DR).
    Foms,
}

impl Style {
    pub(crate) fn random(rng: &mut Rng) -> Style {
        match rng.below(10) {
            0..=3 => Style::Camel,
            4..=5 => Style::Snake,
            6 => Style::Pascal,
            7..=8 => Style::Russian,
            _ => Style::Foms,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Fields whose key a document chooses once.
#[derive(Clone, Copy)]
pub(crate) enum F {
    Surname,
    Given,
    Patronymic,
    FullName,
    BirthDate,
    Sex,
    Snils,
    Oms,
    Dms,
    Phone,
    Email,
    Inn,
    Passport,
    Address,
    Card,
    Device,
    Diagnosis,
    Notes,
    Created,
}

const N: usize = 19;

/// Per field, per style: the spellings one of which a document uses.
const TABLE: [[&[&str]; 5]; N] = [
    [
        &["lastName", "surname", "familyName", "patientLastName"],
        &["last_name", "surname", "family_name", "familiya"],
        &["LastName", "Surname"],
        &["фамилия", "Фамилия"],
        &["FAM"],
    ],
    [
        &["firstName", "name", "givenName"],
        &["first_name", "name", "given_name", "imya"],
        &["FirstName", "Name"],
        &["имя", "Имя"],
        &["IM"],
    ],
    [
        &["middleName", "patronymic", "secondName"],
        &["middle_name", "patronymic", "second_name", "otchestvo"],
        &["MiddleName", "Patronymic"],
        &["отчество", "Отчество"],
        &["OT"],
    ],
    [
        &["fullName", "fio", "displayName"],
        &["full_name", "fio", "patient_name"],
        &["FullName", "Fio"],
        &["фио", "ФИО", "полное_имя"],
        &["FIO"],
    ],
    [
        &["birthDate", "dateOfBirth", "birthday", "dob"],
        &["birth_date", "date_of_birth", "dob", "data_rozhdeniya"],
        &["BirthDate", "DateOfBirth"],
        &["дата_рождения", "датаРождения", "ДатаРождения"],
        &["DR"],
    ],
    [
        &["gender", "sex"],
        &["gender", "sex"],
        &["Gender", "Sex"],
        &["пол", "Пол"],
        &["W"],
    ],
    [
        &["snils", "snilsNumber", "insuranceNumber", "snilsNo"],
        &["snils", "snils_number", "snils_num", "pat_snils"],
        &["Snils", "SNILS"],
        &["СНИЛС", "снилс", "номер_снилс"],
        &["SS", "SNILS"],
    ],
    [
        &["omsPolicy", "enp", "omsNumber", "policyNumber"],
        &["oms_policy", "enp", "oms_number", "polis_oms"],
        &["OmsPolicyNumber", "Enp", "PolicyOMS"],
        &["полис_ОМС", "полисОМС", "ЕНП", "номер_полиса"],
        &["ENP", "NPOLIS"],
    ],
    [
        &["dmsPolicy", "vhiPolicy", "dmsNumber"],
        &["dms_policy", "dms_number", "vhi_policy"],
        &["DmsPolicy", "DMSNumber"],
        &["полис_ДМС", "полисДМС"],
        &["DMS", "NPOLIS_DMS"],
    ],
    [
        &["phone", "mobilePhone", "phoneNumber", "tel"],
        &["phone", "mobile_phone", "phone_number", "tel", "telefon"],
        &["Phone", "MobilePhone", "PhoneNumber"],
        &["телефон", "мобильный_телефон", "Телефон", "тел"],
        &["TEL", "PHONE"],
    ],
    [
        &["email", "eMail", "emailAddress"],
        &["email", "e_mail", "email_address"],
        &["Email", "EMail"],
        &["эл_почта", "электронная_почта", "email"],
        &["EMAIL"],
    ],
    [
        &["inn", "taxId", "innNumber"],
        &["inn", "tax_id", "inn_fl"],
        &["Inn", "INN"],
        &["ИНН", "инн"],
        &["INN"],
    ],
    [
        &["passport", "passportNumber", "identityDocument"],
        &["passport", "passport_number", "doc_number", "pasport"],
        &["Passport", "PassportNumber"],
        &["паспорт", "серия_номер_паспорта", "Паспорт"],
        &["DOC", "PASSPORT"],
    ],
    [
        &["address", "registrationAddress", "addressText"],
        &["address", "reg_address", "address_text", "adres"],
        &["Address", "RegAddress"],
        &["адрес", "адрес_регистрации", "Адрес"],
        &["ADRES", "ADDRESS"],
    ],
    [
        &["cardNumber", "pan", "bankCard"],
        &["card_number", "pan", "bank_card"],
        &["CardNumber", "Pan"],
        &["номер_карты", "карта"],
        &["CARD"],
    ],
    [
        &["deviceId", "installationId", "pushDeviceId"],
        &["device_id", "installation_id"],
        &["DeviceId", "DeviceID"],
        &["идентификатор_устройства", "id_устройства"],
        &["DEVICE_ID"],
    ],
    [
        &["diagnosis", "diagnosisText", "conditionText"],
        &["diagnosis", "diagnosis_text", "ds_text"],
        &["Diagnosis", "DiagnosisText"],
        &["диагноз", "Диагноз", "текст_диагноза"],
        &["DS_TEXT"],
    ],
    [
        &["notes", "comment", "note"],
        &["notes", "comment", "remarks"],
        &["Notes", "Comment"],
        &["примечание", "заметки", "комментарий"],
        &["PRIM", "COMMENT"],
    ],
    [
        &["createdAt", "created", "registeredAt"],
        &["created_at", "created", "registered_at"],
        &["CreatedAt", "Created"],
        &["дата_создания", "создано"],
        &["DATE_CREATE", "D_REG"],
    ],
];

/// One document's choice of key for every field.
pub(crate) struct Keys {
    pub(crate) style: Style,
    chosen: [&'static str; N],
}

impl Keys {
    pub(crate) fn new(rng: &mut Rng, style: Style) -> Keys {
        let mut chosen = [""; N];
        for (slot, row) in chosen.iter_mut().zip(TABLE.iter()) {
            *slot = rng.one(row[style.index()]);
        }
        Keys { style, chosen }
    }

    pub(crate) fn get(&self, f: F) -> &'static str {
        self.chosen[f as usize]
    }

    /// Spelling of a structural key that is not personal data by itself.
    pub(crate) fn pick(&self, names: [&'static str; 5]) -> &'static str {
        names[self.style.index()]
    }
}
