//! A stateless transform, the job Redpanda Data Transforms does: keep the orders of at least
//! 100 (in any currency) and reshape them to `{"id", "customer", "total_cents"}`, keyed by
//! customer. Input: JSON `{"id": "...", "customer": "...", "amount": <f64>, "currency": "EUR"}`.

use serde::{Deserialize, Serialize};
use weir_sdk::{Output, Outputs, Record, Result, Transform};

/// The filter module.
pub struct BigOrders;

/// An input order.
#[derive(Debug, Deserialize)]
pub struct Order {
    /// Order id.
    pub id: String,
    /// Customer id: the output key.
    pub customer: String,
    /// Amount in the currency's units.
    pub amount: f64,
    /// ISO currency code.
    pub currency: String,
}

/// The reshaped output.
#[derive(Debug, PartialEq, Serialize)]
pub struct BigOrder {
    /// Order id.
    pub id: String,
    /// Customer id.
    pub customer: String,
    /// Amount in cents.
    pub total_cents: i64,
    /// ISO currency code.
    pub currency: String,
}

/// Orders of at least this amount pass the filter.
pub const THRESHOLD: f64 = 100.0;

/// The filter and reshape, as a plain function.
pub fn big_order(order: Order) -> Option<BigOrder> {
    (order.amount >= THRESHOLD).then(|| BigOrder {
        total_cents: (order.amount * 100.0).round() as i64,
        id: order.id,
        customer: order.customer,
        currency: order.currency,
    })
}

#[weir_sdk::processor]
impl Transform for BigOrders {
    fn transform(record: &Record, out: &mut Outputs) -> Result<()> {
        if let Some(order) = big_order(record.json()?) {
            let key = order.customer.clone();
            out.emit(Output::json(&order)?.with_key(key));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_big_orders_in_cents() {
        let order = |amount| Order {
            id: "o1".into(),
            customer: "c1".into(),
            amount,
            currency: "EUR".into(),
        };
        assert_eq!(big_order(order(99.99)), None);
        assert_eq!(big_order(order(100.0)).map(|o| o.total_cents), Some(10_000));
        assert_eq!(big_order(order(250.456)).map(|o| o.total_cents), Some(25_046));
    }
}
