//! SNS helpers the publishing functions share.

use aws_sdk_sns::types::MessageAttributeValue;

/// A `String` message attribute, the kind subscription filter policies match on.
pub fn string_attribute(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder().data_type("String").string_value(value).build().expect("data type is set")
}
