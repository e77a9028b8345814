//! An ordered JSON value for the `kafka-dump-log` payloads: fields stay in schema order, as
//! Kafka's generated `JsonConverter`s write them, while `serde_json::Map` (without the
//! `preserve_order` feature) would sort them. Converts to a plain [`Value`] for comparisons.

use serde_json::{Map, Value};

/// A JSON value whose objects keep their insertion order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OrderedJson {
    /// A scalar, or any value whose key order does not matter.
    Plain(Value),
    /// An object with its fields in order.
    Object(Vec<(&'static str, OrderedJson)>),
    /// An array.
    Array(Vec<OrderedJson>),
}

impl From<Value> for OrderedJson {
    fn from(v: Value) -> Self {
        OrderedJson::Plain(v)
    }
}

impl OrderedJson {
    /// The value as a `serde_json::Value` (object keys sorted).
    pub(crate) fn to_value(&self) -> Value {
        match self {
            OrderedJson::Plain(v) => v.clone(),
            OrderedJson::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_value()))
                    .collect::<Map<_, _>>(),
            ),
            OrderedJson::Array(items) => {
                Value::Array(items.iter().map(OrderedJson::to_value).collect())
            }
        }
    }

    /// Compact JSON text with object fields in order.
    pub(crate) fn write(&self, out: &mut String) {
        match self {
            OrderedJson::Plain(v) => out.push_str(&v.to_string()),
            OrderedJson::Object(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.to_string()).to_string());
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
            OrderedJson::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write(out);
                }
                out.push(']');
            }
        }
    }
}

/// Builds an [`OrderedJson::Object`] from an object being filled in field order.
#[derive(Debug, Default)]
pub(crate) struct ObjectBuilder(Vec<(&'static str, OrderedJson)>);

impl ObjectBuilder {
    /// Appends a field.
    pub(crate) fn put(&mut self, key: &'static str, value: impl Into<OrderedJson>) {
        self.0.push((key, value.into()));
    }

    /// The finished object.
    pub(crate) fn build(self) -> OrderedJson {
        OrderedJson::Object(self.0)
    }
}

/// `ordered!{"a" => json!(1), "b" => nested}`: an ordered object literal.
macro_rules! ordered {
    ($($k:literal => $v:expr),* $(,)?) => {
        $crate::metadata::json::OrderedJson::Object(vec![
            $(($k, $crate::metadata::json::OrderedJson::from($v)),)*
        ])
    };
}
pub(crate) use ordered;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keeps_field_order_and_escapes() {
        let j = ordered! {"zeta" => json!(1), "alpha" => json!("a\"b"), "list" =>
        OrderedJson::Array(vec![ordered!{"y" => json!(null), "x" => json!(true)}])};
        let mut s = String::new();
        j.write(&mut s);
        assert_eq!(
            s,
            r#"{"zeta":1,"alpha":"a\"b","list":[{"y":null,"x":true}]}"#
        );
        assert_eq!(
            j.to_value(),
            json!({"alpha": "a\"b", "zeta": 1, "list": [{"x": true, "y": null}]})
        );
    }
}
