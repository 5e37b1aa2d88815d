internal import CLockstepKernels

/// SHA-256 of `count` messages that are produced a piece at a time, every message receiving the
/// same number of bytes at each step: the sample steps of a replay, whose logits rows arrive a
/// vocabulary slice at a time (`SHA256Lanes` needs whole messages).
///
/// The messages form groups of `SHA256Lanes.lanes` (the last may be smaller). A group of at least
/// `SHA256Lanes.minimumLanes` messages on an AVX-512 machine is hashed in vector lanes
/// (`lk_sha256_stream_*`), any other by OpenSSL one message at a time. The digests are
/// SHA-256's either way.
///
/// Different groups may be fed from different threads at the same time; one group from one
/// thread at a time.
public final class SHA256LaneStream: @unchecked Sendable {
    /// Messages.
    public let count: Int
    /// Groups: group `g` holds messages `16g ..< min(16g + 16, count)`.
    public var groups: Int { (count + SHA256Lanes.lanes - 1) / SHA256Lanes.lanes }

    private enum Group {
        case lanes(UnsafeMutablePointer<lk_sha256_stream>)
        case oneByOne([SHA256Hasher])
    }
    private var state: [Group]

    /// Starts `count` ≥ 0 empty messages.
    /// - Parameter vectorised: false hashes every message with OpenSSL (the tests' oracle).
    public init(count: Int, vectorised: Bool = true) {
        precondition(count >= 0, "SHA256LaneStream: \(count) messages")
        self.count = count
        let lanes = SHA256Lanes.lanes
        state = stride(from: 0, to: count, by: lanes).map { first in
            let n = min(lanes, count - first)
            if vectorised && n >= SHA256Lanes.minimumLanes {
                let raw = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<lk_sha256_stream>.size, alignment: 64)
                let st = raw.bindMemory(to: lk_sha256_stream.self, capacity: 1)
                if lk_sha256_stream_init(st) == 1 { return .lanes(st) }
                raw.deallocate()
            }
            return .oneByOne((0 ..< n).map { _ in SHA256Hasher() })
        }
    }

    deinit {
        for case let .lanes(st) in state { UnsafeMutableRawPointer(st).deallocate() }
    }

    /// The messages of group `g`.
    public func messages(inGroup g: Int) -> Range<Int> {
        g * SHA256Lanes.lanes ..< min((g + 1) * SHA256Lanes.lanes, count)
    }

    /// Appends `length` ≥ 0 bytes to every message of group `g`: message m's from `bytes(m)`
    /// (valid for the call).
    public func update(group g: Int, length: Int, bytes: (_ message: Int) -> UnsafeRawPointer) {
        precondition(length >= 0, "SHA256LaneStream: length \(length)")
        let range = messages(inGroup: g)
        switch state[g] {
        case let .lanes(st):
            let pointers = range.map { Optional(bytes($0).assumingMemoryBound(to: UInt8.self)) }
            lk_sha256_stream_update(st, Int32(range.count), pointers, Int64(length))
        case let .oneByOne(hashers):
            for (i, m) in range.enumerated() { hashers[i].update(UnsafeRawBufferPointer(start: bytes(m), count: length)) }
        }
    }

    /// Appends the same bytes to every message of group `g`.
    public func update(group g: Int, _ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        update(group: g, length: bytes.count) { _ in base }
    }

    /// Finishes group `g`, writing message m's digest to `digests[m]`. The group is spent.
    public func finalize(group g: Int, into digests: UnsafeMutableBufferPointer<Digest>) {
        let range = messages(inGroup: g)
        switch state[g] {
        case let .lanes(st):
            var out = [UInt8](repeating: 0, count: range.count * Digest.byteCount)
            out.withUnsafeMutableBufferPointer { lk_sha256_stream_final(st, Int32(range.count), $0.baseAddress!) }
            out.withUnsafeBytes { raw in
                for (i, m) in range.enumerated() { digests[m] = Digest(UnsafeRawBufferPointer(rebasing: raw[i * 32 ..< (i + 1) * 32])) }
            }
        case let .oneByOne(hashers):
            for (i, m) in range.enumerated() { digests[m] = hashers[i].finalize() }
        }
    }
}
