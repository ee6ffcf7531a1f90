//! `GET /v1/calendar`: what is planned, day by day: scheduled batch runs and journey waits that
//! come due.

use axum::extract::State;
use serde::Deserialize;

use super::AppState;
use super::admin::{Answer, ApiQuery, on_engine};

/// The days to plan: `from` to `to`, both included (UTC).
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CalendarQuery {
    /// The first day, `YYYY-MM-DD` (default: today).
    #[schemars(pattern(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), extend("format" = "date"))]
    from: Option<String>,
    /// The last day, `YYYY-MM-DD` (default: 30 days after `from`); at most 366 days are answered.
    #[schemars(pattern(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), extend("format" = "date"))]
    to: Option<String>,
}

pub async fn calendar(State(state): State<AppState>, ApiQuery(query): ApiQuery<CalendarQuery>) -> Answer {
    super::campaigns::check_days(&[&query.from, &query.to])?;
    on_engine(&state, move |e| Ok(e.calendar(query.from.as_deref(), query.to.as_deref())?)).await
}
