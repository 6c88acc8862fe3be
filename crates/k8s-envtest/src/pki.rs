//! The control plane's certificates: a CA, the apiserver's serving certificate (127.0.0.1,
//! localhost and the in-cluster service names), client certificates (CN = user, O = groups) and
//! the service-account signing key.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

use crate::Error;

fn pki_err(what: &'static str) -> impl Fn(rcgen::Error) -> Error {
    move |e| Error::Pki {
        what,
        message: e.to_string(),
    }
}

/// The cluster's certificate authority (it signs serving and client certificates, and the
/// controller-manager's CSR signer uses it too).
pub(crate) struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
}

/// A certificate and its private key, PEM.
pub(crate) struct Pair {
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
}

impl Ca {
    pub(crate) fn generate() -> Result<Ca, Error> {
        let err = pki_err("the CA certificate");
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(&err)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "k8s-envtest-ca");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().map_err(&err)?;
        let cert = params.self_signed(&key).map_err(&err)?;
        Ok(Ca {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The apiserver's serving certificate.
    pub(crate) fn serving(&self) -> Result<Pair, Error> {
        let err = pki_err("the serving certificate");
        let mut params = CertificateParams::new(vec![
            "localhost".to_string(),
            "kubernetes".to_string(),
            "kubernetes.default".to_string(),
            "kubernetes.default.svc".to_string(),
            "kubernetes.default.svc.cluster.local".to_string(),
        ])
        .map_err(&err)?;
        for ip in [
            std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            // The `kubernetes` Service's cluster IP (first of --service-cluster-ip-range).
            std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)),
        ] {
            params.subject_alt_names.push(SanType::IpAddress(ip));
        }
        params
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().map_err(&err)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(&err)?;
        Ok(Pair {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// A client certificate: CN = `user`, one O per group (how the apiserver reads them).
    pub(crate) fn client(&self, user: &str, groups: &[&str]) -> Result<Pair, Error> {
        let err = pki_err("a client certificate");
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(&err)?;
        params.distinguished_name.push(DnType::CommonName, user);
        for g in groups {
            params.distinguished_name.push(DnType::OrganizationName, *g);
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().map_err(&err)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(&err)?;
        Ok(Pair {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// The service-account token signing key (ECDSA P-256): `(private key PKCS#8 PEM, public key
/// PEM)`. The apiserver and the controller-manager's token controller sign with the private
/// key; the apiserver verifies with the public one.
pub(crate) fn service_account_key() -> Result<(String, String), Error> {
    let key = KeyPair::generate().map_err(pki_err("the service-account key"))?;
    Ok((key.serialize_pem(), key.public_key_pem()))
}
