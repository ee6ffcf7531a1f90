//! `trait-rfm`: recency, frequency and monetary scores as computed traits, so every segment,
//! personalizer and journey reads them like any attribute instead of recomputing them:
//! `rfm_recency`, `rfm_frequency`, `rfm_monetary` (1 to 5), `rfm_cell` (R×100 + F×10 + M) and
//! `rfm_segment` (`champions`, `loyal`, `new`, `at_risk`, `lost` or `others`).
//!
//! Config: the breakpoints of `baton_sdk::rfm` (`purchase_event`, `revenue_property`,
//! `recency_days`, `frequency`, `monetary`), all optional. Recency moves with time, so a bulk
//! recompute (daily, say) keeps it current between purchases.

use baton_sdk::rfm::{self, Breakpoints};
use baton_sdk::*;

/// The plugin.
pub struct RfmTraits;

/// The traits this plugin writes.
const TRAITS: [&str; 5] = ["rfm_recency", "rfm_frequency", "rfm_monetary", "rfm_cell", "rfm_segment"];

fn breakpoints(config: &str) -> Result<Breakpoints, ConfigError> {
    let breakpoints: Breakpoints =
        serde_json::from_str(config).map_err(|e| ConfigError::new("", &e.to_string()))?;
    breakpoints.check()?;
    Ok(breakpoints)
}

impl Plugin for RfmTraits {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "trait-rfm",
            env!("CARGO_PKG_VERSION"),
            PluginKind::ComputedTrait,
            "Recency, frequency and monetary scores, the RFM cell and segment, as profile traits.",
        )
        .with_needs(Needs::none().with_events(["*"], None))
        .with_provides(TRAITS)
    }

    fn validate_config(config: &str) -> Result<(), ConfigError> {
        breakpoints(config).map(drop)
    }

    /// Only the purchase events.
    fn needs_for_config(config: &str) -> Needs {
        match breakpoints(config) {
            Ok(b) => Needs::none().with_events([b.purchase_event.as_str()], None),
            Err(_) => Self::info().needs,
        }
    }
}

impl ComputedTrait for RfmTraits {
    fn compute(invocation: Invocation, subjects: Vec<Subject>) -> Result<Vec<Vec<Attribute>>, PluginError> {
        let breakpoints = breakpoints(&invocation.config)
            .map_err(|e| PluginError::new("invalid_config", &format!("{}: {}", e.path, e.message)))?;
        subjects
            .iter()
            .map(|subject| {
                let [r, f, m] = breakpoints.scores(subject, invocation.now)?;
                Ok(vec![
                    Attribute::new(TRAITS[0], Value::Integer(i64::from(r))),
                    Attribute::new(TRAITS[1], Value::Integer(i64::from(f))),
                    Attribute::new(TRAITS[2], Value::Integer(i64::from(m))),
                    Attribute::new(TRAITS[3], Value::Integer(rfm::cell([r, f, m]) as i64)),
                    Attribute::new(TRAITS[4], Value::Text(rfm::segment_of([r, f, m]).into())),
                ])
            })
            .collect()
    }
}

baton_sdk::computed_trait!(RfmTraits);

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_750_000_000_000;
    const DAY: i64 = 86_400_000;

    fn customer(orders: &[(i64, f64)]) -> Subject {
        Subject {
            profile_id: "p".into(),
            attributes: vec![],
            events: orders
                .iter()
                .enumerate()
                .map(|(i, (days_ago, revenue))| Event {
                    id: format!("o{i}"),
                    profile_id: "p".into(),
                    name: "order_completed".into(),
                    timestamp: NOW - days_ago * DAY,
                    properties: format!(r#"{{"revenue": {revenue}}}"#),
                    campaign_id: None,
                })
                .collect(),
            timezone: None,
            trigger: None,
        }
    }

    #[test]
    fn scores_cells_and_segments_as_traits() {
        let invocation = Invocation { campaign_id: String::new(), config: "{}".into(), now: NOW, seed: 0 };
        let champion: Vec<(i64, f64)> = (0..9).map(|i| (3 + i * 10, 120.0)).collect();
        let traits =
            RfmTraits::compute(invocation, vec![customer(&champion), customer(&[(200, 30.0)])]).unwrap();
        let values =
            |t: &[Attribute]| t.iter().map(|a| (a.name.clone(), a.value.clone())).collect::<Vec<_>>();
        assert_eq!(
            values(&traits[0]),
            vec![
                ("rfm_recency".into(), Value::Integer(5)),
                ("rfm_frequency".into(), Value::Integer(5)),
                ("rfm_monetary".into(), Value::Integer(5)),
                ("rfm_cell".into(), Value::Integer(555)),
                ("rfm_segment".into(), Value::Text("champions".into())),
            ]
        );
        assert_eq!(traits[1][3].value, Value::Integer(121));
        assert_eq!(traits[1][4].value, Value::Text("lost".into()));
        assert_eq!(
            RfmTraits::validate_config(r#"{"frequency": [4, 2, 1, 8]}"#).unwrap_err().path,
            "/frequency"
        );
        assert_eq!(RfmTraits::needs_for_config(r#"{"purchase_event": "purchase"}"#).events, vec!["purchase"]);
        assert_eq!(RfmTraits::info().provides, TRAITS.to_vec());
    }
}
