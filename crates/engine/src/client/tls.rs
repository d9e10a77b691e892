//! The TLS client configuration: rustls with the ring provider, the webpki-roots trust store plus
//! the plan's `ca_file`, and the ALPN protocols of its `http_version`. Built once per run and
//! shared by every connection.
//!
//! Certificates are always verified: a self-signed or internal server is trusted by naming its CA
//! in `ca_file`, never by switching verification off, so a load test cannot silently run against
//! an impostor.

use crate::EngineError;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use stampede_scenario::{HttpOptions, HttpVersion};
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::TlsConnector;

pub(crate) fn tls_connector(http: &HttpOptions) -> Result<TlsConnector, EngineError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(file) = &http.ca_file {
        for cert in read_certificates(file)? {
            roots.add(cert).map_err(|e| {
                EngineError::Tls(format!(
                    "ca_file {}: invalid certificate: {e}",
                    file.display()
                ))
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| EngineError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn(http.version);
    Ok(TlsConnector::from(Arc::new(config)))
}

/// ALPN protocols offered, in order of preference.
fn alpn(version: HttpVersion) -> Vec<Vec<u8>> {
    match version {
        HttpVersion::Http1 => vec![b"http/1.1".to_vec()],
        HttpVersion::Http2 => vec![b"h2".to_vec()],
        HttpVersion::Auto => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
    }
}

/// Every certificate of a PEM file; an error when it cannot be read or holds none.
fn read_certificates(file: &Path) -> Result<Vec<CertificateDer<'static>>, EngineError> {
    let error = |reason: String| EngineError::Tls(format!("ca_file {}: {reason}", file.display()));
    let pem = std::fs::read(file).map_err(|e| error(format!("cannot read it: {e}")))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(format!("invalid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(error(
            "no certificate found (expected `-----BEGIN CERTIFICATE-----` blocks)".into(),
        ));
    }
    Ok(certs)
}
