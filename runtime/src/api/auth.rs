//! Bearer-token checks for the API's mutating endpoints.
//!
//! Tokens are compared in constant time (`subtle`) on their sha256 digests, so neither the
//! content nor the length of the configured token leaks through response timing.

use super::error::ApiError;
use axum::http::{HeaderMap, StatusCode, header};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The token mutating requests must present, if any.
#[derive(Clone)]
pub struct Auth {
    digest: Option<[u8; 32]>,
}

impl Auth {
    /// Requires `token` when given; without one every request is allowed (the server refuses
    /// to listen beyond loopback without a token unless told to).
    pub fn new(token: Option<&str>) -> Self {
        Auth {
            digest: token.map(|t| Sha256::digest(t.as_bytes()).into()),
        }
    }

    /// Whether a token is configured (mutations need it).
    pub fn required(&self) -> bool {
        self.digest.is_some()
    }

    /// Checks the request's `Authorization: Bearer ...` header.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(expected) = &self.digest else {
            return Ok(());
        };
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
        let Some(presented) = presented else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this endpoint changes the registry and needs `Authorization: Bearer TOKEN` \
                 (the CLI sends --token or WEIR_TOKEN)",
            ));
        };
        let digest: [u8; 32] = Sha256::digest(presented.trim().as_bytes()).into();
        if bool::from(digest.ct_eq(expected)) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the bearer token is not the one this server was started with (WEIR_TOKEN)",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(header::AUTHORIZATION, v);
        }
        h
    }

    #[test]
    fn only_the_configured_token_passes() {
        let auth = Auth::new(Some("s3cret"));
        assert!(auth.check(&headers("Bearer s3cret")).is_ok());
        assert_eq!(
            auth.check(&headers("Bearer s3cre")).map_err(|e| e.code),
            Err("unauthorized")
        );
        assert_eq!(
            auth.check(&headers("Basic s3cret")).map_err(|e| e.code),
            Err("unauthorized")
        );
        assert_eq!(
            auth.check(&HeaderMap::new()).map_err(|e| e.code),
            Err("unauthorized")
        );
        assert!(Auth::new(None).check(&HeaderMap::new()).is_ok());
    }
}
