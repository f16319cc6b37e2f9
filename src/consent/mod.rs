//! Consent: the per-subject state, the decision a purpose's consent mode
//! makes from it, and the [`ConsentSource`] seam that backends fill.

use std::future::Future;
use std::pin::Pin;

use crate::class::Purpose;
use crate::rules::ConsentMode;

/// What is known of one subject: blocked or not, and per purpose whether
/// consent was granted (`Some(true)`), withdrawn (`Some(false)`) or never
/// recorded (`None`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubjectState {
    pub blocked: bool,
    pub purposes: [Option<bool>; 9],
}

impl SubjectState {
    pub fn granted(&self, p: Purpose) -> Option<bool> {
        self.purposes[p.index()]
    }
}

/// The consent decision for one (subject, purpose).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentDecision {
    Allow,
    /// Allowed because the purpose never consults consent (`legal`), while
    /// the subject had withdrawn or is blocked: flagged in the audit.
    LegalOverride,
    Withdrawn,
    /// Opt-in purpose without a recorded grant.
    NotGranted,
    Blocked,
}

impl ConsentDecision {
    pub fn allowed(self) -> bool {
        matches!(
            self,
            ConsentDecision::Allow | ConsentDecision::LegalOverride
        )
    }

    /// The error code of a denial, the audit's consent result otherwise.
    pub fn code(self) -> &'static str {
        match self {
            ConsentDecision::Allow => "allow",
            ConsentDecision::LegalOverride => "legal_override",
            ConsentDecision::Withdrawn => "consent_withdrawn",
            ConsentDecision::NotGranted => "consent_withdrawn",
            ConsentDecision::Blocked => "subject_blocked",
        }
    }
}

/// Applies a purpose's consent mode to a subject's state.
pub fn decide(mode: ConsentMode, purpose: Purpose, state: &SubjectState) -> ConsentDecision {
    let granted = state.granted(purpose);
    match mode {
        ConsentMode::None => {
            if state.blocked || granted == Some(false) {
                ConsentDecision::LegalOverride
            } else {
                ConsentDecision::Allow
            }
        }
        _ if state.blocked => ConsentDecision::Blocked,
        ConsentMode::OptOut if granted == Some(false) => ConsentDecision::Withdrawn,
        ConsentMode::OptOut => ConsentDecision::Allow,
        ConsentMode::OptIn if granted == Some(true) => ConsentDecision::Allow,
        ConsentMode::OptIn => ConsentDecision::NotGranted,
    }
}

/// A backend could not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConsentError {
    #[error("the consent backend is unavailable")]
    Unavailable,
    #[error("the consent backend did not answer in time")]
    Timeout,
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where consent state comes from. `lookup` answers for a batch of subjects
/// (a list page asks once per page), in the order asked; a subject without
/// any record gets `SubjectState::default()`.
pub trait ConsentSource: Send + Sync + 'static {
    fn lookup<'a>(
        &'a self,
        subjects: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<SubjectState>, ConsentError>>;
}

/// A source that has no records: every opt-out purpose is allowed, every
/// opt-in purpose denied. For tests and for routes without consent.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoRecords;

impl ConsentSource for NoRecords {
    fn lookup<'a>(
        &'a self,
        subjects: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<SubjectState>, ConsentError>> {
        Box::pin(async move { Ok(vec![SubjectState::default(); subjects.len()]) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_decide() {
        let mut s = SubjectState::default();
        assert_eq!(
            decide(ConsentMode::OptOut, Purpose::Care, &s),
            ConsentDecision::Allow
        );
        assert_eq!(
            decide(ConsentMode::OptIn, Purpose::Marketing, &s),
            ConsentDecision::NotGranted
        );
        s.purposes[Purpose::Marketing.index()] = Some(true);
        assert_eq!(
            decide(ConsentMode::OptIn, Purpose::Marketing, &s),
            ConsentDecision::Allow
        );
        s.purposes[Purpose::Care.index()] = Some(false);
        assert_eq!(
            decide(ConsentMode::OptOut, Purpose::Care, &s),
            ConsentDecision::Withdrawn
        );
        s.blocked = true;
        assert_eq!(
            decide(ConsentMode::OptIn, Purpose::Marketing, &s),
            ConsentDecision::Blocked
        );
        assert_eq!(
            decide(ConsentMode::None, Purpose::Legal, &s),
            ConsentDecision::LegalOverride
        );
        assert_eq!(
            decide(ConsentMode::None, Purpose::Legal, &SubjectState::default()),
            ConsentDecision::Allow
        );
    }
}
