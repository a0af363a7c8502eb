// A self-signed TLS certificate for the sandbox's stand-in LLM API. The
// sandbox points an agent's API host names at the stand-in and makes the
// agent's TLS stack trust this certificate (NODE_EXTRA_CA_CERTS, SSL_CERT_FILE,
// CURL_CA_BUNDLE), so the certificate must be acceptable both as a server
// leaf and as its own trust anchor: it carries the same extensions as
// samples/net/make-cert.sh, with an EC P-256 key.
//
// A trust anchor is a CA, so it is made harmless beyond the run: a critical
// nameConstraints extension permits only the names it serves (its DNS names
// and their subdomains, 127.0.0.0/8, ::1 and its addresses), so a leaf issued
// with its key for any other name fails verification; it is valid for hours
// (kValidForSec), not days; and its private key never touches a disk: it is
// handed to the TLS server from memory (write_certificate writes cert.pem
// only), so a SIGKILLed agenttrace leaves no key behind.
#pragma once

#include <string>
#include <vector>

namespace agenttrace::sandbox {

struct Certificate {
  std::string cert_pem;  // the certificate, PEM
  std::string key_pem;   // its private key, unencrypted PKCS#8 PEM
};

struct CertificateFiles {
  std::string cert_path;  // DIR/cert.pem, mode 0644 (there is no key file)
};

// How long the certificate is valid: from kValidBeforeNowSec ago (a client
// clock a little behind) until kValidForSec from now (a long agent session
// in a sandbox or a diff of many repeats; each run makes a new one).
inline constexpr long kValidBeforeNowSec = 3600;
inline constexpr long kValidForSec = 12L * 3600;

// A fresh EC P-256 key and an X.509 v3 certificate with subject and issuer
// CN=localhost, valid from an hour ago for 12 hours, whose subjectAltName
// names localhost, 127.0.0.1, ::1 and each of `names` (an address literal
// becomes an IP entry, anything else a DNS entry; duplicates are dropped),
// and whose nameConstraints permit exactly those names (DNS names with their
// subdomains; 127.0.0.0/8 for 127.0.0.1, each other address alone).
// Throws agenttrace::Error for a name that is not a host name or address, or
// when OpenSSL fails.
Certificate make_self_signed_certificate(const std::vector<std::string>& names);

// Writes cert.pem into `dir` (created, mode 0755, if missing) through a
// temporary file renamed into place, so a reader never sees a half-written
// file. The key stays in `certificate` (memory) only. Throws agenttrace::Error.
CertificateFiles write_certificate(const Certificate& certificate, const std::string& dir);

// The newest OpenSSL error as text ("unknown OpenSSL error" when the queue is
// empty), clearing the queue so later failures do not report stale errors.
std::string openssl_error();

}  // namespace agenttrace::sandbox
