//! The JSON Schema of the scenario format, generated from the types that
//! parse it (the private `raw` module), printed by `host-sim schema`. Fields the
//! parser reads as raw TOML (tables of headers, properties, bodies) are
//! described by the shapes the checks accept (the private `shapes` module).

use super::raw::RawScenario;

/// The scenario format's JSON Schema (draft 2020-12).
pub fn schema() -> serde_json::Value {
    let schema =
        schemars::generate::SchemaSettings::draft2020_12().into_generator().into_root_schema_for::<RawScenario>();
    schema.to_value()
}
