internal import CLibCrypto

// MARK: - Digest

/// A SHA-256 digest: exactly 32 bytes, held inline (a digest is a value of 32 bytes, not a
/// reference to an array: making, copying and comparing one allocates nothing).
///
/// Equality and hashing compare the bytes. `description` and `hex` are the 64-character lower-case
/// hexadecimal spelling. Hot paths read the bytes with `withUnsafeBytes`; `bytes` makes an array.
public struct Digest: Hashable, Sendable, CustomStringConvertible {
    /// The number of bytes in a SHA-256 digest.
    public static let byteCount = 32

    /// The 32 bytes in the order SHA-256 outputs them, as four words in memory order.
    private var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    /// The 32 digest bytes, in the order SHA-256 outputs them (a new array on every call).
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// Wraps 32 bytes. Precondition: `bytes.count == 32`.
    public init(bytes: [UInt8]) {
        precondition(bytes.count == Digest.byteCount, "a SHA-256 digest is 32 bytes, got \(bytes.count)")
        Swift.withUnsafeMutableBytes(of: &words) { out in bytes.withUnsafeBytes { out.copyMemory(from: $0) } }
    }

    /// Copies 32 bytes from memory. Precondition: `raw.count == 32`.
    public init(_ raw: UnsafeRawBufferPointer) {
        precondition(raw.count == Digest.byteCount, "a SHA-256 digest is 32 bytes, got \(raw.count)")
        Swift.withUnsafeMutableBytes(of: &words) { $0.copyMemory(from: raw) }
    }

    /// Fills the 32 bytes with `fill` (it must write all of them).
    init(filling fill: (UnsafeMutableRawBufferPointer) -> Void) {
        Swift.withUnsafeMutableBytes(of: &words) { fill($0) }
    }

    /// Parses 64 hexadecimal digits (upper or lower case, no prefix, no separators).
    /// Returns nil for any other length or any non-hex character.
    public init?(hex: String) {
        guard let bytes = Hex.decode(hex), bytes.count == Digest.byteCount else { return nil }
        self.init(bytes: bytes)
    }

    /// Calls `body` with the 32 bytes (valid only during the call).
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: words) { try body($0) }
    }

    public static func == (a: Digest, b: Digest) -> Bool {
        a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2 && a.words.3 == b.words.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0); hasher.combine(words.1); hasher.combine(words.2); hasher.combine(words.3)
    }

    /// The 64-character lower-case hexadecimal spelling of the bytes.
    public var hex: String { Hex.encode(bytes) }

    public var description: String { hex }
}

// MARK: - SHA256Hasher

/// The SHA-256 algorithm object, fetched once from the default provider and shared for the life of
/// the process (an `EVP_MD` is immutable and safe to share between threads).
private final class SHA256Algorithm: @unchecked Sendable {
    static let shared = SHA256Algorithm()
    let md: OpaquePointer

    private init() {
        guard let md = EVP_MD_fetch(nil, "SHA256", nil) else {
            fatalError("OpenSSL: EVP_MD_fetch(SHA256) failed: \(openSSLErrorDescription())")
        }
        self.md = md
    }
}

/// Incremental SHA-256 (FIPS 180-4) over OpenSSL libcrypto's EVP interface.
///
/// Owns one `EVP_MD_CTX` (freed in `deinit`). `update` never allocates; feed any number of byte
/// ranges, then call `finalize()` once. After `finalize()`, call `reset()` before hashing again
/// (calling `update` or `finalize` on a finalized hasher is a precondition failure).
///
/// Thread rules: a hasher is mutable state and is not `Sendable`; use one per thread (or task).
/// The `static` helpers are safe to call from any thread.
public final class SHA256Hasher {
    private let ctx: OpaquePointer
    private var finalized = false

    /// Creates a hasher ready to accept input.
    public init() {
        guard let ctx = EVP_MD_CTX_new() else {
            fatalError("OpenSSL: EVP_MD_CTX_new failed (out of memory)")
        }
        self.ctx = ctx
        initialize()
    }

    deinit {
        EVP_MD_CTX_free(ctx)
    }

