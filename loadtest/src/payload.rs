//! Order bodies modelled on the seed's Careem sample (~1.2 KB), each with an
//! order id that names the run, the tenant and the request, so the sink can
//! tell which request a delivery carries.

/// Everything before and after the order id, built once.
pub struct OrderTemplate {
    head: String,
    tail: &'static str,
}

const TAIL: &str = r#"", "order_number": "ORD-789", "status": "confirmed", "restaurant_id": "rest_456", "customer": {"id": "cust_789", "name": "Ahmed Ali", "phone": "+971501234567", "email": "ahmed@example.com"}, "items": [{"id": "item_123", "menu_item_id": "menu_456", "name": "Chicken Shawarma", "quantity": 2, "unit_price": "25.00", "total_price": "50.00", "modifiers": [{"id": "mod_789", "name": "Extra Sauce", "price": "2.00", "quantity": 1}]}, {"id": "item_124", "menu_item_id": "menu_457", "name": "Falafel Wrap", "quantity": 1, "unit_price": "18.00", "total_price": "18.00", "modifiers": [{"id": "mod_790", "name": "No Onions", "price": "0.00", "quantity": 1}]}, {"id": "item_125", "menu_item_id": "menu_458", "name": "Fresh Lemon Mint", "quantity": 2, "unit_price": "12.00", "total_price": "24.00", "modifiers": []}], "total_amount": "94.00", "currency": "AED", "delivery_address": {"formatted_address": "123 Sheikh Zayed Road, Dubai", "coordinates": {"lat": 25.2048, "lng": 55.2708}}, "special_instructions": "Please ring the bell twice", "payment_status": "paid", "payment_method": "card", "created_at": "2024-09-27T10:30:00Z"}}}"#;

impl OrderTemplate {
    pub fn new(event_type: &str) -> Self {
        Self {
            head: format!(
                r#"{{"event_type": "{event_type}", "timestamp": "2024-09-27T10:30:00Z", "data": {{"order": {{"id": ""#
            ),
            tail: TAIL,
        }
    }

    pub fn body(&self, order_id: &OrderId) -> Vec<u8> {
        let id = order_id.to_string();
        let mut body = Vec::with_capacity(self.head.len() + id.len() + self.tail.len());
        body.extend_from_slice(self.head.as_bytes());
        body.extend_from_slice(id.as_bytes());
        body.extend_from_slice(self.tail.as_bytes());
        body
    }
}

/// `{run}-{tenant}-{n}`: unique across runs, so duplicate suppression never
/// mistakes one request for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrderId {
    pub run: u32,
    pub tenant: usize,
    pub n: u64,
}

impl std::fmt::Display for OrderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "lt{:08x}-{}-{}", self.run, self.tenant, self.n)
    }
}

impl std::str::FromStr for OrderId {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let rest = s.strip_prefix("lt").ok_or(())?;
        let mut parts = rest.splitn(3, '-');
        let run = u32::from_str_radix(parts.next().ok_or(())?, 16).map_err(|_| ())?;
        let tenant = parts.next().ok_or(())?.parse().map_err(|_| ())?;
        let n = parts.next().ok_or(())?.parse().map_err(|_| ())?;
        Ok(Self { run, tenant, n })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_json_of_about_1_2_kb_carrying_their_order_id() {
        let id = OrderId {
            run: 0xabc,
            tenant: 7,
            n: 123_456,
        };
        let body = OrderTemplate::new("order.created").body(&id);
        assert!((1100..1400).contains(&body.len()), "{}", body.len());
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["event_type"], "order.created");
        let carried: OrderId = json["data"]["order"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(carried, id);
    }

    #[test]
    fn foreign_order_ids_do_not_parse() {
        for bad in ["", "careem_order_1", "ltzz-1-2", "lt1-2", "lt1-x-2"] {
            assert!(bad.parse::<OrderId>().is_err(), "{bad}");
        }
    }
}
