//! Parameters, parsed the way geth parses them; the one parser of every namespace.
//!
//! `params` may be missing, `null` or an array; trailing optional arguments may be omitted or
//! `null`. Errors use geth's wording: "invalid argument N: ...", "missing value for required
//! argument N", "too many arguments, want at most N", "non-array args". An object is kept
//! for the methods that take one named argument ([`Params::single`]); positional access to
//! it is "non-array args".

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::BackendError;

/// The arguments of one call, borrowed from the request body.
#[derive(Debug, Default)]
pub struct Params<'a> {
    args: Vec<&'a RawValue>,
    /// `params` was an object (not positional).
    object: Option<&'a RawValue>,
}

/// [`Params`] detached from the request body, for calls that run on another thread.
#[derive(Debug, Default)]
pub struct OwnedParams {
    args: Vec<Box<RawValue>>,
    object: Option<Box<RawValue>>,
}

impl OwnedParams {
    /// The parameters, borrowed again.
    pub fn params(&self) -> Params<'_> {
        Params {
            args: self.args.iter().map(|a| &**a).collect(),
            object: self.object.as_deref(),
        }
    }
}

impl<'a> Params<'a> {
    /// Splits the raw `params` member into its positional arguments.
    pub fn parse(raw: Option<&'a RawValue>) -> Result<Self, BackendError> {
        let Some(raw) = raw else {
            return Ok(Self::default());
        };
        let text = raw.get();
        match text.as_bytes().first() {
            Some(b'[') => serde_json::from_str::<Vec<&'a RawValue>>(text)
                .map(|args| Self { args, object: None })
                .map_err(|err| BackendError::invalid_params(format!("invalid params: {err}"))),
            Some(b'n') if text == "null" => Ok(Self::default()),
            Some(b'{') => Ok(Self {
                args: vec![],
                object: Some(raw),
            }),
            _ => Err(BackendError::invalid_params("non-array args")),
        }
    }

    /// Copies the parameters out of the request body.
    pub fn to_owned(&self) -> OwnedParams {
        OwnedParams {
            args: self.args.iter().map(|a| (*a).to_owned()).collect(),
            object: self.object.map(ToOwned::to_owned),
        }
    }

    /// The parameters as one JSON value (the object, or the array of positional
    /// arguments), which [`Params::parse`] reads back to the same parameters.
    pub fn to_value(&self) -> serde_json::Value {
        let parse = |raw: &RawValue| serde_json::from_str(raw.get()).unwrap_or_default();
        match self.object {
            Some(object) => parse(object),
            None => serde_json::Value::Array(self.args.iter().map(|a| parse(a)).collect()),
        }
    }

    /// Whether `params` was an object rather than positional arguments.
    pub fn is_object(&self) -> bool {
        self.object.is_some()
    }

    fn positional(&self) -> Result<&[&'a RawValue], BackendError> {
        match self.object {
            Some(_) => Err(BackendError::invalid_params("non-array args")),
            None => Ok(&self.args),
        }
    }

    /// Fails if more than `max` arguments were given.
    pub fn at_most(&self, max: usize) -> Result<(), BackendError> {
        if self.positional()?.len() > max {
            return Err(BackendError::invalid_params(format!(
                "too many arguments, want at most {max}"
            )));
        }
        Ok(())
    }

    /// The argument at `index`, which must be present and not `null`.
    pub fn required<T: DeserializeOwned>(&self, index: usize) -> Result<T, BackendError> {
        match self.optional(index)? {
            Some(value) => Ok(value),
            None => Err(BackendError::invalid_params(format!(
                "missing value for required argument {index}"
            ))),
        }
    }

    /// The argument at `index`, `None` if it is absent or `null`.
    pub fn optional<T: DeserializeOwned>(&self, index: usize) -> Result<Option<T>, BackendError> {
        match self.positional()?.get(index) {
            None => Ok(None),
            Some(raw) if raw.get() == "null" => Ok(None),
            Some(raw) if unprefixed_hex(raw.get()) => Err(BackendError::invalid_params(format!(
                "invalid argument {index}: hex string without 0x prefix"
            ))),
            Some(raw) => serde_json::from_str(raw.get()).map(Some).map_err(|err| {
                BackendError::invalid_params(format!("invalid argument {index}: {err}"))
            }),
        }
    }

