//! Logging to the node's log.
//!
//! On wasm the message goes to the host's `log` import, which tags it with the plugin's name,
//! version and code hash, truncates and rate-limits it. Natively (tests) it goes to stderr,
//! where the test harness captures it.
//!
//! ```
//! ordo_sdk::log::info!("ordered {} of {} candidates", 3, 5);
//! ```

/// Severity of a log message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Very fine detail.
    Trace,
    /// Detail for debugging.
    Debug,
    /// Normal operation.
    Info,
    /// Something looks off but the plugin carries on.
    Warn,
    /// The plugin could not do its job.
    Error,
}

impl Level {
    /// Only the native stderr printer needs the name; the host formats its own.
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

/// Writes `message` to the node's log at `level`.
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    {
        use crate::bindings::base::ordo::plugin::host::{self, LogLevel};
        let level = match level {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        };
        host::log(level, message);
    }
    #[cfg(not(target_arch = "wasm32"))]
    std::eprintln!("[plugin {}] {message}", level.as_str());
}

#[doc(hidden)]
#[macro_export]
macro_rules! __ordo_log {
    ($level:ident, $($arg:tt)+) => {
        $crate::log::log(
            $crate::log::Level::$level,
            &$crate::__private::format!($($arg)+),
        )
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __ordo_log_trace {
    ($($arg:tt)+) => { $crate::__ordo_log!(Trace, $($arg)+) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __ordo_log_debug {
    ($($arg:tt)+) => { $crate::__ordo_log!(Debug, $($arg)+) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __ordo_log_info {
    ($($arg:tt)+) => { $crate::__ordo_log!(Info, $($arg)+) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __ordo_log_warn {
    ($($arg:tt)+) => { $crate::__ordo_log!(Warn, $($arg)+) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __ordo_log_error {
    ($($arg:tt)+) => { $crate::__ordo_log!(Error, $($arg)+) };
}

/// Logs at [`Level::Debug`], `format!`-style.
pub use crate::__ordo_log_debug as debug;
/// Logs at [`Level::Error`], `format!`-style.
pub use crate::__ordo_log_error as error;
/// Logs at [`Level::Info`], `format!`-style.
pub use crate::__ordo_log_info as info;
/// Logs at [`Level::Trace`], `format!`-style.
pub use crate::__ordo_log_trace as trace;
/// Logs at [`Level::Warn`], `format!`-style.
pub use crate::__ordo_log_warn as warn;
