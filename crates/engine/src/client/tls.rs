//! The TLS client configuration: rustls with the ring provider, the webpki-roots trust store and
//! ALPN `http/1.1`. Built once per run and shared by every connection.

use crate::EngineError;
use std::sync::Arc;
use tokio_rustls::TlsConnector;

pub(crate) fn tls_connector() -> Result<TlsConnector, EngineError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| EngineError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsConnector::from(Arc::new(config)))
}
