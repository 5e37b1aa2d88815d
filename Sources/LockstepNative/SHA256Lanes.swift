internal import CLockstepKernels

/// SHA-256 of many messages of one shape at once: message `m` is the concatenation of the byte
/// ranges `part(m, 0)`, `part(m, 1)`, …, range `j` being `partLengths[j]` bytes long for every
/// message (a trace's rows of one forward pass: tag, step header, row, token).
///
/// Where the CPU has AVX-512 the messages are hashed 16 at a time, one per vector lane
/// (`lk_sha256_lanes`); elsewhere, and for a last group of fewer than `minimumLanes` messages,
/// one at a time by OpenSSL. The digests are SHA-256's either way; only the speed differs
/// (about twice OpenSSL's for 16 messages on an AVX-512 machine, `Benchmarks/kernels/sha256_bench.c`).
public enum SHA256Lanes {
    /// Messages hashed side by side in one group.
    public static let lanes = 16
    /// The fewest messages worth one group: a group costs the same whatever its count, so a
    /// smaller remainder is hashed one message at a time.
    public static let minimumLanes = 8

    /// Whether this machine hashes groups in vector lanes.
    public static var isVectorised: Bool { lk_isa_supported(Int32(LK_ISA_AVX512.rawValue)) != 0 }

    /// Writes the digest of message `m` to `digests[m]` for every `m < digests.count`.
    /// - Parameters:
    ///   - partLengths: the length in bytes of each part (the same for every message); at least one.
    ///   - hasher: used for the messages not hashed in lanes (any state; it is reset).
    ///   - vectorised: false hashes every message with `hasher` (the tests' oracle).
    ///   - part: the start of part `j` of message `m`; it must stay valid for the call.
    public static func hash(into digests: UnsafeMutableBufferPointer<Digest>, partLengths: [Int], hasher: SHA256Hasher,
                            vectorised: Bool = true, part: (_ message: Int, _ part: Int) -> UnsafeRawPointer) {
        let count = digests.count, parts = partLengths.count
        precondition(parts >= 1 && partLengths.allSatisfy { $0 >= 0 }, "SHA256Lanes: part lengths \(partLengths)")
        // Whole groups in lanes, and the remainder too when it fills at least `minimumLanes`.
        let whole = count / lanes * lanes
        let inLanes = !(vectorised && isVectorised) ? 0 : count - whole >= minimumLanes ? count : whole
        if inLanes > 0 {
            let pointers = (0 ..< inLanes * parts).map { Optional(part($0 / parts, $0 % parts).assumingMemoryBound(to: UInt8.self)) }
            let lengths = partLengths.map { Int64($0) }
            var bytes = [UInt8](repeating: 0, count: inLanes * Digest.byteCount)
            let done = bytes.withUnsafeMutableBufferPointer { out in
                lk_sha256_lanes(Int64(inLanes), Int32(parts), pointers, lengths, out.baseAddress!)
            }
            precondition(done == 1, "SHA256Lanes: lk_sha256_lanes refused \(inLanes) messages of parts \(partLengths)")
            bytes.withUnsafeBytes { raw in
                for m in 0 ..< inLanes { digests[m] = Digest(UnsafeRawBufferPointer(rebasing: raw[m * 32 ..< (m + 1) * 32])) }
            }
        }
        for m in inLanes ..< count {
            hasher.reset()
            for j in 0 ..< parts { hasher.update(UnsafeRawBufferPointer(start: part(m, j), count: partLengths[j])) }
            digests[m] = hasher.finalize()
        }
    }
}
