//! TLS for distributed runs, with rustls (ring) through tonic: the controller's certificate and
//! optional client-certificate check (`--tls-cert`, `--tls-key`, `--client-ca`), and the dialling
//! side's trust and client certificate (`--ca-file`, `--tls-cert`, `--tls-key`).
//!
//! Every PEM file is read and checked here, before anything listens or dials, so a wrong file is
//! reported by name with what to do — not later as an anonymous handshake failure.
//!
//! Trust on the dialling side: with `--ca-file` only the CAs in that file are trusted (the
//! built-in public roots are not: a private CA pins the controller's identity to it); without it,
//! the Mozilla roots built into the binary (`webpki-roots`) are, for a controller whose
//! certificate comes from a public CA.

use anyhow::{Context, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// The controller's TLS settings (`--tls-cert`, `--tls-key`, `--client-ca`).
#[derive(Clone, Debug)]
pub struct ServerFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// When set, both ports require a client certificate signed by one of these CAs.
    pub client_ca: Option<PathBuf>,
}

/// A dialling side's TLS settings (`--ca-file`, `--tls-cert`, `--tls-key`).
#[derive(Clone, Debug, Default)]
pub struct ClientFiles {
    pub ca_file: Option<PathBuf>,
    /// The client certificate and its key, for a controller started with `--client-ca`.
    pub identity: Option<(PathBuf, PathBuf)>,
}

fn read(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read the {what} file {}", path.display()))
}

/// Reads a PEM file of certificates and checks it holds at least one that parses.
fn certificates(
    path: &Path,
    what: &str,
) -> anyhow::Result<(Vec<u8>, Vec<CertificateDer<'static>>)> {
    let pem = read(path, what)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            anyhow::anyhow!(
                "the {what} file {} is not valid PEM ({e}): give a PEM file with \
                 `-----BEGIN CERTIFICATE-----` blocks",
                path.display()
            )
        })?;
    if certs.is_empty() {
        bail!(
            "the {what} file {} holds no certificate: give a PEM file with \
             `-----BEGIN CERTIFICATE-----` blocks (a private key goes to --tls-key)",
            path.display()
        );
    }
    Ok((pem, certs))
}

/// Reads a PEM private key and checks that it belongs to the end-entity certificate `certs[0]`.
fn private_key(
    path: &Path,
    cert_path: &Path,
    certs: Vec<CertificateDer<'static>>,
) -> anyhow::Result<Vec<u8>> {
    let pem = read(path, "private key")?;
    let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        anyhow::anyhow!(
            "the private key file {} holds no usable key ({e}): give a PEM file with a \
             `-----BEGIN PRIVATE KEY-----` (PKCS#8), `RSA PRIVATE KEY` or `EC PRIVATE KEY` block",
            path.display()
        )
    })?;
    let provider = rustls::crypto::ring::default_provider();
    let key_path = path.display();
    rustls::sign::CertifiedKey::from_der(certs, key, &provider).map_err(|e| {
        anyhow::anyhow!(
            "the private key {key_path} cannot be used with the certificate {} ({e}): give the \
             key the certificate was issued for (RSA, ECDSA P-256/P-384 or Ed25519)",
            cert_path.display()
        )
    })?;
    Ok(pem)
}

fn identity(cert: &Path, key: &Path) -> anyhow::Result<Identity> {
    let (cert_pem, certs) = certificates(cert, "certificate")?;
    let key_pem = private_key(key, cert, certs)?;
    Ok(Identity::from_pem(cert_pem, key_pem))
}

impl ServerFiles {
    /// Reads and checks the files, for both of the controller's ports.
    pub fn load(&self) -> anyhow::Result<ServerTlsConfig> {
        let mut config = ServerTlsConfig::new().identity(identity(&self.cert, &self.key)?);
        if let Some(ca) = &self.client_ca {
            let (pem, _) = certificates(ca, "client CA")?;
            config = config.client_ca_root(Certificate::from_pem(pem));
        }
        Ok(config.timeout(std::time::Duration::from_secs(10)))
    }
}

impl ClientFiles {
    /// Reads and checks the files: the TLS settings used for an `https://` controller URL.
    pub fn load(&self) -> anyhow::Result<ClientTlsConfig> {
        let mut config = ClientTlsConfig::new().timeout(std::time::Duration::from_secs(10));
        config = match &self.ca_file {
            Some(ca) => {
                let (pem, _) = certificates(ca, "CA")?;
                config.ca_certificate(Certificate::from_pem(pem))
            }
            None => config.trust_anchors(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        };
        if let Some((cert, key)) = &self.identity {
            config = config.identity(identity(cert, key)?);
        }
        Ok(config)
    }

    /// Whether any TLS file was given (they only make sense with an `https://` URL).
    pub fn any(&self) -> bool {
        self.ca_file.is_some() || self.identity.is_some()
    }
}

/// The TLS settings for dialling `url`: `Some` for `https://`, `None` for `http://` (an error if
/// TLS files were given for a plain URL, since they would silently do nothing).
pub fn for_url(url: &str, files: &ClientFiles) -> anyhow::Result<Option<ClientTlsConfig>> {
    let https = url
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
    if https {
        return files.load().map(Some);
    }
    if files.any() {
        bail!(
            "--ca-file, --tls-cert and --tls-key need an https:// controller URL, not {url}: \
             a plain http:// connection would not use them"
        );
    }
    Ok(None)
}
