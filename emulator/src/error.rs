//! Errors as the service sends them: the model's HTTP status, the error type in the
//! `x-amzn-errortype` header and a JSON body with `Message`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    kind: &'static str,
    status: StatusCode,
    message: String,
}

impl ServiceError {
    fn new(kind: &'static str, status: u16, message: impl Into<String>) -> Self {
        Self { kind, status: StatusCode::from_u16(status).expect("valid status"), message: message.into() }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationException", 400, message)
    }

    /// A body that is not JSON at all, as AWS's JSON services report it.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new("SerializationException", 400, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new("ResourceNotFoundException", 404, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new("ConflictException", 409, message)
    }

    pub fn throttling() -> Self {
        Self::new("ThrottlingException", 429, "Rate exceeded")
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new("InternalServerException", 500, message)
    }

    pub fn quota(message: impl Into<String>) -> Self {
        Self::new("ServiceQuotaExceededException", 402, message)
    }

    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new("AccessDeniedException", 403, message)
    }

    /// CreateStreamSessionAdminShell on a session whose runtime cannot be reached yet.
    pub fn access_not_ready(message: impl Into<String>) -> Self {
        Self::new("StreamSessionAccessNotReadyException", 409, message)
    }

    /// What the service's front door answers for a path that is no operation.
    pub fn unknown_operation(method: &str, path: &str) -> Self {
        Self::new("UnknownOperationException", 404, format!("No operation matches {method} {path}"))
    }

    /// An error named by a fault-injection rule.
    pub fn by_name(kind: &str, message: impl Into<String>) -> Option<Self> {
        let error = match kind {
            "ValidationException" => Self::validation(message),
            "ResourceNotFoundException" => Self::not_found(message),
            "ConflictException" => Self::conflict(message),
            "ThrottlingException" => Self::new("ThrottlingException", 429, message),
            "InternalServerException" => Self::internal(message),
            "ServiceQuotaExceededException" => Self::quota(message),
            "AccessDeniedException" => Self::access_denied(message),
            "StreamSessionAccessNotReadyException" => Self::access_not_ready(message),
            _ => return None,
        };
        Some(error)
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
