//! The vocabulary shared by every layer: purposes of processing, field
//! classes of personal data, and the actions a rule can take on them.
//!
//! These are small `Copy` enums so that the hot path can carry them around
//! without allocation, index tables by them, and put them in metric labels.

use std::fmt;
use std::str::FromStr;

/// One of the nine purposes of processing named by the privacy policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Purpose {
    Auth,
    Appointments,
    Care,
    Documents,
    Support,
    Feedback,
    Analytics,
    Marketing,
    Legal,
}

impl Purpose {
    pub const ALL: [Purpose; 9] = [
        Purpose::Auth,
        Purpose::Appointments,
        Purpose::Care,
        Purpose::Documents,
        Purpose::Support,
        Purpose::Feedback,
        Purpose::Analytics,
        Purpose::Marketing,
        Purpose::Legal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Auth => "auth",
            Purpose::Appointments => "appointments",
            Purpose::Care => "care",
            Purpose::Documents => "documents",
            Purpose::Support => "support",
            Purpose::Feedback => "feedback",
            Purpose::Analytics => "analytics",
            Purpose::Marketing => "marketing",
            Purpose::Legal => "legal",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a purpose id that is not one of the nine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown purpose {0:?}; expected one of: auth, appointments, care, documents, support, feedback, analytics, marketing, legal"
)]
pub struct UnknownPurpose(pub String);

impl FromStr for Purpose {
    type Err = UnknownPurpose;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Purpose::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPurpose(s.to_owned()))
    }
}

/// A class of personal data. `FullName` covers a value that holds surname,
/// given name and patronymic together ("Иванов Иван Иванович", "Иванов И.И.").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldClass {
    Snils,
    OmsPolicy,
    DmsPolicy,
    Surname,
    GivenName,
    Patronymic,
    FullName,
    Phone,
    Email,
    BirthDate,
    Address,
    Passport,
    Inn,
    Card,
    DeviceId,
    Health,
    /// Any other identifier of a person: a FHIR `identifier` of a Patient or
    /// Practitioner whose `system` names no known class (an MRN, a licence).
    PersonId,
    /// A person's photograph (FHIR `Attachment` in `photo`).
    Photo,
}

impl FieldClass {
    pub const COUNT: usize = 18;
    pub const ALL: [FieldClass; FieldClass::COUNT] = [
        FieldClass::Snils,
        FieldClass::OmsPolicy,
        FieldClass::DmsPolicy,
        FieldClass::Surname,
        FieldClass::GivenName,
        FieldClass::Patronymic,
        FieldClass::FullName,
        FieldClass::Phone,
        FieldClass::Email,
        FieldClass::BirthDate,
        FieldClass::Address,
        FieldClass::Passport,
        FieldClass::Inn,
        FieldClass::Card,
        FieldClass::DeviceId,
        FieldClass::Health,
        FieldClass::PersonId,
        FieldClass::Photo,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FieldClass::Snils => "snils",
            FieldClass::OmsPolicy => "oms_policy",
            FieldClass::DmsPolicy => "dms_policy",
            FieldClass::Surname => "surname",
            FieldClass::GivenName => "given_name",
            FieldClass::Patronymic => "patronymic",
            FieldClass::FullName => "full_name",
            FieldClass::Phone => "phone",
            FieldClass::Email => "email",
            FieldClass::BirthDate => "birth_date",
            FieldClass::Address => "address",
            FieldClass::Passport => "passport",
            FieldClass::Inn => "inn",
            FieldClass::Card => "card",
            FieldClass::DeviceId => "device_id",
            FieldClass::Health => "health",
            FieldClass::PersonId => "person_id",
            FieldClass::Photo => "photo",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// A person's name or a part of it.
    pub fn is_name(self) -> bool {
        matches!(
            self,
            FieldClass::Surname
                | FieldClass::GivenName
                | FieldClass::Patronymic
                | FieldClass::FullName
        )
    }
}

impl fmt::Display for FieldClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FieldClass {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FieldClass::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or(())
    }
}

/// A set of field classes, as a bit set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ClassSet(u32);

impl ClassSet {
    pub const EMPTY: ClassSet = ClassSet(0);
    pub const ALL: ClassSet = ClassSet((1 << FieldClass::COUNT) - 1);

    pub fn with(self, c: FieldClass) -> ClassSet {
        ClassSet(self.0 | (1 << c.index()))
    }
    pub fn contains(self, c: FieldClass) -> bool {
        self.0 & (1 << c.index()) != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = FieldClass> {
        FieldClass::ALL
            .into_iter()
            .filter(move |c| self.contains(*c))
    }
}

impl FromIterator<FieldClass> for ClassSet {
    fn from_iter<I: IntoIterator<Item = FieldClass>>(iter: I) -> Self {
        iter.into_iter().fold(ClassSet::EMPTY, ClassSet::with)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_round_trip() {
        for p in Purpose::ALL {
            assert_eq!(p.as_str().parse::<Purpose>(), Ok(p));
        }
        assert!("Marketing".parse::<Purpose>().is_err());
    }

    #[test]
    fn classes_round_trip_and_index() {
        for (i, c) in FieldClass::ALL.into_iter().enumerate() {
            assert_eq!(c.index(), i);
            assert_eq!(c.as_str().parse::<FieldClass>(), Ok(c));
        }
        let s: ClassSet = [FieldClass::Snils, FieldClass::Health]
            .into_iter()
            .collect();
        assert!(s.contains(FieldClass::Health) && !s.contains(FieldClass::Email));
        assert_eq!(s.iter().count(), 2);
    }
}
