//! Errors as the service sends them: the model's HTTP status, the error type in the
//! `x-amzn-errortype` header and a JSON body with `Message`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// `ErrorShape`: the model's error shapes, each with its name and the model's HTTP status
/// (`build.rs` writes the rows from `model/service-2.json`).
macro_rules! model_errors {
    ($($shape:ident = $status:literal,)*) => {
        /// An error shape of the service model.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorShape {
            $($shape,)*
        }

        impl ErrorShape {
            pub const ALL: &[ErrorShape] = &[$(Self::$shape,)*];

            /// The shape's name: the `x-amzn-errortype` the SDK reads.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$shape => stringify!($shape),)*
                }
            }

            /// The model's `httpStatusCode` for the shape.
            pub fn status(self) -> u16 {
                match self {
                    $(Self::$shape => $status,)*
                }
            }
        }
    };
}

include!(concat!(env!("OUT_DIR"), "/model_errors.rs"));

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    kind: &'static str,
    status: StatusCode,
    message: String,
}

impl ServiceError {
    /// An error of the model: its name and HTTP status are the model's.
    pub fn new(shape: ErrorShape, message: impl Into<String>) -> Self {
        Self::of_protocol(shape.name(), shape.status(), message)
    }

    /// An error of the JSON protocol itself, which the model's shapes do not list.
    fn of_protocol(kind: &'static str, status: u16, message: impl Into<String>) -> Self {
        Self { kind, status: StatusCode::from_u16(status).expect("valid status"), message: message.into() }
    }

    /// The most common refusal: input the model or a documented rule does not allow.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorShape::ValidationException, message)
    }

    /// A GPU quota or a fixed limit the request would exceed.
    pub fn quota(message: impl Into<String>) -> Self {
        Self::new(ErrorShape::ServiceQuotaExceededException, message)
    }

    /// A body that is not JSON at all, as AWS's JSON services report it.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::of_protocol("SerializationException", 400, message)
    }

    /// What the service's front door answers for a path that is no operation.
    pub fn unknown_operation(method: &str, path: &str) -> Self {
        Self::of_protocol("UnknownOperationException", 404, format!("No operation matches {method} {path}"))
    }

    /// An error of the model named by a fault-injection rule.
    pub fn by_name(kind: &str, message: impl Into<String>) -> Option<Self> {
        ErrorShape::ALL.iter().find(|shape| shape.name() == kind).map(|shape| Self::new(*shape, message))
    }

    pub fn kind(&self) -> &'static str {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        // The model's error shapes have one member, `Message`.
        let body = serde_json::json!({ "Message": self.message });
        let mut response = (self.status, axum::Json(body)).into_response();
        response.headers_mut().insert("x-amzn-errortype", HeaderValue::from_static(self.kind));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The service model's error shapes as the SDK reads them: the status the model gives, the
    /// shape's name in `x-amzn-errortype`; a fault rule may name any of them, and nothing else.
    #[test]
    fn every_model_error_answers_with_the_models_status_and_name() {
        for shape in ErrorShape::ALL {
            let response = ServiceError::by_name(shape.name(), "m").expect("a model shape").into_response();
            assert_eq!(response.status().as_u16(), shape.status());
            assert_eq!(response.headers()["x-amzn-errortype"], shape.name());
        }
        assert_eq!(ServiceError::quota("m").into_response().status().as_u16(), 402, "the model's 402, not 400");
        assert!(ServiceError::by_name("SerializationException", "m").is_none(), "not a shape of the model");
    }
}
