#include "sandbox/certificate.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <set>

#include "common/atomic_file.h"
#include "common/error.h"

namespace agenttrace::sandbox {
namespace {

constexpr const char* kCommonName = "localhost";

// The nameConstraints value for OpenSSL's configuration syntax: every name
// was checked by is_address or is_dns_name, so none can smuggle in a comma.
std::string name_constraints(const std::vector<std::string>& san) {
  std::string out = "critical";
  for (const auto& name : san) {
    unsigned char buf[sizeof(in6_addr)];
    if (inet_pton(AF_INET, name.c_str(), buf) == 1) {
      // The loopback network as a whole: servers bind any 127.x address.
      out += buf[0] == 127 ? ",permitted;IP:127.0.0.0/255.0.0.0" : ",permitted;IP:" + name + "/255.255.255.255";
    } else if (inet_pton(AF_INET6, name.c_str(), buf) == 1) {
      out += ",permitted;IP:" + name + "/ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    } else {
      // A dNSName constraint covers the name and its subdomains; for a
      // wildcard "*.example.com" the subtree is example.com.
      out += ",permitted;DNS:" + (name.rfind("*.", 0) == 0 ? name.substr(2) : name);
    }
  }
  return out;
}

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;
using NamePtr = std::unique_ptr<GENERAL_NAME, Deleter<GENERAL_NAME, GENERAL_NAME_free>>;

[[noreturn]] void fail(const std::string& what) {
  throw Error("could not " + what + " for the stand-in's TLS certificate (" + openssl_error() + ").");
}

bool is_address(const std::string& name) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

// Letters, digits, '-' and '_' in dot-separated labels, optionally behind one
// leading "*." wildcard: what a DNS subjectAltName may hold.
bool is_dns_name(const std::string& name) {
  std::string rest = name.rfind("*.", 0) == 0 ? name.substr(2) : name;
  if (rest.empty() || rest.size() > 253) return false;
  size_t label = 0;
  for (char c : rest) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_';
    if (!ok || ++label > 63) return false;
  }
  return label > 0;  // no empty label, no trailing dot
}

std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

void add_general_name(GENERAL_NAMES* names, const std::string& name) {
  NamePtr gen(GENERAL_NAME_new());
  if (!gen) fail("allocate a subjectAltName entry");
  if (is_address(name)) {
    ASN1_OCTET_STRING* ip = a2i_IPADDRESS(name.c_str());
    if (!ip) fail("encode the address " + name);
    GENERAL_NAME_set0_value(gen.get(), GEN_IPADD, ip);
  } else {
    ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
    if (!dns || !ASN1_STRING_set(dns, name.data(), static_cast<int>(name.size()))) {
      ASN1_IA5STRING_free(dns);
      fail("encode the name " + name);
    }
    GENERAL_NAME_set0_value(gen.get(), GEN_DNS, dns);
  }
  if (!sk_GENERAL_NAME_push(names, gen.get())) fail("add " + name + " to the subjectAltName");
  gen.release();
}

void add_extension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  if (!ext || !X509_add_ext(cert, ext.get(), -1)) fail(std::string("add the extension ") + OBJ_nid2sn(nid));
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace

std::string openssl_error() {
  unsigned long code = ERR_get_error();
  std::string text = "unknown OpenSSL error";
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    text = buf;
  }
  ERR_clear_error();
  return text;
}

Certificate make_self_signed_certificate(const std::vector<std::string>& names) {
  // Validate before any key is generated, so a typo costs nothing.
  std::vector<std::string> san = {"localhost", "127.0.0.1", "::1"};
  std::set<std::string> seen = {"localhost", "127.0.0.1", "::1"};
  for (std::string name : names) {
    if (name.size() > 2 && name.front() == '[' && name.back() == ']') name = name.substr(1, name.size() - 2);
    if (!is_address(name)) {
      if (!is_dns_name(name)) {
        throw Error("'" + name + "' is neither a host name nor an address, so it cannot go into the stand-in's certificate.");
      }
      name = lower(name);
    }
    if (seen.insert(name).second) san.push_back(name);
  }
  ERR_clear_error();

  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) fail("generate an EC P-256 key");

  X509Ptr cert(X509_new());
  if (!cert || !X509_set_version(cert.get(), X509_VERSION_3)) fail("start the certificate");

  // A random positive 127-bit serial: browsers and OpenSSL reject repeated
  // serials from one issuer, and every run is a new issuer anyway.
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) fail("draw a serial number");
  serial[0] &= 0x7f;
  serial[0] |= 0x01;  // never shorter than 16 bytes, never zero
  BnPtr bn(BN_bin2bn(serial, sizeof serial, nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()))) fail("set the serial number");

  if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kValidBeforeNowSec) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert.get()), kValidForSec)) {
    fail("set the validity period");
  }
  if (!X509_set_pubkey(cert.get(), key.get())) fail("set the public key");

  X509_NAME* subject = X509_get_subject_name(cert.get());
  if (!X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                  reinterpret_cast<const unsigned char*>(kCommonName), -1, -1, 0) ||
      !X509_set_issuer_name(cert.get(), subject)) {
    fail("set the subject");
  }

  // The extensions, in the order `openssl req -x509` writes them for
  // make-cert.sh: key identifiers (strict verifiers want both on a CA),
  // the names clients match against (they ignore the CN), CA:TRUE so the
  // certificate can be its own trust anchor, and the key usages strict TLS
  // stacks check on a server leaf.
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  add_extension(cert.get(), &ctx, NID_subject_key_identifier, "hash");
  add_extension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always");

  NamesPtr general_names(sk_GENERAL_NAME_new_null());
  if (!general_names) fail("allocate the subjectAltName");
  for (const auto& name : san) add_general_name(general_names.get(), name);
  if (X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, general_names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    fail("add the subjectAltName");
  }
  add_extension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE");
  // A CA trusted by the agent could vouch for any site: limited to ours.
  add_extension(cert.get(), &ctx, NID_name_constraints, name_constraints(san).c_str());
  add_extension(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature,keyEncipherment,keyCertSign");
  add_extension(cert.get(), &ctx, NID_ext_key_usage, "serverAuth");

  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) fail("sign the certificate");

  Certificate out;
  BioPtr cert_bio(BIO_new(BIO_s_mem()));
  if (!cert_bio || !PEM_write_bio_X509(cert_bio.get(), cert.get())) fail("encode the certificate");
  out.cert_pem = bio_text(cert_bio.get());
  BioPtr key_bio(BIO_new(BIO_s_mem()));
  if (!key_bio || !PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr)) {
    fail("encode the private key");
  }
  out.key_pem = bio_text(key_bio.get());
  return out;
}

CertificateFiles write_certificate(const Certificate& certificate, const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (ec) throw Error("cannot create the directory " + dir + ": " + ec.message() + ".");
    // cert.pem is public; the key's own mode (0600) protects it.
    ::chmod(dir.c_str(), 0755);
  }
  CertificateFiles files{dir + "/cert.pem"};
  write_file_atomic(files.cert_path, certificate.cert_pem, 0644);
  return files;
}

}  // namespace agenttrace::sandbox
