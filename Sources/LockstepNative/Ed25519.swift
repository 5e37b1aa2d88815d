internal import CLibCrypto

/// Errors from the libcrypto-backed wrappers (Ed25519).
public enum CryptoError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An input had the wrong number of bytes.
    case invalidLength(what: String, expected: Int, actual: Int)
    /// An OpenSSL call failed; `detail` is OpenSSL's error-queue text.
    case openSSL(call: String, detail: String)

    public var description: String {
        switch self {
        case let .invalidLength(what, expected, actual):
            return "\(what) must be \(expected) bytes, got \(actual)"
        case let .openSSL(call, detail):
            return "\(call) failed: \(detail)"
        }
    }
}

/// Owns one `EVP_PKEY` (freed in `deinit`). After creation the key is only read (sign, verify,
/// raw export), which OpenSSL 3 allows from several threads at once.
private final class EVPKey: @unchecked Sendable {
    let pkey: OpaquePointer

    init(pkey: OpaquePointer) { self.pkey = pkey }

    deinit { EVP_PKEY_free(pkey) }

    static func ed25519(privateSeed seed: [UInt8]) throws(CryptoError) -> EVPKey {
        guard seed.count == 32 else { throw .invalidLength(what: "Ed25519 seed", expected: 32, actual: seed.count) }
        let key = seed.withUnsafeBufferPointer {
            EVP_PKEY_new_raw_private_key(lockstep_evp_pkey_ed25519(), nil, $0.baseAddress, 32)
        }
        guard let key else {
            throw .openSSL(call: "EVP_PKEY_new_raw_private_key", detail: openSSLErrorDescription())
        }
        return EVPKey(pkey: key)
    }

    static func ed25519(publicKey raw: [UInt8]) throws(CryptoError) -> EVPKey {
        guard raw.count == 32 else { throw .invalidLength(what: "Ed25519 public key", expected: 32, actual: raw.count) }
        let key = raw.withUnsafeBufferPointer {
            EVP_PKEY_new_raw_public_key(lockstep_evp_pkey_ed25519(), nil, $0.baseAddress, 32)
        }
        guard let key else {
            throw .openSSL(call: "EVP_PKEY_new_raw_public_key", detail: openSSLErrorDescription())
        }
        return EVPKey(pkey: key)
    }

    func rawPublicKey() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length = 32
        let ok = out.withUnsafeMutableBufferPointer { EVP_PKEY_get_raw_public_key(pkey, $0.baseAddress, &length) }
        guard ok == 1, length == 32 else {
            fatalError("OpenSSL: EVP_PKEY_get_raw_public_key failed: \(openSSLErrorDescription())")
        }
        return out
    }

    func rawPrivateKey() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length = 32
        let ok = out.withUnsafeMutableBufferPointer { EVP_PKEY_get_raw_private_key(pkey, $0.baseAddress, &length) }
        guard ok == 1, length == 32 else {
            fatalError("OpenSSL: EVP_PKEY_get_raw_private_key failed: \(openSSLErrorDescription())")
        }
        return out
    }
}

/// A one-shot `EVP_MD_CTX` for a single sign or verify operation (freed in `deinit`).
private final class EVPDigestContext {
    let ctx: OpaquePointer

    init() {
        guard let ctx = EVP_MD_CTX_new() else { fatalError("OpenSSL: EVP_MD_CTX_new failed (out of memory)") }
        self.ctx = ctx
    }

    deinit { EVP_MD_CTX_free(ctx) }
}

/// Calls `body` with a non-null pointer to the bytes of `message` (OpenSSL's one-shot Ed25519 calls
/// want a valid pointer even for an empty message).
private func withMessagePointer<R>(_ message: [UInt8], _ body: (UnsafePointer<UInt8>, Int) -> R) -> R {
    if message.isEmpty {
        var dummy: UInt8 = 0
        return withUnsafePointer(to: &dummy) { body($0, 0) }
    }
    return message.withUnsafeBufferPointer { body($0.baseAddress!, $0.count) }
}

/// An Ed25519 private key (RFC 8032, pure Ed25519: no pre-hash, no context).
///
/// Its identity is the 32-byte seed. Signing is deterministic: the same key and message always give
/// the same 64-byte signature. Values are immutable and `Sendable`.
public struct Ed25519PrivateKey: Sendable {
    private let key: EVPKey
    /// The matching public key.
    public let publicKey: Ed25519PublicKey