    /// The one and only argument, which must be present and not `null`.
    pub fn only<T: DeserializeOwned>(&self) -> Result<T, BackendError> {
        self.at_most(1)?;
        self.required(0)
    }

    /// The one argument of a method that takes an object: `[{...}]`, `{...}`, nothing (an
    /// empty object) or, for objects of one field, the bare value (`["0xid"]` is
    /// `{"<field>": "0xid"}`).
    pub fn single<T: DeserializeOwned>(&self, field: &str) -> Result<T, BackendError> {
        let value: serde_json::Value = match (self.object, self.args.as_slice()) {
            (Some(object), _) => parse_value(object)?,
            (None, []) => serde_json::Value::Object(Default::default()),
            (None, [one]) => parse_value(one)?,
            (None, many) => {
                return Err(BackendError::invalid_params(format!(
                    "too many arguments, want at most 1, got {}",
                    many.len()
                )));
            }
        };
        let value = match value {
            serde_json::Value::Null => serde_json::Value::Object(Default::default()),
            object @ serde_json::Value::Object(_) => object,
            bare => serde_json::json!({ field: bare }),
        };
        serde_json::from_value(value)
            .map_err(|err| BackendError::invalid_params(format!("invalid argument 0: {err}")))
    }
}

/// An address or a hash written without its `0x` (a JSON string of 40 or 64 hex digits):
/// alloy's parsers take it, geth and the specification refuse it.
fn unprefixed_hex(json: &str) -> bool {
    json.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .is_some_and(|s| matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn parse_value(raw: &RawValue) -> Result<serde_json::Value, BackendError> {
    serde_json::from_str(raw.get())
        .map_err(|err| BackendError::invalid_params(format!("invalid argument 0: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap()
    }

    #[test]
    fn to_value_reads_back_to_the_same_params() {
        for text in [
            r#"[1,"a",{"b":null}]"#,
            r#"{"kind":"ordering","from":null}"#,
            "[]",
        ] {
            let raw_params = raw(text);
            let params = Params::parse(Some(&raw_params)).unwrap();
            let value = params.to_value();
            assert_eq!(
                value,
                serde_json::from_str::<serde_json::Value>(text).unwrap()
            );
            let again = serde_json::value::to_raw_value(&value).unwrap();
            let back = Params::parse(Some(&again)).unwrap();
            assert_eq!(back.is_object(), params.is_object());
            assert_eq!(back.to_value(), value);
        }
    }

    #[test]
    fn missing_and_null_params_are_empty() {
        assert!(Params::parse(None).unwrap().args.is_empty());
        let null = raw("null");
        assert!(Params::parse(Some(&null)).unwrap().args.is_empty());
    }

    #[test]
    fn objects_are_not_positional() {
        let obj = raw(r#"{"a":1}"#);
        let params = Params::parse(Some(&obj)).unwrap();
        assert_eq!(params.at_most(1).unwrap_err().message, "non-array args");
        assert_eq!(
            params.required::<u64>(0).unwrap_err().message,
            "non-array args"
        );
        let scalar = raw("7");
        assert_eq!(
            Params::parse(Some(&scalar)).unwrap_err().message,
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

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Id {
        id: String,
    }

    #[test]
    fn a_single_object_argument_takes_every_spelling() {
        for text in [r#"[{"id":"a"}]"#, r#"{"id":"a"}"#, r#"["a"]"#] {
            let body = raw(text);
            let params = Params::parse(Some(&body)).unwrap();
            assert_eq!(
                params.single::<Id>("id").unwrap(),
                Id { id: "a".into() },
                "{text}"
            );
        }
        let two = raw(r#"["a","b"]"#);
        assert_eq!(
            Params::parse(Some(&two))
                .unwrap()
                .single::<Id>("id")
                .unwrap_err()
                .message,
            "too many arguments, want at most 1, got 2"
        );
        let owned = Params::parse(Some(&raw(r#"[1, "x"]"#))).unwrap().to_owned();
        assert_eq!(owned.params().required::<String>(1).unwrap(), "x");
    }
}
