#pragma once
// Thin shim over OpenSSL libcrypto (3.0+) for LockstepNative. Only what Swift cannot import
// directly (macros) gets a static inline wrapper here; everything else is called as declared.
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/opensslv.h>

/// The EVP_PKEY type id of Ed25519 (EVP_PKEY_ED25519 is a macro alias of NID_ED25519).
static inline int lockstep_evp_pkey_ed25519(void) { return EVP_PKEY_ED25519; }

/// OPENSSL_VERSION_NUMBER (a macro) as a function.
static inline unsigned long lockstep_openssl_version_number(void) { return (unsigned long)OPENSSL_VERSION_NUMBER; }
