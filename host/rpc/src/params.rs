//! Positional parameters, parsed the way geth parses them.
//!
//! `params` may be missing, `null` or an array; trailing optional arguments may be omitted or
//! `null`. Errors use geth's wording: "invalid argument N: ...", "missing value for required
//! argument N", "too many arguments, want at most N", "non-array args".

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::BackendError;

/// The positional arguments of one call, borrowed from the request body.
#[derive(Debug, Default)]
pub(crate) struct Params<'a> {
    args: Vec<&'a RawValue>,
}

impl<'a> Params<'a> {
    /// Splits the raw `params` member into its positional arguments.
    pub(crate) fn parse(raw: Option<&'a RawValue>) -> Result<Self, BackendError> {
        let Some(raw) = raw else {
            return Ok(Self::default());
        };
        let text = raw.get();
        match text.as_bytes().first() {
            Some(b'[') => serde_json::from_str::<Vec<&'a RawValue>>(text)
                .map(|args| Self { args })
                .map_err(|err| BackendError::invalid_params(format!("invalid params: {err}"))),
            Some(b'n') if text == "null" => Ok(Self::default()),
            _ => Err(BackendError::invalid_params("non-array args")),
        }
    }

    /// The arguments as one JSON array (for methods served outside this crate).
    pub(crate) fn to_array(&self) -> Result<Box<RawValue>, BackendError> {
        serde_json::value::to_raw_value(&self.args)
            .map_err(|e| BackendError::internal(format!("re-encoding params: {e}")))
    }

    /// Fails if more than `max` arguments were given.
    pub(crate) fn at_most(&self, max: usize) -> Result<(), BackendError> {
        if self.args.len() > max {
            return Err(BackendError::invalid_params(format!(
                "too many arguments, want at most {max}"
            )));
        }
        Ok(())
    }

    /// The argument at `index`, which must be present and not `null`.
    pub(crate) fn required<T: DeserializeOwned>(&self, index: usize) -> Result<T, BackendError> {
        match self.optional(index)? {
            Some(value) => Ok(value),
            None => Err(BackendError::invalid_params(format!(
                "missing value for required argument {index}"
            ))),
        }
    }

    /// The argument at `index`, `None` if it is absent or `null`.
    pub(crate) fn optional<T: DeserializeOwned>(
        &self,
        index: usize,
    ) -> Result<Option<T>, BackendError> {
        match self.args.get(index) {
            None => Ok(None),
            Some(raw) if raw.get() == "null" => Ok(None),
            Some(raw) => serde_json::from_str(raw.get()).map(Some).map_err(|err| {
                BackendError::invalid_params(format!("invalid argument {index}: {err}"))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap()
    }

    #[test]
    fn missing_and_null_params_are_empty() {
        assert!(Params::parse(None).unwrap().args.is_empty());
        let null = raw("null");
        assert!(Params::parse(Some(&null)).unwrap().args.is_empty());
    }

    #[test]
    fn objects_are_rejected() {
        let obj = raw(r#"{"a":1}"#);
        assert_eq!(
            Params::parse(Some(&obj)).unwrap_err().message,
            "non-array args"
        );
    }

    #[test]
    fn positional_errors_name_the_argument() {
        let args = raw(r#"["0x1", null, "zz"]"#);
        let params = Params::parse(Some(&args)).unwrap();
        assert_eq!(params.required::<String>(0).unwrap(), "0x1");
        assert_eq!(params.optional::<u64>(1).unwrap(), None);
        assert_eq!(params.optional::<u64>(7).unwrap(), None);
        let err = params.required::<u64>(2).unwrap_err();
        assert!(
            err.message.starts_with("invalid argument 2:"),
            "{}",
            err.message
        );
        let err = params.required::<u64>(1).unwrap_err();
        assert_eq!(err.message, "missing value for required argument 1");
        assert_eq!(
            params.at_most(2).unwrap_err().message,
            "too many arguments, want at most 2"
        );
    }
}
