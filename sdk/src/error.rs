use alloc::string::String;
use core::fmt;

/// A plugin's own failure, reported to the host as `plugin-error`.
///
/// The host treats it like a trap: that block or batch uses the native fallback and the failure
/// counts towards rolling the plugin back. Return it for conditions the plugin cannot answer
/// (bad config, corrupt input), never for "nothing to do".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    /// An error with this message (shown in the node's log with the plugin's name).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl core::error::Error for Error {}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Self::new(message)
    }
}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Self::new(message)
    }
}

impl From<Error> for crate::wire::PluginError {
    fn from(error: Error) -> Self {
        Self {
            message: error.message,
        }
    }
}
