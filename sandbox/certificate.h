// A self-signed TLS certificate for the sandbox's stand-in LLM API. The
// sandbox points an agent's API host names at the stand-in and makes the
// agent's TLS stack trust this certificate (NODE_EXTRA_CA_CERTS, SSL_CERT_FILE,
// CURL_CA_BUNDLE), so the certificate must be acceptable both as a server
// leaf and as its own trust anchor: it carries the same extensions as
// samples/net/make-cert.sh, with an EC P-256 key.
#pragma once

#include <string>
#include <vector>

namespace agenttrace::sandbox {

struct Certificate {
  std::string cert_pem;  // the certificate, PEM
  std::string key_pem;   // its private key, unencrypted PKCS#8 PEM
};

struct CertificateFiles {
  std::string cert_path;  // DIR/cert.pem, mode 0644
  std::string key_path;   // DIR/key.pem, mode 0600
};

// A fresh EC P-256 key and an X.509 v3 certificate with subject and issuer
// CN=localhost, valid from an hour ago for 30 days, whose subjectAltName
// names localhost, 127.0.0.1, ::1 and each of `names` (an address literal
// becomes an IP entry, anything else a DNS entry; duplicates are dropped).
// Throws agenttrace::Error for a name that is not a host name or address, or
// when OpenSSL fails.
Certificate make_self_signed_certificate(const std::vector<std::string>& names);

// Writes cert.pem and key.pem into `dir` (created, mode 0755, if missing),
// each through a temporary file renamed into place, so a reader never sees a
// half-written file. Throws agenttrace::Error.
CertificateFiles write_certificate(const Certificate& certificate, const std::string& dir);

}  // namespace agenttrace::sandbox
