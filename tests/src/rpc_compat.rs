//! The execution-apis conformance suite (hive's `rpc-compat`) against a node serving the
//! suite's chain: every `.io` case's requests are sent as written, and each answer is
//! compared with the expected one as the simulator compares them:
//!
//! - exact JSON equality (key order and whitespace aside);
//! - except for errors, where only the code counts (clients word messages differently);
//! - a case marked `// speconly:` checks the answer's shape only: a result where a result is
//!   expected (an error where an error is), of the same JSON type, with the same keys if it
//!   is an object.
//!
//! Cases of the methods Ordo deliberately does not serve (`UNSERVED`, with the reason; the
//! README lists them too) are reported as skipped, not hidden. Cases run in file-name
//! order, as hive walks them, against one node: the suite expects its earlier sends in the
//! pool.

use std::path::{Path, PathBuf};

use eyre::{Result, WrapErr, eyre};
use serde_json::Value;

/// Methods Ordo does not serve, with why. Their cases are skipped.
pub const UNSERVED: &[(&str, &str)] = &[(
    "testing_buildBlockV1",
    "builds a payload for a consensus client (the Engine API's testing namespace); Ordo \
     seals its own blocks and has no consensus client",
)];

/// One `.io` file.
#[derive(Debug, Clone)]
pub struct Case {
    /// `<method>/<case>` (the path under the suite's folder, without `.io`).
    pub name: String,
    /// Request lines and the expected answer of each.
    pub exchanges: Vec<(String, String)>,
    /// Only the answer's shape is checked.
    pub spec_only: bool,
}

/// How a case went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every answer matched.
    Passed,
    /// An answer differed: what differed.
    Failed(String),
    /// The method is one Ordo does not serve: why.
    Skipped(String),
}

/// The cases under `dir` (the suite's `tests/` folder), in file-name order.
pub fn load_cases(dir: &Path) -> Result<Vec<Case>> {
    let mut files = Vec::new();
    for method in std::fs::read_dir(dir).wrap_err_with(|| format!("reading {}", dir.display()))? {
        let method = method?.path();
        if !method.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&method)? {
            let file = file?.path();
            if file.extension().is_some_and(|e| e == "io") {
                files.push(file);
            }
        }
    }
    files.sort();
    files.iter().map(|f| load_case(dir, f)).collect()
}

fn load_case(dir: &Path, file: &PathBuf) -> Result<Case> {
    let text = std::fs::read_to_string(file)?;
    let name = file
        .strip_prefix(dir)?
        .with_extension("")
        .to_string_lossy()
        .into_owned();
    let mut exchanges = Vec::new();
    let mut request: Option<String> = None;
    let mut spec_only = false;
    for line in text.lines().map(str::trim) {
        if let Some(comment) = line.strip_prefix("//") {
            spec_only |= comment.trim_start().starts_with("speconly:");
        } else if let Some(req) = line.strip_prefix(">> ") {
            request = Some(req.to_string());
        } else if let Some(resp) = line.strip_prefix("<< ") {
            let req = request
                .take()
                .ok_or_else(|| eyre!("{name}: an answer before its request"))?;
            exchanges.push((req, resp.to_string()));
        } else if !line.is_empty() {
            return Err(eyre!(
                "{name}: a line that is no request, answer or comment"
            ));
        }
    }
    Ok(Case {
        name,
        exchanges,
        spec_only,
    })
}

/// Runs one case against the node at `url`.
pub async fn run_case(http: &reqwest::Client, url: &str, case: &Case) -> Result<Outcome> {
    let method = case.name.split('/').next().unwrap_or_default();
    if let Some((_, why)) = UNSERVED.iter().find(|(m, _)| *m == method) {
        return Ok(Outcome::Skipped((*why).to_string()));
    }
    for (i, (request, expected)) in case.exchanges.iter().enumerate() {
        let got = http
            .post(url)
            .header("content-type", "application/json")
            .body(request.clone())
            .send()
            .await?
            .text()
            .await?;
        let got: Value = serde_json::from_str(&got)
            .map_err(|e| eyre!("{}: answer {i} is not JSON ({e}): {got}", case.name))?;
        let want: Value = serde_json::from_str(expected)
            .map_err(|e| eyre!("{}: expected answer {i} is not JSON: {e}", case.name))?;
        let differences = if case.spec_only {
            shape_differences(&got, &want)
        } else {
            differences(&got, &want)
        };
        if !differences.is_empty() {
            return Ok(Outcome::Failed(format!(
                "request {}: {}",
                i + 1,
                differences.join("; ")
            )));
        }
    }
    Ok(Outcome::Passed)
}

/// Runs every case of `cases` in order; returns each with its outcome.
pub async fn run_all(url: &str, cases: &[Case]) -> Result<Vec<(String, Outcome)>> {
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()?;
    let mut out = Vec::with_capacity(cases.len());
    for case in cases {
        out.push((case.name.clone(), run_case(&http, url, case).await?));
    }
    Ok(out)
}

