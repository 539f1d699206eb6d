//! TLS termination with rustls; ALPN offers h2 and http/1.1.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// PEM-encoded certificate chain and private key for one listener.
#[derive(Debug, Clone)]
pub struct TlsMaterial {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("listener {listener}: no certificate found in the cert PEM")]
    NoCertificate { listener: String },
    #[error("listener {listener}: the cert PEM could not be read: {source}")]
    BadCertificate {
        listener: String,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("listener {listener}: no private key found in the key PEM: {source}")]
    BadKey {
        listener: String,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("listener {listener}: certificate and key do not form a usable TLS setup: {source}")]
    Rustls {
        listener: String,
        #[source]
        source: rustls::Error,
    },
}

pub(crate) fn acceptor(listener: &str, material: &TlsMaterial) -> Result<TlsAcceptor, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&material.cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|source| TlsError::BadCertificate {
            listener: listener.into(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            listener: listener.into(),
        });
    }
    let key =
        PrivateKeyDer::from_pem_slice(&material.key_pem).map_err(|source| TlsError::BadKey {
            listener: listener.into(),
            source,
        })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
        .map_err(|source| TlsError::Rustls {
            listener: listener.into(),
            source,
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
