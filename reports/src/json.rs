//! The JSON renderer and reader: the report model as serde writes it, with a schema version a
//! reader checks before trusting the rest.

use crate::{Report, SCHEMA_VERSION};

/// The report as pretty JSON, with a final newline.
pub fn render(report: &Report) -> String {
    serde_json::to_string_pretty(report).expect("reports serialize") + "\n"
}

/// Reads a report written by this or an earlier schema version; a newer one is refused with a
/// message that says so, rather than misread.
pub fn parse(text: &str) -> Result<Report, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let version = value
        .get("schema_version")
        .and_then(|v| v.as_u64())
        .ok_or("not a faultline report: no schema_version field")?;
    if version > SCHEMA_VERSION as u64 {
        return Err(format!(
            "report schema version {version} is newer than this faultline reads ({SCHEMA_VERSION}); use a newer faultline"
        ));
    }
    serde_json::from_value(value).map_err(|e| format!("not a faultline report: {e}"))
}
