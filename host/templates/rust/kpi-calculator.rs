//! {{name}}: a KPI calculator. Counts the events it is fed.

use baton_sdk::*;

/// The plugin.
pub struct Count;

/// The running count.
pub struct Total(u64);

impl Plugin for Count {
    fn info() -> PluginInfo {
        PluginInfo::new("{{name}}", "0.1.0", PluginKind::KpiCalculator, "Counts events.")
            .with_needs(Needs::none().with_events(["*"], None))
    }
}

impl KpiCalculator for Count {
    type Accumulator = Total;
    fn open(_: Invocation) -> Result<Total, PluginError> {
        Ok(Total(0))
    }
}

impl Accumulator for Total {
    fn add(&mut self, events: Vec<Event>) -> Result<(), PluginError> {
        self.0 += events.len() as u64;
        Ok(())
    }

    fn finish(&mut self) -> Result<Vec<Metric>, PluginError> {
        Ok(vec![Metric {
            name: "events".into(),
            value: self.0 as f64,
            unit: "count".into(),
            numerator: None,
            denominator: None,
            denominator_name: None,
            dimensions: vec![],
        }])
    }
}

baton_sdk::kpi_calculator!(Count);