    /// A fresh key from 32 bytes of OpenSSL's CSPRNG (`RAND_bytes`).
    /// Crashes only if the operating system cannot supply randomness.
    public init() {
        var seed = [UInt8](repeating: 0, count: 32)
        let ok = seed.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, 32) }
        guard ok == 1 else { fatalError("OpenSSL: RAND_bytes failed: \(openSSLErrorDescription())") }
        do {
            try self.init(seed: seed)
        } catch {
            fatalError("OpenSSL: cannot create an Ed25519 key from a random seed: \(error)")
        }
    }

    /// The key with the given 32-byte seed (RFC 8032's "private key").
    /// Throws `CryptoError.invalidLength` if `seed.count != 32`.
    public init(seed: [UInt8]) throws(CryptoError) {
        let key = try EVPKey.ed25519(privateSeed: seed)
        self.key = key
        self.publicKey = Ed25519PublicKey(key: key)
    }

    /// The 32-byte seed. Secret: handle with care.
    public var seed: [UInt8] { key.rawPrivateKey() }

    /// The 64-byte Ed25519 signature (R ‖ S) of `message`.
    /// Throws `CryptoError.openSSL` only if libcrypto fails (e.g. out of memory).
    public func signature(for message: [UInt8]) throws(CryptoError) -> [UInt8] {
        let context = EVPDigestContext()
        guard EVP_DigestSignInit(context.ctx, nil, nil, nil, key.pkey) == 1 else {
            throw .openSSL(call: "EVP_DigestSignInit", detail: openSSLErrorDescription())
        }
        var signature = [UInt8](repeating: 0, count: 64)
        var length = 64
        let ok = signature.withUnsafeMutableBufferPointer { sig in
            withMessagePointer(message) { EVP_DigestSign(context.ctx, sig.baseAddress, &length, $0, $1) }
        }
        guard ok == 1, length == 64 else {
            throw .openSSL(call: "EVP_DigestSign", detail: openSSLErrorDescription())
        }
        return signature
    }
}

/// An Ed25519 public key: 32 bytes (RFC 8032 encoding of the point A).
///
/// Equality and hashing compare the 32 bytes. Values are immutable and `Sendable`.
public struct Ed25519PublicKey: Hashable, Sendable, CustomStringConvertible {
    private let key: EVPKey
    /// The 32-byte encoding.
    public let rawRepresentation: [UInt8]

    fileprivate init(key: EVPKey) {
        self.key = key
        self.rawRepresentation = key.rawPublicKey()
    }

    /// Wraps a 32-byte encoded public key. Throws `CryptoError.invalidLength` for any other length
    /// and `CryptoError.openSSL` if libcrypto refuses the bytes. (A point that does not decode is
    /// not rejected here; every signature check against it then returns false.)
    public init(rawRepresentation: [UInt8]) throws(CryptoError) {
        self.key = try EVPKey.ed25519(publicKey: rawRepresentation)
        self.rawRepresentation = rawRepresentation
    }

    /// The 64-character lower-case hexadecimal spelling of the 32 bytes.
    public var hex: String { Hex.encode(rawRepresentation) }

    public var description: String { hex }

    /// True iff `signature` is a valid Ed25519 signature of `message` under this key (RFC 8032
    /// verification as implemented by OpenSSL, which rejects non-canonical S).
    /// Any malformed input (wrong signature length, undecodable point) gives false, never a crash.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        guard signature.count == 64 else { return false }
        let context = EVPDigestContext()
        defer { ERR_clear_error() }
        guard EVP_DigestVerifyInit(context.ctx, nil, nil, nil, key.pkey) == 1 else { return false }
        let result = signature.withUnsafeBufferPointer { sig in
            withMessagePointer(message) { EVP_DigestVerify(context.ctx, sig.baseAddress, 64, $0, $1) }
        }
        return result == 1
    }

    public static func == (lhs: Ed25519PublicKey, rhs: Ed25519PublicKey) -> Bool {
        lhs.rawRepresentation == rhs.rawRepresentation
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(rawRepresentation)
    }
}