/// `N passed, M failed, K skipped`, then each failure with what differed.
pub fn report(results: &[(String, Outcome)]) -> String {
    let count = |f: fn(&Outcome) -> bool| results.iter().filter(|(_, o)| f(o)).count();
    let mut out = format!(
        "{} passed, {} failed, {} skipped\n",
        count(|o| *o == Outcome::Passed),
        count(|o| matches!(o, Outcome::Failed(_))),
        count(|o| matches!(o, Outcome::Skipped(_))),
    );
    for (name, outcome) in results {
        match outcome {
            Outcome::Failed(why) => out.push_str(&format!("FAIL {name}: {why}\n")),
            Outcome::Skipped(why) => out.push_str(&format!("SKIP {name}: {why}\n")),
            Outcome::Passed => {}
        }
    }
    out
}

/// Where the answer differs from the expected one (an error's message aside), as
/// `path: got X, want Y` (at most eight).
pub fn differences(got: &Value, want: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let (Some(g), Some(w)) = (got.get("error"), want.get("error")) {
        if g.get("code") != w.get("code") {
            out.push(format!(
                "error code: got {}, want {} (got message {})",
                g.get("code").unwrap_or(&Value::Null),
                w.get("code").unwrap_or(&Value::Null),
                g.get("message").unwrap_or(&Value::Null)
            ));
        }
        return out;
    }
    diff_into("", got, want, &mut out);
    out
}

fn diff_into(path: &str, got: &Value, want: &Value, out: &mut Vec<String>) {
    if out.len() >= 8 || got == want {
        return;
    }
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            for (k, wv) in w {
                match g.get(k) {
                    Some(gv) => diff_into(&format!("{path}.{k}"), gv, wv, out),
                    None => out.push(format!("{path}.{k}: missing, want {}", brief(wv))),
                }
            }
            for (k, gv) in g {
                if !w.contains_key(k) {
                    out.push(format!("{path}.{k}: unexpected {}", brief(gv)));
                }
            }
        }
        (Value::Array(g), Value::Array(w)) if g.len() == w.len() => {
            for (i, (gv, wv)) in g.iter().zip(w).enumerate() {
                diff_into(&format!("{path}[{i}]"), gv, wv, out);
            }
        }
        (Value::String(g), Value::String(w)) if g.len() > 120 || w.len() > 120 => {
            // Long hex: where it starts to differ.
            let at = g.bytes().zip(w.bytes()).take_while(|(a, b)| a == b).count();
            let from = at.saturating_sub(8);
            let around = |s: &str| {
                s.get(from..(at + 40).min(s.len()))
                    .unwrap_or("")
                    .to_string()
            };
            out.push(format!(
                "{path}: differs at char {at}: got …{}…, want …{}… (lengths {} and {})",
                around(g),
                around(w),
                g.len(),
                w.len()
            ));
        }
        _ => out.push(format!("{path}: got {}, want {}", brief(got), brief(want))),
    }
}

/// The speconly check: a result where a result is expected (an error where an error is),
/// of the same JSON type, with the same keys if an object.
pub fn shape_differences(got: &Value, want: &Value) -> Vec<String> {
    let part = |v: &Value| {
        if v.get("error").is_some() {
            "error"
        } else {
            "result"
        }
    };
    if part(got) != part(want) {
        return vec![format!("got {}, want a {}", brief(got), part(want))];
    }
    let (g, w) = (&got[part(got)], &want[part(want)]);
    if std::mem::discriminant(g) != std::mem::discriminant(w) {
        return vec![format!("got {}, want {}", brief(g), brief(w))];
    }
    if let (Value::Object(g), Value::Object(w)) = (g, w) {
        let keys = |o: &serde_json::Map<String, Value>| {
            o.keys().cloned().collect::<std::collections::BTreeSet<_>>()
        };
        if keys(g) != keys(w) {
            return vec![format!("keys {:?}, want {:?}", keys(g), keys(w))];
        }
    }
    Vec::new()
}

fn brief(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 120 {
        format!("{}…", &s[..s.floor_char_boundary(120)])
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn comparison_is_exact_except_error_messages() {
        let want = json!({"jsonrpc":"2.0","id":1,"result":{"a":"0x1","b":[1,2]}});
        assert!(differences(&want, &want).is_empty());
        let got = json!({"jsonrpc":"2.0","id":1,"result":{"a":"0x2","b":[1,2],"c":0}});
        let d = differences(&got, &want);
        assert_eq!(d.len(), 2, "{d:?}");
        let err = |code: i64, msg: &str| json!({"id":1,"error":{"code":code,"message":msg}});
        assert!(differences(&err(-32000, "x"), &err(-32000, "y")).is_empty());
        assert!(!differences(&err(-32602, "x"), &err(-32000, "x")).is_empty());
        assert!(!differences(&err(-32000, "x"), &want).is_empty());
    }

    #[test]
    fn spec_only_checks_the_shape() {
        let want = json!({"result":{"pending":{"a":1},"queued":{}}});
        assert!(shape_differences(&json!({"result":{"pending":{},"queued":{}}}), &want).is_empty());
        assert!(!shape_differences(&json!({"result":{"pending":{}}}), &want).is_empty());
        assert!(!shape_differences(&json!({"error":{"code":1}}), &want).is_empty());
    }
}
