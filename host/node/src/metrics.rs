//! Prometheus text exposition for `GET /metrics` on the admin listener. Today it carries the
//! per-searcher bundle counters; the other series of the node join here as they are built.

use std::fmt::Write;

use ordo_builder::Builder;

/// Escapes a label value (backslash, quote, newline), as the text format requires.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The current metrics in Prometheus text format (version 0.0.4).
pub fn render(builder: &Builder) -> String {
    let ledger = builder.searcher_ledger();
    let next = builder.head().number() + 1;
    let stats = ledger.snapshot();
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (searcher, s) in &stats {
            let who = label(searcher);
            match name {
                "ordo_searcher_bundles_proposed_total" => {
                    let _ = writeln!(out, "{name}{{searcher=\"{who}\"}} {}", s.proposed);
                }
                "ordo_searcher_bundles_landed_total" => {
                    let _ = writeln!(out, "{name}{{searcher=\"{who}\"}} {}", s.landed);
                }
                "ordo_searcher_bundles_dropped_total" => {
                    for (reason, n) in &s.dropped {
                        let _ = writeln!(
                            out,
                            "{name}{{searcher=\"{who}\",reason=\"{}\"}} {n}",
                            label(reason)
                        );
                    }
                }
                "ordo_searcher_bids_paid_wei_total" => {
                    let _ = writeln!(out, "{name}{{searcher=\"{who}\"}} {}", s.paid);
                }
                _ => {
                    let limited = u8::from(ledger.rate_limited(searcher, next));
                    let _ = writeln!(out, "{name}{{searcher=\"{who}\"}} {limited}");
                }
            }
        }
    };
    family(
        "ordo_searcher_bundles_proposed_total",
        "counter",
        "Bundles offered for a block, per searcher.",
    );
    family(
        "ordo_searcher_bundles_landed_total",
        "counter",
        "Bundles included whole, per searcher.",
    );
    family(
        "ordo_searcher_bundles_dropped_total",
        "counter",
        "Bundles left out, per searcher and reason.",
    );
    family(
        "ordo_searcher_bids_paid_wei_total",
        "counter",
        "Wei paid to the coinbase by landed bundles (priority fees plus direct payments).",
    );
    family(
        "ordo_searcher_rate_limited",
        "gauge",
        "1 while the searcher's bundles are refused for failing simulation.",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::label;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
