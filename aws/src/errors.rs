//! SDK errors classified once, into the core's typed [`ApiError`].

use aws_sdk_gameliftstreams::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_types::error::display::DisplayErrorContext;
use watchdog_core::ports::{ApiError, ErrorKind};

fn kind_of(code: &str) -> ErrorKind {
    match code {
        "ResourceNotFoundException" | "NotFoundException" | "NotFound" => ErrorKind::NotFound,
        "ThrottlingException" | "Throttling" | "TooManyRequestsException" => ErrorKind::Throttled,
        "ConflictException" => ErrorKind::Conflict,
        "ValidationException" | "InvalidParameterValue" | "InvalidParameter" => ErrorKind::Validation,
        "ServiceQuotaExceededException" | "LimitExceededException" => ErrorKind::Quota,
        "AccessDeniedException" | "AccessDenied" | "AuthorizationError" => ErrorKind::AccessDenied,
        _ => ErrorKind::Other,
    }
}

/// `operation` failed with `err`: the service's code and message when it answered, the whole
/// error chain when it did not (timeouts, unreachable endpoints).
pub fn classify<E, R>(operation: &'static str, err: &SdkError<E, R>) -> ApiError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().unwrap_or("UnknownError");
            ApiError::new(operation, kind_of(code), code, e.message().unwrap_or("no message"))
        }
        other => ApiError::new(operation, ErrorKind::Other, "RequestFailed", DisplayErrorContext(other).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        assert_eq!(kind_of("ResourceNotFoundException"), ErrorKind::NotFound);
        assert_eq!(kind_of("ServiceQuotaExceededException"), ErrorKind::Quota);
        assert_eq!(kind_of("ThrottlingException"), ErrorKind::Throttled);
        assert_eq!(kind_of("InternalServerException"), ErrorKind::Other);
    }
}