    private func initialize() {
        guard EVP_DigestInit_ex2(ctx, SHA256Algorithm.shared.md, nil) == 1 else {
            fatalError("OpenSSL: EVP_DigestInit_ex2(SHA256) failed: \(openSSLErrorDescription())")
        }
        finalized = false
    }

    /// Discards any input and starts a new hash. Allowed at any time.
    public func reset() {
        initialize()
    }

    /// Appends the bytes of `buffer` (any length, including 0).
    public func update(_ buffer: UnsafeRawBufferPointer) {
        precondition(!finalized, "SHA256Hasher.update after finalize(); call reset() first")
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        guard EVP_DigestUpdate(ctx, base, buffer.count) == 1 else {
            fatalError("OpenSSL: EVP_DigestUpdate failed: \(openSSLErrorDescription())")
        }
    }

    /// Appends `bytes`.
    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Appends the 32 bytes of `digest`.
    public func update(_ digest: Digest) {
        digest.withUnsafeBytes { update($0) }
    }

    /// Appends the `MemoryLayout<T>.size` little-endian bytes of an integer.
    public func update<T: FixedWidthInteger>(littleEndian value: T) {
        withUnsafeBytes(of: value.littleEndian) { update($0) }
    }

    /// Appends the 4 little-endian bytes of the IEEE-754 bit pattern of `value` (NaN payloads and
    /// the sign of zero are kept as they are).
    public func update(littleEndian value: Float) {
        update(littleEndian: value.bitPattern)
    }

    /// Appends the 8 little-endian bytes of the IEEE-754 bit pattern of `value`.
    public func update(littleEndian value: Double) {
        update(littleEndian: value.bitPattern)
    }

    /// Appends every integer of `values` as little-endian bytes, in order
    /// (`values.count * MemoryLayout<T>.size` bytes).
    public func update<T: FixedWidthInteger>(littleEndian values: [T]) {
        #if _endian(little)
        values.withUnsafeBytes { update($0) }
        #else
        for v in values { update(littleEndian: v) }
        #endif
    }

    /// Appends the IEEE-754 bit patterns of `values` as little-endian bytes, 4 per element, in order.
    public func update(littleEndian values: [Float]) {
        #if _endian(little)
        values.withUnsafeBytes { update($0) }
        #else
        for v in values { update(littleEndian: v) }
        #endif
    }

    /// Appends the IEEE-754 bit patterns of `values` as little-endian bytes, 8 per element, in order.
    public func update(littleEndian values: [Double]) {
        #if _endian(little)
        values.withUnsafeBytes { update($0) }
        #else
        for v in values { update(littleEndian: v) }
        #endif
    }

    /// Returns the digest of everything appended since creation or the last `reset()`.
    /// Call once; then `reset()` to reuse the hasher.
    public func finalize() -> Digest {
        precondition(!finalized, "SHA256Hasher.finalize called twice; call reset() first")
        finalized = true
        var length: UInt32 = 0, ok: Int32 = 0
        let digest = Digest { ok = EVP_DigestFinal_ex(ctx, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), &length) }
        guard ok == 1, length == UInt32(Digest.byteCount) else {
            fatalError("OpenSSL: EVP_DigestFinal_ex failed: \(openSSLErrorDescription())")
        }
        return digest
    }

    /// SHA-256 of `bytes`.
    public static func hash(_ bytes: [UInt8]) -> Digest {
        bytes.withUnsafeBytes { hash($0) }
    }

    /// SHA-256 of the bytes of `buffer`.
    public static func hash(_ buffer: UnsafeRawBufferPointer) -> Digest {
        let hasher = SHA256Hasher()
        hasher.update(buffer)
        return hasher.finalize()
    }
}

// MARK: - Helpers shared by the crypto wrappers

/// The oldest queued OpenSSL error as text (and clears the queue), or "no OpenSSL error queued".
func openSSLErrorDescription() -> String {
    let code = ERR_get_error()
    defer { ERR_clear_error() }
    guard code != 0 else { return "no OpenSSL error queued" }
    var buffer = [CChar](repeating: 0, count: 256)
    ERR_error_string_n(code, &buffer, buffer.count)
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

