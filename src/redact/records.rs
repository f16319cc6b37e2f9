//! Record-level consent in list responses: which array elements are
//! records, where each record keeps its subject, and what to do with a
//! record whose subject may not be seen for the purpose.

/// Where the records of a list response are and how to find each subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSpec {
    /// Keys from the document root to the array whose elements are the
    /// records (`$.items[*]` -> `["items"]`; `$[*]` -> `[]`).
    pub array: Vec<String>,
    /// Keys from the record's root to its subject id (`id`, `patient.id`).
    pub subject: Vec<String>,
    /// Members of the object that holds the records array which count the
    /// records (`total`): rewritten to the number returned when records
    /// are dropped, so that the count does not tell how many were.
    pub counts: Vec<String>,
}

impl RecordSpec {
    /// The count members of a route that names none.
    pub const DEFAULT_COUNTS: [&str; 5] = [
        "total",
        "count",
        "totalCount",
        "total_count",
        "totalElements",
    ];

    /// Parses `records = "$.items[*]"` and `record_subject = "id"`.
    pub fn parse(records: &str, record_subject: &str) -> Result<RecordSpec, String> {
        let path = records.trim();
        let inner = path
            .strip_prefix('$')
            .and_then(|p| p.strip_suffix("[*]"))
            .ok_or_else(|| {
                format!("records = {records:?}: write a path to an array of records, like \"$.items[*]\" or \"$.data.patients[*]\"")
            })?;
        let array: Vec<String> = inner
            .split('.')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if array.iter().any(|k| k.contains(['[', ']', '*', '$'])) {
            return Err(format!(
                "records = {records:?}: only object keys may lead to the records array (\"$.a.b[*]\")"
            ));
        }
        let subject: Vec<String> = record_subject
            .trim()
            .split('.')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if subject.is_empty() {
            return Err(format!(
                "record_subject = {record_subject:?}: name the key that holds each record's subject id, like \"id\""
            ));
        }
        Ok(RecordSpec {
            array,
            subject,
            counts: Self::DEFAULT_COUNTS.map(str::to_owned).to_vec(),
        })
    }
}

/// The subject id a record's subject value names. A FHIR reference
/// (`record_subject = "resource.subject.reference"`) names its patient as
/// `Patient/123`, `https://mis.example/fhir/Patient/123` or
/// `Patient/123/_history/2`: the id is the segment after `Patient`. Any
/// other value is the id as it is.
pub fn subject_id(spec: &RecordSpec, value: &str) -> String {
    if spec.subject.last().is_some_and(|k| k == "reference") {
        let mut segs = value.split('/');
        while let Some(s) = segs.next() {
            if s == "Patient" {
                if let Some(id) = segs.next().filter(|id| !id.is_empty()) {
                    return id.to_owned();
                }
            }
        }
    }
    value.to_owned()
}

/// What happens to one record, from its subject's consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordVerdict {
    /// The record is redacted as usual.
    Keep,
    /// The record is dropped from the array (the JSON stays valid).
    Drop,
    /// The record stays, with every personal field removed.
    Strip,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths() {
        let s = RecordSpec::parse("$.items[*]", "id").unwrap();
        assert_eq!(s.array, ["items"]);
        assert_eq!(s.subject, ["id"]);
        assert_eq!(
            RecordSpec::parse("$[*]", "patient.id").unwrap().subject,
            ["patient", "id"]
        );
        assert_eq!(
            RecordSpec::parse("$.data.list[*]", "id").unwrap().array,
            ["data", "list"]
        );
        assert!(RecordSpec::parse("$.items", "id").is_err());
        assert!(RecordSpec::parse("$.items[*]", "").is_err());
        assert!(RecordSpec::parse("$.a[*].b[*]", "id").is_err());
    }
}
