import LockstepNative

/// Little-endian byte writer for the canonical encodings of §7 (requests, commitments, leaves,
/// trace files).
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func raw(_ b: [UInt8]) { bytes.append(contentsOf: b) }
    mutating func raw(_ b: UnsafeRawBufferPointer) { bytes.append(contentsOf: b) }
    mutating func digest(_ d: Digest) { d.withUnsafeBytes { bytes.append(contentsOf: $0) } }
}

/// Why a canonical encoding cannot be decoded.
struct DecodeFailure: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// Bounds-checked little-endian reader over a byte array: every read checks the remaining length
/// first, so no input can make it read out of range or allocate more than the input's size.
struct ByteReader {
    let bytes: [UInt8]
    private(set) var offset: Int

    init(_ bytes: [UInt8], offset: Int = 0) { self.bytes = bytes; self.offset = offset }

    var remaining: Int { bytes.count - offset }
    var atEnd: Bool { offset == bytes.count }

    mutating func take(_ n: Int, _ what: String) throws(DecodeFailure) -> ArraySlice<UInt8> {
        guard n >= 0, n <= remaining else {
            throw DecodeFailure("\(what): needs \(n) bytes at offset \(offset), only \(remaining) left")
        }
        defer { offset += n }
        return bytes[offset ..< offset + n]
    }

    mutating func u8(_ what: String) throws(DecodeFailure) -> UInt8 { try take(1, what).first! }

    mutating func u32(_ what: String) throws(DecodeFailure) -> UInt32 {
        var v: UInt32 = 0
        for (i, b) in try take(4, what).enumerated() { v |= UInt32(b) << (8 * i) }
        return v
    }

    mutating func u64(_ what: String) throws(DecodeFailure) -> UInt64 {
        var v: UInt64 = 0
        for (i, b) in try take(8, what).enumerated() { v |= UInt64(b) << (8 * i) }
        return v
    }

    mutating func digest(_ what: String) throws(DecodeFailure) -> Digest {
        try take(Digest.byteCount, what).withUnsafeBytes { Digest($0) }
    }
}


/// Domain-separation tags (§7.1): ASCII, followed by one zero byte, so no tag is a prefix of another.
enum DomainTag {
    static let request = tag("lockstep.request.v1")
    static let chain = tag("lockstep.chain.v1")
    static let step = tag("lockstep.step.v1")
    static let commitment = tag("lockstep.commitment.v1")

    private static func tag(_ s: String) -> [UInt8] { Array(s.utf8) + [0] }
}
