//! The WHERE clause of an operator's event query, built once for both stores
//! (they differ only in how a placeholder is written).

use orderhook_actors::domain::EventFilter;
use time::OffsetDateTime;

/// One bound value of a filter.
pub enum FilterValue {
    Text(String),
    Time(OffsetDateTime),
}

/// `WHERE …` (or an empty string) and its values in placeholder order.
pub fn where_clause(
    filter: &EventFilter,
    placeholder: impl Fn(usize) -> String,
) -> (String, Vec<FilterValue>) {
    let mut conditions = Vec::new();
    let mut values = Vec::new();
    let mut add = |column: &str, op: &str, value: FilterValue| {
        values.push(value);
        conditions.push(format!("{column} {op} {}", placeholder(values.len())));
    };
    if let Some(provider) = &filter.provider {
        add("provider", "=", FilterValue::Text(provider.clone()));
    }
    if let Some(client) = &filter.client_id {
        add("client_id", "=", FilterValue::Text(client.clone()));
    }
    if let Some(status) = filter.status {
        add("status", "=", FilterValue::Text(status.as_str().to_owned()));
    }
    if let Some(since) = filter.since {
        add("created_at", ">=", FilterValue::Time(since));
    }
    if let Some(until) = filter.until {
        add("created_at", "<", FilterValue::Time(until));
    }
    if conditions.is_empty() {
        (String::new(), values)
    } else {
        (format!("WHERE {}", conditions.join(" AND ")), values)
    }
}

#[cfg(test)]
mod tests {
    use orderhook_actors::domain::EventStatus;

    use super::*;

    #[test]
    fn only_given_fields_narrow() {
        let (clause, values) = where_clause(&EventFilter::default(), |i| format!("${i}"));
        assert!(clause.is_empty() && values.is_empty());
        let filter = EventFilter {
            client_id: Some("c1".into()),
            status: Some(EventStatus::Failed),
            ..EventFilter::default()
        };
        let (clause, values) = where_clause(&filter, |i| format!("?{i}"));
        assert_eq!(clause, "WHERE client_id = ?1 AND status = ?2");
        assert_eq!(values.len(), 2);
    }
}
